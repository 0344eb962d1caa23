"""Developer tools: the local Functions host (`python -m tools.devserver`) and its parts. Never deployed."""

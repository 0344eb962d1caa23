"""Use cases: what the app does, written against the ports of shared.domain (never an adapter)."""

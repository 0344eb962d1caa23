"""One Blueprint per concern; each handler parses the request, calls shared/, builds the response."""

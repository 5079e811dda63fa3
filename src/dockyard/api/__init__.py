"""The Docker Engine API over HTTP: the handler interface, the router, the server, handlers."""

"""One module per Docker resource; each exposes ``routes(services) -> list[Route]``."""

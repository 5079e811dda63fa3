"""dockyard's benchmark suite: every row timed for dockyard and its peers in one run (README.md)."""

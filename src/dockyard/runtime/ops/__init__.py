"""One module per verb of ``dockyard-runtime`` (runc's command line); each is a plain function
that both the command line and the library (``library.py``) call."""

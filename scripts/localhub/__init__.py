"""A GitHub-like REST server for tests and the offline demo (see `server.py`)."""

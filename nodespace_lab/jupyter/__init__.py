"""Jupyter integration: IPython magics (the server extension comes with the service)."""

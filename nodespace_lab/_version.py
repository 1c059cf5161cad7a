"""The package version, in a module of its own so that any layer can read it.

Importing it from the package root would import every layer (the root opens
the knowledge-base API, the service and the Jupyter hooks).
"""

__version__ = "0.1.0"

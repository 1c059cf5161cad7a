"""Sphinx configuration for the NodeSpace Lab documentation (built with `make docs`)."""

from importlib import metadata

project = "NodeSpace Lab"
author = "NodeSpace Lab contributors"
copyright = "2026, NodeSpace Lab contributors"

try:
    release = metadata.version("nodespace-lab")
except metadata.PackageNotFoundError:  # building the docs without the package installed
    release = ""
version = ".".join(release.split(".")[:2])

extensions = ["myst_parser"]
source_suffix = {".md": "markdown"}
exclude_patterns = ["_build"]

myst_enable_extensions = ["colon_fence", "deflist"]
# Lets pages link to sections of other pages: [settings](configuration.md#settings).
myst_heading_anchors = 3

html_theme = "alabaster"
html_title = "NodeSpace Lab"
html_theme_options = {
    "description": "Notes, tasks and live queries in JupyterLab",
    "fixed_sidebar": True,
}

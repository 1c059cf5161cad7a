"""Sphinx configuration for the NodeSpace Lab documentation (built with `make docs`)."""

import sys
from importlib import metadata
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent / "_ext"))

project = "NodeSpace Lab"
author = "NodeSpace Lab contributors"
copyright = "2026, NodeSpace Lab contributors"

try:
    release = metadata.version("nodespace-lab")
except metadata.PackageNotFoundError:  # building the docs without the package installed
    release = ""
version = ".".join(release.split(".")[:2])

extensions = ["myst_parser", "nodespace_settings"]
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

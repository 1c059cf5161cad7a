"""NodeSpace Lab: a Jupyter-native knowledge environment on an embedded graph.

The public API is small on purpose: open a `KnowledgeBase` and use its methods.
"""

from __future__ import annotations

from typing import Any

from . import plugins as plugins  # installs lazy plugin discovery (pluggy loads on first use)
from ._version import __version__
from .config import Settings, load_settings
from .errors import NodespaceError
from .kb import KnowledgeBase, open_kb
from .nodes import KindSpec, Node, register_kind
from .service import connect

open = open_kb  # `ns.open(path)` reads naturally


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    """The Jupyter server extension (the knowledge-base service for JupyterLab)."""
    return [{"module": "nodespace_lab"}]


def _load_jupyter_server_extension(serverapp: Any) -> None:
    from .jupyter.server_extension import load  # tornado and jupyter_server load here only

    load(serverapp)


def load_ipython_extension(ipython: Any) -> None:
    """`%load_ext nodespace_lab`: add the `%%cypher` and `%nodespace` magics."""
    from .jupyter.magics import load  # IPython is imported only here

    load(ipython)


__all__ = [
    "KindSpec",
    "KnowledgeBase",
    "Node",
    "NodespaceError",
    "Settings",
    "__version__",
    "connect",
    "load_settings",
    "open",
    "register_kind",
]

"""The Jupyter server extension: the knowledge-base service for JupyterLab.

Enabled on install (etc/jupyter/jupyter_server_config.d/nodespace_lab.json).
It starts or attaches to the service of the knowledge base in `NODESPACE_KB`
(`make lab` sets it), or of the one chosen in the sidebar's settings, keeps it
running, stops it with the server, and serves its API under `/nodespace/`.
"""

from __future__ import annotations

import atexit
import os
from pathlib import Path
from typing import Any

from tornado.ioloop import PeriodicCallback

from .handlers import handlers
from .selection import KnowledgeBases


def load(serverapp: Any) -> None:
    """Start supervising the configured knowledge base's service and add the routes."""
    configured = os.environ.get("NODESPACE_KB")
    if not configured:
        serverapp.log.info(
            "nodespace: no knowledge base configured (set NODESPACE_KB, or choose one in "
            "the NodeSpace settings)"
        )
    kbs = KnowledgeBases(
        Path(serverapp.root_dir), Path(configured) if configured else None, serverapp.log
    )
    PeriodicCallback(kbs.check, 1000).start()
    atexit.register(kbs.stop)
    web_app = serverapp.web_app
    web_app.add_handlers(".*$", handlers(web_app.settings["base_url"], kbs))
    web_app.settings["nodespace_kbs"] = kbs

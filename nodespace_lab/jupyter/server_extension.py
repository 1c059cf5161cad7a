"""The Jupyter server extension: the knowledge-base service for JupyterLab.

Enabled on install (etc/jupyter/jupyter_server_config.d/nodespace_lab.json).
With a knowledge base configured in `NODESPACE_KB` (`make lab` sets it), it
starts or attaches to that knowledge base's service, keeps it running, stops
it with the server, and serves its API under `/nodespace/`.
"""

from __future__ import annotations

import atexit
import os
from pathlib import Path
from typing import Any

from tornado.ioloop import PeriodicCallback

from .handlers import handlers
from .supervisor import Supervisor


def load(serverapp: Any) -> None:
    """Start supervising the configured knowledge base's service and add the routes."""
    configured = os.environ.get("NODESPACE_KB")
    if not configured:
        serverapp.log.info("nodespace: no knowledge base configured (set NODESPACE_KB)")
        return
    supervisor = Supervisor(Path(configured), serverapp.log)
    supervisor.start()
    PeriodicCallback(supervisor.check, 1000).start()
    atexit.register(supervisor.stop)
    web_app = serverapp.web_app
    web_app.add_handlers(".*$", handlers(web_app.settings["base_url"], supervisor))
    web_app.settings["nodespace_supervisor"] = supervisor

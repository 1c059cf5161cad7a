"""Keeps the knowledge-base service of a Jupyter server running.

Attaches to a service that already runs for the knowledge base, or starts
`nodespace serve` as a child process; if the service dies it is started
again after a back-off (1, 2, 4 ... 30 s), each restart logged. The child
also watches its parent, so it ends when Jupyter is killed outright.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from ..config import load_settings
from ..service.runtime import ServiceInfo, read_info, runtime_dir, runtime_file
from ..service.server import ENV_PARENT

MAX_BACKOFF_S = 30.0


class Supervisor:
    """The service of one knowledge base, as seen from the Jupyter server."""

    def __init__(
        self,
        kb_path: Path,
        log: logging.Logger,
        on_ready: Callable[[Supervisor], None] | None = None,
    ) -> None:
        self.kb_path = kb_path.expanduser().resolve()
        self.log = log
        self.on_ready = on_ready
        settings = self.settings = load_settings(self.kb_path)
        self.runtime = runtime_file(self.kb_path, runtime_dir(settings.service.runtime_dir))
        self.process: subprocess.Popen[bytes] | None = None
        self.info: ServiceInfo | None = None
        self.restarts = 0
        self.last_exit: int | None = None  # exit code of the service we started, once it died
        self._backoff = 1.0
        self._next_start = 0.0

    def start(self) -> None:
        """Attach to the running service, or start one (without waiting for it)."""
        self.info = read_info(self.runtime)
        if self.info is not None:
            self.log.info("nodespace: using the service at %s for %s", self.info.url, self.kb_path)
            self._ready()
            return
        command = [sys.executable, "-m", "nodespace_lab", "serve", str(self.kb_path)]
        env = {**os.environ, ENV_PARENT: str(os.getpid())}
        self.process = subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL)
        self.log.info(
            "nodespace: started the service of %s (pid %d)", self.kb_path, self.process.pid
        )

    def check(self) -> None:
        """Called every second: notice a new runtime file, restart a dead service."""
        if self.process is not None and self.process.poll() is not None:
            code = self.last_exit = self.process.returncode
            self.process, self.info = None, None
            self._next_start = time.monotonic() + self._backoff
            self.log.warning(
                "nodespace: the service of %s exited with code %s; restarting in %.0f s",
                self.kb_path, code, self._backoff,
            )  # fmt: skip
            self._backoff = min(self._backoff * 2, MAX_BACKOFF_S)
            return
        if self.info is None:
            info = read_info(self.runtime)
            if info is not None:
                self.info = info
                self._backoff = 1.0
                self._ready()
            elif self.process is None and time.monotonic() >= self._next_start:
                self.restarts += 1
                self.start()
        elif self.process is None and read_info(self.runtime) is None:
            self.log.warning("nodespace: the service at %s went away", self.info.url)
            self.info = None  # an attached service stopped: start our own on the next check

    def wait_until_ready(self, timeout: float = 60) -> ServiceInfo | None:
        """Block until the service answers (for tests and start-up)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check()
            if self.info is not None:
                return self.info
            time.sleep(0.05)
        return None

    def _ready(self) -> None:
        if self.on_ready is not None:
            self.on_ready(self)

    def stop(self) -> None:
        """Stop the service we started (an attached one keeps running)."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()

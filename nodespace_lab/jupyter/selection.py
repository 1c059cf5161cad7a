"""Which knowledge base the JupyterLab sidebar uses, chosen from its settings.

The server starts with the folder in `NODESPACE_KB` (or none). The sidebar's
"Knowledge base" setting asks for another one through `select`. A path from
the browser is resolved and must lie under the Jupyter root folder (or be the
folder the server started with); it must be a knowledge base or an empty or new
folder, which becomes one. Services started for earlier choices keep running
until the server stops, so kernels still connected to them keep working.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path

from ..errors import DatabaseLocked, ServiceUnavailable, ValidationError
from ..graph.engine import DB_FILE
from ..graph.lock import ProcessLock
from ..service.runtime import ENV_SERVICE, read_info
from .supervisor import Supervisor

READY_TIMEOUT_S = 60.0


class KnowledgeBases:
    """The current knowledge base of a Jupyter server and the services it supervises."""

    def __init__(self, root: Path, started_with: Path | None, log: logging.Logger) -> None:
        self.root = root.expanduser().resolve()
        self.started_with = started_with.expanduser().resolve() if started_with else None
        self.log = log
        self.current: Supervisor | None = None
        self.generation = 0
        self._supervisors: dict[Path, Supervisor] = {}
        self._listeners: list[Callable[[], None]] = []
        if self.started_with is not None:
            self._use(self._supervisor(self.started_with))

    def on_switch(self, listener: Callable[[], None]) -> None:
        """Call `listener` after the current knowledge base changed (feeds close on it)."""
        self._listeners.append(listener)

    def resolve(self, requested: str) -> Path:
        """The folder a path from the browser names, confined to the Jupyter root.

        Relative paths are relative to the root; "" means the folder the server
        started with.
        """
        text = requested.strip()
        if not text:
            if self.started_with is None:
                raise ValidationError(
                    "No knowledge base to return to: JupyterLab was started without "
                    "NODESPACE_KB. Enter a folder under the Jupyter root in the setting."
                )
            return self.started_with
        if "\x00" in text:
            raise ValidationError(f"Knowledge base path {text!r} contains a NUL byte.")
        candidate = Path(text).expanduser()
        path = (candidate if candidate.is_absolute() else self.root / candidate).resolve()
        if path != self.started_with and not path.is_relative_to(self.root):
            raise ValidationError(
                f"Knowledge base path {text!r} resolves to {path}, outside the Jupyter root "
                f"{self.root}. Choose a folder under the root, or start JupyterLab with "
                f"NODESPACE_KB={path}."
            )
        _check_folder(text, path)
        return path

    async def select(self, requested: str) -> Supervisor:
        """Make the knowledge base at `requested` the current one, once its service answers."""
        path = self.resolve(requested)
        if self.current is not None and self.current.kb_path == path:
            return self.current
        supervisor = self._supervisors.get(path)
        if supervisor is None:
            _check_not_locked(path)
            supervisor = self._supervisor(path)
            try:
                await _wait_until_ready(supervisor)
            except ServiceUnavailable:
                supervisor.stop()
                del self._supervisors[path]
                raise
        else:
            await _wait_until_ready(supervisor)
        self._use(supervisor)
        self.log.info("nodespace: the sidebar now uses %s", path)
        return supervisor

    def check(self) -> None:
        """Called every second: keep every supervised service running."""
        for supervisor in self._supervisors.values():
            supervisor.check()

    def stop(self) -> None:
        """Stop every service this server started."""
        for supervisor in self._supervisors.values():
            supervisor.stop()

    def _supervisor(self, path: Path) -> Supervisor:
        supervisor = Supervisor(path, self.log, on_ready=self._exported)
        self._supervisors[path] = supervisor
        supervisor.start()
        return supervisor

    def _use(self, supervisor: Supervisor) -> None:
        self.current = supervisor
        self.generation += 1
        self._exported(supervisor)
        for listener in self._listeners:
            listener()

    def _exported(self, supervisor: Supervisor) -> None:
        # Kernels started from now on inherit these and connect() to the current service.
        if supervisor is not self.current:
            return
        os.environ["NODESPACE_KB"] = str(supervisor.kb_path)
        os.environ[ENV_SERVICE] = str(supervisor.runtime)


def _check_folder(requested: str, path: Path) -> None:
    if not path.exists():
        existing = next(parent for parent in path.parents if parent.exists())
        if not existing.is_dir():
            raise ValidationError(
                f"Knowledge base path {requested!r}: {existing} is a file, so no folder can "
                "be made under it. Choose another folder."
            )
        return  # a new folder (and its parents): the service creates the knowledge base
    if not path.is_dir():
        raise ValidationError(
            f"Knowledge base path {requested!r} is a file ({path}), not a folder."
        )
    if any((path / name).exists() for name in DB_FILE.values()):
        return
    if any(True for _ in path.iterdir()):
        raise ValidationError(
            f"Knowledge base path {requested!r}: {path} is not a knowledge base (it has no "
            f"{' or '.join(DB_FILE.values())}) and is not empty. Choose a knowledge base, "
            "an empty folder or a new one."
        )


def _check_not_locked(path: Path) -> None:
    """Refuse a knowledge base another process holds without serving it."""
    if not path.exists():
        return
    from ..config import load_settings
    from ..service.runtime import runtime_dir, runtime_file

    settings = load_settings(path)
    if read_info(runtime_file(path, runtime_dir(settings.service.runtime_dir))) is not None:
        return  # a service runs for it: the supervisor attaches
    lock = ProcessLock(path)
    try:
        lock.acquire()
    except DatabaseLocked as locked:
        raise DatabaseLocked(f"{locked} It was not opened in the sidebar.") from None
    lock.release()


async def _wait_until_ready(supervisor: Supervisor) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        supervisor.check()
        if supervisor.info is not None:
            return
        if supervisor.last_exit is not None and supervisor.process is None:
            raise ServiceUnavailable(
                f"The service of knowledge base {supervisor.kb_path} exited with code "
                f"{supervisor.last_exit} before it was ready; the Jupyter server's log says why."
            )
        await asyncio.sleep(0.05)
    raise ServiceUnavailable(
        f"The service of knowledge base {supervisor.kb_path} did not start within "
        f"{READY_TIMEOUT_S:.0f} s; the Jupyter server's log says why."
    )

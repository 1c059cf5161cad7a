"""Runtime files: how a client finds the service of a knowledge base.

A running service writes one JSON file (mode 0600: it holds the token) named
after the database path, and removes it on exit. A file whose process is
gone is stale and is removed by whoever finds it.

Another local user must not be able to plant or swap a runtime file: that
would stop `nodespace serve` or send a client's notes and token to their
server. So, as Jupyter does for its runtime folder, the folder is created
0700 and the file 0600, and both are checked on every read: the folder must
be ours and writable by nobody else, the file ours with mode 0600.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shlex
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from ..config.private import NotPrivate, read_private, write_private
from ..errors import ServiceUnavailable
from .api import PROTOCOL_VERSION

ENV_SERVICE = "NODESPACE_SERVICE"  # path of a runtime file to use, for kernels


@dataclass(frozen=True)
class ServiceInfo:
    """Where a service listens, its token, its knowledge base and protocol."""

    url: str
    token: str
    path: str
    protocol: int
    pid: int


def runtime_dir(configured: str = "") -> Path:
    """The folder of runtime files (`service.runtime_dir`, else the platform's)."""
    if configured:
        return Path(configured).expanduser()
    import platformdirs

    if sys.platform.startswith("linux") and not os.environ.get("XDG_RUNTIME_DIR"):
        # platformdirs would fall back to a shared /tmp folder, with a warning.
        return Path(platformdirs.user_data_dir("nodespace")) / "runtime"
    return Path(platformdirs.user_runtime_dir("nodespace", ensure_exists=False))


def runtime_file(kb_path: Path, folder: Path) -> Path:
    """The runtime file of the service of the knowledge base at `kb_path`."""
    digest = hashlib.sha256(str(kb_path.resolve()).encode()).hexdigest()[:16]
    return folder / f"service-{digest}.json"


def _refuse(source: Path, problem: NotPrivate) -> ServiceUnavailable:
    folder = shlex.quote(str(source.parent))
    return ServiceUnavailable(
        f"Runtime file {source} is not used: {problem}. Another local user could plant "
        "or swap runtime files there to redirect your clients or stop your service. Keep "
        f"the runtime folder yours alone (chmod 700 {folder}, as its owner), remove files "
        "in it that are not yours, or set service.runtime_dir (in your own config file or "
        "NODESPACE_SERVICE_RUNTIME_DIR) to a folder only you can write."
    )


def write_info(info: ServiceInfo, target: Path) -> None:
    """Write `info` to `target`, readable by this user only, atomically.

    Refuses (ServiceUnavailable) when the runtime folder is not ours alone.
    """
    try:
        write_private(target, json.dumps(asdict(info)))
    except NotPrivate as exc:
        raise _refuse(target, exc) from None


def read_info(source: Path) -> ServiceInfo | None:
    """The service described by `source`, or None when there is none (a stale file goes).

    Raises ServiceUnavailable when the file or its folder could have been
    written by another user, or the file is not a service description.
    """
    try:
        text = read_private(source)
    except NotPrivate as exc:
        raise _refuse(source, exc) from None
    if text is None:
        return None
    try:
        info = ServiceInfo(**json.loads(text))
    except (ValueError, TypeError) as exc:
        raise ServiceUnavailable(
            f"Runtime file {source} is not a NodeSpace service description ({exc}); "
            "delete it and start the service again."
        ) from None
    if not _alive(info.pid):
        with contextlib.suppress(FileNotFoundError):
            source.unlink()
        return None
    if info.protocol != PROTOCOL_VERSION:
        raise ServiceUnavailable(
            f"The service at {info.url} speaks protocol {info.protocol}, this client "
            f"{PROTOCOL_VERSION}; restart the service with this version of nodespace-lab."
        )
    return info


def find_service(kb_path: Path, folder: Path) -> ServiceInfo | None:
    """The running service of `kb_path`: from $NODESPACE_SERVICE, then the runtime files."""
    named = os.environ.get(ENV_SERVICE)
    if named:
        info = read_info(Path(named))
        if info is not None and Path(info.path) == kb_path.resolve():
            return info
    return read_info(runtime_file(kb_path, folder))


def _alive(pid: int) -> bool:
    import psutil

    return bool(psutil.pid_exists(pid))

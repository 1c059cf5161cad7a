"""Runtime files: how a client finds the service of a knowledge base.

A running service writes one JSON file (mode 0600: it holds the token) named
after the database path, and removes it on exit. A file whose process is
gone is stale and is removed by whoever finds it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

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


def write_info(info: ServiceInfo, target: Path) -> None:
    """Write `info` to `target`, readable by this user only, atomically."""
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    partial = target.with_suffix(f".{os.getpid()}.tmp")
    with contextlib.suppress(FileNotFoundError):
        partial.unlink()
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump(asdict(info), out)
    partial.replace(target)


def read_info(source: Path) -> ServiceInfo | None:
    """The service described by `source`, or None when there is none (a stale file goes)."""
    try:
        data = json.loads(source.read_text(encoding="utf-8"))
        info = ServiceInfo(**data)
    except FileNotFoundError:
        return None
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

"""An inter-process lock that names its holder.

The engine refuses a second read-write process with a terse "Could not set
lock on file". We take our own advisory lock first so the error can say which
process holds the knowledge base.
"""

from __future__ import annotations

import fcntl
import json
import os
import sys
from pathlib import Path
from typing import IO

from ..errors import DatabaseLocked

LOCK_FILE = ".nodespace.lock"


class ProcessLock:
    """An exclusive `flock` on `<kb>/.nodespace.lock` holding our pid and command."""

    def __init__(self, kb_path: Path) -> None:
        self.path = kb_path / LOCK_FILE
        self._handle: IO[str] | None = None

    def acquire(self) -> None:
        """Take the lock or raise `DatabaseLocked` naming the holder."""
        handle = self.path.open("a+", encoding="utf-8")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _describe_holder(self.path)
            handle.close()
            raise DatabaseLocked(
                f"Knowledge base {self.path.parent} is open in another process ({holder}). "
                "Close that process, or connect through its service with nodespace_lab.connect()."
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps({"pid": os.getpid(), "command": " ".join(sys.argv)[:500]}))
        handle.flush()
        self._handle = handle

    def release(self) -> None:
        """Release the lock (the file stays; its content is stale but harmless)."""
        if self._handle is not None:
            fcntl.flock(self._handle.fileno(), fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None


def _describe_holder(path: Path) -> str:
    try:
        info = json.loads(path.read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        return "unknown process"
    pid = info.get("pid", "?")
    command = info.get("command") or "unknown command"
    return f"pid {pid}: {command}"

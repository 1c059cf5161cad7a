"""The one small adapter between NodeSpace Lab and a Kùzu-family engine.

Both LadybugDB (`ladybug`) and Kùzu (`kuzu`) expose the same Python API; this
module is the only place that imports either.
"""

from __future__ import annotations

import importlib
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from ..config import Settings
from ..errors import DatabaseLocked, StorageError
from .lock import ProcessLock

ENGINES = ("ladybug", "kuzu")
DB_FILE = {"ladybug": "graph.lbdb", "kuzu": "graph.kuzu"}


@dataclass
class Engine:
    """One open engine `Database` and the lock that serialises its writes."""

    name: str
    module: ModuleType
    database: Any
    db_path: Path
    process_lock: ProcessLock
    closed: bool = False
    write_lock: threading.RLock = field(default_factory=threading.RLock)

    def connect(self, threads: int = 0) -> Any:
        """A new engine connection on this database."""
        connection = self.module.Connection(self.database)
        if threads:
            connection.set_max_threads_for_exec(threads)
        return connection

    def close(self) -> None:
        """Close the database and release the process lock."""
        if self.closed:
            return
        self.closed = True
        self.database.close()
        self.process_lock.release()


def open_engine(kb_path: Path, settings: Settings) -> Engine:
    """Open the engine database of the knowledge base folder `kb_path`."""
    name = settings.storage.engine
    if name not in ENGINES:
        raise StorageError(f"Unknown engine {name!r}; use one of {', '.join(ENGINES)}.")
    module = _import_engine(name)
    lock = ProcessLock(kb_path)
    lock.acquire()
    db_path = kb_path / DB_FILE[name]
    try:
        database = module.Database(
            str(db_path),
            buffer_pool_size=settings.storage.buffer_pool_mb * 1024 * 1024,
            max_db_size=settings.storage.max_db_size_gb * 1024**3,
        )
    except RuntimeError as exc:
        lock.release()
        if "lock" in str(exc).lower():
            raise DatabaseLocked(
                f"Database {db_path} is locked by another process; close it or use "
                "nodespace_lab.connect() to reach its service."
            ) from exc
        raise StorageError(f"Cannot open database {db_path} with {name}: {exc}") from exc
    return Engine(name=name, module=module, database=database, db_path=db_path, process_lock=lock)


def _import_engine(name: str) -> ModuleType:
    # Both wheels register the same native types: only one engine per process.
    other = {"ladybug": "kuzu", "kuzu": "ladybug"}[name]
    if other in sys.modules:
        raise StorageError(
            f"Cannot use engine {name!r}: this process already loaded {other!r}, and the two "
            "engines cannot share a process. Use one engine per process (storage.engine)."
        )
    return importlib.import_module(name)

"""A knowledge base in a scratch folder for the state machines, on the engine under test."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from nodespace_lab import KnowledgeBase, load_settings

ENGINE = os.environ.get("NODESPACE_TEST_ENGINE", "ladybug")
# Memory-backed scratch space when there is one: these tests are about logic, not
# durability (tests/crash covers that), and every commit is fsynced.
_SCRATCH = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None


def scratch_kb(prefix: str) -> tuple[Path, KnowledgeBase]:
    """A new folder and the knowledge base opened in it (the caller removes the folder)."""
    folder = Path(tempfile.mkdtemp(prefix=prefix, dir=_SCRATCH))
    path = folder / "kb"
    settings = load_settings(
        path,
        env={},
        user_file=folder / "none.toml",
        overrides={"storage": {"engine": ENGINE, "buffer_pool_mb": 64, "max_db_size_gb": 4}},
    )
    return folder, KnowledgeBase(path, settings=settings)

"""`Folder`: the one owner of a knowledge-base folder's open parts in this process.

Every `KnowledgeBase` on one resolved path shares one `Folder`: the engine
silently loses the writes of a second read-write `Database` on one path
(NOTES.md), the full-text index's writer holds a folder lock, and the vector
index keeps every vector in memory, so each of them must exist once per folder
per process. The folder table below is the one process-wide table of
per-folder state; the parts are opened by the first user and closed by the last.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING

from ..config import Settings
from ..entities.store import Registry, forget_registry, registry
from ..errors import ModelUnavailable
from ..graph import GraphStore, open_store
from ..nodes.writer import NodeWriter
from ..search.fulltext import FullTextIndex

if TYPE_CHECKING:
    from ..search.vectors import VectorIndex

#: The full-text sidecar index's folder inside the knowledge base.
FULLTEXT_DIR = "fulltext"
#: The vector sidecar index (semantic search), beside the full-text one.
VECTORS_DIR = "vectors"

_folders: dict[Path, Folder] = {}
# One lock for the table and every folder's user count, so an acquire never
# meets a folder that its last user is closing.
_folders_lock = threading.Lock()


class Folder:
    """The store, writer, entity registry and search indexes of one folder.

    Made by `acquire`, never directly; `release` drops one user.
    """

    def __init__(self, path: Path, settings: Settings) -> None:
        self.path = path
        self.settings = settings
        self.users = 0
        self.store: GraphStore = open_store(path, settings)
        try:
            self.writer = NodeWriter(self.store, settings)
            self.entities: Registry = registry(self.store)
            self.fulltext = FullTextIndex(path / FULLTEXT_DIR, settings.search)
        except BaseException:
            self._close_store()
            raise
        self._vectors: VectorIndex | None = None
        self._vectors_lock = threading.Lock()

    @property
    def closed(self) -> bool:
        """True once the last user released it (or its engine was closed under it)."""
        return self.store.engine.closed

    def vectors(self) -> VectorIndex:
        """The vector index, opened (loading the embedding model) on first use."""
        with self._vectors_lock:
            if self._vectors is None:
                self._vectors = _open_vectors(self.path, self.settings)
            return self._vectors

    @property
    def vectors_open(self) -> VectorIndex | None:
        """The vector index if some user opened it, else None (opens nothing)."""
        return self._vectors

    def release(self) -> None:
        """Drop one user; the last one closes the vectors, the full-text index, the store."""
        with _folders_lock:
            self.users -= 1
            if self.users > 0:
                return
            if _folders.get(self.path) is self:
                del _folders[self.path]
        self._close()

    def _close(self) -> None:
        try:
            with self._vectors_lock:
                vectors, self._vectors = self._vectors, None
            if vectors is not None:
                vectors.close()
        finally:
            try:
                self.fulltext.close()
            finally:
                self._close_store()

    def _close_store(self) -> None:
        forget_registry(self.store)
        self.store.close()

    def __repr__(self) -> str:
        return f"Folder({str(self.path)!r}, users={self.users})"


def acquire(path: Path, settings: Settings) -> Folder:
    """The folder at resolved `path`, opened with `settings` by its first user."""
    with _folders_lock:
        folder = _folders.get(path)
        if folder is None or folder.closed:
            folder = _folders[path] = Folder(path, settings)
        folder.users += 1
        return folder


def open_folders() -> list[Folder]:
    """The folders this process has open (for diagnostics and tests)."""
    with _folders_lock:
        return list(_folders.values())


def _open_vectors(path: Path, settings: Settings) -> VectorIndex:
    try:
        from ..models.embed import load_embedder
        from ..search.vectors import VectorIndex
    except ImportError as exc:  # numpy missing: the AI extra is not installed
        raise ModelUnavailable(
            f"Semantic search needs the AI extra ({exc}); install it: pip install "
            "'nodespace-lab[ai]'. Full-text search (mode='text') works without it."
        ) from exc
    embedder = load_embedder(
        settings.ai.embedding_model, base=path, threads=int(settings.ai.threads)
    )
    return VectorIndex(path / VECTORS_DIR, embedder)


__all__ = ["FULLTEXT_DIR", "VECTORS_DIR", "Folder", "acquire", "open_folders"]

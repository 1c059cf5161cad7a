"""Search sidecar indexes, derived from the knowledge base's change log.

`FullTextIndex` (BM25) loads with the package; the vector index needs numpy
(the AI extra), so `VectorIndex`, `VectorStatus` and `VectorHit` load on first
access.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .fulltext import FullTextIndex, IndexSource, SearchDoc, SearchHit
from .hybrid import MODES

if TYPE_CHECKING:
    from .vectors import VectorHit, VectorIndex, VectorStatus

_LAZY = {"VectorHit", "VectorIndex", "VectorStatus"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from . import vectors

        return getattr(vectors, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "MODES",
    "FullTextIndex",
    "IndexSource",
    "SearchDoc",
    "SearchHit",
    "VectorHit",
    "VectorIndex",
    "VectorStatus",
]

"""Search sidecar indexes, derived from the knowledge base's change log."""

from .fulltext import FullTextIndex, IndexSource, SearchDoc, SearchHit

__all__ = ["FullTextIndex", "IndexSource", "SearchDoc", "SearchHit"]

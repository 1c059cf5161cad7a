"""The knowledge base: its operation table, facet protocols and the embedded facade."""

from .embedded import KnowledgeBase, open_kb

__all__ = ["KnowledgeBase", "open_kb"]

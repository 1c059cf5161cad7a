"""The graph layer: engine adapter, schema migrations, serialised writes, change log."""

from .changelog import ChangeSet, Op
from .store import GraphStore, WriteTx, open_store

__all__ = ["ChangeSet", "GraphStore", "Op", "WriteTx", "open_store"]

"""Live queries: the change feed, dependency tracking and row diffs."""

from .deps import Dependencies
from .feed import follow
from .query import LiveQuery, RowDiff, apply_diff, diff_rows
from .registry import LiveRegistry

__all__ = [
    "Dependencies",
    "LiveQuery",
    "LiveRegistry",
    "RowDiff",
    "apply_diff",
    "diff_rows",
    "follow",
]

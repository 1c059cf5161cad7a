"""Live queries: the change feed, watching changes, dependency tracking and row diffs."""

from .deps import Dependencies
from .feed import follow
from .query import LiveQuery, RowDiff, apply_diff, diff_rows
from .registry import LiveRegistry
from .watch import Changes, Watch, watch

__all__ = [
    "Changes",
    "Dependencies",
    "LiveQuery",
    "LiveRegistry",
    "RowDiff",
    "Watch",
    "apply_diff",
    "diff_rows",
    "follow",
    "watch",
]

"""Live queries: a result that re-runs when a change can affect it, as row diffs."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import polars as pl

from ..nodes.query import Find
from .deps import Dependencies
from .params import resolve
from .views import view_of

if TYPE_CHECKING:
    from ..kb.facets import KnowledgeBaseAPI

Row = dict[str, Any]


@dataclass(frozen=True)
class RowDiff:
    """How a result changed, keyed by row id."""

    seq: int
    added: tuple[Row, ...] = ()
    removed: tuple[str, ...] = ()
    changed: tuple[Row, ...] = ()
    order: tuple[str, ...] | None = None  # the new id order, when it changed

    @property
    def empty(self) -> bool:
        """True when nothing changed."""
        return not (self.added or self.removed or self.changed or self.order is not None)


def diff_rows(seq: int, old: list[Row], new: list[Row], key: str = "id") -> RowDiff:
    """The diff that turns result `old` into result `new` (rows keyed by `key`)."""
    before = {row[key]: row for row in old}
    after = {row[key]: row for row in new}
    added = tuple(row for k, row in after.items() if k not in before)
    removed = tuple(k for k in before if k not in after)
    changed = tuple(row for k, row in after.items() if k in before and before[k] != row)
    reordered = list(after) != _default_order(list(before), removed, added, key)
    return RowDiff(seq, added, removed, changed, tuple(after) if reordered else None)


def apply_diff(rows: list[Row], diff: RowDiff, key: str = "id") -> list[Row]:
    """Apply `diff` to `rows` (what a widget does with each diff it receives)."""
    by_key = {row[key]: row for row in rows}
    for gone in diff.removed:
        by_key.pop(gone, None)
    by_key.update({row[key]: row for row in (*diff.changed, *diff.added)})
    order = diff.order or _default_order([row[key] for row in rows], diff.removed, diff.added, key)
    return [by_key[k] for k in order]


def _default_order(
    old: list[Any], removed: tuple[Any, ...], added: tuple[Row, ...], key: str
) -> list[Any]:
    """Order when a diff carries none: surviving rows as before, then added rows."""
    gone = set(removed)
    return [k for k in old if k not in gone] + [row[key] for row in added]


@dataclass(eq=False)
class LiveQuery:
    """A query result kept true as the graph changes.

    Create it with `kb.live(...)`. `rows` is the current result; observers get
    a `RowDiff` after each re-run that changed something.
    """

    kb: KnowledgeBaseAPI
    query: Find | str | Callable[..., Find | str]
    params: dict[str, Any] = field(default_factory=dict)
    depends: Dependencies = field(default_factory=Dependencies.unknown)
    derive_depends: bool = False  # re-derive `depends` from the Find each run
    key: str = "id"
    rows: list[Row] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)
    seq: int = 0
    reruns: int = 0
    unwatch: list[Callable[[], None]] = field(default_factory=list)
    _observers: list[Callable[[RowDiff], None]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _table: Any = field(default=None, repr=False)
    _ids: frozenset[str] = field(default=frozenset(), repr=False)
    _ids_of: list[Row] | None = field(default=None, repr=False)

    def current_query(self) -> Find | str:
        """The query to run now: a callable query is called with the current parameters."""
        if callable(self.query):
            return self.query(**self.values())
        return self.query

    def values(self) -> dict[str, Any]:
        """The parameters with their current values."""
        return {name: resolve(value) for name, value in self.params.items()}

    def run(self) -> pl.DataFrame:
        """Run the query now and return its frame (does not update `rows`)."""
        query = self.current_query()
        if isinstance(query, Find):
            if self.derive_depends:
                # A callable query can build a different Find for new parameter values.
                self.depends = Dependencies.of_find(query)
            return query.to_polars()
        return self.kb.cypher(query, self.values())

    def refresh(self) -> RowDiff:
        """Re-run, update `rows`, tell observers; returns the diff."""
        with self._lock:
            seq = self.kb.seq
            frame = self.run()
            new = _keyed(frame.to_dicts(), self.key)
            diff = diff_rows(seq, self.rows, new, self.key)
            self.rows, self.seq, self.columns = new, seq, frame.columns
            self.reruns += 1
        if not diff.empty:
            for callback in list(self._observers):
                callback(diff)
        return diff

    @property
    def ids(self) -> frozenset[str]:
        """Keys of the rows now in the result."""
        # Every commit asks every live query this: computed once per result.
        if self._ids_of is not self.rows:
            self._ids, self._ids_of = frozenset(row[self.key] for row in self.rows), self.rows
        return self._ids

    @property
    def frame(self) -> pl.DataFrame:
        """The current result as a DataFrame."""
        return pl.DataFrame(self.rows)

    def table(self, **options: Any) -> Any:
        """This query as a `LiveTable` widget (options: columns, editable, page_size, sort)."""
        return view_of("table", self, **options)  # anywidget loads only when a view is wanted

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        """Rich display: a live table in Jupyter, the current result as HTML elsewhere.

        The HTML is what static renderings show: polars escapes the cells, and
        `sanitize_html` is the wall for the rest (column names are chosen by
        whoever wrote the query, and a polars release could change its escaping).
        """
        from ..markdown import sanitize_html

        frame = self.frame
        header = f"LiveQuery: {len(self.rows)} rows at seq {self.seq}"
        bundle: dict[str, Any] = {
            "text/plain": f"{header}\n{frame}",
            "text/html": sanitize_html(frame._repr_html_(), display=True),
        }
        if self._table is None:
            self._table = self.table()
        view = self._table._repr_mimebundle_(include=include, exclude=exclude) or {}
        if isinstance(view, tuple):  # anywidget answers (data, metadata)
            view = view[0]
        bundle.update({k: v for k, v in view.items() if k != "text/plain"})
        return bundle

    def observe(self, callback: Callable[[RowDiff], None]) -> Callable[[], None]:
        """Call `callback(diff)` after each change; returns a function that stops it."""
        self._observers.append(callback)

        def stop() -> None:
            if callback in self._observers:  # stopping twice is harmless
                self._observers.remove(callback)

        return stop

    def close(self) -> None:
        """Stop updating this query."""
        self.kb.live_registry.release(self)


def _keyed(rows: list[Row], key: str) -> list[Row]:
    if rows and key in rows[0]:
        return rows
    # Without a key column, rows are keyed by position (a change replaces them).
    return [{**row, key: f"#{i}"} for i, row in enumerate(rows)]

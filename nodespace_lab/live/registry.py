"""Which live queries a change set affects, re-run off the writer's thread.

The change subscriber only marks affected queries dirty (cheap, under the
write lock); a worker thread re-runs them. A burst of commits marks a query
once, so it re-runs once: bursts coalesce. Queries are held weakly, so one
that nothing references any more is released.

Checking every query against every commit costs about a microsecond a query,
which with a thousand queries is more than re-running the one that changed.
So queries with an equality condition (`where(task_status="todo")`,
`under(parent)`) are filed under it, and a change looks only at the queries
filed under the values its rows had before and after; the rest are checked
one by one.

The same thread delivers the watchers of `watch()` (`live/watch.py`): views
follow changes through it instead of threads of their own.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..graph import ChangeSet
from ..nodes.query import Find
from .deps import Dependencies
from .params import watch as watch_param
from .query import LiveQuery
from .watch import Changes, Filter, Names, Watch, Watchers

if TYPE_CHECKING:
    from ..kb.facets import KnowledgeBaseAPI

log = logging.getLogger(__name__)


@dataclass
class LiveStats:
    """What live queries have cost so far (for benchmarks and diagnostics)."""

    changes: int = 0  # change sets checked against the live queries
    matching_s: float = 0.0  # time spent finding the queries a change affects
    reruns: int = 0  # live-query re-runs
    rerun_s: float = 0.0  # time spent re-running (query, diff, observers)


class LiveRegistry:
    """The live queries of one knowledge base."""

    def __init__(self, kb: KnowledgeBaseAPI) -> None:
        self.kb = kb
        self.stats = LiveStats()
        self._queries: weakref.WeakSet[LiveQuery] = weakref.WeakSet()
        self._scanned: weakref.WeakSet[LiveQuery] = weakref.WeakSet()
        self._filed: dict[tuple[str, Any], weakref.WeakSet[LiveQuery]] = {}
        self._dirty: dict[int, LiveQuery] = {}
        self._cond = threading.Condition()
        self._busy = False
        self._closed = False
        self.watchers = Watchers(self._cond)
        self._stop_feed = kb.follow(self._on_change)
        self._worker = threading.Thread(target=self._run, name="nodespace-live", daemon=True)
        self._worker.start()

    def add(
        self,
        query: Find | str | Callable[..., Find | str],
        params: dict[str, Any] | None = None,
        depends: Dependencies | None = None,
    ) -> LiveQuery:
        """Register a live query and compute its first result."""
        live = LiveQuery(self.kb, query, dict(params or {}))
        # Builder queries (also those a callable builds) derive their dependencies
        # on each run; Cypher has the declared ones or "everything".
        live.derive_depends = depends is None and isinstance(live.current_query(), Find)
        live.depends = depends if depends is not None else Dependencies.unknown()
        live.refresh()
        with self._cond:
            self._add(live)
        self._watch_params(live)
        return live

    def _add(self, live: LiveQuery) -> None:
        self._queries.add(live)
        key = live.depends.index_key
        # A callable query can change its conditions on any run: never file it.
        if key is None or callable(live.query):
            self._scanned.add(live)
        else:
            self._filed.setdefault(key, weakref.WeakSet()).add(live)

    def _remove(self, live: LiveQuery) -> None:
        self._queries.discard(live)
        self._scanned.discard(live)
        key = live.depends.index_key
        if key is not None and key in self._filed:
            self._filed[key].discard(live)
            if not self._filed[key]:
                del self._filed[key]

    def _watch_params(self, live: LiveQuery) -> None:
        # A weak reference: watching a slider must not keep a dropped query alive.
        ref = weakref.ref(live)

        def changed() -> None:
            target = ref()
            if target is not None:
                self.mark(target)

        live.unwatch = [
            u for v in live.params.values() if (u := watch_param(v, changed)) is not None
        ]

    def mark(self, live: LiveQuery) -> None:
        """Re-run `live` soon (a parameter changed)."""
        with self._cond:
            if live in self._queries:
                self._dirty[id(live)] = live
                self._cond.notify_all()

    def release(self, live: LiveQuery) -> None:
        """Stop updating `live`."""
        for unwatch in live.unwatch:
            unwatch()
        with self._cond:
            self._remove(live)
            self._dirty.pop(id(live), None)

    def resume(self, live: LiveQuery) -> None:
        """Follow `live` again after `release` (its widget is shown again); re-runs it."""
        with self._cond:
            if live in self._queries:
                return
            self._add(live)
        self._watch_params(live)
        self.mark(live)

    def __len__(self) -> int:
        return len(self._queries)

    def watch(
        self,
        callback: Callable[[Changes], None],
        *,
        ids: Names | None = None,
        parents: Names | None = None,
        keys: Names | None = None,
        kinds: Names | None = None,
    ) -> Watch:
        """Call `callback(changes)` on this registry's thread after matching commits, coalesced.

        Returns the watcher; calling it stops watching. See `nodespace_lab.live.watch`.
        """
        return self.watchers.add(callback, Filter(ids, parents, keys, kinds))

    def _on_change(self, change: ChangeSet) -> None:
        started = time.perf_counter()
        with self._cond:
            self.watchers.receive(change)
            for live in self._candidates(change):
                if id(live) not in self._dirty and live.depends.affected_by(change, live.ids):
                    self._dirty[id(live)] = live
            if self._dirty or self.watchers.ready():
                self._cond.notify_all()
        self.stats.changes += 1
        self.stats.matching_s += time.perf_counter() - started

    def _candidates(self, change: ChangeSet) -> list[LiveQuery]:
        """The queries `change` might affect: a superset, each still checked."""
        if any(op.bulk or op.target is not None for op in change.ops):
            return list(self._queries)  # no row images to look up by
        found = {id(q): q for q in self._scanned}
        names = {name for name, _ in self._filed}
        for op in change.ops:
            for row in (op.before, op.after):
                if row is None:
                    continue
                for name in names:
                    if name not in row:  # the image cannot rule a value out
                        keys = [k for k in self._filed if k[0] == name]
                    else:
                        keys = [(name, row[name])]
                    for key in keys:
                        found.update((id(q), q) for q in self._filed.get(key, ()))
        return list(found.values())

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._dirty and not self.watchers.ready() and not self._closed:
                    self._cond.wait()
                if self._closed:
                    return
                batch, self._dirty = list(self._dirty.values()), {}
                self._busy = True
            self.watchers.deliver()
            for live in batch:
                started = time.perf_counter()
                try:
                    live.refresh()
                except Exception:  # a query that fails now keeps its last result
                    log.exception("live query re-run failed")
                self.stats.reruns += 1
                self.stats.rerun_s += time.perf_counter() - started
            with self._cond:
                self._busy = False
                self._cond.notify_all()

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every pending re-run is done; False on time-out."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._dirty and not self._busy, timeout)

    def close(self) -> None:
        """Stop following changes and end the worker."""
        self._stop_feed()
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._worker.join(timeout=5)

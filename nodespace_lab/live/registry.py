"""Which live queries a change set affects, re-run off the writer's thread.

The change subscriber only marks affected queries dirty (cheap, under the
write lock); a worker thread re-runs them. A burst of commits marks a query
once, so it re-runs once: bursts coalesce. Queries are held weakly, so one
that nothing references any more is released.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..graph import ChangeSet
from ..nodes.query import Find
from .deps import Dependencies
from .feed import follow
from .params import watch
from .query import LiveQuery

if TYPE_CHECKING:
    from ..kb import KnowledgeBase

log = logging.getLogger(__name__)


class LiveRegistry:
    """The live queries of one knowledge base."""

    def __init__(self, kb: KnowledgeBase) -> None:
        self.kb = kb
        self._queries: weakref.WeakSet[LiveQuery] = weakref.WeakSet()
        self._dirty: dict[int, LiveQuery] = {}
        self._cond = threading.Condition()
        self._busy = False
        self._closed = False
        self._stop_feed = follow(kb.store, self._on_change)
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
            self._queries.add(live)
        self._watch_params(live)
        return live

    def _watch_params(self, live: LiveQuery) -> None:
        # A weak reference: watching a slider must not keep a dropped query alive.
        ref = weakref.ref(live)

        def changed() -> None:
            target = ref()
            if target is not None:
                self.mark(target)

        live.unwatch = [u for v in live.params.values() if (u := watch(v, changed)) is not None]

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
            self._queries.discard(live)
            self._dirty.pop(id(live), None)

    def resume(self, live: LiveQuery) -> None:
        """Follow `live` again after `release` (its widget is shown again); re-runs it."""
        with self._cond:
            if live in self._queries:
                return
            self._queries.add(live)
        self._watch_params(live)
        self.mark(live)

    def __len__(self) -> int:
        return len(self._queries)

    def _on_change(self, change: ChangeSet) -> None:
        with self._cond:
            for live in list(self._queries):
                if id(live) not in self._dirty and live.depends.affected_by(change, live.ids):
                    self._dirty[id(live)] = live
            if self._dirty:
                self._cond.notify_all()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._dirty and not self._closed:
                    self._cond.wait()
                if self._closed:
                    return
                batch, self._dirty = list(self._dirty.values()), {}
                self._busy = True
            for live in batch:
                try:
                    live.refresh()
                except Exception:  # a query that fails now keeps its last result
                    log.exception("live query re-run failed")
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

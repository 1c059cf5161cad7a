"""Watching changes: one coalesced callback per watcher, off the writer's thread.

`kb.live_registry.watch(callback, ids=..., parents=..., keys=..., kinds=...)`
(or `watch(kb, callback, ...)`) calls `callback(changes)` on the live
registry's thread, the one thread per knowledge base that also re-runs live
queries. The commit callback only queues the change set (it runs on the
writer's thread, under the write lock); the thread then gives each watcher
the union of every change set queued since its last call, so a burst of
commits is one call.

Filters are sets, or functions returning a set (asked on the delivery thread,
so a view can pass "what I show now"). A change matches when one of its
operations matches: a bulk one (import, Cypher write, ...) always does;
otherwise its node must be of one of `kinds` (when given) and, when any of
`ids`, `parents`, `keys` is given, touch one of them: `ids` the node itself
or the tag it joined or left; `parents` a node that is its parent before or
after; `keys` a reference key (a normalised title or a `[[reference]]`) its
title answers to or its content refers to, before or after.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..graph import ChangeSet, Op, opkinds
from ..nodes.links import normalise, references

if TYPE_CHECKING:
    from ..kb.facets import KnowledgeBaseAPI

log = logging.getLogger(__name__)

Names = Collection[str | None] | Callable[[], Collection[str | None]]
_WHOLE = frozenset({opkinds.CREATE, opkinds.PURGE, opkinds.DELETE, opkinds.RESTORE})


@dataclass(frozen=True)
class Changes:
    """What one or more change sets changed, as one union.

    `ids`: nodes an operation named (row changes, and both ends of a membership
    change); `parents`: the parents before and after of changed rows (None for
    the top level); `everything`: a bulk operation, after which any node may
    have changed; `schemas`: entity kinds whose schema changed.
    """

    seq: int
    changes: tuple[ChangeSet, ...]
    ids: frozenset[str]
    parents: frozenset[str | None]
    kinds: frozenset[str]
    fields: frozenset[str]
    schemas: frozenset[str]
    everything: bool

    @classmethod
    def of(cls, changes: Iterable[ChangeSet]) -> Changes:
        """The union of `changes` (oldest first)."""
        found = tuple(changes)
        ids: set[str] = set()
        parents: set[str | None] = set()
        schemas: set[str] = set()
        for op in (op for change in found for op in change.ops):
            if op.bulk:
                continue
            if op.category == "schema":
                schemas.add(op.id.removeprefix("schema:"))
                continue
            ids.update(i for i in (op.id, op.target) if i)
            parents.update(row.get("parent_id") for row in _rows(op))
        ops = [op for change in found for op in change.ops]
        return cls(
            seq=found[-1].seq if found else 0,
            changes=found,
            ids=frozenset(ids),
            parents=frozenset(parents),
            kinds=frozenset(op.kind for op in ops if op.kind and op.category != "schema"),
            fields=frozenset(name for op in ops for name in op.fields),
            schemas=frozenset(schemas),
            everything=any(op.bulk for op in ops),
        )


@dataclass(frozen=True)
class Filter:
    """Which operations a watcher cares about (see the module docstring)."""

    ids: Names | None = None
    parents: Names | None = None
    keys: Names | None = None
    kinds: Names | None = None

    def matching(self, changes: list[ChangeSet]) -> list[ChangeSet]:
        """The change sets of `changes` that have an operation this filter matches."""
        if self.ids is None and self.parents is None and self.keys is None and self.kinds is None:
            return changes
        sets = _Sets(*(_now(f) for f in (self.ids, self.parents, self.keys, self.kinds)))
        return [change for change in changes if any(sets.matches(op) for op in change.ops)]


@dataclass(frozen=True)
class _Sets:
    ids: Collection[str | None] | None
    parents: Collection[str | None] | None
    keys: Collection[str | None] | None
    kinds: Collection[str | None] | None

    def matches(self, op: Op) -> bool:
        if op.bulk:
            return True
        if self.kinds is not None:
            kind = op.id.removeprefix("schema:") if op.category == "schema" else op.kind
            if kind not in self.kinds:
                return False
        if self.ids is None and self.parents is None and self.keys is None:
            return True
        if self.ids is not None and (op.id in self.ids or op.target in self.ids):
            return True
        rows = _rows(op)
        if self.parents is not None and any(r.get("parent_id") in self.parents for r in rows):
            return True
        return self.keys is not None and _refers(op, rows, self.keys)


def _refers(op: Op, rows: list[dict[str, Any]], keys: Collection[str | None]) -> bool:
    """Does `op` change what answers to, or what refers to, one of the reference `keys`?"""
    whole = op.op in _WHOLE
    changed = op.field_set
    # It may now (or no longer) answer to one of the keys by its title.
    if (whole or changed & {"title", "status"}) and any(
        normalise(str(row.get("title") or "")) in keys for row in rows
    ):
        return True
    if whole or changed & {"content", "status"}:
        # Its content may now (or no longer) refer to one of them.
        return any(references(str(row.get("content") or "")) & set(keys) for row in rows)
    return False


def _rows(op: Op) -> list[dict[str, Any]]:
    return [row for row in (op.before, op.after) if row is not None]


def _now(names: Names | None) -> Collection[str | None] | None:
    if names is None or not callable(names):
        return names
    return names()


class Watch:
    """One watcher: call it to stop watching; `pull` takes what is pending now."""

    def __init__(self, owner: Watchers, callback: Callable[[Changes], None], where: Filter):
        self.owner = owner
        self.callback = callback
        self.where = where
        self.pending: list[ChangeSet] = []
        self.in_flight: list[ChangeSet] = []
        self.active = True

    def __call__(self) -> None:
        """Stop watching (calling it again is harmless)."""
        self.owner.remove(self)

    def pull(self) -> Changes | None:
        """What changed and was not delivered yet, taken now on the calling thread.

        For a view that must be current before acting (e.g. on a click): the
        delivery thread will not deliver it again. A delivery under way at this
        moment is included too (so it may reach the view twice: views reload
        from the graph, which makes that harmless), which keeps `pull` from
        ever waiting for the delivery thread.
        """
        taken = self.owner.take(self, pulling=True)
        matching = self.where.matching(taken)
        return Changes.of(matching) if matching else None

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every change committed so far was delivered; False on time-out."""
        return self.owner.flush(self, timeout)


class Watchers:
    """The watchers of one knowledge base, delivered by their owner's thread.

    `cond` is the owner's condition: `receive` notifies it, and the owner's
    thread calls `deliver` whenever `ready()`.
    """

    def __init__(self, cond: threading.Condition) -> None:
        self._cond = cond
        self._watches: list[Watch] = []
        self._queue: list[ChangeSet] = []
        self._delivering = 0

    def add(self, callback: Callable[[Changes], None], where: Filter) -> Watch:
        """A new watcher of every change set committed from now on."""
        found = Watch(self, callback, where)
        with self._cond:
            self._spread()  # earlier change sets are not this watcher's
            self._watches.append(found)
        return found

    def remove(self, found: Watch) -> None:
        """Stop delivering to `found`."""
        with self._cond:
            found.active = False
            found.pending.clear()
            if found in self._watches:
                self._watches.remove(found)
            self._cond.notify_all()

    def receive(self, change: ChangeSet) -> None:
        """Queue a committed change set (call with the owner's condition held)."""
        if self._watches:
            self._queue.append(change)

    def ready(self) -> bool:
        """Is there something to deliver? (call with the owner's condition held)"""
        return bool(self._queue) or any(w.pending for w in self._watches)

    def _spread(self) -> None:
        for change in self._queue:
            for found in self._watches:
                found.pending.append(change)
        self._queue.clear()

    def take(self, found: Watch, *, pulling: bool = False) -> list[ChangeSet]:
        """The change sets pending for `found`, now marked in flight."""
        with self._cond:
            self._spread()
            taken = [*found.in_flight, *found.pending] if pulling else found.pending
            found.pending = []
            if not pulling:
                found.in_flight = taken
            return taken

    def deliver(self) -> None:
        """Give every watcher with pending change sets their union (on the owner's thread)."""
        with self._cond:
            self._spread()
            waiting = [w for w in self._watches if w.pending]
            self._delivering += 1
        try:
            for found in waiting:
                self._deliver_one(found)
        finally:
            with self._cond:
                self._delivering -= 1
                self._cond.notify_all()

    def _deliver_one(self, found: Watch) -> None:
        taken = self.take(found)
        try:
            matching = found.where.matching(taken)
            if matching and found.active:
                found.callback(Changes.of(matching))
        except Exception:  # one failing watcher must not stop the others
            log.exception("watch callback failed")
        finally:
            with self._cond:
                found.in_flight = []

    def flush(self, found: Watch, timeout: float) -> bool:
        """Wait until `found` has nothing queued, pending or in flight."""

        def done() -> bool:
            idle = not found.pending and not found.in_flight
            return not found.active or (not self._queue and idle)

        with self._cond:
            return self._cond.wait_for(done, timeout)

    def __len__(self) -> int:
        return len(self._watches)


def watch(
    kb: KnowledgeBaseAPI,
    callback: Callable[[Changes], None],
    *,
    ids: Names | None = None,
    parents: Names | None = None,
    keys: Names | None = None,
    kinds: Names | None = None,
) -> Watch:
    """Call `callback(changes)` after commits matching the filters; returns the stop function.

    Delivered on the knowledge base's live-registry thread, coalesced (see the
    module docstring for the filters).
    """
    registry = kb.live_registry
    return registry.watch(callback, ids=ids, parents=parents, keys=keys, kinds=kinds)

"""Who refers to whom through the reference fields expressions read: an index in memory.

When a referenced node changes (a venue's rank), the entities whose
reference fields hold its id (the papers) must be recomputed. Their ids live
inside `properties` JSON, which the engine can only scan as text (18 ms at
100,000 papers, growing with their number). This index maps each target id
to its referrers instead, so the lookup costs the same at any size.

It holds committed state only, and follows it: it is built from the database
on first use (one scan of the referring kinds), updated from each committed
change set's before/after rows, dropped after a batch operation or a
rollback (a build inside a transaction may have read what the rollback
undid), and rebuilt when the plan reads other reference fields. Referrers
the current transaction adds are not committed yet: `referrers` takes the
transaction's operations and adds them. One process owns a knowledge base's
writes (the database lock), so no other writer can make it stale.
"""

from __future__ import annotations

import json
import threading
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from ...graph import ChangeSet, GraphStore, Op
from .data import ids_held
from .plan import Plan

Pairs = frozenset[tuple[str, str]]  # (kind, reference field) pairs the plan reads


class ReferenceIndex:
    """target id -> ids of the entities whose indexed reference fields hold it."""

    def __init__(self, store: GraphStore) -> None:
        self.store = store
        self._pairs: Pairs = frozenset()
        self._by_target: dict[str, set[str]] | None = None
        self._lock = threading.Lock()
        store.subscribe(self._committed)
        store.on_rollback(self.invalidate)

    def invalidate(self) -> None:
        """Forget everything: the next lookup builds the index again."""
        self._by_target = None

    def referrers(self, plan: Plan, targets: Iterable[str], pending: Iterable[Op]) -> set[str]:
        """Ids of entities referring to any of `targets` (live or not: the caller filters)."""
        pairs = _pairs(plan)
        if not pairs:
            return set()
        index = self._index(pairs)
        wanted = set(targets)
        found = set().union(*(index.get(t, set()) for t in wanted))
        for op in pending:  # referrers written by the transaction still open
            if op.after is not None and wanted & _held(pairs, op.kind, op.after):
                found.add(op.id)
        return found

    def _index(self, pairs: Pairs) -> dict[str, set[str]]:
        with self._lock:
            if self._by_target is None or pairs != self._pairs:
                self._pairs = pairs
                self._by_target = self._build(pairs)
            return self._by_target

    def _build(self, pairs: Pairs) -> dict[str, set[str]]:
        index: dict[str, set[str]] = defaultdict(set)
        rows = self.store.rows(
            "MATCH (n:Node) WHERE n.kind IN $kinds RETURN n.id, n.kind, n.properties",
            {"kinds": sorted({kind for kind, _ in pairs})},
        )
        for node_id, kind, text in rows:
            for target in _held(pairs, kind, {"properties": text}):
                index[target].add(node_id)
        return index

    def _committed(self, change: ChangeSet) -> None:
        index = self._by_target
        if index is None:
            return
        if any(op.bulk for op in change.ops):
            self.invalidate()
            return
        for op in change.ops:
            if op.kind not in {kind for kind, _ in self._pairs}:
                continue
            for target in _held(self._pairs, op.kind, op.before):
                index.get(target, set()).discard(op.id)
            for target in _held(self._pairs, op.kind, op.after):
                index[target].add(op.id)


def _pairs(plan: Plan) -> Pairs:
    return frozenset((kind, item.name) for kind, item, _ in plan.ref_readers())


def _held(pairs: Pairs, kind: str, row: dict[str, Any] | None) -> set[str]:
    """The ids a row's indexed reference fields hold."""
    if row is None:
        return set()
    names = [field for k, field in pairs if k == kind]
    if not names:
        return set()
    props = json.loads(row.get("properties") or "{}")
    return {target for name in names for target in ids_held(props.get(name))}

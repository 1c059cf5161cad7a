"""Which nodes a committed-to-be change can affect: only those are recomputed.

Each operation of a write says which node changed and how (its before and
after rows). From the plan's reverse maps this module decides, mostly
without the database, whether anything can depend on it; only then does it
ask for the few candidates: the old and new parent (children aggregates),
the children (`parent.x`), the nodes linking to it or linked from it, and
the entities whose reference fields hold its id (from `references`, an index
in memory).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ...graph import Op, WriteTx, opkinds
from ...nodes import links
from .plan import COLUMN_ATTRIBUTES, Plan
from .references import ReferenceIndex

#: A whole node appeared or vanished: every attribute counts as changed.
EVERYTHING = frozenset({"*"})


@dataclass(frozen=True)
class Change:
    """How one operation changed one node."""

    node_id: str
    kind: str
    attributes: frozenset[str]
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    calculated: bool  # written by the calculation itself

    @property
    def appeared_or_vanished(self) -> bool:
        """Created, purged, deleted or restored: the node joins or leaves every aggregate."""
        return self.attributes is EVERYTHING

    @property
    def moved(self) -> bool:
        """The parent changed."""
        return bool(self._old("parent_id") != self._new("parent_id"))

    def touches(self, attrs: Iterable[str]) -> bool:
        """True when any of `attrs` changed (or the node appeared or vanished)."""
        return self.appeared_or_vanished or not self.attributes.isdisjoint(attrs)

    def _old(self, column: str) -> Any:
        return (self.before or {}).get(column)

    def _new(self, column: str) -> Any:
        return (self.after or {}).get(column)

    def values(self, column: str) -> set[Any]:
        """The column's value before and after, without None."""
        return {v for v in (self._old(column), self._new(column)) if v is not None}


def describe(op: Op) -> Change | None:
    """The change an operation made, or None for one that changes no attribute."""
    if op.category in {"edge", "schema"} or (op.before is None and op.after is None):
        return None
    calculated = op.op == opkinds.CALC
    before, after = op.before, op.after
    status = {(before or {}).get("status"), (after or {}).get("status")}
    if before is None or after is None or ("deleted" in status and len(status) > 1):
        return Change(op.id, op.kind, EVERYTHING, before, after, calculated)
    attrs: set[str] = set()
    for column in op.fields:
        attrs.update(COLUMN_ATTRIBUTES.get(column, ()))
        if column == "parent_id":
            attrs.add("parent")
    if "properties" in op.fields:
        attrs.update(_changed_keys(before.get("properties"), after.get("properties")))
    return Change(op.id, op.kind, frozenset(attrs), before, after, calculated)


def _changed_keys(old: str | None, new: str | None) -> set[str]:
    a = json.loads(old or "{}")
    b = json.loads(new or "{}")
    return {k for k in a.keys() | b.keys() if a.get(k) != b.get(k)}


@dataclass
class Candidates:
    """Nodes that may need a recompute, gathered over one round of operations."""

    ids: set[str] = field(default_factory=set)
    parents: set[str] = field(default_factory=set)
    children_of: set[str] = field(default_factory=set)
    linked_from_keys: set[str] = field(default_factory=set)
    link_targets_of: set[str] = field(default_factory=set)
    old_contents: list[str] = field(default_factory=list)
    referenced: set[str] = field(default_factory=set)


def affected(tx: WriteTx, plan: Plan, ops: Iterable[Op], references: ReferenceIndex) -> set[str]:
    """Ids of nodes whose calculated values `ops` may have changed.

    Most are live nodes of calculated kinds; referrers come from the index
    unfiltered, and the recompute skips what is deleted or not calculated.
    """
    found = Candidates()
    for op in ops:
        change = describe(op)
        if change is not None:
            _gather(plan, change, found)
    ids = _resolve(tx, plan, found)
    if found.referenced:
        ids |= references.referrers(plan, found.referenced, tx.ops)
    return ids


def _gather(plan: Plan, change: Change, found: Candidates) -> None:
    own = plan.kinds.get(change.kind)
    if own is not None and not change.calculated and _self_affected(own.inputs, own.reads, change):
        found.ids.add(change.node_id)
    if _reads(plan, "children", change):
        found.parents |= change.values("parent_id")
    if _reads(plan, "parent", change):
        found.children_of.add(change.node_id)
    if _reads(plan, "links", change) or (plan.readers("links") and "title" in change.attributes):
        found.linked_from_keys |= {change.node_id} | change.values("title_key")
    if _reads(plan, "backlinks", change) or (
        plan.readers("backlinks") and "content" in change.attributes
    ):
        found.link_targets_of.add(change.node_id)
        if change.before is not None and "content" in change.attributes:
            found.old_contents.append(change.before.get("content") or "")
    if any(change.touches(attrs) for _, _, attrs in plan.ref_readers()):
        found.referenced.add(change.node_id)


def _self_affected(inputs: frozenset[str], reads: dict[str, frozenset[str]], c: Change) -> bool:
    if c.after is None or c.after.get("status") == "deleted":
        return False
    if c.appeared_or_vanished or not c.attributes.isdisjoint(inputs):
        return True
    if "parent" in reads and "parent" in c.attributes:
        return True
    if "links" in reads and "content" in c.attributes:
        return True  # its own links changed
    # A new title can make other nodes' [[links]] point here.
    return "backlinks" in reads and "title" in c.attributes


def _reads(plan: Plan, source: str, change: Change) -> bool:
    readers = plan.readers(source)
    if not readers:
        return False
    if change.appeared_or_vanished or (source in ("children", "parent") and change.moved):
        return True
    return any(change.touches(attrs) for attrs in readers.values())


def _resolve(tx: WriteTx, plan: Plan, found: Candidates) -> set[str]:
    ids = set(found.ids)
    if found.parents:
        ids |= _live_of_kinds(tx, found.parents, plan.readers("children"))
    for node_id in found.children_of:
        ids |= set(
            tx.values(
                "MATCH (n:Node)-[:CHILD_OF]->(:Node {id: $id}) "
                "WHERE n.kind IN $kinds AND n.status <> 'deleted' RETURN n.id",
                {"id": node_id, "kinds": sorted(plan.readers("parent"))},
            )
        )
    if found.linked_from_keys:
        ids |= set(
            tx.values(
                "MATCH (n:Node)-[:REFERS]->(r:Ref) WHERE r.key IN $keys AND n.kind IN $kinds "
                "AND n.status <> 'deleted' RETURN DISTINCT n.id",
                {"keys": sorted(found.linked_from_keys), "kinds": sorted(plan.readers("links"))},
            )
        )
    if found.link_targets_of:
        ids |= _link_targets(tx, plan, found)
    return ids


def _live_of_kinds(tx: WriteTx, ids: Iterable[str], kinds: Iterable[str]) -> set[str]:
    wanted = sorted(kinds)
    out: set[str] = set()
    for node_id in ids:  # a key lookup each: there are one or two
        out |= set(
            tx.values(
                "MATCH (n:Node {id: $id}) WHERE n.kind IN $kinds AND n.status <> 'deleted' "
                "RETURN n.id",
                {"id": node_id, "kinds": wanted},
            )
        )
    return out


def _link_targets(tx: WriteTx, plan: Plan, found: Candidates) -> set[str]:
    targets: set[str] = set()
    for node_id in found.link_targets_of:
        targets |= set(
            tx.values("MATCH (:Node {id: $id})-[:LINKS_TO]->(t:Node) RETURN t.id", {"id": node_id})
        )
    keys = set().union(*(links.references(c) for c in found.old_contents))
    targets |= links.resolve(tx, keys)
    return _live_of_kinds(tx, targets, plan.readers("backlinks"))

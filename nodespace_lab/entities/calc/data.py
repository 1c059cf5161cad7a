"""What an expression sees: a node's attributes and the nodes around it.

`NodeScope` answers `value(name)` from one node's row (built-in attributes
from columns, entity fields from `properties`, decoded by the kind's schema)
and `items(source)` through a data provider. Two providers share the scope:

- `GraphData` asks the database (inside the write transaction) for the few
  nodes one recompute needs: the incremental path.
- `MemoryData` loads every live node once and computes all calculated values
  in memory, each node after the ones it reads: the full recompute used by
  schema changes, the doctor and the daily refresh of `today()` fields.

Deleted nodes are never items: an aggregate sees the children, links and
references a user sees.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import polars as pl

from ...nodes.model import COLUMNS, Row
from ..schema import Field, decode_value
from .plan import KindPlan, Plan

Run = Callable[..., list[list[Any]]]

#: Columns every loaded node has: identity, the hierarchy, the deleted/archived
#: status, and the entity fields.
_BASE_COLUMNS = ("id", "kind", "properties", "parent_id", "status")
#: The columns each built-in attribute reads (the rest are loaded only when read:
#: `content` can be large, and fewer columns make the children query cheaper).
_ATTRIBUTE_COLUMNS = {
    "title": "title", "content": "content", "created_at": "created_at",
    "updated_at": "updated_at", "status": "task_status", "done": "task_status",
    "priority": "priority", "due": "due", "scheduled": "scheduled",
    "completed_at": "completed_at",
}  # fmt: skip

_BUILTINS: dict[str, Callable[[Row], Any]] = {
    "id": lambda r: r["id"],
    "kind": lambda r: r["kind"],
    "title": lambda r: r.get("title") or "",
    "content": lambda r: r.get("content") or "",
    "created_at": lambda r: r.get("created_at"),
    "updated_at": lambda r: r.get("updated_at"),
    "status": lambda r: r.get("task_status"),
    "done": lambda r: None if r.get("task_status") is None else r["task_status"] == "done",
    "priority": lambda r: r.get("priority"),
    "due": lambda r: r.get("due"),
    "scheduled": lambda r: r.get("scheduled"),
    "completed_at": lambda r: r.get("completed_at"),
    "archived": lambda r: r.get("status") == "archived",
}


def item_columns(plan: Plan) -> tuple[str, ...]:
    """The node columns to load for the nodes expressions read under `plan`."""
    read: set[str] = set()
    for kind_plan in plan.kinds.values():
        read |= kind_plan.inputs | kind_plan.names
        for attrs in kind_plan.reads.values():
            read |= attrs
    wanted = set(_BASE_COLUMNS) | {_ATTRIBUTE_COLUMNS[a] for a in read if a in _ATTRIBUTE_COLUMNS}
    return tuple(c for c in COLUMNS if c in wanted)


class NodeScope:
    """One node as an expression sees it."""

    __slots__ = ("_props", "data", "now", "row", "today")

    def __init__(self, row: Row, data: Data) -> None:
        self.row = row
        self.data = data
        self.today = data.today
        self.now = data.now
        self._props: dict[str, Any] | None = None

    @property
    def props(self) -> dict[str, Any]:
        """The stored entity fields (parsed once)."""
        if self._props is None:
            text = self.row.get("properties") or "{}"
            self._props = {} if text == "{}" else json.loads(text)
        return self._props

    def value(self, name: str) -> Any:
        """Attribute or field `name` of this node, as Python (None when missing)."""
        builtin = _BUILTINS.get(name)
        if builtin is not None:
            return builtin(self.row)
        self.data.settle(self, name)
        stored = self.props.get(name)
        if stored is None:
            return None
        item = self.data.plan.fields_of(self.row["kind"]).get(name)
        if item is None:
            return stored
        try:
            return decode_value(item, stored)
        except (TypeError, ValueError):
            return None  # a value stored by hand in another form: empty, not an error

    def items(self, source: str) -> Sequence[NodeScope]:
        """The live nodes of `source` around this node."""
        return self.data.items(self, source)


class Data:
    """Where scopes find their neighbours; subclasses load them."""

    def __init__(self, plan: Plan, today: dt.date, now: dt.datetime) -> None:
        self.plan = plan
        self.today = today
        self.now = now

    def settle(self, scope: NodeScope, name: str) -> None:
        """Make `name` of `scope` current before it is read (full recompute only)."""

    def items(self, scope: NodeScope, source: str) -> Sequence[NodeScope]:
        """Items of `source` for `scope`."""
        raise NotImplementedError

    def reference_ids(self, scope: NodeScope, source: str) -> list[str]:
        """Ids a reference field of `scope` holds, in order."""
        return ids_held(scope.props.get(source))


class GraphData(Data):
    """Neighbours read from the database, inside the write transaction."""

    def __init__(self, run: Run, plan: Plan, today: dt.date, now: dt.datetime) -> None:
        super().__init__(plan, today, now)
        self.run = run
        self.columns = item_columns(plan)
        self._returned = ", ".join(f"n.{c}" for c in self.columns)
        # One query per (node, source) however many fields read it; a recompute
        # round gets a fresh GraphData, so values written by the round before show.
        self._items: dict[tuple[str, str], list[NodeScope]] = {}
        self._by_id: dict[str, Row | None] = {}  # referenced and parent rows, read once

    def rows(self, match: str, params: dict[str, Any]) -> list[Row]:
        """Live nodes `n` of a MATCH, as rows."""
        query = f"{match} WHERE n.status <> 'deleted' RETURN {self._returned}"
        return [dict(zip(self.columns, r, strict=True)) for r in self.run(query, params)]

    def items(self, scope: NodeScope, source: str) -> Sequence[NodeScope]:
        """Children, links, backlinks, parent or referenced nodes, from the database."""
        key = (scope.row["id"], source)
        found = self._items.get(key)
        if found is None:
            found = self._items[key] = self._load(scope, source)
        return found

    def _load(self, scope: NodeScope, source: str) -> list[NodeScope]:
        node_id = scope.row["id"]
        params = {"id": node_id}
        if source == "children":
            rows = self.rows("MATCH (n:Node)-[:CHILD_OF]->(:Node {id: $id})", params)
        elif source == "links":
            rows = self.rows("MATCH (:Node {id: $id})-[:LINKS_TO]->(n:Node)", params)
        elif source == "backlinks":
            rows = self.rows("MATCH (n:Node)-[:LINKS_TO]->(:Node {id: $id})", params)
        elif source == "parent":
            parent = scope.row.get("parent_id")
            rows = [] if parent is None else self.by_ids([parent])
        else:
            rows = self.by_ids(self.reference_ids(scope, source))
        # A node linking to itself is not its own link (as in kb.links()).
        own = source in ("links", "backlinks")
        return [NodeScope(r, self) for r in rows if not own or r["id"] != node_id]

    def by_ids(self, ids: list[str]) -> list[Row]:
        """Live rows of `ids`, in the order given (each read once per round)."""
        for node_id in ids:
            if node_id not in self._by_id:
                rows = self.rows("MATCH (n:Node {id: $id})", {"id": node_id})
                self._by_id[node_id] = rows[0] if rows else None
        found = (self._by_id[i] for i in ids)
        return [row for row in found if row is not None]


class MemoryData(Data):
    """Every live node in memory; calculated values computed on first read.

    Reading a calculated field of another node computes that node first
    (`settle`), so values come out right whatever the visiting order; the
    plan's cycle check makes this recursion end. Visiting deepest nodes first
    keeps the recursion of children rollups shallow.
    """

    def __init__(
        self,
        plan: Plan,
        frame: pl.DataFrame,
        links: Iterable[tuple[str, str]],
        today: dt.date,
        now: dt.datetime,
    ) -> None:
        super().__init__(plan, today, now)
        self.scopes = {row["id"]: NodeScope(row, self) for row in frame.iter_rows(named=True)}
        self.children: dict[str, list[NodeScope]] = defaultdict(list)
        for scope in self.scopes.values():
            parent = scope.row.get("parent_id")
            if isinstance(parent, str) and parent in self.scopes:
                self.children[parent].append(scope)
        self.links: dict[str, list[NodeScope]] = defaultdict(list)
        self.backlinks: dict[str, list[NodeScope]] = defaultdict(list)
        for source, target in links:
            if source in self.scopes and target in self.scopes and source != target:
                self.links[source].append(self.scopes[target])
                self.backlinks[target].append(self.scopes[source])
        self.computed: dict[str, dict[str, Any]] = {}
        self._busy: set[str] = set()

    def items(self, scope: NodeScope, source: str) -> Sequence[NodeScope]:
        """Neighbours from the in-memory indexes."""
        node_id = scope.row["id"]
        if source == "children":
            return self.children.get(node_id, [])
        if source == "links":
            return self.links.get(node_id, [])
        if source == "backlinks":
            return self.backlinks.get(node_id, [])
        if source == "parent":
            parent = self.scopes.get(scope.row.get("parent_id") or "")
            return [] if parent is None else [parent]
        found = (self.scopes.get(i) for i in self.reference_ids(scope, source))
        return [s for s in found if s is not None]

    def settle(self, scope: NodeScope, name: str) -> None:
        """Compute `scope`'s calculated fields before one of them is read."""
        node_id = scope.row["id"]
        kind_plan = self.plan.kinds.get(scope.row["kind"])
        if kind_plan is None or node_id in self.computed or node_id in self._busy:
            return
        if name in kind_plan.names:
            self.compute(scope, kind_plan)

    def compute(self, scope: NodeScope, kind_plan: KindPlan) -> dict[str, Any]:
        """Every calculated field of `scope` (once), stored into its props as it goes."""
        node_id = scope.row["id"]
        done = self.computed.get(node_id)
        if done is not None:
            return done
        self._busy.add(node_id)
        try:
            done = self.computed[node_id] = compute_fields(scope, kind_plan)
        finally:
            self._busy.discard(node_id)
        return done

    def depth_first(self) -> list[NodeScope]:
        """Nodes of calculated kinds in an order that keeps `settle` recursion shallow."""
        depth: dict[str, int] = {}

        def depth_of(node_id: str) -> int:
            chain = []
            current: str | None = node_id
            while current is not None and current in self.scopes and current not in depth:
                chain.append(current)
                current = self.scopes[current].row.get("parent_id")
                if len(chain) > len(self.scopes):
                    break  # a damaged hierarchy with a cycle: the doctor reports it
            base = depth.get(current, -1) if current is not None else -1
            for offset, item in enumerate(reversed(chain), start=1):
                depth[item] = base + offset
            return depth.get(node_id, 0)

        downward = {k for k, p in self.plan.kinds.items() if "parent" in p.reads}

        def order(scope: NodeScope) -> int:
            # Children rollups run leaves first and parent reads root first, so
            # neither recurses far, whatever the depth of the outline.
            depth = depth_of(scope.row["id"])
            return depth if scope.row["kind"] in downward else -depth

        wanted = [s for s in self.scopes.values() if s.row["kind"] in self.plan.kinds]
        return sorted(wanted, key=order)


def ids_held(value: Any) -> list[str]:
    """The node ids a stored reference value holds: one id, or a list of them."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return []


def compute_fields(scope: NodeScope, kind_plan: KindPlan) -> dict[str, Any]:
    """Evaluate every calculated field of `scope` in order; returns name -> stored value.

    Each result is put into the scope's props before the next field runs, so a
    field reading another calculated field of the same node sees it fresh.
    """
    results: dict[str, Any] = {}
    for item in kind_plan.fields:
        stored = to_stored(item.field, item.expression.evaluate(scope))
        results[item.name] = stored
        if stored is None:
            scope.props.pop(item.name, None)
        else:
            scope.props[item.name] = stored
    return results


def to_stored(item: Field, value: Any) -> Any:
    """A result in the field's stored form; None when it does not fit the declared type.

    A calculated value never refuses a write (the input edit that caused it is
    valid): a result of the wrong type is empty, like a spreadsheet error cell.
    """
    if value is None:
        return None
    kind_of = item.type
    if kind_of in ("number", "integer"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None
        if isinstance(value, float) and not math.isfinite(value):
            return None
        if kind_of == "number":
            return float(value)
        rounded = math.floor(abs(value) + 0.5) * (1 if value >= 0 else -1)
        return rounded if -(2**63) <= rounded < 2**63 else None
    if kind_of == "text":
        return value if isinstance(value, str) and "\x00" not in value else None
    if kind_of == "bool":
        return value if isinstance(value, bool) else None
    if kind_of == "date":
        ok = isinstance(value, dt.date) and not isinstance(value, dt.datetime)
        return value.isoformat() if ok else None
    if kind_of == "datetime":
        return value.isoformat() if isinstance(value, dt.datetime) else None
    return None

"""What a live query depends on, and whether a change set can affect it."""

from __future__ import annotations

from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import Any

from ..graph import ChangeSet, Op, opkinds
from ..nodes.model import PUBLIC_COLUMNS
from ..nodes.query import Find

_ROW_FIELDS = frozenset({"status", "kind"})


def _column(name: str) -> str:
    """The Node column a find() name reads: entity fields live in `properties`."""
    return name if name in PUBLIC_COLUMNS else "properties"


@dataclass(frozen=True)
class Dependencies:
    """Kinds, fields, edge types and ids a query reads; `everything` when unknown.

    `kinds` / `fields` None mean "any". `ids` are nodes the query names (a tag,
    a parent): membership or hierarchy changes about them matter.
    """

    kinds: frozenset[str] | None = None
    fields: frozenset[str] | None = None
    edges: frozenset[str] = frozenset()
    ids: frozenset[str] = frozenset()
    equals: tuple[tuple[str, Any], ...] = ()
    everything: bool = False

    @classmethod
    def unknown(cls) -> Dependencies:
        """The safe fallback: any write may change the result."""
        return cls(everything=True)

    @classmethod
    def of_find(cls, find: Find) -> Dependencies:
        """Derive the dependencies of a `kb.find()` query from its parts."""
        # Returned columns only matter for rows already shown, which any change
        # to them re-runs anyway: a hidden row can only enter through filters or order.
        fields = set(_ROW_FIELDS) | {_column(name) for name, _ in find.order}
        for name, _, _ in find.conditions:
            fields |= {"title", "content"} if name == "any" else {_column(name)}
        if find.parent_id is not None:
            fields.add("position")
        edges = {"MEMBER_OF"} if find.tag_ids else set()
        if find.parent_id is not None:
            edges.add("CHILD_OF")
        ids = set(find.tag_ids) | ({find.parent_id} if find.parent_id else set())
        equals = tuple(
            (name, value)
            for name, op, value in find.conditions
            if op in {"=", "=="} and isinstance(value, str | int | bool) and name in PUBLIC_COLUMNS
        )
        if find.parent_id is not None:
            # Children of one node: rows elsewhere in the tree cannot enter it.
            equals += (("parent_id", find.parent_id),)
        return cls(
            kinds=frozenset(find.kinds) or None,
            fields=frozenset(fields),
            edges=frozenset(edges),
            ids=frozenset(ids),
            equals=equals,
        )

    @property
    def index_key(self) -> tuple[str, Any] | None:
        """An equality the result's rows all satisfy, to find this query by (None: none)."""
        return None if self.everything or not self.equals else self.equals[0]

    def affected_by(self, change: ChangeSet, shown: AbstractSet[str]) -> bool:
        """Can `change` alter the result of a query now showing the ids `shown`?"""
        if self.everything:
            return True
        return any(self._op_matters(op, shown) for op in change.ops)

    def _op_matters(self, op: Op, shown: AbstractSet[str]) -> bool:
        if op.bulk or op.id in shown:
            return True
        if op.category == "edge":
            return "MEMBER_OF" in self.edges and op.target in self.ids
        if op.category == "schema":  # its id is "schema:<kind>"
            # The typed columns of an entity kind follow its schema, and a field
            # added without default rewrites no entity, so no other op would tell.
            return self.kinds is not None and op.id.removeprefix("schema:") in self.kinds
        if self.kinds is not None and op.kind not in self.kinds:
            return False
        if self.equals and not (self._selects(op.before) or self._selects(op.after)):
            return False  # the row is outside the result before and after the change
        if op.op in {opkinds.CREATE, opkinds.PURGE}:
            return True
        changed = op.field_set
        if self.fields is None or changed & self.fields:
            return True
        return "CHILD_OF" in self.edges and "parent_id" in changed

    def _selects(self, row: dict[str, Any] | None) -> bool:
        """Could `row` (a change-log row image) satisfy the query's equality conditions?"""
        if row is None:
            return False
        return all(name not in row or row[name] == value for name, value in self.equals)

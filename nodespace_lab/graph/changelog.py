"""The durable change log: one record per committed write transaction.

Each record holds the operations of one change set with before/after row
images, which is enough to undo it and to tell subscribers what changed.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from . import opkinds
from .opkinds import Category

Row = dict[str, Any]
# Operations over many nodes at once, recorded without per-node rows.
BATCH_OPS = opkinds.BULK


@dataclass(frozen=True)
class Op:
    """One operation inside a change set.

    `op` is one of the kinds declared in `graph.opkinds` (its category says
    what the other fields mean). Row and derived operations carry `before` /
    `after` row images (None where the row did not or no longer exists); edge
    operations carry `target`.
    """

    op: str
    id: str
    kind: str = ""
    before: Row | None = None
    after: Row | None = None
    target: str | None = None
    count: int = 0

    @property
    def category(self) -> Category:
        """The declared category of this operation's kind (row, edge, batch, derived, schema)."""
        return opkinds.category(self.op)

    @property
    def bulk(self) -> bool:
        """True when this operation names no node one by one (its id names a batch)."""
        return self.op in opkinds.BULK

    @cached_property
    def fields(self) -> tuple[str, ...]:
        """Names of the node fields this operation changed."""
        # Cached: every live query asks each op of each commit.
        if self.before is None or self.after is None:
            return tuple(sorted((self.before or self.after or {}).keys()))
        return tuple(sorted(k for k in self.after if self.before.get(k) != self.after.get(k)))

    @cached_property
    def field_set(self) -> frozenset[str]:
        """`fields` as a set."""
        return frozenset(self.fields)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (empty parts left out)."""
        data: dict[str, Any] = {"op": self.op, "id": self.id, "kind": self.kind}
        for name in ("before", "after", "target"):
            value = getattr(self, name)
            if value is not None:
                data[name] = value
        if self.count:
            data["count"] = self.count
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Op:
        """Rebuild an operation from `to_json` output."""
        return cls(
            op=data["op"],
            id=data["id"],
            kind=data.get("kind", ""),
            before=data.get("before"),
            after=data.get("after"),
            target=data.get("target"),
            count=data.get("count", 0),
        )


@dataclass(frozen=True)
class ChangeSet:
    """One committed write transaction as recorded in the change log."""

    seq: int
    at: dt.datetime
    label: str
    ops: tuple[Op, ...]
    undoes: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def node_ids(self) -> list[str]:
        """Ids of the nodes this change set touched, in first-touched order."""
        seen: dict[str, None] = {}
        for op in self.ops:
            if op.bulk:
                continue  # their id names the batch, not a node
            seen.setdefault(op.id, None)
            if op.target:
                seen.setdefault(op.target, None)
        return list(seen)

    @property
    def kinds(self) -> list[str]:
        """Kinds of the nodes this change set touched."""
        return sorted({op.kind for op in self.ops if op.kind})

    @property
    def fields(self) -> list[str]:
        """Node fields changed by any operation of this change set."""
        return sorted({name for op in self.ops for name in op.fields})

    @property
    def edges(self) -> list[str]:
        """Edge types this change set may have changed."""
        found: set[str] = set()
        for op in self.ops:
            if op.category == "edge":
                found.add("MEMBER_OF")
            changed = set(op.fields)
            whole = op.bulk or op.op in {opkinds.CREATE, opkinds.PURGE}
            if whole or "parent_id" in changed:
                found.add("CHILD_OF")
            if whole or changed & {"content", "title"}:
                found.add("LINKS_TO")
        return sorted(found)


def encode_ops(ops: list[Op]) -> str:
    """Serialise operations for the ChangeSet.ops column."""
    return json.dumps([op.to_json() for op in ops], default=_json_default, ensure_ascii=False)


def decode_ops(text: str) -> tuple[Op, ...]:
    """Parse the ChangeSet.ops column."""
    return tuple(Op.from_json(item) for item in json.loads(text))


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    raise TypeError(f"cannot store {type(value).__name__} in the change log")

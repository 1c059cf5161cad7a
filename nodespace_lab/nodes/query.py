"""`kb.find(...)`: a small query builder compiled to parameterised Cypher.

Field names and operators come from fixed lists and every value travels as
a query parameter, so nothing a user types is ever spliced into Cypher text.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import polars as pl

from ..errors import ValidationError
from .kinds import kind_spec
from .links import normalise
from .model import PUBLIC_COLUMNS, Node

OPERATORS = {
    "=": "{f} = {p}", "==": "{f} = {p}", "!=": "{f} <> {p}", "<": "{f} < {p}",
    "<=": "{f} <= {p}", ">": "{f} > {p}", ">=": "{f} >= {p}", "in": "{f} IN {p}",
    "contains": "lower({f}) CONTAINS lower({p})", "startswith": "{f} STARTS WITH {p}",
    "is_null": "{f} IS NULL", "not_null": "{f} IS NOT NULL",
}  # fmt: skip
_NO_VALUE = frozenset({"is_null", "not_null"})
FIELDS = tuple(c for c in PUBLIC_COLUMNS if c != "properties")

Runner = Callable[[str, dict[str, Any]], pl.DataFrame]


@dataclass(frozen=True)
class Find:
    """An immutable query over nodes; each method returns a refined copy."""

    runner: Runner = field(repr=False, compare=False)
    kinds: tuple[str, ...] = ()
    conditions: tuple[tuple[str, str, Any], ...] = ()
    tag_ids: tuple[str, ...] = ()
    parent_id: str | None = None
    order: tuple[tuple[str, bool], ...] = ()
    limit_n: int | None = None
    offset_n: int = 0
    with_deleted: bool = False
    columns: tuple[str, ...] = PUBLIC_COLUMNS

    def where(
        self, name: str | None = None, op: str = "=", value: Any = None, **equals: Any
    ) -> Find:
        """Add a comparison: `.where("priority", "<=", 2)` or `.where(task_status="todo")`."""
        added = [] if name is None else [(_field(name), _operator(op), value)]
        added += [(_field(k), "=", v) for k, v in equals.items()]
        for f, o, v in added:
            if o not in _NO_VALUE and v is None:
                raise ValidationError(f"Condition on {f!r} {o} has no value; use op='is_null'.")
        return replace(self, conditions=self.conditions + tuple(added))

    def contains(self, text: str, *, field_name: str = "any") -> Find:
        """Case-insensitive substring match on title, content or either ('any')."""
        if field_name not in {"any", "title", "content"}:
            raise ValidationError(f"contains() field {field_name!r} must be any, title or content.")
        return replace(self, conditions=(*self.conditions, (field_name, "contains", text)))

    def tagged(self, *names: str) -> Find:
        """Only nodes carrying every one of these tags."""
        return replace(self, tag_ids=self.tag_ids + tuple("tag:" + normalise(n) for n in names))

    def under(self, parent_id: str) -> Find:
        """Only direct children of `parent_id`."""
        return replace(self, parent_id=parent_id)

    def order_by(self, name: str, *, descending: bool = False) -> Find:
        """Sort by a field (can be called several times)."""
        return replace(self, order=(*self.order, (_field(name), descending)))

    def limit(self, n: int) -> Find:
        """Return at most `n` rows."""
        return replace(self, limit_n=_count("limit", n))

    def offset(self, n: int) -> Find:
        """Skip the first `n` rows."""
        return replace(self, offset_n=_count("offset", n))

    def include_deleted(self) -> Find:
        """Also return soft-deleted nodes."""
        return replace(self, with_deleted=True)

    def select(self, *names: str) -> Find:
        """Return only these columns (id is always included)."""
        wanted = ("id", *(_field(n) for n in names if n != "id"))
        return replace(self, columns=wanted)

    def compile(self) -> tuple[str, dict[str, Any]]:
        """The Cypher text and parameters this query runs."""
        params: dict[str, Any] = {}
        match = ["MATCH (n:Node)"]
        for i, tag in enumerate(self.tag_ids):
            match.append(f"MATCH (n)-[:MEMBER_OF]->(:Node {{id: $tag{i}}})")
            params[f"tag{i}"] = tag
        if self.parent_id is not None:
            match.append("MATCH (n)-[:CHILD_OF]->(:Node {id: $parent})")
            params["parent"] = self.parent_id
        where = self._where(params)
        query = " ".join(match)
        if where:
            query += " WHERE " + " AND ".join(where)
        query += " RETURN " + ", ".join(f"n.{c} AS {c}" for c in self.columns)
        order = self.order or ((("position", False),) if self.parent_id else ())
        if order:
            query += " ORDER BY " + ", ".join(f"n.{f}{' DESC' if d else ''}" for f, d in order)
        if self.offset_n:
            query += f" SKIP {self.offset_n}"
        if self.limit_n is not None:
            query += f" LIMIT {self.limit_n}"
        return query, params

    def _where(self, params: dict[str, Any]) -> list[str]:
        where = []
        if self.kinds:
            for kind in self.kinds:
                kind_spec(kind)
            where.append("n.kind IN $kinds")
            params["kinds"] = list(self.kinds)
        if not self.with_deleted:
            where.append("n.status <> 'deleted'")
        for i, (name, op, value) in enumerate(self.conditions):
            placeholder = f"$v{i}"
            if op not in _NO_VALUE:
                params[f"v{i}"] = value
            if name == "any":
                template = OPERATORS[op]
                title = template.format(f="n.title", p=placeholder)
                content = template.format(f="n.content", p=placeholder)
                where.append(f"({title} OR {content})")
            else:
                where.append(OPERATORS[op].format(f=f"n.{name}", p=placeholder))
        return where

    def to_polars(self) -> pl.DataFrame:
        """Run the query; one row per node."""
        query, params = self.compile()
        return self.runner(query, params)

    def all(self) -> list[Node]:
        """Run the query; a list of `Node` objects."""
        full = replace(self, columns=PUBLIC_COLUMNS)
        return [Node.from_row(row) for row in full.to_polars().iter_rows(named=True)]

    def count(self) -> int:
        """How many nodes match (ignores limit and offset)."""
        query, params = replace(self, order=(), limit_n=None, offset_n=0, columns=("id",)).compile()
        query = query.rsplit(" RETURN ", 1)[0] + " RETURN count(n) AS n"
        return int(self.runner(query, params)["n"][0])

    def ids(self) -> list[str]:
        """Run the query; only the ids."""
        return list(self.select().to_polars()["id"])

    def __iter__(self) -> Iterator[Node]:
        return iter(self.all())


def _field(name: object) -> str:
    if name not in FIELDS:
        raise ValidationError(f"Unknown field {name!r} in find(); use one of {', '.join(FIELDS)}.")
    return str(name)


def _operator(op: object) -> str:
    if op not in OPERATORS:
        raise ValidationError(f"Unknown operator {op!r}; use one of {', '.join(OPERATORS)}.")
    return str(op)


def _count(name: str, n: object) -> int:
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValidationError(f"{name}({n!r}) needs a whole number >= 0.")
    return n


def kinds_tuple(kind: str | Sequence[str] | None) -> tuple[str, ...]:
    """Normalise the `kind` argument of find()."""
    if kind is None:
        return ()
    return (kind,) if isinstance(kind, str) else tuple(kind)

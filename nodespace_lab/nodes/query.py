"""`kb.find(...)`: a small query builder compiled to parameterised Cypher.

Field names and operators come from fixed lists and every value travels as
a query parameter, so nothing a user types is ever spliced into Cypher text.

Fields kept in a node's `properties` JSON (entity fields, `entities/find.py`)
reach the builder through `fields_of`: their conditions, order, offset and
limit are applied in polars to the rows the Cypher part returns.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import polars as pl

from ..errors import ValidationError
from .kinds import KINDS, kind_spec
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
# Names the Cypher part answers; any other name in a query is an entity field.
_COLUMN_NAMES = frozenset({*PUBLIC_COLUMNS, "any"})

Runner = Callable[[str, dict[str, Any]], pl.DataFrame]


class PropertyFields(Protocol):
    """Typed fields kept in `properties` of the kinds of one query (entity fields)."""

    def knows_kind(self, kind: str) -> bool:
        """True when `kind` has typed fields here (it may be unregistered in this process)."""
        ...

    def condition(self, name: str, op: str, value: Any, unknown: str) -> Any:
        """The checked value of `.where(name, op, value)`; `unknown` is the message for no field."""
        ...

    def sortable(self, name: str, unknown: str) -> None:
        """Refuse `.order_by(name)` when the kinds cannot be sorted by it."""
        ...

    def selectable(self, name: str, unknown: str) -> None:
        """Refuse `.select(name)` when not every kind has the field."""
        ...

    def typed(self) -> tuple[str, ...]:
        """Fields shown as columns when no columns were selected."""
        ...

    def decode(self, frame: pl.DataFrame, names: Sequence[str]) -> pl.DataFrame:
        """`frame` plus a typed column per name, read from its `properties` column."""
        ...

    def predicate(self, name: str, op: str, value: Any) -> pl.Expr:
        """The polars filter of a condition over its decoded column."""
        ...


#: Given the kinds of a query, their property fields (None: no kind has any).
FieldsLookup = Callable[[tuple[str, ...]], PropertyFields | None]


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
    fields_of: FieldsLookup | None = field(default=None, repr=False, compare=False)

    def where(
        self, name: str | None = None, op: str = "=", value: Any = None, **equals: Any
    ) -> Find:
        """Add a comparison: `.where("priority", "<=", 2)` or `.where(task_status="todo")`.

        Entity fields work too when every kind of the query has them:
        `kb.find("paper").where("year", ">=", 2020)`.
        """
        asked = [] if name is None else [(name, _operator(op), value)]
        asked += [(k, "=", v) for k, v in equals.items()]
        added = []
        for f, o, v in asked:
            if o not in _NO_VALUE and v is None:
                raise ValidationError(f"Condition on {f!r} {o} has no value; use op='is_null'.")
            if f in FIELDS:
                added.append((f, o, v))
            else:
                checked = self._properties(f).condition(str(f), o, v, _unknown(f))
                added.append((str(f), o, checked))
        return replace(self, conditions=self.conditions + tuple(added))

    def _properties(self, name: object) -> PropertyFields:
        """The property fields of this query's kinds; the unknown-field error if none."""
        found = self.fields_of(self.kinds) if self.fields_of is not None else None
        if found is None or not isinstance(name, str):
            raise ValidationError(_unknown(name))
        return found

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
        """Sort by a field or an entity field (can be called several times)."""
        if name not in FIELDS:
            self._properties(name).sortable(name, _unknown(name))
        return replace(self, order=(*self.order, (name, descending)))

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
        """Return only these columns (id is always included); entity fields too."""
        for name in names:
            if name not in FIELDS:
                self._properties(name).selectable(name, _unknown(name))
        wanted = ("id", *(n for n in names if n != "id"))
        return replace(self, columns=wanted)

    # -- compiling and running ---------------------------------------------

    def _order(self) -> tuple[tuple[str, bool], ...]:
        return self.order or ((("position", False),) if self.parent_id else ())

    def compile(self) -> tuple[str, dict[str, Any]]:
        """The Cypher text and parameters this query runs.

        With conditions or order on entity fields, this is the candidate query:
        its rows carry `properties`, and to_polars() applies those conditions,
        the order, offset and limit to them.
        """
        if self._entity_names():
            return self._candidates()
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
        order = self._order()
        if order:
            query += " ORDER BY " + ", ".join(f"n.{f}{' DESC' if d else ''}" for f, d in order)
        if self.offset_n:
            query += f" SKIP {self.offset_n}"
        if self.limit_n is not None:
            query += f" LIMIT {self.limit_n}"
        return query, params

    def _candidates(self) -> tuple[str, dict[str, Any]]:
        """The Cypher part of a query on entity fields: column conditions, needed columns."""
        needed = [*self.columns, *(n for n, _ in self._order()), "properties"]
        columns = tuple(dict.fromkeys(c for c in needed if c in PUBLIC_COLUMNS))
        column_conditions = tuple(c for c in self.conditions if c[0] in _COLUMN_NAMES)
        cypher_part = replace(
            self, conditions=column_conditions, order=(), limit_n=None, offset_n=0, columns=columns
        )
        return cypher_part.compile()

    def _where(self, params: dict[str, Any]) -> list[str]:
        where = []
        if self.kinds:
            self._check_kinds()
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

    def _check_kinds(self) -> None:
        unregistered = [k for k in self.kinds if k not in KINDS]
        if not unregistered:
            return
        # An entity kind of a knowledge base served by another process is not
        # registered in this one: its schema says it exists.
        found = self.fields_of(self.kinds) if self.fields_of is not None else None
        for kind in unregistered:
            if found is None or not found.knows_kind(kind):
                kind_spec(kind)

    def to_polars(self, *, entity_columns: bool = True) -> pl.DataFrame:
        """Run the query; one row per node.

        When every kind of the query is an entity kind and no columns were
        selected, its fields follow the node columns as typed columns (unless
        `entity_columns` is False).
        """
        return self._run(typed=entity_columns)

    def _run(self, *, typed: bool) -> pl.DataFrame:
        entity_names = self._entity_names()
        show_typed = typed and self.columns == PUBLIC_COLUMNS and self._maybe_entities()
        fields = None
        if entity_names or show_typed:
            fields = self.fields_of(self.kinds) if self.fields_of is not None else None
        if entity_names:
            # The kind may have been deleted, or the field renamed, since the query was built.
            if fields is None:
                raise ValidationError(_unknown(entity_names[0]))
            for name in entity_names:
                fields.selectable(name, _unknown(name))
        extra = fields.typed() if fields is not None and show_typed else ()
        query, params = self.compile()
        frame = self.runner(query, params)
        if fields is None or not (entity_names or extra):
            return frame
        frame = fields.decode(frame, list(dict.fromkeys([*entity_names, *extra])))
        if entity_names:
            frame = self._in_polars(frame, fields)
        return frame.select([*self.columns, *extra])

    def _entity_names(self) -> list[str]:
        """Entity field names this query filters, sorts or selects, in first-use order."""
        named = [c[0] for c in self.conditions] + [o[0] for o in self.order] + list(self.columns)
        return list(dict.fromkeys(n for n in named if n not in _COLUMN_NAMES))

    def _maybe_entities(self) -> bool:
        """True when a kind of the query may be an entity kind (typed columns to show)."""
        for kind in self.kinds:
            spec = KINDS.get(kind)
            if spec is None or spec.extra.get("entity"):
                return True
        return False

    def _in_polars(self, frame: pl.DataFrame, fields: PropertyFields) -> pl.DataFrame:
        """Entity-field conditions, then the order, offset and limit, over candidate rows."""
        for name, op, value in self.conditions:
            if name not in _COLUMN_NAMES:
                frame = frame.filter(fields.predicate(name, op, value))
        order = self._order()
        if order:
            # As the engines sort: nulls last ascending, first descending.
            frame = frame.sort(
                [name for name, _ in order],
                descending=[d for _, d in order],
                nulls_last=[not d for _, d in order],
                maintain_order=True,
            )
        return frame.slice(self.offset_n, self.limit_n)

    # -- as data (the service runs a client's query from these) -----------------

    def to_json(self) -> dict[str, Any]:
        """The parts of this query as data (values as given: dates stay dates)."""
        return {
            "kinds": list(self.kinds),
            "conditions": [list(c) for c in self.conditions],
            "tag_ids": list(self.tag_ids),
            "parent_id": self.parent_id,
            "order": [list(o) for o in self.order],
            "limit": self.limit_n,
            "offset": self.offset_n,
            "include_deleted": self.with_deleted,
            "columns": list(self.columns),
        }

    def with_parts(self, data: Mapping[str, Any]) -> Find:
        """This query's runner and fields with the parts of `to_json()`, checked again.

        Every part goes through the builder methods, so data from elsewhere (a
        client of the service) meets the same checks as a query built here.
        """
        query = replace(self, kinds=tuple(_texts("kinds", data.get("kinds", []))))
        for name, op, value in data.get("conditions", []):
            if name == "any" and op == "contains":
                query = query.contains(value)
            else:
                query = query.where(name, op, value)
        tag_ids = _texts("tag_ids", data.get("tag_ids", []))
        query = replace(
            query, tag_ids=tuple(tag_ids), with_deleted=bool(data.get("include_deleted"))
        )
        if data.get("parent_id") is not None:
            query = query.under(data["parent_id"])
        for name, descending in data.get("order", []):
            query = query.order_by(name, descending=bool(descending))
        columns = tuple(data.get("columns") or PUBLIC_COLUMNS)
        if columns != PUBLIC_COLUMNS:
            query = query.select(*columns)
        if data.get("limit") is not None:
            query = query.limit(data["limit"])
        return query.offset(data.get("offset") or 0)

    def all(self) -> list[Node]:
        """Run the query; a list of `Node` objects."""
        full = replace(self, columns=PUBLIC_COLUMNS)
        return [Node.from_row(row) for row in full._run(typed=False).iter_rows(named=True)]

    def count(self) -> int:
        """How many nodes match (ignores limit and offset)."""
        unpaged = replace(self, order=(), limit_n=None, offset_n=0, columns=("id",))
        if unpaged._entity_names():
            return unpaged._run(typed=False).height
        query, params = unpaged.compile()
        query = query.rsplit(" RETURN ", 1)[0] + " RETURN count(n) AS n"
        return int(self.runner(query, params)["n"][0])

    def ids(self) -> list[str]:
        """Run the query; only the ids."""
        return list(self.select().to_polars()["id"])

    def __iter__(self) -> Iterator[Node]:
        return iter(self.all())


def _unknown(name: object) -> str:
    return f"Unknown field {name!r} in find(); use one of {', '.join(FIELDS)}."


def _operator(op: object) -> str:
    if op not in OPERATORS:
        raise ValidationError(f"Unknown operator {op!r}; use one of {', '.join(OPERATORS)}.")
    return str(op)


def _count(name: str, n: object) -> int:
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValidationError(f"{name}({n!r}) needs a whole number >= 0.")
    return n


def _texts(part: str, values: object) -> list[str]:
    if not isinstance(values, list | tuple) or not all(isinstance(v, str) for v in values):
        raise ValidationError(f"find() part {part!r} must be a list of text, not {values!r}.")
    return list(values)


def kinds_tuple(kind: str | Sequence[str] | None) -> tuple[str, ...]:
    """Normalise the `kind` argument of find()."""
    if kind is None:
        return ()
    return (kind,) if isinstance(kind, str) else tuple(kind)

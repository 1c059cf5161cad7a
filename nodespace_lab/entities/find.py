"""`kb.find()` on entity fields: checked conditions, typed columns, polars predicates.

Entity values live in the node's `properties` JSON. The engines cannot look
inside it in Cypher on every install: LadybugDB's JSON functions are an
extension that `INSTALL` downloads, which fails offline (Kùzu has them
built in). So `find()` runs its column conditions in Cypher as before and
applies entity-field conditions, order, offset and limit to the candidate
rows in polars: `properties` is decoded once per query with `str.json_decode`
against a struct type built from the schema (about 0.13 s for 100k rows).
User values are checked here against the field's type, so they never reach
the engine at all.

`EntityFields` is what `nodes.query.Find` calls through its `PropertyFields`
protocol; nodes/ does not import entities/.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import polars as pl

from ..errors import ValidationError
from ..graph import GraphStore
from .schema import Field, KindSchema, check_value
from .store import registry

log = logging.getLogger(__name__)

_NO_VALUE = ("is_null", "not_null")
_COMPARE = ("=", "==", "!=", "<", "<=", ">", ">=", "in")
_OPS_BY_TYPE: dict[str, tuple[str, ...]] = {
    "text": (*_COMPARE, "contains", "startswith", *_NO_VALUE),
    "enum": (*_COMPARE, "contains", "startswith", *_NO_VALUE),
    "ref": (*_COMPARE, "contains", "startswith", *_NO_VALUE),
    "integer": (*_COMPARE, *_NO_VALUE),
    "number": (*_COMPARE, *_NO_VALUE),
    "date": (*_COMPARE, *_NO_VALUE),
    "datetime": (*_COMPARE, *_NO_VALUE),
    "bool": ("=", "==", "!=", "in", *_NO_VALUE),
    # A list holds items: 'contains' asks for one item; whole-list comparisons are not offered.
    "many": ("contains", *_NO_VALUE),
}
_JSON_DTYPES: dict[str, pl.DataType] = {
    "text": pl.String(), "enum": pl.String(), "ref": pl.String(), "integer": pl.Int64(),
    "number": pl.Float64(), "bool": pl.Boolean(), "date": pl.String(), "datetime": pl.String(),
}  # fmt: skip
_DATETIME_FORMAT = "%Y-%m-%dT%H:%M:%S%.f"

SchemaSource = Callable[[], Mapping[str, KindSchema]]


def is_many(item: Field) -> bool:
    """True for fields holding a list (lists and references with many)."""
    return item.type == "list" or (item.type == "ref" and item.many)


def item_type(item: Field) -> str:
    """The type of one value (of one item, for a list)."""
    if item.type == "list":
        return item.of or "text"
    return item.type


def _one(item: Field) -> Field:
    """The single-value field one item of `item` is."""
    return replace(item, type=item_type(item), many=False, of=None)


def _kinds_text(kinds: Sequence[str]) -> str:
    return repr(kinds[0]) if len(kinds) == 1 else repr(list(kinds))


@dataclass(frozen=True)
class EntityFields:
    """The entity fields a `find(kinds)` query may filter, sort and show.

    `schemas` holds the entity kinds among `kinds` (every defined kind when
    `kinds` is empty: then only to name the kind in an error).
    """

    kinds: tuple[str, ...]
    schemas: Mapping[str, KindSchema]

    def knows_kind(self, kind: str) -> bool:
        """True when `kind` is an entity kind of this knowledge base."""
        return kind in self.schemas

    # -- checking the builder's arguments --------------------------------------

    def field(self, name: str, unknown: str) -> Field:
        """The field `name` of every kind of the query, or a ValidationError with the fix.

        `unknown` is find()'s message for a name that is no column: it stays the
        message when no kind of the query has such a field.
        """
        if not self.kinds:
            having = sorted(k for k, s in self.schemas.items() if name in s.names())
            if having:
                raise ValidationError(
                    f"{unknown} {name!r} is a field of entity kind {', '.join(having)}: name "
                    f"the kind, e.g. kb.find({having[0]!r}).where({name!r}, ...)."
                )
            raise ValidationError(unknown)
        found = {k: self.schemas[k].field(name) for k in self.kinds if self._has(k, name)}
        if not found:
            raise ValidationError(unknown + self._field_list())
        missing = [k for k in self.kinds if k not in found]
        if missing:
            raise ValidationError(
                f"find({_kinds_text(self.kinds)}): {name!r} is a field of "
                f"{', '.join(found)} but not of {', '.join(missing)}; find() filters, sorts "
                f"and selects an entity field only when every kind has it: use "
                f"kb.find({_kinds_text(list(found))})."
            )
        labels = {k: f.type_label() for k, f in found.items()}
        if len(set(labels.values())) > 1:
            shown = ", ".join(f"{k}: {label}" for k, label in labels.items())
            raise ValidationError(
                f"find({_kinds_text(self.kinds)}): field {name!r} has different types ({shown}); "
                "query one kind at a time."
            )
        return next(iter(found.values()))

    def _has(self, kind: str, name: str) -> bool:
        schema = self.schemas.get(kind)
        return schema is not None and name in schema.names()

    def _field_list(self) -> str:
        parts = [
            f" Fields of {k}: {', '.join(s.names()) or '(none)'}." for k, s in self.schemas.items()
        ]
        return "".join(parts)

    def condition(self, name: str, op: str, value: Any, unknown: str) -> Any:
        """`value` checked for `.where(name, op, value)`, in stored form (else ValidationError)."""
        item = self.field(name, unknown)
        allowed = _OPS_BY_TYPE["many" if is_many(item) else item.type]
        if op not in allowed:
            raise ValidationError(
                f"find({_kinds_text(self.kinds)}): operator {op!r} does not apply to field "
                f"{name!r} ({item.type_label()}); use one of {', '.join(allowed)}."
            )
        if op in _NO_VALUE:
            return None
        obj = f"find({_kinds_text(self.kinds)}) condition {name!r} {op}"
        if op in ("contains", "startswith") and not is_many(item):
            if not isinstance(value, str):
                raise ValidationError(f"{obj} needs text, not {value!r}; e.g. 'graph'.")
            return value
        if op == "contains":
            return check_value(obj, _one(item), value, label=False)
        if op == "in":
            if not isinstance(value, list | tuple | set | frozenset):
                raise ValidationError(f"{obj} needs a list of values, not {value!r}.")
            return [check_value(obj, item, v, label=False) for v in value]
        return check_value(obj, item, value, label=False)

    def sortable(self, name: str, unknown: str) -> None:
        """Refuse `.order_by(name)` unless every kind has a single-valued field `name`."""
        item = self.field(name, unknown)
        if is_many(item):
            raise ValidationError(
                f"find({_kinds_text(self.kinds)}) cannot sort by {name!r}: it holds a list "
                f"({item.type_label()}); sort by a single-valued field."
            )

    def selectable(self, name: str, unknown: str) -> None:
        """Refuse `.select(name)` unless every kind has a field `name`."""
        self.field(name, unknown)

    # -- running ----------------------------------------------------------------

    def typed(self) -> tuple[str, ...]:
        """The fields shown as typed columns: all of them when every kind is an entity kind.

        A name with different types in two kinds is left out (it stays in `properties`).
        """
        if not self.kinds or any(k not in self.schemas for k in self.kinds):
            return ()
        labels: dict[str, str] = {}
        clashing: set[str] = set()
        for kind in self.kinds:
            for item in self.schemas[kind].fields:
                if labels.setdefault(item.name, item.type_label()) != item.type_label():
                    clashing.add(item.name)
        return tuple(n for n in labels if n not in clashing)

    def _item(self, name: str) -> Field:
        for kind in self.kinds:
            schema = self.schemas.get(kind)
            if schema is not None and name in schema.names():
                return schema.field(name)
        raise ValidationError(f"find({_kinds_text(self.kinds)}) has no entity field {name!r}.")

    def decode(self, frame: pl.DataFrame, names: Sequence[str]) -> pl.DataFrame:
        """`frame` with a typed column per field of `names`, read from its `properties`."""
        if not names:
            return frame
        items = [self._item(n) for n in names]
        text = frame["properties"].fill_null("{}")
        struct = pl.Struct({f.name: _json_dtype(f) for f in items})
        try:
            raw = text.str.json_decode(struct).struct.unnest()
        except pl.exceptions.PolarsError:
            # A value of the wrong type (written around the schema, e.g. by raw
            # Cypher): read row by row, such values become null.
            log.warning("entity values of %s do not match their schema; shown as null", names)
            raw = _lenient(text, items)
        return frame.with_columns(raw.select([_typed(f) for f in items]).get_columns())

    def predicate(self, name: str, op: str, value: Any) -> pl.Expr:
        """The polars filter of `.where(name, op, value)` over the decoded column `name`."""
        item = self._item(name)
        column = pl.col(name)
        if op == "is_null":
            return column.is_null()
        if op == "not_null":
            return column.is_not_null()
        if op == "contains" and is_many(item):
            return column.list.contains(pl.lit(_python(_one(item), value)))
        if op == "contains":
            return column.str.to_lowercase().str.contains(value.lower(), literal=True)
        if op == "startswith":
            return column.str.starts_with(value)
        if op == "in":
            return column.is_in([_python(item, v) for v in value])
        return _COMPARISONS[op](column, pl.lit(_python(item, value)))


_COMPARISONS: dict[str, Callable[[pl.Expr, pl.Expr], pl.Expr]] = {
    "=": lambda c, v: c == v, "==": lambda c, v: c == v, "!=": lambda c, v: c != v,
    "<": lambda c, v: c < v, "<=": lambda c, v: c <= v, ">": lambda c, v: c > v,
    ">=": lambda c, v: c >= v,
}  # fmt: skip


def _json_dtype(item: Field) -> pl.DataType:
    one = _JSON_DTYPES[item_type(item)]
    return pl.List(one) if is_many(item) else one


def _python(item: Field, stored: Any) -> Any:
    """A stored value as the Python value its typed column holds."""
    kind_of = item_type(item)
    if kind_of == "date":
        return dt.date.fromisoformat(stored)
    if kind_of == "datetime":
        return dt.datetime.fromisoformat(stored)
    return stored


def _convert(kind_of: str, expr: pl.Expr) -> pl.Expr:
    if kind_of == "date":
        return expr.str.to_date("%Y-%m-%d", strict=False)
    if kind_of == "datetime":
        return expr.str.to_datetime(_DATETIME_FORMAT, time_unit="us", strict=False)
    return expr


def _typed(item: Field) -> pl.Expr:
    kind_of, column = item_type(item), pl.col(item.name)
    if kind_of not in ("date", "datetime"):
        return column
    if is_many(item):
        return column.list.eval(_convert(kind_of, pl.element()))
    return _convert(kind_of, column)


def _lenient(text: pl.Series, items: list[Field]) -> pl.DataFrame:
    rows = []
    for body in text.to_list():
        values = json.loads(body) if body else {}
        rows.append({f.name: _fits(f, values.get(f.name)) for f in items})
    schema = {f.name: _json_dtype(f) for f in items}
    return pl.DataFrame(rows, schema=schema, strict=False)


def _fits(item: Field, value: Any) -> Any:
    try:
        return check_value("", item, value, label=False)
    except ValidationError:
        return None


def fields_lookup(schemas: SchemaSource) -> Callable[[tuple[str, ...]], EntityFields | None]:
    """`Find.fields_of` over the schemas `schemas()` returns (called once per use)."""

    def lookup(kinds: tuple[str, ...]) -> EntityFields | None:
        every = schemas()
        if not kinds:
            return EntityFields((), dict(every)) if every else None
        own = {k: every[k] for k in kinds if k in every}
        return EntityFields(kinds, own) if own else None

    return lookup


def store_lookup(store: GraphStore) -> Callable[[tuple[str, ...]], EntityFields | None]:
    """`Find.fields_of` of an embedded knowledge base (its cached schema registry)."""
    return fields_lookup(lambda: registry(store).all())

"""Schema evolution: add, rename, retype and remove fields; delete kinds.

Each step runs inside the caller's write transaction: it checks everything
first (a failed check raises before any statement runs), then writes the new
schema and every entity it changes, recording each so `undo()` reverts all.
Deleted (not purged) entities are migrated too, so a restore finds them valid.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from ..errors import ValidationError
from ..graph import Op, WriteTx, opkinds
from ..nodes import tree
from ..nodes.model import COLUMNS, Row, encode_row
from ..nodes.writer import NodeWriter
from .schema import Field, KindSchema, check_field_name, check_value, parse_field, short
from .store import check_references, write_schema

_ROWS = "MATCH (n:Node) WHERE n.kind = $k RETURN " + ", ".join(f"n.{c}" for c in COLUMNS)
_SHOWN = 10


class _Lossy(Exception):
    """A value that does not convert to the new type without loss."""


def entities(tx: WriteTx, kind: str) -> list[Row]:
    """Every node of `kind` (deleted ones too), ordered by id."""
    rows = [dict(zip(COLUMNS, r, strict=True)) for r in tx.execute(_ROWS, {"k": kind})]
    return sorted(rows, key=lambda r: r["id"])


def _values(row: Row) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(row["properties"] or "{}")
    return loaded


def _rewrite(tx: WriteTx, writer: NodeWriter, row: Row, values: dict[str, Any]) -> None:
    text = json.dumps(values, ensure_ascii=False, sort_keys=True)
    if text == row["properties"]:  # text, not dicts: 2025 == 2025.0 but an int is not a number
        return
    new = writer.write_row(tx, row, {"properties": text})
    tx.record(Op(opkinds.UPDATE, row["id"], row["kind"], encode_row(row), encode_row(new)))


def _bump(schema: KindSchema, fields: tuple[Field, ...]) -> KindSchema:
    return replace(schema, fields=fields, version=schema.version + 1)


def add_field(tx: WriteTx, writer: NodeWriter, schema: KindSchema, name: str, spec: object) -> None:
    """Add field `name`; existing entities get its default."""
    item = parse_field(schema.name, name, spec)
    if item.name in schema.names():
        raise ValidationError(
            f"Kind {schema.name!r} already has a field {name!r}; use change_field to change it."
        )
    rows = entities(tx, schema.name)
    if item.required and item.default is None and rows:
        raise ValidationError(
            f"Kind {schema.name!r} has {len(rows)} entities, so the required field {name!r} "
            f"needs a default for them; add one (e.g. default = ...) or make it optional."
        )
    write_schema(tx, schema, _bump(schema, (*schema.fields, item)))
    if item.default is not None:
        for row in rows:
            _rewrite(tx, writer, row, {**_values(row), name: item.default})


def rename_field(tx: WriteTx, writer: NodeWriter, schema: KindSchema, old: str, new: str) -> None:
    """Rename field `old` to `new`; values move with it."""
    schema.field(old)
    new = check_field_name(schema.name, new)
    if new in schema.names():
        raise ValidationError(
            f"Kind {schema.name!r} already has a field {new!r}; pick another name "
            "or remove that field first."
        )
    fields = tuple(replace(f, name=new) if f.name == old else f for f in schema.fields)
    write_schema(tx, schema, _bump(schema, fields))
    for row in entities(tx, schema.name):
        values = _values(row)
        if old in values:
            values[new] = values.pop(old)
            _rewrite(tx, writer, row, values)


def remove_field(tx: WriteTx, writer: NodeWriter, schema: KindSchema, name: str) -> None:
    """Remove field `name` and its value from every entity."""
    schema.field(name)
    write_schema(tx, schema, _bump(schema, tuple(f for f in schema.fields if f.name != name)))
    for row in entities(tx, schema.name):
        values = _values(row)
        if values.pop(name, None) is not None:
            _rewrite(tx, writer, row, values)


def change_field(
    tx: WriteTx, writer: NodeWriter, schema: KindSchema, name: str, spec: object
) -> None:
    """Change field `name` to `spec`: convert every value losslessly, or refuse listing blockers."""
    old = schema.field(name)
    new = parse_field(schema.name, name, spec)
    planned: list[tuple[Row, dict[str, Any]]] = []
    blockers: list[str] = []
    # A calculated field's values are recomputed when the schema commits: nothing to
    # convert. (A calculated field turned into a plain one keeps its values, converted.)
    rows = [] if new.expression is not None else entities(tx, schema.name)
    for row in rows:
        values = _values(row)
        try:
            converted = _converted(tx, schema, old, new, values.get(name))
        except (_Lossy, ValidationError) as exc:
            blockers.append(f"{row['id']!r} ({row['title']!r}): {exc}")
            continue
        if converted is None:
            values.pop(name, None)
        else:
            values[name] = converted
        planned.append((row, values))
    if blockers:
        shown = "; ".join(blockers[:_SHOWN]) + ("; ..." if len(blockers) > _SHOWN else "")
        raise ValidationError(
            f"Cannot change field {name!r} of kind {schema.name!r} from {old.type_label()} to "
            f"{new.type_label()}: {len(blockers)} entities block it: {shown}. Nothing was "
            "changed; fix or clear those values first."
        )
    fields = tuple(new if f.name == name else f for f in schema.fields)
    write_schema(tx, schema, _bump(schema, fields))
    for row, values in planned:
        _rewrite(tx, writer, row, values)


def _converted(tx: WriteTx, schema: KindSchema, old: Field, new: Field, value: Any) -> Any:
    """`value` of field `old` in the stored form of `new` (raises _Lossy or ValidationError)."""
    if value is None:
        if new.required and new.default is None:
            raise _Lossy(f"no value, and the field becomes required ({new.allowed()})")
        return new.default
    result = convert(old, new, value)
    obj = f"Kind {schema.name!r}"
    check_references(tx.store, obj, replace(schema, fields=(new,)), {new.name: result})
    return result


def convert(old: Field, new: Field, value: Any) -> Any:
    """`value` (stored form of `old`) as stored form of `new`, if no information is lost.

    Lossless means converting back gives `value` again: 3 -> 3.0 -> 3 is fine,
    3.5 -> integer is not, '2026-01-02' -> 2026-01-02T00:00:00 -> date is fine.
    """
    many_old, many_new = _is_many(old), _is_many(new)
    items = value if many_old else [value]
    out = [_convert_one(_one(old), _one(new), v) for v in items]
    if many_new:
        return out
    if len(out) > 1:
        raise _Lossy(f"{short(value)} has {len(out)} items and the new field holds one")
    return out[0] if out else None


def _is_many(item: Field) -> bool:
    return item.type == "list" or (item.type == "ref" and item.many)


def _one(item: Field) -> Field:
    """The single-value field an item of `item` is."""
    if item.type == "list":
        return replace(item, type=item.of or "text", of=None)
    return replace(item, many=False)


def _convert_one(old: Field, new: Field, value: Any) -> Any:
    result = _parse(new, _render(old, value))
    if result is None or _parse(old, _render(new, result)) != value:
        raise _Lossy(f"{short(value)} is not {new.allowed()} without loss")
    return result


def _render(item: Field, value: Any) -> str:
    if item.type == "bool":
        return "true" if value else "false"
    if item.type == "number" and float(value).is_integer() and abs(value) < 2**63:
        return str(int(value))
    return str(value)


def _parse(item: Field, text: str) -> Any:
    """The stored value of `item` written as `text`, or None if it is not one."""
    parsed: Any = text
    if item.type == "integer":
        parsed = int(text) if text.lstrip("+-").isdigit() else None
    elif item.type == "number":
        try:
            parsed = float(text)
        except ValueError:
            return None
    elif item.type == "bool":
        parsed = {"true": True, "false": False}.get(text)
    elif item.type == "date" and text.endswith("T00:00:00"):
        parsed = text.removesuffix("T00:00:00")
    if parsed is None:
        return None
    try:
        return check_value("", item, parsed, label=False)
    except ValidationError:
        return None


def delete_kind(tx: WriteTx, writer: NodeWriter, schema: KindSchema, *, cascade: bool) -> list[str]:
    """Drop a kind; with `cascade`, purge its entities (and their subtrees) first."""
    rows = entities(tx, schema.name)
    if rows and not cascade:
        ids = ", ".join(repr(r["id"]) for r in rows[:_SHOWN])
        raise ValidationError(
            f"Kind {schema.name!r} still has {len(rows)} entities ({ids}"
            f"{', ...' if len(rows) > _SHOWN else ''}); delete them first, or pass "
            "cascade=True to remove them with the kind."
        )
    purged: list[str] = []
    for row in rows:
        if tree.node_row(tx.execute, row["id"]) is None:
            continue  # already purged as part of another entity's subtree
        subtree = [row["id"], *tree.descendants(tx.execute, row["id"])]
        for node_id in reversed(subtree):
            writer.purge_row(tx, node_id)
        purged += subtree
    write_schema(tx, schema, None)
    return purged

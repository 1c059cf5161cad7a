"""Bulk import of entities: rows of an entity kind checked against its schema like create().

`kb.import_nodes(frame)` calls `check_frame` (registered in `nodes.bulk`)
inside its write transaction, before anything is written. Entity values come
from the `properties` column (JSON text, or dicts that `nodes.bulk` turned
into JSON text). Each row gets exactly what `create()` would store: values
checked by `schema.check_value`, unknown fields refused, defaults filled
for absent fields, required fields enforced, references resolved against the
frame and the graph; `properties` is rewritten in the stored form
(`json.dumps(..., sort_keys=True)`), so imported and created entities are
indistinguishable.

Cost, measured at 100k rows of six fields: one `json.loads` per row is the
floor (~0.35 s); checks run once per *distinct* value of a field, and the
stored JSON is assembled column-wise in polars, where checking each row with
`store.complete` and `json.dumps` took ~1.2 s.
"""

from __future__ import annotations

import functools
import itertools
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, NoReturn

import polars as pl

from ..errors import NotFound, ValidationError
from ..graph import WriteTx
from ..nodes import bulk
from ..nodes.kinds import KINDS
from .schema import Field, KindSchema, check_value, short
from .store import _check_target, registry

_ABSENT = object()
_NOTHING_WRITTEN = "fix them and import again (nothing was imported)"


def check_frame(tx: WriteTx, frame: pl.DataFrame) -> pl.DataFrame:
    """`frame` with the properties of its entity rows checked and in stored form."""
    schemas = registry(tx.store).all()
    kinds = [k for k in frame["kind"].unique(maintain_order=True).to_list() if _is_entity(k)]
    if not kinds:
        return frame
    indexed = frame.with_row_index("_row")
    checked: list[_KindRows] = []
    for kind in kinds:
        rows = indexed.filter(pl.col("kind") == kind).select("_row", "id", "properties")
        if kind not in schemas:
            _refuse_undefined(tx, kind, rows)
        checked.append(_check_kind(schemas[kind], rows))
    _check_references(tx, frame, checked)
    return _with_properties(frame, checked)


def _is_entity(kind: str) -> bool:
    spec = KINDS.get(kind)
    return spec is not None and bool(spec.extra.get("entity"))


def _refuse_undefined(tx: WriteTx, kind: str, rows: pl.DataFrame) -> NoReturn:
    # Registered in this process by another knowledge base, not defined in this one.
    try:
        registry(tx.store).require(kind)
    except NotFound as exc:
        first = rows.row(0, named=True)
        raise NotFound(
            f"Import row {first['_row']} ({first['id']!r}): {exc} {rows.height} row(s) "
            f"affected; {_NOTHING_WRITTEN}."
        ) from None
    raise AssertionError(f"unreachable: kind {kind!r} has no schema but require() found one")


@dataclass
class _KindRows:
    """The rows of one entity kind: where they are, their loaded values, their stored JSON."""

    schema: KindSchema
    rows: list[int]
    ids: list[str]
    values: list[dict[str, Any]]
    stored: dict[str, list[Any]]  # field name -> stored value per row (None: not set)
    properties: pl.Series | None = None

    def label(self, i: int) -> str:
        """How an error names row `i` of this kind (its index in the frame and its id)."""
        return f"Import row {self.rows[i]} ({self.schema.name} {self.ids[i]!r})"


def _check_kind(schema: KindSchema, frame: pl.DataFrame) -> _KindRows:
    rows, ids = frame["_row"].to_list(), frame["id"].to_list()
    found = _KindRows(schema, rows, ids, [], {})
    found.values = [_load(found, i, text) for i, text in enumerate(frame["properties"].to_list())]
    _check_unknown(found)
    fragments = {}
    for item in schema.fields:
        if item.expression is not None:
            _refuse_calculated(found, item)  # computed when the import commits
            continue
        fragments[item.name] = _check_field(found, item)
    # Keys in sorted order, as json.dumps(sort_keys=True) writes them for create().
    names = sorted(fragments)
    parts = pl.DataFrame({n: pl.Series(n, fragments[n], dtype=pl.String) for n in names})
    if names:
        body = parts.select(pl.concat_str(names, separator=", ", ignore_nulls=True)).to_series()
        found.properties = ("{" + body.fill_null("") + "}").alias("properties")
    else:
        found.properties = pl.repeat("{}", len(rows), eager=True, dtype=pl.String)
    return found


def _load(found: _KindRows, i: int, text: str | None) -> dict[str, Any]:
    if text is None or text == "{}":
        return {}
    try:
        loaded = json.loads(text)
    except ValueError as exc:
        raise ValidationError(
            f"{found.label(i)} column 'properties' is not valid JSON ({exc}): {short(text)}; "
            f"write a JSON object such as '{{\"year\": 2024}}' ({_NOTHING_WRITTEN})."
        ) from None
    if not isinstance(loaded, dict):
        raise ValidationError(
            f"{found.label(i)} column 'properties' must hold a JSON object of field values, "
            f"not {short(loaded)}; e.g. '{{\"year\": 2024}}' ({_NOTHING_WRITTEN})."
        )
    return loaded


def _refuse_calculated(found: _KindRows, item: Field) -> None:
    bad = [i for i, v in enumerate(found.values) if v.get(item.name) is not None]
    if bad:
        raise ValidationError(
            f"{found.label(bad[0])} field {item.name!r} is calculated ({item.expression}); it "
            f"cannot be imported. Leave it out: it is computed from the other fields. "
            f"{len(bad)} row(s) affected; {_NOTHING_WRITTEN}."
        )


def _check_unknown(found: _KindRows) -> None:
    unknown = set().union(*found.values) - set(found.schema.names())
    if not unknown:
        return
    name = sorted(unknown)[0]
    bad = [i for i, v in enumerate(found.values) if name in v]
    schema = found.schema
    raise ValidationError(
        f"{found.label(bad[0])} has no field {name!r}; fields of {schema.name} are "
        f"{', '.join(schema.names()) or '(none)'} (kb.schema({schema.name!r}) shows them). "
        f"{len(bad)} row(s) affected; {_NOTHING_WRITTEN}."
    )


def _check_field(found: _KindRows, item: Field) -> list[str | None]:
    """The JSON fragment (`"name": value`) of `item` per row; stored values kept in `found`.

    Each distinct value is checked once; rows then look their fragment up.
    """
    column = [v.get(item.name, _ABSENT) for v in found.values]
    keys = _fast_keys(column) or [_key(v) for v in column]
    key_text = json.dumps(item.name)
    results: dict[Any, tuple[Any, str | None]] = {}
    for key, value in dict(zip(keys, column, strict=True)).items():
        # The row index is only needed to word an error: found then, by a scan.
        results[key] = _stored(found, item, value, key_text, functools.partial(keys.index, key))
    if item.type == "ref":  # only references are looked at again (_check_references)
        found.stored[item.name] = [results[k][0] for k in keys]
    return [results[k][1] for k in keys]


def _stored(
    found: _KindRows, item: Field, value: Any, key_text: str, row: Callable[[], int]
) -> tuple[Any, str | None]:
    """(stored value, JSON fragment) of one distinct value, or the error of its first row."""
    if value is _ABSENT:
        if item.default is None and item.required:
            _refuse_missing(found, item, row())
        return item.default, None if item.default is None else f"{key_text}: {_dumps(item.default)}"
    try:
        result = check_value("", item, value)
    except ValidationError:
        # Checked again to word the message for the first row holding the value.
        try:
            check_value(found.label(row()), item, value)
        except ValidationError as exc:
            _refuse_value(found, item, exc)
        raise
    if result is None:
        if item.required:
            _refuse_missing(found, item, row())
        return None, None
    return result, f"{key_text}: {_dumps(result)}"


def _refuse_value(found: _KindRows, item: Field, exc: ValidationError) -> NoReturn:
    count = sum(1 for v in found.values if _bad(item, v.get(item.name)))
    raise ValidationError(f"{exc} {count} row(s) affected; {_NOTHING_WRITTEN}.") from None


def _bad(item: Field, value: Any) -> bool:
    try:
        check_value("", item, value)
    except ValidationError:
        return True
    return False


def _refuse_missing(found: _KindRows, item: Field, i: int) -> NoReturn:
    # Absent takes the default; given as null clears the field, as in create().
    count = sum(
        1
        for v in found.values
        if (v[item.name] is None if item.name in v else item.default is None)
    )
    raise ValidationError(
        f"{found.label(i)} field {item.name!r} is required: give {item.allowed()} in its "
        f"properties. {count} row(s) affected; {_NOTHING_WRITTEN}."
    )


def _key(value: Any) -> Any:
    """A hashable key that tells 1, 1.0 and True apart (they hash alike in Python)."""
    if isinstance(value, str | int | float | bool):
        return (type(value), value)
    return ("json", json.dumps(value, sort_keys=True, default=repr))


_NUMBERS = frozenset({int, float, bool})
_SCALARS = frozenset({str, type(None), type(_ABSENT)}) | _NUMBERS


def _fast_keys(column: list[Any]) -> list[Any] | None:
    """The values as their own keys when that is exact (the common case), else None.

    Exact when no two values of different types compare equal: at most one of
    int, float and bool occurs (1 == 1.0 == True). Lists become tuples on the
    same condition for their items. The type scans run in C: ~20 ns a value.
    """
    types = set(map(type, column))
    if types <= _SCALARS:
        return column if len(types & _NUMBERS) <= 1 else None
    if not types <= {list, type(None), type(_ABSENT)}:
        return None
    lists = [v for v in column if type(v) is list]
    items = set(map(type, itertools.chain.from_iterable(lists)))
    if not items <= _SCALARS or len(items & _NUMBERS) > 1:
        return None
    return [tuple(v) if type(v) is list else v for v in column]


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


# -- references ---------------------------------------------------------------


def _targets(found: _KindRows) -> Iterator[tuple[Field, int, str]]:
    """(field, row, id) of every reference the rows of `found` hold."""
    for item in found.schema.fields:
        if item.type != "ref":
            continue
        for i, value in enumerate(found.stored[item.name]):
            if isinstance(value, list):
                yield from ((item, i, target) for target in value)
            elif value:
                yield item, i, value


def _check_references(tx: WriteTx, frame: pl.DataFrame, checked: list[_KindRows]) -> None:
    """References must name live nodes of the right kind, in the frame or in the graph."""
    wanted = {target for found in checked for _, _, target in _targets(found)}
    if not wanted:
        return
    in_frame = frame.filter(pl.col("id").is_in(sorted(wanted))).select("id", "kind")
    known: dict[str, tuple[str, str]] = {i: (k, "active") for i, k in in_frame.iter_rows()}
    outside = sorted(wanted - known.keys())
    if outside:
        rows = tx.execute(
            "UNWIND $ids AS i MATCH (n:Node {id: i}) RETURN n.id, n.kind, n.status",
            {"ids": outside},
        )
        known.update({node_id: (kind, status) for node_id, kind, status in rows})
    for found in checked:
        pairs = {(item.name, target): item for item, _, target in _targets(found)}
        for (_, target), item in pairs.items():  # each distinct reference once
            try:
                _check_target("", item, target, known.get(target))
            except ValidationError:
                _refuse_reference(found, item, target, known.get(target))


def _refuse_reference(
    found: _KindRows, item: Field, target: str, node: tuple[str, str] | None
) -> NoReturn:
    rows = [i for it, i, t in _targets(found) if it is item and t == target]
    try:
        _check_target(found.label(rows[0]), item, target, node)
    except ValidationError as exc:
        raise ValidationError(f"{exc} {len(rows)} row(s) affected; {_NOTHING_WRITTEN}.") from None
    raise AssertionError("unreachable: the reference was refused once already")


def _with_properties(frame: pl.DataFrame, checked: list[_KindRows]) -> pl.DataFrame:
    properties = frame["properties"].clone()
    for found in checked:
        assert found.properties is not None
        properties = properties.scatter(found.rows, found.properties)
    return frame.with_columns(properties)


bulk.FRAME_CHECKS.append(check_frame)

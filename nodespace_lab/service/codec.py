"""JSON for the service protocol: the API's values with their types kept.

Plain JSON values travel as they are; nodes, dates, change sets, search hits
and DataFrames travel as `{"$type": ..., "value": ...}` so the client gets
back exactly what the embedded API returns. DataFrames go as Arrow IPC
(base64): their column types survive, and large results stay compact.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import io
from typing import Any

import polars as pl

from ..entities.calc.engine import Mismatch
from ..entities.schema import Field, KindSchema, schema_from_json
from ..graph.changelog import ChangeSet, Op
from ..kb.components import ComponentReport
from ..nodes.model import Node, decode_row, encode_row
from ..search.fulltext import SearchHit


def encode(value: Any) -> Any:
    """`value` as JSON-ready data (see the module doc)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Node):
        return {"$type": "node", "value": encode_row(value.to_dict())}
    if isinstance(value, dt.datetime):
        return {"$type": "datetime", "value": value.isoformat()}
    if isinstance(value, dt.date):
        return {"$type": "date", "value": value.isoformat()}
    if isinstance(value, ChangeSet):
        return {"$type": "changeset", "value": _changeset_json(value)}
    if isinstance(value, SearchHit):
        return {"$type": "hit", "value": encode(dataclasses.asdict(value))}
    if isinstance(value, pl.DataFrame):
        return {"$type": "frame", "value": _frame_to_text(value)}
    if isinstance(value, KindSchema):
        return {"$type": "kind", "value": _schema_json(value)}
    if isinstance(value, Field):
        return {"$type": "field", "value": encode(value.to_json())}
    if isinstance(value, ComponentReport):
        return {"$type": "component", "value": value.to_json()}
    if isinstance(value, Mismatch):
        return {"$type": "mismatch", "value": encode(dataclasses.asdict(value))}
    if isinstance(value, tuple):
        return {"$type": "tuple", "value": [encode(v) for v in value]}
    if isinstance(value, list):
        return [encode(v) for v in value]
    if isinstance(value, dict):
        return {str(k): encode(v) for k, v in value.items()}
    raise TypeError(f"the service protocol cannot carry a {type(value).__name__}")


def decode(data: Any) -> Any:
    """Reverse `encode`."""
    if isinstance(data, list):
        return [decode(v) for v in data]
    if not isinstance(data, dict):
        return data
    kind = data.get("$type")
    if kind is None:
        return {k: decode(v) for k, v in data.items()}
    value = data["value"]
    if kind == "node":
        return Node.from_row(_with_json_properties(decode_row(value)))
    if kind == "datetime":
        return dt.datetime.fromisoformat(value)
    if kind == "date":
        return dt.date.fromisoformat(value)
    if kind == "changeset":
        return _changeset_from_json(value)
    if kind == "hit":
        fields = decode(value)
        fields["highlights"] = tuple(tuple(span) for span in fields["highlights"])
        return SearchHit(**fields)
    if kind == "frame":
        return _frame_from_text(value)
    if kind == "tuple":
        return tuple(decode(v) for v in value)
    if kind == "kind":
        return _schema_from(value)
    if kind == "field":
        return schema_from_json({"name": "", "fields": [decode(value)]}).fields[0]
    if kind == "mismatch":
        return Mismatch(**decode(value))
    if kind == "component":
        return ComponentReport.from_json(value)
    raise ValueError(f"unknown type {kind!r} in a service message")


def _with_json_properties(row: dict[str, Any]) -> dict[str, Any]:
    # Node.from_row expects properties as the JSON text the engine stores.
    import json

    properties = row.get("properties")
    if isinstance(properties, dict):
        row["properties"] = json.dumps(properties) if properties else "{}"
    return row


def _schema_json(schema: KindSchema) -> dict[str, Any]:
    # The stored form plus what to_json() leaves out, so the client gets an equal object.
    return {**encode(schema.to_json()), "version": schema.version, "extra": encode(schema.extra)}


def _schema_from(data: dict[str, Any]) -> KindSchema:
    schema = schema_from_json(decode(data), int(data.get("version", 1)))
    extra = decode(data.get("extra") or {})
    return dataclasses.replace(schema, extra=extra) if extra else schema


def _changeset_json(change: ChangeSet) -> dict[str, Any]:
    return {
        "seq": change.seq,
        "at": change.at.isoformat(),
        "label": change.label,
        "ops": [encode(op.to_json()) for op in change.ops],
        "undoes": change.undoes,
        "extra": encode(change.extra),
    }


def _changeset_from_json(data: dict[str, Any]) -> ChangeSet:
    return ChangeSet(
        seq=data["seq"],
        at=dt.datetime.fromisoformat(data["at"]),
        label=data["label"],
        ops=tuple(Op.from_json(decode(op)) for op in data["ops"]),
        undoes=data.get("undoes"),
        extra=decode(data.get("extra") or {}),
    )


def _frame_to_text(frame: pl.DataFrame) -> str:
    buffer = io.BytesIO()
    frame.write_ipc(buffer)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _frame_from_text(text: str) -> pl.DataFrame:
    return pl.read_ipc(io.BytesIO(base64.b64decode(text)))

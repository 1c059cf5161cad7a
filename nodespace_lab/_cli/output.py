"""Printing results: aligned tables for people, JSON and CSV for programs."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import click
import polars as pl

from ..nodes.model import Node

FORMATS = ("table", "json", "csv")
FORMAT_OPTION = click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="table",
    show_default=True,
    help="table for reading, json or csv for programs.",
)
Record = dict[str, Any]
_CELL_CHARS = 48


def plain(value: Any) -> Any:
    """A JSON-ready copy of `value`: ISO dates, lists for tuples, None for NaN."""
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [plain(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def to_json(value: Any) -> str:
    """Valid JSON text (never NaN) for `value`."""
    return json.dumps(plain(value), ensure_ascii=False, indent=2, allow_nan=False)


def frame_records(frame: pl.DataFrame) -> list[Record]:
    """The rows of a DataFrame as dicts."""
    return list(frame.iter_rows(named=True))


def node_record(node: Node) -> Record:
    """A node as a JSON-ready dict."""
    record: Record = plain(node.to_dict())
    return record


def emit(records: Sequence[Record], columns: Sequence[str], fmt: str) -> None:
    """Print `records` as a table, JSON array or CSV with a header."""
    if fmt == "json":
        click.echo(to_json(list(records)))
    elif fmt == "csv":
        click.echo(csv_text(records, columns), nl=False)
    else:
        click.echo(table(records, columns))


def csv_text(records: Iterable[Record], columns: Sequence[str]) -> str:
    """CSV with a header; nested values become JSON text, dates ISO."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for record in records:
        writer.writerow([_csv_cell(record.get(c)) for c in columns])
    return buffer.getvalue()


def _csv_cell(value: Any) -> Any:
    value = plain(value)
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return "" if value is None else value


def table(records: Sequence[Record], columns: Sequence[str]) -> str:
    """An aligned plain-text table; long or multi-line cells are shortened."""
    if not records:
        return "(no rows)"
    cells = [[cell_text(r.get(c)) for c in columns] for r in records]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    lines = [_line(columns, widths), _line(["-" * w for w in widths], widths)]
    lines += [_line(row, widths) for row in cells]
    return "\n".join(lines)


def _line(values: Sequence[str], widths: Sequence[int]) -> str:
    return "  ".join(v.ljust(w) for v, w in zip(values, widths, strict=True)).rstrip()


def cell_text(value: Any) -> str:
    """One table cell: empty for None, ISO dates, one line, at most 48 characters."""
    if isinstance(value, dt.datetime):
        value = value.isoformat(sep=" ", timespec="seconds")
    value = plain(value)
    if value is None:
        return ""
    text = json.dumps(value, ensure_ascii=False) if isinstance(value, dict | list) else str(value)
    text = " ".join(text.split())
    return text if len(text) <= _CELL_CHARS else text[: _CELL_CHARS - 1] + "…"


def label(node: Node) -> str:
    """How a node reads in one line: its title, else the start of its content."""
    text = node.title or next(iter(node.content.strip().splitlines()), "")
    text = " ".join(text.split())
    return text if len(text) <= 80 else text[:79] + "…"


def task_box(node: Node) -> str:
    """`[ ]` for open tasks, `[x]` done, `[-]` cancelled; a bullet for other kinds."""
    if node.kind != "task":
        return "-"
    return {"done": "[x]", "cancelled": "[-]"}.get(node.task_status or "", "[ ]")


def task_notes(node: Node) -> str:
    """Task details worth a glance: doing, priority, due date."""
    notes = []
    if node.task_status == "doing":
        notes.append("doing")
    if node.priority is not None:
        notes.append(f"P{node.priority}")
    if node.due is not None:
        notes.append(f"due {node.due.isoformat()}")
    return f"  ({', '.join(notes)})" if notes else ""


def dim(text: str) -> str:
    """Faint text on a terminal (click drops the styling when output is not a tty)."""
    return click.style(text, dim=True)

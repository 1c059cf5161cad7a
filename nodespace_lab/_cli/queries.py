"""Commands that list nodes: find (query builder), query (Cypher), search (full text)."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import click

from ..config.loader import PROJECT_FILE
from ..entities.text import read_condition
from ..errors import QueryError, ValidationError
from ..graph.cypher import check_query
from ..nodes.model import DATE_COLUMNS, DATETIME_COLUMNS, PUBLIC_COLUMNS
from ..nodes.validate import check_date, check_datetime
from . import output
from .context import state
from .nodes import parse_day, read_text

if TYPE_CHECKING:
    from ..entities import Field
    from ..kb import KnowledgeBase
    from ..nodes.query import Find
    from ..search.fulltext import SearchHit

_INTEGER_FIELDS = frozenset({"priority", "version"})
_NO_VALUE_OPS = frozenset({"is_null", "not_null"})
_TABLE_COLUMNS = ("id", "kind", "title")
_TASK_COLUMNS = ("task_status", "priority", "due")


# -- find ---------------------------------------------------------------


def where_value(name: str, op: str, raw: str, field: Field | None = None) -> Any:
    """The typed value of `--where NAME OP RAW` (a list for op 'in').

    `field`: the entity field NAME is, whose type reads RAW.
    """
    if op in _NO_VALUE_OPS:
        return None
    if field is not None:
        return read_condition(field, op, raw)
    if op == "in":
        return [_typed(name, op, part.strip()) for part in raw.split(",")]
    return _typed(name, op, raw)


def entity_fields(kb: KnowledgeBase, kinds: Sequence[str]) -> dict[str, Field]:
    """The entity fields of `kinds` by name (the first kind that has a name wins)."""
    schemas = {s.name: s for s in kb.schemas()} if kinds else {}
    found: dict[str, Field] = {}
    for kind in kinds:
        for item in schemas[kind].fields if kind in schemas else ():
            found.setdefault(item.name, item)
    return found


def _typed(name: str, op: str, raw: str) -> Any:
    if name in _INTEGER_FIELDS:
        try:
            return int(raw)
        except ValueError:
            raise ValidationError(
                f"find --where {name} {op} {raw!r}: {name} is a whole number; "
                f"use e.g. --where {name} {op} 2."
            ) from None
    if name in DATE_COLUMNS:
        return check_date("find --where", name, parse_day(raw))
    if name in DATETIME_COLUMNS:
        return check_datetime("find --where", name, parse_day(raw))
    return raw


def build_find(
    query: Find,
    conditions: Sequence[tuple[str, str, str]],
    order: Sequence[str],
    limit: int | None,
    fields: dict[str, Field] | None = None,
) -> Find:
    """Apply --where, --order-by and --limit to a find() query (`fields`: entity fields)."""
    for name, op, raw in conditions:
        field = (fields or {}).get(name) if name not in PUBLIC_COLUMNS else None
        query = query.where(name, op, where_value(name, op, raw, field))
    for name in order:
        query = query.order_by(name.removeprefix("-"), descending=name.startswith("-"))
    return query if limit is None else query.limit(limit)


def _table_columns(records: list[output.Record], all_columns: Sequence[str]) -> list[str]:
    shown = [c for c in _TASK_COLUMNS if any(r.get(c) is not None for r in records)]
    entity = [c for c in all_columns if c not in PUBLIC_COLUMNS]  # typed entity fields
    return [*_TABLE_COLUMNS, *shown, *entity]


def _decode_properties(records: list[output.Record]) -> list[output.Record]:
    for record in records:
        if isinstance(record.get("properties"), str):
            record["properties"] = json.loads(record["properties"] or "{}")
    return records


@click.command()
@click.option("--kind", "kinds", metavar="KIND", multiple=True, help="Only this kind (repeatable).")
@click.option(
    "--where",
    "conditions",
    nargs=3,
    multiple=True,
    metavar="FIELD OP VALUE",
    help="Compare a field, e.g. --where priority '<=' 2 (repeatable; all must hold).",
)
@click.option("--contains", metavar="TEXT", help="Title or content contains TEXT (any case).")
@click.option(
    "--tag", "tags", metavar="TAG", multiple=True, help="Only nodes with TAG (repeatable)."
)
@click.option("--under", metavar="ID", help="Only direct children of ID, in outline order.")
@click.option(
    "--order-by",
    "order",
    metavar="FIELD",
    multiple=True,
    help="Sort by FIELD; -FIELD sorts descending (repeatable).",
)
@click.option("--limit", type=click.IntRange(min=0), metavar="N", help="At most N rows.")
@output.FORMAT_OPTION
@click.pass_context
def find(
    ctx: click.Context,
    kinds: tuple[str, ...],
    conditions: tuple[tuple[str, str, str], ...],
    contains: str | None,
    tags: tuple[str, ...],
    under: str | None,
    order: tuple[str, ...],
    limit: int | None,
    fmt: str,
) -> None:
    """List nodes by kind, fields and tags.

    OP is one of = != < <= > >= in contains startswith is_null not_null. VALUE
    is YYYY-MM-DD, today, yesterday or tomorrow for date fields, a number for
    priority and version, a comma-separated list for 'in', and ignored (write -)
    for is_null and not_null.
    """
    kb = state(ctx).open(ctx)
    fields = entity_fields(kb, kinds)
    query = build_find(kb.find(kinds or None), conditions, order, limit, fields)
    if contains is not None:
        query = query.contains(contains)
    if tags:
        query = query.tagged(*tags)
    if under is not None:
        query = query.under(kb.get(under).id)
    frame = query.to_polars()
    records = _decode_properties(output.frame_records(frame))
    columns = frame.columns if fmt != "table" else _table_columns(records, frame.columns)
    output.emit(records, columns, fmt)


# -- query --------------------------------------------------------------


def parse_param(text: str) -> tuple[str, Any]:
    """`name=value`, the value read as JSON when it is valid JSON, else as text."""
    name, sep, raw = text.partition("=")
    if not sep or not name.strip():
        raise click.BadParameter(f"{text!r} is not NAME=VALUE, e.g. --param day=2026-11-25.")
    try:
        return name.strip(), json.loads(raw)
    except ValueError:
        return name.strip(), raw


def check_cli_query(kb: KnowledgeBase, text: str, *, write: bool) -> None:
    """Refuse a query as kb.cypher() would, but name the command-line fix."""
    check_query(text, write=True)
    if not write:
        try:
            check_query(text, write=False)
        except QueryError as exc:
            found = re.search(r"uses '([^']+)'", str(exc))
            clause = f"uses {found.group(1)}" if found else "writes"
            raise QueryError(
                f"`nodespace query` is read-only but the query {clause}; "
                "add --write to opt in to writes."
            ) from None
    elif not kb.settings.security.allow_cypher_writes:
        raise QueryError(
            "Cypher writes are disabled by the setting security.allow_cypher_writes = false; "
            f"set it to true in {kb.path / PROJECT_FILE} ([security] allow_cypher_writes = true) "
            "or with NODESPACE_SECURITY_ALLOW_CYPHER_WRITES=true."
        )


@click.command()
@click.argument("cypher")
@click.option(
    "--param",
    "params",
    metavar="NAME=VALUE",
    multiple=True,
    help="Bind $NAME; VALUE is read as JSON if it parses (2, true, [1,2]), else as text.",
)
@click.option(
    "--write",
    is_flag=True,
    help="Allow writes (also needs the setting security.allow_cypher_writes = true).",
)
@output.FORMAT_OPTION
@click.pass_context
def query(ctx: click.Context, cypher: str, params: tuple[str, ...], write: bool, fmt: str) -> None:
    """Run a Cypher query (read-only unless --write).

    Pass values with --param instead of writing them into the query text.
    CYPHER '-' reads the query from stdin.
    """
    kb = state(ctx).open(ctx)
    text = read_text(cypher)
    check_cli_query(kb, text, write=write)
    frame = kb.cypher(text, dict(parse_param(p) for p in params), write=write)
    output.emit(output.frame_records(frame), frame.columns, fmt)


# -- search -------------------------------------------------------------


def _highlighted(hit: SearchHit) -> str:
    parts, last = [], 0
    for start, end in hit.highlights:
        parts += [hit.snippet[last:start], click.style(hit.snippet[start:end], bold=True)]
        last = end
    return "".join([*parts, hit.snippet[last:]])


def _hit_lines(hit: SearchHit) -> list[str]:
    head = f"{hit.title or '(untitled)'}  {output.dim(f'{hit.kind} {hit.id}')}"
    return [head, f"    {' '.join(_highlighted(hit).split())}"]


@click.command()
@click.argument("text")
@click.option("--kind", "kinds", metavar="KIND", multiple=True, help="Only this kind (repeatable).")
@click.option(
    "--tag", "tags", metavar="TAG", multiple=True, help="Only nodes with TAG (repeatable)."
)
@click.option("--under", metavar="ID", help="Only nodes inside the subtree of ID.")
@click.option(
    "--mode",
    type=click.Choice(["text", "semantic", "hybrid"]),
    default="text",
    show_default=True,
    help="text: the words (no model needed); semantic: the meaning; hybrid: both.",
)
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=10,
    show_default=True,
    metavar="N",
    help="At most N hits.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "csv"]),
    default="text",
    show_default=True,
    help="text for reading, json or csv for programs.",
)
@click.pass_context
def search(
    ctx: click.Context,
    text: str,
    kinds: tuple[str, ...],
    tags: tuple[str, ...],
    under: str | None,
    mode: str,
    limit: int,
    fmt: str,
) -> None:
    """Search by words, meaning or both (best matches first, with snippets)."""
    kb = state(ctx).open(ctx)
    hits = kb.search(
        text, mode=mode, kind=kinds or None, tag=tags or None, under=under, limit=limit
    )
    if fmt != "text":
        records = [
            {"id": h.id, "kind": h.kind, "title": h.title, "score": h.score, "snippet": h.snippet}
            for h in hits
        ]
        output.emit(records, ["id", "kind", "title", "score", "snippet"], fmt)
        return
    if not hits:
        click.echo("(no matches)")
    for hit in hits:
        click.echo("\n".join(_hit_lines(hit)))

"""Commands on single nodes and outlines: add, set, show, tree, journal."""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import click

from ..entities.text import parse_assignment, read_fields, read_value
from ..errors import ValidationError
from . import output
from .context import state

if TYPE_CHECKING:
    from ..entities import KindSchema
    from ..kb import KnowledgeBase
    from ..nodes.model import Node

_DAY_WORDS = {"today": 0, "yesterday": -1, "tomorrow": 1}


def read_text(value: str) -> str:
    """`value`, or all of stdin (without trailing newlines) when it is '-'."""
    return sys.stdin.read().rstrip("\n") if value == "-" else value


def _priority(value: str) -> int | str:
    # Passed on unparsed when not a number, so the model's own message names the field.
    stripped = value.strip()
    return int(stripped) if stripped.lstrip("-").isdigit() else value


def _task_fields(
    due: str | None, scheduled: str | None, priority: str | None, status: str | None
) -> dict[str, Any]:
    fields: dict[str, Any] = {"due": due, "scheduled": scheduled, "task_status": status}
    fields = {k: v for k, v in fields.items() if v is not None}
    if priority is not None:
        fields["priority"] = _priority(priority)
    return fields


@click.command()
@click.argument("kind")
@click.argument("title")
@click.option("--content", metavar="TEXT", help="Markdown content; '-' reads it from stdin.")
@click.option("--parent", metavar="ID", help="Put the node under this node (default: top level).")
@click.option("--due", metavar="DATE", help="Due date YYYY-MM-DD (tasks).")
@click.option("--scheduled", metavar="DATE", help="Scheduled date YYYY-MM-DD (tasks).")
@click.option("--priority", metavar="N", help="Priority 1 (highest) to 4 (tasks).")
@click.option("--status", metavar="STATUS", help="todo, doing, done or cancelled (tasks).")
@click.option("--tag", "tags", metavar="TAG", multiple=True, help="Tag the node (repeatable).")
@click.option(
    "--set",
    "assignments",
    metavar="FIELD=VALUE",
    multiple=True,
    help="A field of an entity kind, read as its type, e.g. --set year=2024 (repeatable).",
)
@click.pass_context
def add(
    ctx: click.Context,
    kind: str,
    title: str,
    content: str | None,
    parent: str | None,
    due: str | None,
    scheduled: str | None,
    priority: str | None,
    status: str | None,
    tags: tuple[str, ...],
    assignments: tuple[str, ...],
) -> None:
    """Create a node and print its id.

    KIND is text, task, collection or an entity kind (`nodespace kind list`);
    TITLE is one line. Entity fields: --set FIELD=VALUE, lists comma-separated.
    """
    kb = state(ctx).open(ctx)
    fields = _task_fields(due, scheduled, priority, status)
    if assignments:
        fields |= read_fields(_entity_schema(kb, kind), assignments)
    text = read_text(content) if content is not None else ""
    node = kb.create(kind, title, text, parent=parent, tags=tags, **fields)
    click.echo(node.id)


def _schema_of(kb: KnowledgeBase, kind: str) -> KindSchema | None:
    return next((s for s in kb.schemas() if s.name == kind), None)


def _entity_schema(kb: KnowledgeBase, kind: str) -> KindSchema:
    schema = _schema_of(kb, kind)
    if schema is None:
        defined = ", ".join(s.name for s in kb.schemas()) or "none yet"
        raise ValidationError(
            f"--set gives fields of entity kinds (defined: {defined}); {kind!r} is not one. "
            "Define it with `nodespace kind define --file ...`, or use --due, --scheduled, "
            "--priority and --status for tasks."
        )
    return schema


# -- set ----------------------------------------------------------------

# Node columns `set` accepts besides entity fields, read from text like `add` reads them.
_DATE_COLUMNS = frozenset({"due", "scheduled"})


def _column_value(name: str, raw: str) -> Any:
    if name in ("title", "content"):
        return read_text(raw)
    if raw.strip() == "":
        return None
    if name == "priority":
        return _priority(raw)
    if name in _DATE_COLUMNS:
        return parse_day(raw)
    return raw


@click.command("set")
@click.argument("node_id", metavar="ID")
@click.argument("assignments", metavar="FIELD=VALUE...", nargs=-1, required=True)
@click.pass_context
def set_fields(ctx: click.Context, node_id: str, assignments: tuple[str, ...]) -> None:
    """Change fields of a node in one write; prints its id.

    FIELD is an entity field (read as its type; lists comma-separated) or
    title, content, task_status, priority, due, scheduled, status. An empty
    VALUE clears the field. Nothing is written when any value is refused.
    """
    kb = state(ctx).open(ctx)
    node = kb.get(node_id)
    schema = _schema_of(kb, node.kind)
    own = {f.name: f for f in schema.fields} if schema is not None else {}
    values: dict[str, Any] = {}
    for text in assignments:
        name, raw = parse_assignment(text, "set")
        if name in values:
            raise ValidationError(f"set: {name} is given twice; give each field once.")
        values[name] = read_value(own[name], raw) if name in own else _column_value(name, raw)
    click.echo(kb.update(node.id, **values).id)


# -- show ---------------------------------------------------------------


def _field_lines(node: Node, entity: list[tuple[str, Any]] | None = None) -> list[tuple[str, Any]]:
    lines: list[tuple[str, Any]] = [
        ("id", node.id),
        ("kind", node.kind),
        ("status", node.status),
        ("version", node.version),
        ("created", node.created_at),
        ("updated", node.updated_at),
    ]
    if node.kind == "task":
        lines += [
            ("task status", node.task_status),
            ("priority", node.priority),
            ("due", node.due),
            ("scheduled", node.scheduled),
            ("completed", node.completed_at),
        ]
    if entity is not None:  # an entity: its fields in schema order, unset ones blank
        return lines + entity
    lines += [(f"property {k}", v) for k, v in sorted(node.properties.items())]
    return lines


@dataclass(frozen=True)
class Relations:
    """What `show` prints around a node."""

    parent: Node | None
    tags: list[str]
    collections: list[Node]
    children: int
    links: list[Node]
    backlinks: list[Node]
    fields: dict[str, Any] | None = None  # an entity's values, in schema order
    references: dict[str, list[str]] | None = None  # reference field -> ids it holds
    referenced: dict[str, Node] | None = None  # the live nodes those ids name

    @classmethod
    def of(cls, kb: KnowledgeBase, node: Node) -> Relations:
        """Read the relations of `node`."""
        schema = _schema_of(kb, node.kind)
        fields = kb.entity_values(node.id) if schema is not None else None
        references = _references(schema, fields or {})
        ids = sorted({i for held in references.values() for i in held})
        return cls(
            parent=kb.get(node.parent_id) if node.parent_id else None,
            tags=kb.tags(node.id),
            collections=kb.collections(node.id),
            children=len(kb.children(node.id)),
            links=kb.links(node.id),
            backlinks=kb.backlinks(node.id),
            fields=fields,
            references=references,
            referenced={i: kb.get(i) for i in ids if kb.exists(i)},
        )


def _references(schema: KindSchema | None, fields: dict[str, Any]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for item in schema.fields if schema is not None else ():
        value = fields.get(item.name)
        if item.type == "ref" and value:
            found[item.name] = value if isinstance(value, list) else [value]
    return found


def _entity_lines(rel: Relations) -> list[tuple[str, Any]] | None:
    """`show`'s lines of an entity's fields; references as 'Title (id)'."""
    if rel.fields is None:
        return None
    lines: list[tuple[str, Any]] = []
    for name, value in rel.fields.items():
        ids = (rel.references or {}).get(name)
        if ids is not None:
            value = ", ".join(_ref_text(i, (rel.referenced or {}).get(i)) for i in ids)
        else:
            value = _entity_text(value)
        lines.append((name, value))
    return lines


def _entity_text(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(_entity_text(v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"  # as --set takes it
    return _value_text(value)


def _ref_text(node_id: str, node: Node | None) -> str:
    return node_id if node is None else f"{output.label(node) or '(untitled)'} ({node_id})"


def _ref(node: Node) -> dict[str, str]:
    return {"id": node.id, "kind": node.kind, "title": output.label(node)}


def _show_json(node: Node, rel: Relations) -> str:
    record = output.node_record(node)
    if rel.fields is not None:
        record["fields"] = output.plain(rel.fields)
    record.update(
        parent=_ref(rel.parent) if rel.parent else None,
        tags=rel.tags,
        collections=[_ref(n) for n in rel.collections],
        children_count=rel.children,
        links=[_ref(n) for n in rel.links],
        backlinks=[_ref(n) for n in rel.backlinks],
    )
    return output.to_json(record)


def _value_text(value: Any) -> str:
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ", timespec="seconds") + " UTC"
    return "" if value is None else str(output.plain(value))


def _show_text(node: Node, rel: Relations) -> Iterator[str]:
    yield output.label(node) or "(untitled)"
    pairs = _field_lines(node, _entity_lines(rel))
    if rel.parent is not None:
        pairs.insert(1, ("parent", f"{output.label(rel.parent)}  ({rel.parent.id})"))
    pairs += [("tags", ", ".join(rel.tags)), ("children", rel.children)]
    for key, value in pairs:
        yield f"  {key + ':':<13}{_value_text(value)}".rstrip()
    for name, nodes in (
        ("collections", rel.collections),
        ("links", rel.links),
        ("backlinks", rel.backlinks),
    ):
        yield f"  {name + ':':<13}{len(nodes)}"
        yield from (f"    - {output.label(n)}  {output.dim(n.id)}" for n in nodes)
    if node.content:
        yield ""
        yield node.content.rstrip("\n")


@click.command()
@click.argument("node_id", metavar="ID")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="text for reading, json for programs.",
)
@click.pass_context
def show(ctx: click.Context, node_id: str, fmt: str) -> None:
    """Print one node with its tags, links and backlinks.

    Shows the fields, tags, collections, links, backlinks, number of children and content.
    """
    kb = state(ctx).open(ctx)
    node = kb.get(node_id)
    rel = Relations.of(kb, node)
    click.echo(_show_json(node, rel) if fmt == "json" else "\n".join(_show_text(node, rel)))


# -- tree ---------------------------------------------------------------


def walk(kb: KnowledgeBase, node: Node, depth: int, max_depth: int | None) -> Iterator[str]:
    """Outline lines of `node` and its descendants down to `max_depth` levels."""
    line = f"{'  ' * depth}{output.task_box(node)} {output.label(node) or '(untitled)'}"
    shown_id = "" if node.id == node.title else f"  {output.dim(node.id)}"
    yield f"{line}{output.task_notes(node)}{shown_id}"
    if max_depth is not None and depth >= max_depth:
        return
    for child in kb.children(node.id):
        yield from walk(kb, child, depth + 1, max_depth)


@click.command()
@click.argument("node_id", metavar="[ID]", required=False)
@click.option(
    "--depth",
    type=click.IntRange(min=0),
    metavar="N",
    help="Show at most N levels below the start (default: all).",
)
@click.pass_context
def tree(ctx: click.Context, node_id: str | None, depth: int | None) -> None:
    """Print an outline, tasks with [ ]/[x] boxes.

    Starts at ID, or shows every top-level node. Ids are shown after each line.
    """
    kb = state(ctx).open(ctx)
    roots = [kb.get(node_id)] if node_id else kb.children()
    if not roots:
        click.echo("(empty knowledge base: add a node with `nodespace add text TITLE`)")
    for root in roots:
        for line in walk(kb, root, 0, depth):
            click.echo(line)


# -- journal ------------------------------------------------------------


def parse_day(value: str | None) -> dt.date | str | None:
    """None (today), a date for today/yesterday/tomorrow, else the text for the model."""
    if value is None:
        return None
    offset = _DAY_WORDS.get(value.strip().lower())
    return value if offset is None else dt.date.today() + dt.timedelta(days=offset)


def _appended(content: str, text: str) -> str:
    return f"{content.rstrip()}\n{text}" if content.strip() else text


@click.command()
@click.argument("day", metavar="[DAY]", required=False)
@click.option(
    "--append",
    "text",
    metavar="TEXT",
    help="Add TEXT as a new line of the page ('-' reads stdin); prints the page id.",
)
@click.pass_context
def journal(ctx: click.Context, day: str | None, text: str | None) -> None:
    """Print (or add to) a day's journal page.

    DAY is YYYY-MM-DD, today, yesterday or tomorrow (default: today). The page
    is created if it does not exist yet.
    """
    kb = state(ctx).open(ctx)
    page = kb.journal(parse_day(day))
    if text is not None:
        page = kb.update(page.id, content=_appended(page.content, read_text(text)))
        click.echo(page.id)
        return
    click.echo(f"# {page.title}")
    if page.content:
        click.echo(f"\n{page.content.rstrip()}")
    children = kb.children(page.id)
    if children:
        click.echo("")
    for child in children:
        for line in walk(kb, child, 0, None):
            click.echo(line)

"""`nodespace kind`: define entity kinds from schema files, list and show them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import click

from .context import state

if TYPE_CHECKING:
    from ..entities import KindSchema


def _describe(schema: KindSchema) -> list[str]:
    lines = [f"{schema.name} (v{schema.version}): {schema.description}".rstrip(": ")]
    for item in schema.fields:
        flags = [f for f in ("required", "indexed") if getattr(item, f)]
        if item.default is not None:
            flags.append(f"default {item.default!r}")
        if item.choices:
            flags.append("choices " + ", ".join(item.choices))
        extra = f" [{'; '.join(flags)}]" if flags else ""
        note = f"  {item.description}" if item.description else ""
        lines.append(f"  {item.name}: {item.type_label()}{extra}{note}")
    return lines


@click.group("kind")
def kind_group() -> None:
    """Entity kinds: typed fields, stored in the knowledge base."""


@kind_group.command("define")
@click.option(
    "--file",
    "path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="A TOML or YAML schema file with a table per kind under 'kinds'.",
)
@click.pass_context
def define(ctx: click.Context, path: Path) -> None:
    """Define every kind of a schema file (all or none); prints their names."""
    kb = state(ctx).open(ctx)
    for schema in kb.define_file(path):
        click.echo(schema.name)


@kind_group.command("list")
@click.pass_context
def list_kinds(ctx: click.Context) -> None:
    """List the entity kinds with their field counts."""
    kb = state(ctx).open(ctx)
    for schema in kb.schemas():
        click.echo(f"{schema.name}\t{len(schema.fields)} fields\t{schema.description}")


@kind_group.command("show")
@click.argument("kind")
@click.option("--json", "as_json", is_flag=True, help="Print the stored schema as JSON.")
@click.pass_context
def show(ctx: click.Context, kind: str, as_json: bool) -> None:
    """Show the fields of entity kind KIND."""
    schema = state(ctx).open(ctx).schema(kind)
    if as_json:
        click.echo(json.dumps(schema.to_json(), indent=2, ensure_ascii=False))
        return
    click.echo("\n".join(_describe(schema)))

"""`nodespace trust` and `nodespace untrust`: which knowledge bases may change security settings."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import click

from ..config import SECURITY_RELEVANT, trust_list_path
from ..config import trust as trust_list
from ..config.loader import PROJECT_FILE
from ..config.private import user_name
from . import output
from .context import CliError, state


def _security_lines(folder: Path) -> list[str]:
    """`name = value` for each security setting the project file of `folder` sets."""
    try:
        data = tomllib.loads((folder / PROJECT_FILE).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return []
    found = []
    for section, values in data.items():
        if isinstance(values, dict):
            found += [
                f"  {section}.{name} = {value!r}"
                for name, value in values.items()
                if f"{section}.{name}" in SECURITY_RELEVANT
            ]
    return found


def _report_trusted(entry: trust_list.TrustEntry) -> None:
    click.echo(
        f"Trusted {entry.path} (owner {user_name(entry.owner)}, device {entry.device}, "
        f"inode {entry.inode}), recorded in {trust_list_path()}."
    )
    lines = _security_lines(Path(entry.path))
    if lines:
        click.echo(f"Its {PROJECT_FILE} now applies these security settings:")
        click.echo("\n".join(lines))
    else:
        click.echo(f"Its {PROJECT_FILE} sets no security setting at the moment.")


def _list(fmt: str) -> None:
    records: list[dict[str, Any]] = [
        trust_list.describe_entry(e) for e in trust_list.read_entries(trust_list_path())
    ]
    if fmt != "table":
        output.emit(records, ["path", "owner", "trusted_at", "status"], fmt)
    elif not records:
        click.echo(f"No knowledge base is trusted ({trust_list_path()}).")
    else:  # whole paths: a table would shorten them
        for r in records:
            click.echo(f"{r['path']}\n  {r['status']}; owner {r['owner']}; since {r['trusted_at']}")


@click.command("trust")
@click.argument("path", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.option("--list", "show", is_flag=True, help="List the trusted knowledge bases.")
@output.FORMAT_OPTION
@click.pass_context
def trust(ctx: click.Context, path: Path | None, show: bool, fmt: str) -> None:
    """Let the knowledge base at PATH change security settings in its nodespace.toml.

    Security settings (AI servers and model paths, the API key variable, Cypher
    writes, the service address and runtime folder) are ignored in a knowledge
    base's own nodespace.toml until you trust it. PATH defaults to the selected
    knowledge base. The list lives in your config folder, not in the knowledge
    base; an entry names the folder's real path, device, inode and owner, so a
    folder put at that path later is not trusted.
    """
    if show:
        if path is not None:
            raise click.UsageError("Give either PATH or --list, not both.")
        _list(fmt)
        return
    folder = path if path is not None else state(ctx).kb_path()
    _report_trusted(trust_list.add(folder, trust_list_path()))


@click.command("untrust")
@click.argument("path", type=click.Path(file_okay=False, path_type=Path))
def untrust(path: Path) -> None:
    """Stop trusting the knowledge base at PATH (its security settings are ignored again)."""
    removed = trust_list.remove(path, trust_list_path())
    if removed is None:
        raise CliError(
            f"{path} is not in the trust list {trust_list_path()}; "
            "see the trusted ones with `nodespace trust --list`."
        )
    click.echo(f"No longer trusted: {removed.path}.")

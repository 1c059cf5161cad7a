"""`nodespace plugins list`, and the group that finds the commands plugins add."""

from __future__ import annotations

from typing import Any

import click

from . import output
from .context import NodespaceGroup

_COLUMNS = ["name", "version", "status", "capabilities", "hooks", "source", "error"]


class PluginCommandGroup(NodespaceGroup):
    """The `nodespace` group: built-in commands first, then the active plugins' commands.

    Plugins are discovered only when a name is not a built-in command (or for
    the command list of `--help`), so built-in commands never wait for them.
    """

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """The built-in command `cmd_name`, else an active plugin's."""
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            return command
        found = _plugin_commands().get(cmd_name)
        return found[1] if found else None

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Built-in and plugin command names, sorted."""
        return sorted({*super().list_commands(ctx), *_plugin_commands()})


def _plugin_commands() -> dict[str, tuple[Any, click.Command]]:
    from ..plugins.registry import plugin_manager

    return plugin_manager().cli_commands()


def _records() -> list[dict[str, Any]]:
    from ..plugins.registry import plugins

    return [
        {
            "name": r.name,
            "version": r.version,
            "status": r.status,
            "capabilities": ", ".join(r.capabilities),
            "hooks": ", ".join(h.removeprefix("nodespace_") for h in r.hooks),
            "source": r.source,
            "error": r.error,
        }
        for r in plugins()
    ]


@click.group("plugins")
def plugins_group() -> None:
    """The plugins of this environment: what they add and whether they load.

    Plugins are installed packages with a `nodespace_lab` entry point. One loads
    only when the plugins.allow setting names it (and plugins.deny does not),
    set in your config file or NODESPACE_PLUGINS_ALLOW, never by a knowledge
    base's own nodespace.toml.
    """


@plugins_group.command("list")
@output.FORMAT_OPTION
def list_plugins(fmt: str) -> None:
    """List every plugin found: version, status, capabilities, hooks, and why it is not active.

    Status is active, not allowed (installed but not in plugins.allow), denied
    (in plugins.deny), refused (no valid manifest, or made for another plugin
    API) or disabled (one of its hooks raised; the knowledge base goes on
    without it).
    """
    records = _records()
    if fmt != "table":
        output.emit(records, _COLUMNS, fmt)
        return
    output.emit(records, _COLUMNS[:5], fmt)
    for r in records:
        if r["error"]:
            click.echo(f"{r['name']} ({r['status']}): {r['error']}")

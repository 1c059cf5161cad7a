"""The `nodespace` command: work with a knowledge base from the shell.

Exit codes: 0 success; 1 an error from NodeSpace (not found, invalid value,
problems found by `doctor`), reported as `error: ...` on stderr; 2 a usage
error (unknown option, missing argument).
"""

from __future__ import annotations

from pathlib import Path

import click

from . import __version__
from ._cli import admin, ai, bench, entities, nodes, plugins, queries, service, trust
from ._cli.context import KB_ENV, make_state

COMMANDS: tuple[click.Command, ...] = (
    admin.init,
    nodes.add,
    nodes.set_fields,
    nodes.show,
    nodes.tree,
    queries.find,
    queries.query,
    nodes.journal,
    entities.kind_group,
    queries.search,
    ai.ask,
    ai.task,
    ai.ai_group,
    admin.doctor,
    admin.reindex,
    admin.undo,
    admin.changes,
    bench.bench,
    service.serve,
    admin.config_command,
    trust.trust,
    trust.untrust,
    plugins.plugins_group,
)


@click.group(
    cls=plugins.PluginCommandGroup, context_settings={"help_option_names": ["-h", "--help"]}
)
@click.option(
    "--kb",
    type=click.Path(file_okay=False, path_type=Path),
    envvar=KB_ENV,
    show_envvar=True,
    metavar="PATH",
    help="Knowledge base folder (default: the current folder if it is one).",
)
@click.version_option(__version__, prog_name="nodespace")
@click.pass_context
def cli(ctx: click.Context, kb: Path | None) -> None:
    """NodeSpace Lab: notes, tasks and a daily journal in a local graph.

    Run `nodespace COMMAND --help` for the options of each command.
    """
    ctx.obj = make_state(ctx, kb)


for _command in COMMANDS:
    cli.add_command(_command)


def main() -> None:
    """Entry point of the `nodespace` console script."""
    cli.main(prog_name="nodespace")

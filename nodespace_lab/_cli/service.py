"""`nodespace serve`: run the knowledge-base service in the foreground."""

from __future__ import annotations

from pathlib import Path

import click

from .context import state


@click.command()
@click.argument("path", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.option("--port", type=int, default=None, help="Port to listen on (default: a free one).")
@click.pass_context
def serve(ctx: click.Context, path: Path | None, port: int | None) -> None:
    """Serve a knowledge base to notebooks, JupyterLab and scripts until Ctrl-C.

    The service owns the database: every client reaches it through
    `nodespace_lab.connect()`, which finds it by its runtime file. It listens
    on loopback only and every request needs the token in that file.
    """
    from ..service.server import serve as run_service

    folder = path.expanduser().resolve() if path else state(ctx).kb_path()

    def ready(info: object, runtime: Path) -> None:
        url = getattr(info, "url", "")
        click.echo(f"Serving {folder} at {url}")
        click.echo(f"Runtime file (with the token): {runtime}")
        click.echo("Stop with Ctrl-C.", nl=True)

    run_service(folder, port=port, on_ready=ready)

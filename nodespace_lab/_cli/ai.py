"""`nodespace ask`, `nodespace task` and `nodespace ai`: the local model from the shell."""

from __future__ import annotations

import datetime as dt

import click

from . import output
from .context import state


@click.command()
@click.argument("question", nargs=-1, required=True)
@click.option("--no-save", is_flag=True, help="Do not store the exchange as a chat node.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="text streams the answer; json prints it with citations and sources at the end.",
)
@click.pass_context
def ask(ctx: click.Context, question: tuple[str, ...], no_save: bool, fmt: str) -> None:
    """Answer QUESTION from the notes with the local model, citing them as [n]."""
    kb = state(ctx).open(ctx)

    def show(piece: str) -> None:
        click.echo(piece, nl=False)

    answer = kb.ask(" ".join(question), save=not no_save, on_piece=show if fmt == "text" else None)
    if fmt == "json":
        from ..ai.ask import answer_payload

        click.echo(output.to_json(answer_payload(answer)))
        return
    click.echo()
    for citation in answer.citations:
        click.echo(output.dim(f"[{citation.number}] {citation.title}  ({citation.id})"))
    if answer.invalid_citations:
        removed = ", ".join(answer.invalid_citations)
        click.echo(output.dim(f"removed citations (not among the sources): {removed}"))
    if answer.chat_id:
        click.echo(output.dim(f"saved as chat {answer.chat_id}"))


@click.command()
@click.argument("sentence", nargs=-1, required=True)
@click.option("--yes", "-y", is_flag=True, help="Add the task without asking.")
@click.option(
    "--today",
    type=click.DateTime(["%Y-%m-%d"]),
    help="Read dates relative to this day (default: today).",
)
@click.option("--no-model", is_flag=True, help="Read the sentence by rules only.")
@click.pass_context
def task(
    ctx: click.Context, sentence: tuple[str, ...], yes: bool, today: dt.datetime | None,
    no_model: bool,
) -> None:  # fmt: skip
    """Add a task described in a sentence ("email Ana next Friday, p2"), after showing it."""
    kb = state(ctx).open(ctx)
    day = today.date() if today else None
    draft = kb.draft_task(" ".join(sentence), today=day, use_model=not no_model)
    rows = [
        ("title", draft.title),
        ("due", draft.due.isoformat() if draft.due else "-"),
        ("priority", str(draft.priority or "-")),
        ("tags", ", ".join(draft.tags) or "-"),
        ("links", ", ".join(title for _, title in draft.links) or "-"),
    ]
    for name, value in rows:
        source = draft.sources.get(name, "")
        click.echo(f"{name:>8}: {value}" + (output.dim(f"   from {source}") if source else ""))
    if not yes and not click.confirm("Add this task?", default=True):
        click.echo("Nothing written.")
        return
    node = draft.create(kb)
    click.echo(f"Added task {node.id}")


@click.group("ai")
def ai_group() -> None:
    """The local models: which one, and whether it works."""


@ai_group.command("status")
@click.option("--check", is_flag=True, help="Also load the model and generate a token.")
@click.pass_context
def status(ctx: click.Context, check: bool) -> None:
    """Show the backend, the model and its state (and why AI is unavailable, if it is)."""
    kb = state(ctx).open(ctx)
    report = kb.ai_status(check=check)
    for key, value in report.items():
        click.echo(f"{key:>12}: {value}")
    if check and not report.get("ok"):
        raise click.exceptions.Exit(1)

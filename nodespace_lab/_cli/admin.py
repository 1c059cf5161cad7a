"""Commands that look after a knowledge base: init, doctor, reindex, undo, changes, config."""

from __future__ import annotations

import json
import time
import warnings
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ..config import (
    SECTIONS,
    Settings,
    UntrustedSettingWarning,
    load_settings,
    user_config_path,
)
from ..config.loader import PROJECT_FILE
from ..errors import NotFound
from . import output
from .context import CliError, is_kb, state

if TYPE_CHECKING:
    from ..graph import ChangeSet
    from ..kb import KnowledgeBase


# -- init ---------------------------------------------------------------


def _node_count(kb: KnowledgeBase) -> int:
    return kb.find().include_deleted().count()


def _init_message(path: Path, existed: bool, count: int, sample: bool) -> str:
    if count and existed:
        note = "; the sample was not added" if sample else ""
        return f"Knowledge base {path} already has {count} nodes: reusing it{note}."
    verb = "Reusing empty" if existed else "Created"
    return f"{verb} knowledge base {path}."


@click.command()
@click.argument("path", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--sample",
    is_flag=True,
    help="Fill a new or empty knowledge base with sample pages, tasks and journal.",
)
@click.pass_context
def init(ctx: click.Context, path: Path | None, sample: bool) -> None:
    """Create (or reuse) a knowledge base.

    PATH defaults to --kb, then NODESPACE_KB, then the current folder. An existing
    knowledge base is reused as it is, so running init again is safe.
    """
    from ..kb import KnowledgeBase
    from ..sample import fill_sample

    target = (path or state(ctx).kb_option or Path.cwd()).expanduser().resolve()
    existed = is_kb(target)
    kb = ctx.with_resource(KnowledgeBase(target, create=True))
    count = _node_count(kb)
    click.echo(_init_message(target, existed, count, sample))
    if sample and not count:
        added = fill_sample(kb)
        click.echo(f"Added the sample: {added} nodes. Try: nodespace --kb {target} tree")


# -- doctor, reindex, undo ------------------------------------------------


@click.command()
@click.option("--repair", is_flag=True, help="Fix what can be fixed, then check again.")
@click.pass_context
def doctor(ctx: click.Context, repair: bool) -> None:
    """Check the knowledge base; exit 1 if problems remain.

    Checks the hierarchy (no cycles, no dangling parents), ordering keys, links
    against the references in content, memberships, the search index, and
    recomputes every calculated field from scratch to compare with what is stored.
    """
    from ..kb import KnowledgeBase
    from ..kb.doctor import doctor as run_doctor

    kb = state(ctx).open(ctx)
    if not isinstance(kb, KnowledgeBase):
        raise CliError(
            f"doctor needs {kb.path} to itself, but a service is serving it; stop the "
            "service (JupyterLab or `nodespace serve`), then run doctor again."
        )
    report = run_doctor(kb, repair=repair)
    if not report.problems:
        click.echo("ok: no problems found.")
        return
    for problem in report.problems:
        click.echo(str(problem))
    if not repair:
        raise CliError(
            f"{len(report.problems)} problem(s) found; run `nodespace doctor --repair` "
            "to fix what can be fixed."
        )
    fixed = len(report.problems) - len(report.remaining)
    click.echo(f"repaired: {fixed} of {len(report.problems)} problem(s) fixed.")
    if not report.ok:
        for problem in report.remaining:
            click.echo(f"remaining: {problem}")
        raise CliError(f"{len(report.remaining)} problem(s) remain after the repair.")


@click.command()
@click.option(
    "--only",
    type=click.Choice(["text", "vectors"]),
    help="Rebuild only the full-text index, or only the vectors (re-embeds every node).",
)
@click.pass_context
def reindex(ctx: click.Context, only: str | None) -> None:
    """Rebuild the search indexes (full text and vectors) from the graph.

    The vectors are rebuilt when the embedding model is installed (the AI
    extra) and skipped with a note otherwise; `--only vectors` requires it.
    """
    kb = state(ctx).open(ctx)
    start = time.perf_counter()
    vectors: bool | None = {None: None, "text": False, "vectors": True}[only]
    count = kb.reindex(text=only != "vectors", vectors=vectors)
    if vectors is None:
        _note_skipped_vectors(kb)
    click.echo(f"Reindexed {count} documents in {time.perf_counter() - start:.2f} s.")


def _note_skipped_vectors(kb: object) -> None:
    """Say on stderr when an embedded knowledge base had no model for its vectors."""
    from ..errors import ModelUnavailable
    from ..kb import KnowledgeBase

    if isinstance(kb, KnowledgeBase):
        try:
            kb.vectors  # noqa: B018  # opens the index, or says why it cannot
        except ModelUnavailable as exc:
            click.echo(f"note: vectors not rebuilt: {exc}", err=True)


@click.command()
@click.pass_context
def undo(ctx: click.Context) -> None:
    """Revert the most recent change set that is not yet undone."""
    kb = state(ctx).open(ctx)
    change = kb.undo()
    click.echo(f"Undid change set {change.seq} ({change.label}): {len(change.ops)} operation(s).")


# -- changes ------------------------------------------------------------


def _op_summary(change: ChangeSet) -> str:
    counts = Counter(op.op for op in change.ops)
    return ", ".join(f"{name} {n}" if n > 1 else name for name, n in counts.items())


def _change_record(change: ChangeSet, *, full: bool) -> output.Record:
    ops: Any = [op.to_json() for op in change.ops] if full else _op_summary(change)
    return {
        "seq": change.seq,
        "at": change.at,
        "label": change.label,
        "undoes": change.undoes,
        "ops": ops,
    }


@click.command()
@click.option(
    "--since",
    type=click.IntRange(min=0),
    metavar="SEQ",
    help="Change sets after sequence number SEQ, oldest first (default: the latest).",
)
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=20,
    show_default=True,
    metavar="N",
    help="At most N change sets.",
)
@output.FORMAT_OPTION
@click.pass_context
def changes(ctx: click.Context, since: int | None, limit: int, fmt: str) -> None:
    """Print records of the change log.

    Without --since, the latest N change sets are shown, oldest first.
    """
    kb = state(ctx).open(ctx)
    # Sequence numbers have no gaps: without --since, the latest N start after seq - N.
    start = max(0, kb.seq - limit) if since is None else since
    found = kb.changes(start, limit)
    records = [_change_record(c, full=fmt == "json") for c in found]
    output.emit(records, ["seq", "at", "label", "undoes", "ops"], fmt)


# -- config -------------------------------------------------------------


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return json.dumps("" if value is None else str(value), ensure_ascii=False)


def _file_note(label: str, path: Path) -> str:
    return f"# {label}: {path}{'' if path.is_file() else ' (not found)'}"


def _config_lines(
    kb_path: Path | None, values: dict[str, dict[str, Any]], settings: Settings
) -> Iterator[str]:
    yield f"# Knowledge base: {kb_path or '(none selected; no project file layer)'}"
    yield f"# Layers applied, later ones win: {', '.join(settings.sources)}"
    yield _file_note("User config file", user_config_path())
    if kb_path is not None:
        yield _file_note("Project config file", kb_path / PROJECT_FILE)
        yield f"# Trusted knowledge base: {'yes' if _is_trusted(kb_path) else 'no'}"
    yield from (f"# Ignored: {message}" for message in settings.ignored)
    for section in SECTIONS:
        yield f"\n[{section}]"
        yield from (f"{k} = {_toml_value(v)}" for k, v in values[section].items())


def _selected_kb(ctx: click.Context) -> Path | None:
    try:
        return state(ctx).kb_path(must_exist=False)
    except NotFound:
        return None


@click.command("config")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["toml", "json"]),
    default="toml",
    show_default=True,
    help="toml (reads like a config file) or json.",
)
@click.pass_context
def config_command(ctx: click.Context, fmt: str) -> None:
    """Print the effective settings and their layers."""
    kb_path = _selected_kb(ctx)
    with warnings.catch_warnings():  # printed below, with the other layers
        warnings.simplefilter("ignore", UntrustedSettingWarning)
        settings = load_settings(kb_path)
    values = settings.as_dict()
    if fmt == "json":
        record = {"knowledge_base": kb_path, "layers": settings.sources, "settings": values}
        click.echo(output.to_json({**record, "ignored": settings.ignored}))
        return
    click.echo("\n".join(_config_lines(kb_path, values, settings)))


def _is_trusted(kb_path: Path) -> bool:
    from ..config.trust import check, trust_list_path

    return check(kb_path, kb_path / PROJECT_FILE, trust_list_path()).trusted

"""Which knowledge base a command works on, and how errors reach the shell.

A NodespaceError already says what is wrong and how to fix it, so the shell
sees that message as `error: ...` on stderr with exit code 1, never a
traceback. Click's own usage errors keep exit code 2.
"""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import click
from click.core import ParameterSource

from ..errors import NodespaceError, NotFound
from ..graph.engine import DB_FILE
from .warn import warnings_as_notes

if TYPE_CHECKING:
    from ..kb import KnowledgeBase

KB_ENV = "NODESPACE_KB"


class CliError(click.ClickException):
    """An error for the shell: `error: <message>` on stderr, exit code 1."""

    exit_code = 1

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(f"error: {self.format_message()}", err=True, file=file)


class NodespaceGroup(click.Group):
    """A click group that turns NodespaceError (and OS errors) into `CliError`."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            with warnings_as_notes():
                return super().invoke(ctx)
        except NodespaceError as exc:
            raise CliError(str(exc)) from exc
        except OSError as exc:
            if exc.errno == errno.EPIPE:
                raise  # click quietens a closed pipe (`nodespace find | head`)
            raise CliError(str(exc)) from exc


def is_kb(path: Path) -> bool:
    """True when `path` is a knowledge base folder (holds a graph database)."""
    return any((path / name).exists() for name in DB_FILE.values())


@dataclass
class CliState:
    """What the group options chose; stored as `ctx.obj`."""

    kb_option: Path | None
    kb_source: str

    def kb_path(self, *, must_exist: bool = True) -> Path:
        """The selected knowledge base folder (raises NotFound with the fix)."""
        path = self.kb_option or _cwd_kb()
        if path is None:
            raise NotFound(
                "No knowledge base selected: pass --kb PATH, set NODESPACE_KB=PATH, or run the "
                "command inside a knowledge base folder (create one with `nodespace init PATH`)."
            )
        path = path.expanduser().resolve()
        if must_exist:
            _check_is_kb(path, self.kb_source)
        return path

    def open(self, ctx: click.Context, *, create: bool = False) -> KnowledgeBase:
        """Open the selected knowledge base; it is closed when the command ends.

        When a service runs for it (JupyterLab, `nodespace serve`), the command
        goes through the service instead, so it never meets a locked database.
        """
        from ..kb import KnowledgeBase
        from ..service import running_service

        path = self.kb_path(must_exist=not create)
        info = running_service(path) if path.exists() else None
        if info is not None:
            from ..service.client import RemoteKnowledgeBase

            # Same API; typed as KnowledgeBase for the commands that use both.
            return ctx.with_resource(RemoteKnowledgeBase(info))  # type: ignore[return-value]
        return ctx.with_resource(KnowledgeBase(path, create=create))


def _cwd_kb() -> Path | None:
    cwd = Path.cwd()
    return cwd if is_kb(cwd) else None


def _check_is_kb(path: Path, source: str) -> None:
    where = f" (from {source})" if source else ""
    if not path.exists():
        raise NotFound(
            f"Knowledge base {path}{where} does not exist; create it with "
            f"`nodespace init {path}` or pick another with --kb."
        )
    if not is_kb(path):
        raise NotFound(
            f"{path}{where} is not a knowledge base (it holds no "
            f"{' or '.join(DB_FILE.values())}); create one with `nodespace init {path}` "
            "or pick another with --kb."
        )


def make_state(ctx: click.Context, kb: Path | None) -> CliState:
    """Record the --kb choice and where it came from."""
    source = ctx.get_parameter_source("kb")
    label = {ParameterSource.ENVIRONMENT: KB_ENV, ParameterSource.COMMANDLINE: "--kb"}
    return CliState(kb_option=kb, kb_source=label.get(source, "") if source else "")


def state(ctx: click.Context) -> CliState:
    """The `CliState` of the running command."""
    found = ctx.find_object(CliState)
    if found is None:  # a command invoked on its own, outside the group (tests)
        env = os.environ.get(KB_ENV)
        found = CliState(Path(env) if env else None, KB_ENV if env else "")
    return found

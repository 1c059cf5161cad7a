"""`%load_ext nodespace_lab`: `%%cypher`, `%nodespace`, and the AI magics `%ask`,
`%task` and `%query`."""

from __future__ import annotations

import os
import re
import shlex
from typing import Any

from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from IPython.core.magic import Magics, cell_magic, line_cell_magic, line_magic, magics_class

from ..graph.cypher import parameter_names
from ..kb import KnowledgeBase
from ..live import LiveQuery
from ..service import connect
from ..service.client import RemoteKnowledgeBase

_HELP = (
    "%nodespace                 show the open knowledge base\n"
    "%nodespace open PATH       open (or create) a knowledge base for this notebook\n"
    "%nodespace journal         today's journal page\n"
    "%nodespace search TEXT     full-text search\n"
    "%nodespace close           close the knowledge base\n"
    "%ask QUESTION              answer from the notes, with citations (chat widget)\n"
    "%task SENTENCE             a task read from a sentence, to confirm before it is added\n"
    "%query QUESTION            a checked read-only query from a question, as a live table"
)


@magics_class
class NodespaceMagics(Magics):
    """Magics bound to one knowledge base per IPython session."""

    def __init__(self, shell: InteractiveShell) -> None:
        super().__init__(shell)
        self.kb: KnowledgeBase | RemoteKnowledgeBase | None = None

    def current(self) -> KnowledgeBase | RemoteKnowledgeBase:
        """The notebook's knowledge base: opened with %nodespace open, else $NODESPACE_KB.

        Through its service when one runs (JupyterLab starts it), else embedded.
        """
        if self.kb is None:
            path = os.environ.get("NODESPACE_KB")
            if not path:
                raise UsageError(
                    "No knowledge base is open: run `%nodespace open PATH` or set NODESPACE_KB."
                )
            self.kb = connect(path)
        return self.kb

    @line_magic
    def nodespace(self, line: str) -> Any:
        """Open, inspect and search the notebook's knowledge base."""
        words = shlex.split(line)
        command, rest = (words[0], words[1:]) if words else ("", [])
        if command == "open" and len(rest) == 1:
            if self.kb is not None:
                self.kb.close()
            self.kb = connect(rest[0])
            return self.kb
        if command == "close":
            if self.kb is not None:
                self.kb.close()
                self.kb = None
            return None
        if command == "journal" and not rest:
            return self.current().journal()
        if command == "search" and rest:
            return self.current().search(" ".join(rest))
        if command == "":
            return self.current()
        raise UsageError(f"Unknown %nodespace command {line!r}.\n{_HELP}")

    @line_cell_magic
    def ask(self, line: str, cell: str | None = None) -> Any:
        """Ask the knowledge base (`%ask QUESTION` or a `%%ask` cell): a chat widget
        streams the answer and its citations; later questions continue the chat."""
        from ..widgets import ChatWidget

        question = " ".join(filter(None, [line.strip(), (cell or "").strip()]))
        widget = ChatWidget(self.current())
        if question:
            widget.ask(question)
        return widget

    @line_magic
    def task(self, line: str) -> Any:
        """`%task SENTENCE`: the task it describes, with a button that adds it."""
        if not line.strip():
            raise UsageError("%task needs a sentence, e.g. `%task email Ana next Friday, p2`.")
        from .confirm import confirm_task

        return confirm_task(self.current().draft_task(line))

    @line_magic
    def query(self, line: str) -> Any:
        """`%query QUESTION`: the query it becomes (shown as code) and its live table."""
        if not line.strip():
            raise UsageError("%query needs a question, e.g. `%query open tasks due this week`.")
        from IPython.display import display

        from ..markdown import display_bundle

        draft = self.current().draft_query(line)
        # Sanitised HTML, never Markdown: JupyterLab renders a trusted output's
        # Markdown with raw HTML allowed (see nodespace_lab.markdown).
        display(display_bundle(draft._markdown(), draft.code), raw=True)  # type: ignore[no-untyped-call]
        return draft.live()

    @cell_magic
    def cypher(self, line: str, cell: str) -> Any:
        """Run the cell as read-only Cypher; `$name` takes `name` from the notebook.

        `%%cypher --live` returns a live query that stays up to date.
        """
        options = shlex.split(line)
        unknown = [o for o in options if o != "--live"]
        if unknown:
            raise UsageError(f"Unknown %%cypher option {unknown[0]!r}; the only option is --live.")
        params = self._params(cell)
        kb = self.current()
        if "--live" in options:
            live: LiveQuery = kb.live(cell, **params)
            return live
        return kb.cypher(cell, params)

    def _params(self, query: str) -> dict[str, Any]:
        names = parameter_names(query)
        namespace = self.shell.user_ns if self.shell is not None else {}
        missing = [n for n in names if n not in namespace]
        if missing:
            raise UsageError(
                f"%%cypher parameter ${missing[0]} is not defined in the notebook; "
                f"assign it first, e.g. `{missing[0]} = ...`."
            )
        return {name: namespace[name] for name in names}


def load(shell: InteractiveShell) -> None:
    """Register the magics with `shell`, and keep `%ask ...?` a question."""
    shell.register_magics(NodespaceMagics(shell))
    cleanup = shell.input_transformers_cleanup
    # Loading twice (or a reloaded module) must not add it twice.
    cleanup[:] = [t for t in cleanup if getattr(t, "__name__", "") != "protect_questions"]
    cleanup.append(protect_questions)


# A line magic of ours with a question, maybe assigned: `%ask What does X say?`,
# `box = %task email Ana?`. Without text (`%ask?`, `%ask??`) it stays IPython's
# help on the magic.
_QUESTION_LINE = re.compile(
    r"^(?P<indent>[ \t]*)(?P<target>[A-Za-z_][\w.]*(?:[ \t]*,[ \t]*[A-Za-z_][\w.]*)*[ \t]*=[ \t]*)?"
    r"%(?P<name>ask|task|query)[ \t]+(?P<arg>\S.*?\?)[ \t]*$"
)


def protect_questions(lines: list[str]) -> list[str]:
    """Turn `%ask ...?`, `%task ...?` and `%query ...?` lines into the call IPython
    makes for a line magic, before its help transformer reads the trailing `?` as
    "show help on the last word" (it answered "Object `say` not found").

    A cell magic's body (`%%...` first line) is the magic's own text: left alone.
    """
    if lines and lines[0].lstrip().startswith("%%"):
        return lines
    return [_protect(line) for line in lines]


def _protect(line: str) -> str:
    body = line.rstrip("\r\n")
    match = _QUESTION_LINE.match(body)
    if match is None:
        return line
    ending = line[len(body) :]
    # The same call IPython's escaped-command transformer writes (so `$name`
    # expansion and the magic's frame are unchanged).
    call = f"get_ipython().run_line_magic({match['name']!r}, {match['arg']!r})"
    return f"{match['indent']}{match['target'] or ''}{call}{ending}"

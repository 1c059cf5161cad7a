"""`ChatWidget`: ask the knowledge base; the answer streams in with its citations.

Each question goes to `kb.ask()` on a background thread (the kernel stays free);
the answer's pieces arrive in `streaming`, then the finished turn joins
`turns` with its citations. A citation or source opens the node in a preview
(its Markdown sanitised in Python).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING, Any

import traitlets

from ..errors import NodespaceError
from ..markdown import render_markdown
from ._base import NodespaceWidget, static_text

if TYPE_CHECKING:
    from ..ai.ask import Answer
    from ..kb.facets import KnowledgeBaseAPI

log = logging.getLogger(__name__)

# Pieces are sent to the browser at most this often (one message per token is wasteful).
_SEND_EVERY_S = 0.05


class ChatWidget(NodespaceWidget):
    """A conversation with the local model over the knowledge base's notes."""

    _esm = static_text("common.js", "chat.js")
    _css = static_text("common.css", "chat.css")

    turns = traitlets.List(traitlets.Dict()).tag(sync=True)
    streaming = traitlets.Unicode("").tag(sync=True)
    busy = traitlets.Bool(False).tag(sync=True)
    conversation = traitlets.Unicode("").tag(sync=True)  # the chat node's id, once saved
    opened = traitlets.Unicode("").tag(sync=True)
    preview = traitlets.Dict().tag(sync=True)
    status = traitlets.Unicode("").tag(sync=True)

    def __init__(self, kb: KnowledgeBaseAPI, *, save: bool = True) -> None:
        super().__init__()
        self.kb = kb
        self.save = save
        self.answers: list[Answer] = []
        self._thread: threading.Thread | None = None
        self.observe(self._on_opened, names="opened")

    def ask(self, question: str, *, wait: bool = False) -> None:
        """Ask `question` (as if typed in the widget); `wait=True` blocks until answered."""
        self._on_ask({"question": question})
        if wait and self._thread is not None:
            self._thread.join()

    def _on_ask(self, content: dict[str, Any]) -> None:
        question = str(content.get("question", "")).strip()
        if not question or self.busy:
            return
        self.busy, self.streaming, self.error = True, "", ""
        self.turns = [*self.turns, {"question": question, "pending": True}]
        self._thread = threading.Thread(target=self._answer, args=(question,), daemon=True)
        self._thread.start()

    def _answer(self, question: str) -> None:
        pieces: list[str] = []
        last_sent = 0.0

        def on_piece(piece: str) -> None:
            nonlocal last_sent
            pieces.append(piece)
            if time.monotonic() - last_sent >= _SEND_EVERY_S:
                last_sent = time.monotonic()
                self.streaming = "".join(pieces)

        try:
            answer = self.kb.ask(
                question,
                conversation=self.conversation or None,
                save=self.save,
                on_piece=on_piece,
            )
        except NodespaceError as error:
            self._finish_turn({"question": question, "error": str(error)})
            return
        except Exception as error:  # a bug must show in the turn, not leave `busy` on
            log.exception("ChatWidget: ask failed")
            self._finish_turn({"question": question, "error": f"{type(error).__name__}: {error}"})
            return
        self.answers.append(answer)
        if answer.chat_id:
            self.conversation = answer.chat_id
        self._finish_turn(_turn(answer))

    def _finish_turn(self, turn: dict[str, Any]) -> None:
        with self.hold_sync():
            self.turns = [*self.turns[:-1], turn]
            self.streaming = ""
            self.busy = False
            self.status = f"{turn['model']} · {turn['seconds']:.1f} s" if "model" in turn else ""

    def _on_opened(self, change: dict[str, Any]) -> None:
        if not change["new"]:
            self.preview = {}
            return
        try:
            node = self.kb.get(change["new"])
        except NodespaceError as error:  # deleted since it was cited: say so in the widget
            self.preview, self.error = {}, str(error)
            return
        self.preview = {
            "id": node.id,
            "kind": node.kind,
            "title": node.title,
            "html": render_markdown(node.content),
        }


def _turn(answer: Answer) -> dict[str, Any]:
    return {
        "question": answer.question,
        "answer": answer.text,
        "citations": [{"number": c.number, "id": c.id, "title": c.title} for c in answer.citations],
        "sources": [
            {"number": s.number, "id": s.id, "title": s.title, "reason": s.reason}
            for s in answer.sources
        ],
        "invalid": answer.invalid_citations,
        "chat_id": answer.chat_id or "",
        "model": answer.model,
        "seconds": answer.seconds,
    }

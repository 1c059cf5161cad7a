"""The AI part of the embedded facade: `ask`, `draft_task`, `draft_query`, `ai_status`.

A mixin of `KnowledgeBase`, kept in `kb/` because it composes the knowledge
base with the AI features of `ai/`, which only see `KnowledgeBaseAPI`; the
service client has the same methods over HTTP (`service.ai_client`).
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..errors import ModelUnavailable

if TYPE_CHECKING:
    from ..ai.ask import Answer
    from ..ai.assistant import Assistant
    from ..ai.queries import QueryDraft
    from ..ai.tasks import TaskDraft
    from ..models.backend import Backend, CancelToken
    from .embedded import KnowledgeBase


class KnowledgeBaseAI:
    """Mixed into `KnowledgeBase` (which provides `settings`)."""

    settings: Any
    _assistant: Assistant | None = None
    _assistant_lock = threading.Lock()  # shared by all instances: taken once per first use

    @property
    def ai(self) -> Assistant:
        """The knowledge base's models (the chat model's process starts on first use)."""
        with self._assistant_lock:
            if self._assistant is None:
                from ..ai.assistant import Assistant

                self._assistant = Assistant(self.settings)
            return self._assistant

    def ask(
        self,
        question: str,
        *,
        conversation: str | None = None,
        save: bool = True,
        limit: int | None = None,
        on_piece: Callable[[str], None] | None = None,
        cancel: CancelToken | None = None,
    ) -> Answer:
        """Answer `question` from the notes, citing them as [n] (see docs/ai.md).

        Retrieves with hybrid search plus links and hierarchy, streams the
        model's pieces to `on_piece`, removes citations of anything not
        retrieved, and stores the exchange as a chat node (unless `save=False`)
        that continues `conversation` if given.
        """
        from ..ai.ask import ask

        return ask(
            self._self(), self.ai.require(), question,
            limit=limit or self.settings.ai.context_nodes,
            max_tokens=self.settings.ai.answer_tokens,
            conversation=conversation, save=save, on_piece=on_piece, cancel=cancel,
        )  # fmt: skip

    def draft_task(
        self, sentence: str, *, today: dt.date | None = None, use_model: bool = True
    ) -> TaskDraft:
        """A task read from `sentence`, shown before anything is written (`.create()`)."""
        from ..ai.tasks import draft_task

        return draft_task(self._self(), sentence, model=self._model_or_none(use_model), today=today)

    def draft_query(
        self,
        question: str,
        *,
        mode: str = "find",
        today: dt.date | None = None,
        use_model: bool = True,
    ) -> QueryDraft:
        """A checked read-only query from `question`: `mode` "find" or "cypher" (needs
        the model). Nothing runs until `.run()` or `.live()`."""
        from ..ai.queries import draft_query

        model = self._model_or_none(use_model or mode == "cypher")
        if mode == "cypher" and model is None:
            self.ai.require()  # raises with the reason the model is unavailable
        return draft_query(self._self(), question, mode=mode, model=model, today=today)

    def ai_status(self, *, check: bool = False) -> dict[str, Any]:
        """Which backend and model, whether it works, and why not if it does not."""
        return self.ai.check() if check else self.ai.status()

    def _model_or_none(self, wanted: bool) -> Backend | None:
        """The model when wanted and not paused by the circuit breaker (rules work without)."""
        if not wanted:
            return None
        try:
            return self.ai.require()
        except ModelUnavailable:
            return None

    def _close_ai(self) -> None:
        assistant, self._assistant = self._assistant, None
        if assistant is not None:
            assistant.close()

    def _self(self) -> KnowledgeBase:
        return self  # type: ignore[return-value]  # only ever mixed into KnowledgeBase

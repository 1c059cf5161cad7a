"""The AI routes of the service: ask (streamed), task and query drafts, status.

The model is slow, so it never runs on the write queue: retrieval and
generation run on the service's AI thread (reads are safe off the queue), and
only storing the chat node goes through the queue. `POST /api/v1/ai/ask`
answers newline-delimited JSON: `{"piece": ...}` lines as the model writes,
then one `{"answer": ..., "seq": N}` (or `{"error": ..., "message": ...}`).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from contextlib import suppress
from typing import Any

from tornado.iostream import StreamClosedError

from ..ai import ask as asking
from ..errors import NodespaceError, ValidationError
from ..models.backend import CancelToken
from .api import PREFIX
from .server import Service, _Authenticated


def _body(handler: Any) -> dict[str, Any]:
    body = json.loads(handler.request.body or b"{}")
    if not isinstance(body, dict):
        raise ValidationError("The request body must be a JSON object.")
    return body


def _today(body: dict[str, Any]) -> dt.date | None:
    value = body.get("today")
    if value in (None, ""):
        return None
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise ValidationError(f"'today' must be a date YYYY-MM-DD, not {value!r}.") from None


class AskHandler(_Authenticated):
    cancel: CancelToken | None = None

    def initialize(self, service: Service, asks: dict[str, CancelToken] | None = None) -> None:
        super().initialize(service)
        self.asks = {} if asks is None else asks  # `routes` shares one dict between both

    async def post(self) -> None:
        body = _body(self)
        self.cancel = CancelToken()
        ask_id = body.get("ask_id")
        if isinstance(ask_id, str) and ask_id:
            self.asks[ask_id] = self.cancel  # `POST ai/cancel` with this id stops it
        try:
            await self._answer(body)
        finally:
            if isinstance(ask_id, str):
                self.asks.pop(ask_id, None)

    async def _answer(self, body: dict[str, Any]) -> None:
        kb = self.service.kb
        question = str(body.get("question") or "")
        conversation = body.get("conversation")
        limit = int(body.get("limit") or kb.settings.ai.context_nodes)
        save = bool(body.get("save", True))
        model = kb.ai.require()  # a paused model answers at once, with the reason
        loop = asyncio.get_running_loop()
        executor = self.service.ai_queue
        await loop.run_in_executor(executor, model.load)  # a broken model: an HTTP error
        prepared = await loop.run_in_executor(
            executor,
            lambda: asking.prepare(kb, question, limit=limit, conversation=conversation),
        )
        self.set_header("Content-Type", "application/x-ndjson")
        pieces: asyncio.Queue[str | None] = asyncio.Queue()
        generation = loop.run_in_executor(executor, self._generate, model, prepared, loop, pieces)
        while (piece := await pieces.get()) is not None:
            await self._line({"piece": piece})
        try:
            text, reason, seconds = await generation
        except NodespaceError as error:
            await self._line({"error": type(error).__name__, "message": str(error)})
            self.finish()
            return
        name = model.info.name if model.info else ""
        keep = kb if save else None

        def store() -> asking.Answer:
            return asking.finish(
                keep, prepared, text, model_name=name, seconds=seconds, finish_reason=reason
            )

        answer = await self.service.run(store)
        await self._line({"answer": asking.answer_payload(answer), "seq": kb.seq})
        self.finish()

    def _generate(
        self,
        model: Any,
        prepared: asking.Prepared,
        loop: asyncio.AbstractEventLoop,
        pieces: asyncio.Queue[str | None],
    ) -> tuple[str, str, float]:
        import time

        started = time.perf_counter()
        parts: list[str] = []
        reason = "stop"
        try:
            tokens = self.service.kb.settings.ai.answer_tokens
            stream = asking.generate(model, prepared, max_tokens=tokens, cancel=self.cancel)
            while True:
                try:
                    piece = next(stream)
                except StopIteration as done:
                    reason = done.value[2] if done.value else reason
                    break
                parts.append(piece)
                loop.call_soon_threadsafe(pieces.put_nowait, piece)
        finally:
            loop.call_soon_threadsafe(pieces.put_nowait, None)
        return "".join(parts), reason, time.perf_counter() - started

    async def _line(self, value: dict[str, Any]) -> None:
        self.write(json.dumps(value) + "\n")
        with suppress(StreamClosedError):  # the reader left; on_connection_close cancels
            await self.flush()

    def on_connection_close(self) -> None:
        if self.cancel is not None:
            self.cancel.cancel()  # the reader left: stop generating


class CancelAskHandler(_Authenticated):
    """Stop the answer started with this `ask_id`; it ends with finish_reason "cancelled"."""

    def initialize(self, service: Service, asks: dict[str, CancelToken] | None = None) -> None:
        super().initialize(service)
        self.asks = {} if asks is None else asks  # `routes` shares one dict between both

    async def post(self) -> None:
        token = self.asks.get(str(_body(self).get("ask_id") or ""))
        if token is not None:
            token.cancel()
        self.write_json({"result": token is not None})


class DraftTaskHandler(_Authenticated):
    async def post(self) -> None:
        body = _body(self)
        kb = self.service.kb
        draft = await asyncio.get_running_loop().run_in_executor(
            self.service.ai_queue,
            lambda: kb.draft_task(
                str(body.get("sentence") or ""),
                today=_today(body),
                use_model=bool(body.get("use_model", True)),
            ),
        )
        self.write_json({"result": draft.payload()})


class DraftQueryHandler(_Authenticated):
    async def post(self) -> None:
        body = _body(self)
        kb = self.service.kb
        draft = await asyncio.get_running_loop().run_in_executor(
            self.service.ai_queue,
            lambda: kb.draft_query(
                str(body.get("question") or ""),
                mode=str(body.get("mode") or "find"),
                today=_today(body),
                use_model=bool(body.get("use_model", True)),
            ),
        )
        self.write_json({"result": draft.payload()})


class StatusHandler(_Authenticated):
    async def get(self) -> None:
        check = self.get_query_argument("check", "") in ("1", "true")
        kb = self.service.kb
        if check:
            status = await asyncio.get_running_loop().run_in_executor(
                self.service.ai_queue, lambda: kb.ai_status(check=True)
            )
        else:
            status = kb.ai_status()
        self.write_json({"result": status})


def routes(service: Service) -> list[tuple[str, type, dict[str, Any]]]:
    """The AI routes."""
    options = {"service": service}
    asking_options = {**options, "asks": {}}  # answers in progress by ask_id
    return [
        (rf"{PREFIX}/ai/ask", AskHandler, asking_options),
        (rf"{PREFIX}/ai/cancel", CancelAskHandler, asking_options),
        (rf"{PREFIX}/ai/draft_task", DraftTaskHandler, options),
        (rf"{PREFIX}/ai/draft_query", DraftQueryHandler, options),
        (rf"{PREFIX}/ai/status", StatusHandler, options),
    ]

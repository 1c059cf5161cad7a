"""The AI methods of `RemoteKnowledgeBase`: the same calls as in-process, over the
service's `/api/v1/ai/...` routes (answers streamed as newline-delimited JSON)."""

from __future__ import annotations

import datetime as dt
import http.client
import json
import secrets
import threading
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from .. import errors
from ..ai.ask import Answer, Citation, Source
from ..ai.queries import QueryDraft
from ..ai.tasks import TaskDraft
from ..models.backend import CancelToken
from .api import PREFIX


class RemoteAI:
    """Mixed into `RemoteKnowledgeBase` (which provides `info`, `path` and `_request`)."""

    info: Any
    path: Any
    _request: Callable[[str, Any], Any]
    _wait_for_feeds: Callable[[int], None]

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
        """Ask the service's model; pieces of the answer go to `on_piece` as they come.

        `cancel.cancel()` (from any thread) stops the model; the answer then ends
        with `finish_reason == "cancelled"` and is not saved, as in-process.
        """
        ask_id = secrets.token_urlsafe(12)
        body = {"question": question, "conversation": conversation, "save": save,
                "limit": limit, "ask_id": ask_id}  # fmt: skip
        answer: dict[str, Any] | None = None
        with self._cancelling(ask_id, cancel):
            for line in self._stream(f"{PREFIX}/ai/ask", body):
                if "piece" in line and on_piece is not None:
                    on_piece(line["piece"])
                elif "error" in line:
                    raise _error(line)
                elif "answer" in line:
                    answer = line["answer"]
                    self._wait_for_feeds(int(line.get("seq", 0)))
        if answer is None:
            raise errors.ServiceUnavailable(
                f"The service of {self.path} stopped answering in the middle of ask()."
            )
        return answer_from_payload(answer)

    def draft_task(
        self, sentence: str, *, today: dt.date | None = None, use_model: bool = True
    ) -> TaskDraft:
        """A task read from `sentence` (nothing written until `draft.create()`)."""
        body = {"sentence": sentence, "today": today.isoformat() if today else None}
        answer = self._request(f"{PREFIX}/ai/draft_task", {**body, "use_model": use_model})
        return TaskDraft.from_payload(answer["result"], kb=self)

    def draft_query(
        self,
        question: str,
        *,
        mode: str = "find",
        today: dt.date | None = None,
        use_model: bool = True,
    ) -> QueryDraft:
        """A checked, read-only query from `question` (not run until `run()`/`live()`)."""
        body = {"question": question, "mode": mode, "today": today.isoformat() if today else None}
        answer = self._request(f"{PREFIX}/ai/draft_query", {**body, "use_model": use_model})
        return QueryDraft.from_payload(answer["result"], kb=self)

    def ai_status(self, *, check: bool = False) -> dict[str, Any]:
        """The service's model: backend, state, and why it is unavailable if it is."""
        route = f"{PREFIX}/ai/status" + ("?check=1" if check else "")
        connection = self._http()
        try:
            connection.request("GET", route, headers=self._headers())
            response = connection.getresponse()
            data = json.loads(response.read() or b"{}")
        finally:
            connection.close()
        if response.status >= 400:
            raise _error(data)
        result: dict[str, Any] = data["result"]
        return result

    @contextmanager
    def _cancelling(self, ask_id: str, cancel: CancelToken | None) -> Iterator[None]:
        """While inside, a `cancel()` of the token asks the service to stop `ask_id`."""
        if cancel is None:
            yield
            return
        done = threading.Event()

        def watch() -> None:
            # Poll both: the token has no callback, and the watcher must end with the answer.
            # Until the service has registered the ask, the cancel finds nothing: repeat.
            while not done.is_set():
                if (
                    cancel.wait(0.05)
                    and self._request(f"{PREFIX}/ai/cancel", {"ask_id": ask_id})["result"]
                ):
                    return
                if cancel.cancelled:
                    done.wait(0.05)

        watcher = threading.Thread(target=watch, name="nodespace-ask-cancel", daemon=True)
        watcher.start()
        try:
            yield
        finally:
            done.set()
            watcher.join()

    # -- transport ------------------------------------------------------------

    def _http(self) -> http.client.HTTPConnection:
        parts = urllib.parse.urlsplit(self.info.url)
        # Answers can take minutes on a slow model: no socket time-out while streaming.
        return http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port or 80)

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"token {self.info.token}", "Content-Type": "application/json"}

    def _stream(self, route: str, body: dict[str, Any]) -> Any:
        connection = self._http()
        try:
            connection.request("POST", route, json.dumps(body), self._headers())
            response = connection.getresponse()
            if response.status >= 400:
                raise _error(json.loads(response.read() or b"{}"))
            while line := response.readline():
                if line.strip():
                    yield json.loads(line)
        except (ConnectionError, http.client.HTTPException) as exc:
            raise errors.ServiceUnavailable(
                f"The service of {self.path} at {self.info.url} does not answer ({exc})."
            ) from None
        finally:
            connection.close()


def _error(answer: dict[str, Any]) -> errors.NodespaceError:
    name = str(answer.get("error", ""))
    kind = getattr(errors, name, None)
    if not (isinstance(kind, type) and issubclass(kind, errors.NodespaceError)):
        kind = errors.ServiceUnavailable
    return kind(str(answer.get("message", "The service failed.")))


def answer_from_payload(payload: dict[str, Any]) -> Answer:
    """An `Answer` rebuilt from the service's JSON."""
    sources = [
        Source(s["number"], s["id"], s["title"], s["kind"], "", s["reason"])
        for s in payload["sources"]
    ]
    citations = [Citation(c["number"], c["id"], c["title"]) for c in payload["citations"]]
    return Answer(
        payload["question"], payload["text"], citations, sources,
        list(payload["invalid_citations"]), payload["chat_id"], payload["model"],
        float(payload["seconds"]), payload["finish_reason"],
    )  # fmt: skip

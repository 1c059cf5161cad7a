"""A backend for any OpenAI-compatible HTTP server (llama-server, Ollama, LM Studio, vLLM).

Standard library only: requests are `urllib`, streams are server-sent events
read line by line, so a cancelled generation closes its connection (which makes
the server stop) between two pieces. The API key is read from the environment
variable named by `ai.openai_api_key_env` at each request and never appears in
a message or a log.
"""

from __future__ import annotations

import json
import math
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Generator, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, cast

from ..errors import ModelUnavailable
from .backend import CancelToken, FinishReason, GenerationOptions, Health, Message, ModelInfo
from .base import LoadedBackend
from .template import StopMatcher

Counts = tuple[int, int, FinishReason]
# The OpenAI API accepts at most four stop sequences; the rest are applied here.
_MAX_SERVER_STOPS = 4
_ERROR_BODY_LIMIT = 300
_FINISH: dict[str, FinishReason] = {"stop": "stop", "length": "length", "eos": "stop"}


class OpenAIBackend(LoadedBackend):
    """A model behind an OpenAI-compatible endpoint (`ai.openai_url`)."""

    name = "openai"

    def __init__(
        self,
        url: str,
        model: str = "",
        *,
        api_key_env: str = "OPENAI_API_KEY",
        timeout_s: float = 120.0,
        context_length: int = 4096,
    ) -> None:
        base = _base_url(url)
        # The lock guards only choosing the model: generations run side by side, as
        # the server allows.
        super().__init__(label=f"The server at {base}", busy_timeout_s=timeout_s)
        self._base = base
        self._model = model
        self._api_key_env = api_key_env
        self._timeout_s = timeout_s
        self._context_length = context_length
        # Servers that reject {"type": "json_schema"} often take llama.cpp's older
        # {"type": "json_object", "schema": ...}; learned on the first refusal.
        self._schema_style = "json_schema"

    @classmethod
    def from_settings(cls, settings: Any) -> OpenAIBackend:
        """Build from the `ai` settings section (openai_url, openai_model, ...)."""
        return cls(
            settings.openai_url,
            settings.openai_model,
            api_key_env=settings.openai_api_key_env,
            timeout_s=settings.timeout_s,
            context_length=settings.context_length,
        )

    def _open(self) -> ModelInfo:
        # Ask the server for its models; the configured one (or its first) is used.
        served = [entry.get("id", "") for entry in self._get("/models").get("data", [])]
        name = self._model or next((model for model in served if model), "")
        if not name:
            raise ModelUnavailable(
                f"The server at {self._base} lists no models; set ai.openai_model."
            )
        self._model = name
        return ModelInfo(
            backend="openai",
            name=name,
            path=self._base,
            context_length=self._context_length,
            details={"served_models": served},
        )

    def _release(self) -> None:
        pass  # nothing is held open between calls: `unload()` forgets the chosen model

    def health(self) -> Health:
        """`GET /models`: proves the server answers, without generating."""
        started = time.perf_counter()
        try:
            self._get("/models")
        except ModelUnavailable as error:
            return Health(False, str(error))
        return Health(True, "ok", time.perf_counter() - started)

    # -- generation ---------------------------------------------------------

    def stream(
        self, prompt: str, options: GenerationOptions, cancel: CancelToken | None = None
    ) -> Generator[str, None, Counts]:
        """`POST /completions` streamed; returns (prompt, completion tokens, reason)."""
        return self._stream("/completions", {"prompt": prompt}, options, cancel)

    def stream_chat(
        self,
        messages: Sequence[Message],
        options: GenerationOptions,
        cancel: CancelToken | None = None,
    ) -> Generator[str, None, Counts]:
        """`POST /chat/completions` streamed (the server applies the chat template)."""
        turns = [{"role": message.role, "content": message.content} for message in messages]
        return self._stream("/chat/completions", {"messages": turns}, options, cancel)

    def _stream(
        self,
        route: str,
        body: dict[str, Any],
        options: GenerationOptions,
        cancel: CancelToken | None,
    ) -> Generator[str, None, Counts]:
        self.load()
        stops = StopMatcher(options.stop)
        counts = [0, 0]
        reason: FinishReason = "length"
        with self._open_stream(route, self._request_body(body, options)) as events:
            for event in events:
                if cancel is not None and cancel.cancelled:
                    return counts[0], counts[1], "cancelled"
                piece, finish = _read_event(event, counts)
                if text := stops.feed(piece):
                    yield text
                if stops.stopped:
                    reason = "stop"
                    break
                if finish:  # read on: the usage chunk comes after the last piece
                    reason = _FINISH.get(finish, "stop")
        if tail := stops.flush():
            yield tail
        return counts[0], counts[1], reason

    def _request_body(self, body: dict[str, Any], options: GenerationOptions) -> dict[str, Any]:
        request = {
            **body,
            "model": self._model,
            "stream": True,
            "stream_options": {"include_usage": True},
            "max_tokens": options.max_tokens,
            "temperature": options.temperature,
            "top_p": options.top_p,
            "seed": options.seed,
        }
        if options.stop:
            request["stop"] = list(options.stop[:_MAX_SERVER_STOPS])
        if options.json_schema is not None:
            request["response_format"] = self._response_format(options.json_schema)
        return request

    def _response_format(self, schema: dict[str, Any]) -> dict[str, Any]:
        from .structured import grammar_schema

        # grammar_schema: llama.cpp-based servers turn the schema into a grammar and
        # crash on some regexes; its rewrite is safe for every server.
        safe = grammar_schema(schema)
        if self._schema_style == "json_object":
            return {"type": "json_object", "schema": safe}
        return {"type": "json_schema", "json_schema": {"name": "output", "schema": safe}}

    @contextmanager
    def _open_stream(self, route: str, body: dict[str, Any]) -> Iterator[Iterator[str]]:
        try:
            response = self._send(route, body)
        except _Refused as refused:
            if "response_format" not in body or not refused.mentions_format():
                raise
            self._schema_style = "json_object"
            body = {**body, "response_format": self._response_format_of(body)}
            response = self._send(route, body)
        try:
            yield self._events(response, route)
        finally:
            # Closing the connection is how a client stops an OpenAI-style server.
            response.close()

    def _response_format_of(self, body: dict[str, Any]) -> dict[str, Any]:
        fmt = body["response_format"]
        schema = fmt.get("json_schema", {}).get("schema", fmt.get("schema", {}))
        return {"type": "json_object", "schema": schema}

    def _events(self, response: Any, route: str) -> Iterator[str]:
        data: list[str] = []
        try:
            for raw in response:
                line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
                if line.startswith("data:"):
                    data.append(line[5:].strip())
                elif not line and data:
                    event, data = "\n".join(data), []
                    if event == "[DONE]":
                        return
                    yield event
        except OSError as error:  # TimeoutError included
            raise self._unreachable(route, error) from error
        if data and data != ["[DONE]"]:
            yield "\n".join(data)

    # -- embeddings and scoring --------------------------------------------

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """`POST /embeddings`, L2-normalised; `ModelUnavailable` if the server has none."""
        self.load()
        answer = self._post("/embeddings", {"model": self._model, "input": list(texts)})
        rows = sorted(answer.get("data", []), key=lambda row: row.get("index", 0))
        vectors = [_normalised(_pooled(row["embedding"])) for row in rows]
        if len(vectors) != len(texts):
            raise ModelUnavailable(
                f"The server at {self._base} returned {len(vectors)} embeddings for "
                f"{len(texts)} texts; check that model {self._model!r} is an embedding model."
            )
        return vectors

    def perplexity(self, text: str) -> float:
        """From the log-probabilities of the prompt's tokens (`echo`), if the server gives them."""
        self.load()
        # max_tokens 1, not 0: llama-cpp-python reads 0 as "until the context is full".
        body = {"model": self._model, "prompt": text, "max_tokens": 1, "temperature": 0.0}
        answer = self._post("/completions", {**body, "echo": True, "logprobs": 0})
        scores = _prompt_logprobs((answer.get("choices") or [{}])[0].get("logprobs"), len(text))
        if not scores:
            raise ModelUnavailable(
                f"The server at {self._base} does not return prompt log-probabilities, so it "
                "cannot score text; use the llamacpp backend for perplexity."
            )
        return math.exp(-sum(scores) / len(scores))

    # -- HTTP ---------------------------------------------------------------

    def _get(self, route: str) -> dict[str, Any]:
        return self._json(self._send(route, None), route)

    def _post(self, route: str, body: dict[str, Any]) -> dict[str, Any]:
        return self._json(self._send(route, body), route)

    def _json(self, response: Any, route: str) -> dict[str, Any]:
        with response:
            try:
                return cast(dict[str, Any], json.loads(response.read()))
            except (ValueError, OSError) as error:
                raise ModelUnavailable(
                    f"The server at {self._base} answered {route} with something that is "
                    f"not JSON ({error}); check that ai.openai_url is an OpenAI-compatible API."
                ) from error

    def _send(self, route: str, body: dict[str, Any] | None) -> Any:
        request = urllib.request.Request(
            self._base + route,
            data=None if body is None else json.dumps(body).encode("utf-8"),
            headers=self._headers(),
            method="GET" if body is None else "POST",
        )
        try:
            return urllib.request.urlopen(request, timeout=self._timeout_s)
        except urllib.error.HTTPError as error:
            raise self._refusal(route, error) from None
        except (urllib.error.URLError, TimeoutError, OSError) as error:
            raise self._unreachable(route, error) from None

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        key = os.environ.get(self._api_key_env, "") if self._api_key_env else ""
        if key:
            headers["Authorization"] = f"Bearer {key}"
        return headers

    def _refusal(self, route: str, error: urllib.error.HTTPError) -> _Refused:
        detail = _error_text(error)
        hint = "check ai.openai_model and the server's log"
        if error.code in (401, 403):
            hint = f"set the API key in the environment variable {self._api_key_env!r}"
        elif error.code == 404:
            hint = "check ai.openai_url (it usually ends in /v1) and ai.openai_model"
        return _Refused(
            f"The server at {self._base} answered {error.code} to {route}: {detail}; {hint}.",
            detail,
        )

    def _unreachable(self, route: str, error: BaseException) -> ModelUnavailable:
        reason = getattr(error, "reason", error)
        if isinstance(reason, TimeoutError):
            return ModelUnavailable(
                f"The server at {self._base} did not answer {route} within "
                f"{self._timeout_s:g} s; raise ai.timeout_s or check the server."
            )
        return ModelUnavailable(
            f"No OpenAI-compatible server answers at {self._base} ({reason}); start it, or "
            "fix the ai.openai_url setting."
        )


class _Refused(ModelUnavailable):
    """The server answered with an HTTP error (kept apart so a schema refusal is retried)."""

    def __init__(self, message: str, body: str) -> None:
        super().__init__(message)
        self.body = body

    def mentions_format(self) -> bool:
        return "response_format" in self.body or "json_schema" in self.body


def _base_url(url: str) -> str:
    if not url.strip():
        raise ModelUnavailable(
            "Backend 'openai' needs a server: set ai.openai_url, e.g. http://127.0.0.1:8080/v1."
        )
    parts = urllib.parse.urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ModelUnavailable(
            f"ai.openai_url {url!r} is not an http(s) URL; use e.g. http://127.0.0.1:8080/v1."
        )
    path = parts.path.rstrip("/") or "/v1"
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def _error_text(error: urllib.error.HTTPError) -> str:
    try:
        raw = error.read().decode("utf-8", errors="replace")
    except OSError:
        return error.reason if isinstance(error.reason, str) else str(error)
    try:
        message = json.loads(raw).get("error", {})
        text = message.get("message", raw) if isinstance(message, dict) else str(message)
    except (ValueError, AttributeError):
        text = raw
    text = " ".join(text.split())
    return text if len(text) <= _ERROR_BODY_LIMIT else text[:_ERROR_BODY_LIMIT] + "..."


def _read_event(event: str, counts: list[int]) -> tuple[str, str | None]:
    """The text and finish reason of one streamed chunk; token counts go into `counts`."""
    try:
        chunk = json.loads(event)
    except ValueError:
        return "", None
    usage = chunk.get("usage") or {}
    if usage:
        counts[0] = int(usage.get("prompt_tokens", counts[0]))
        counts[1] = int(usage.get("completion_tokens", counts[1]))
    choice = (chunk.get("choices") or [{}])[0]
    text = choice.get("text")
    if text is None:
        text = (choice.get("delta") or {}).get("content") or ""
    if text and not usage:
        counts[1] += 1  # one chunk per token on the servers we know; usage, if sent, wins
    return text, choice.get("finish_reason")


def _prompt_logprobs(logprobs: Any, prompt_chars: int) -> list[float]:
    """Log-probabilities of the echoed prompt's tokens (the first has none)."""
    if not isinstance(logprobs, dict):
        return []
    values = logprobs.get("token_logprobs") or []
    offsets = logprobs.get("text_offset") or []
    if len(offsets) != len(values):
        return []
    return [
        float(value)
        for value, offset in zip(values, offsets, strict=True)
        if value is not None and offset < prompt_chars
    ]


def _pooled(embedding: list[Any]) -> list[float]:
    # llama-cpp-python's server returns one vector per token for a model without
    # pooling (a chat model): their mean stands for the text.
    if embedding and isinstance(embedding[0], list):
        return [sum(column) / len(embedding) for column in zip(*embedding, strict=True)]
    return [float(value) for value in embedding]


def _normalised(vector: list[float]) -> list[float]:
    norm = math.sqrt(sum(value * value for value in vector)) or 1.0
    return [value / norm for value in vector]

"""The model backend interface, and the registry that names the implementations.

Every backend (llama.cpp, MLX, an OpenAI-compatible endpoint, or a plugin's)
implements `Backend` and registers a factory under its name with
`register_backend`; `create_backend` picks one from the `ai` settings at run
time. Backends import their heavy libraries inside `load()`, never at module
import, so `import nodespace_lab` stays fast.
"""

from __future__ import annotations

import platform
import sys
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal, cast

from .._registry import Registry
from ..errors import ModelUnavailable, ValidationError

Role = Literal["system", "user", "assistant"]
FinishReason = Literal["stop", "length", "cancelled"]


@dataclass(frozen=True, slots=True)
class Message:
    """One turn of a chat."""

    role: Role
    content: str


@dataclass(frozen=True, slots=True)
class GenerationOptions:
    """How to sample: greedy (temperature 0) and seeded by default, so runs repeat."""

    max_tokens: int = 256
    temperature: float = 0.0
    top_p: float = 1.0
    stop: tuple[str, ...] = ()
    seed: int = 0
    # A JSON schema the output must satisfy (grammar-constrained where the backend can).
    json_schema: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Generation:
    """A finished generation and what it cost."""

    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: FinishReason
    seconds: float
    first_token_seconds: float | None = None


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """What a loaded model is."""

    backend: str
    name: str
    path: str
    context_length: int
    embedding_dim: int | None = None
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Health:
    """The answer of a health check: ok, or why not."""

    ok: bool
    detail: str
    latency_s: float | None = None


class CancelToken:
    """Set from any thread to stop a generation at the next token."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        """Ask the generation to stop."""
        self._event.set()

    @property
    def cancelled(self) -> bool:
        """True once `cancel()` was called."""
        return self._event.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until `cancel()` is called or `timeout` passes; True when cancelled."""
        return self._event.wait(timeout)


class Backend(ABC):
    """A loaded (or loadable) model. Not thread-safe: callers serialise calls."""

    name: str = ""

    @abstractmethod
    def load(self) -> ModelInfo:
        """Load the model (idempotent); raise `ModelUnavailable` saying why it cannot."""

    @abstractmethod
    def stream(
        self, prompt: str, options: GenerationOptions, cancel: CancelToken | None = None
    ) -> Iterator[str]:
        """Complete `prompt` token by token (text pieces); stops at a stop string."""

    @abstractmethod
    def stream_chat(
        self,
        messages: Sequence[Message],
        options: GenerationOptions,
        cancel: CancelToken | None = None,
    ) -> Iterator[str]:
        """Answer `messages` formatted with the model's chat template, piece by piece."""

    @abstractmethod
    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One vector per text (L2-normalised); `ModelUnavailable` if not supported."""

    @abstractmethod
    def perplexity(self, text: str) -> float:
        """Perplexity of `text` under the model (checks that a conversion is faithful)."""

    @abstractmethod
    def unload(self) -> None:
        """Free the model's memory; `load()` brings it back."""

    @property
    @abstractmethod
    def info(self) -> ModelInfo | None:
        """The loaded model, or None before `load()`."""

    def generate(
        self, prompt: str, options: GenerationOptions, cancel: CancelToken | None = None
    ) -> Generation:
        """Complete `prompt` in one piece (timed)."""
        return collect(self.stream(prompt, options, cancel), cancel)

    def chat(
        self,
        messages: Sequence[Message],
        options: GenerationOptions,
        cancel: CancelToken | None = None,
    ) -> Generation:
        """Answer `messages` in one piece (timed)."""
        return collect(self.stream_chat(messages, options, cancel), cancel)

    def health(self) -> Health:
        """Generate one token to prove the model answers."""
        import time

        started = time.perf_counter()
        try:
            self.load()
            self.generate("Hello", GenerationOptions(max_tokens=1))
        except Exception as error:  # any failure is the answer
            return Health(False, f"{type(error).__name__}: {error}")
        return Health(True, "ok", time.perf_counter() - started)


@contextmanager
def held(lock: threading.Lock, timeout_s: float, model: str) -> Iterator[None]:
    """Hold a loaded model's lock (one call at a time), or raise `ModelUnavailable`
    once `timeout_s` passed waiting for the call before."""
    if not lock.acquire(timeout=timeout_s):
        raise ModelUnavailable(
            f"{model} is still busy with another call after {timeout_s:g} s; cancel it or "
            "wait (ai.timeout_s sets this wait)."
        )
    try:
        yield
    finally:
        lock.release()


def collect(pieces: Iterator[str], cancel: CancelToken | None = None) -> Generation:
    """Join a stream into a `Generation`, timing the first piece and the whole.

    Backends that know token counts return them from their stream as the
    generator's return value `(prompt_tokens, completion_tokens, finish_reason)`.
    """
    import time

    started = time.perf_counter()
    first: float | None = None
    parts: list[str] = []
    while True:
        try:
            piece = next(pieces)
        except StopIteration as done:
            counts = done.value
            break
        if first is None:
            first = time.perf_counter() - started
        parts.append(piece)
    prompt_tokens, completion_tokens, returned = counts if counts else (0, len(parts), "stop")
    reason = cast(FinishReason, returned)
    if cancel is not None and cancel.cancelled:
        reason = "cancelled"
    elapsed = time.perf_counter() - started
    return Generation("".join(parts), prompt_tokens, completion_tokens, reason, elapsed, first)


# -- registry ---------------------------------------------------------------

BackendFactory = Callable[[Any], Backend]
"""Builds a backend from the `ai` settings section (`AISettings`)."""


@dataclass(frozen=True, slots=True)
class _Registration:
    factory: BackendFactory
    installed: Callable[[], bool]
    summary: str


#: The backends by name: the built-ins (the default plugin's) and plugins' (filled on first read).
_BACKENDS: Registry[_Registration] = Registry("model backend")


def register_backend(
    name: str,
    factory: BackendFactory,
    *,
    installed: Callable[[], bool] = lambda: True,
    summary: str = "",
) -> None:
    """Make a backend available under `name` (built-ins and plugins alike)."""
    if not name.isidentifier():
        raise ValidationError(f"Backend name {name!r} must be an identifier, e.g. 'llamacpp'.")
    _BACKENDS[name] = _Registration(factory, installed, summary)


def backend_names() -> list[str]:
    """Names of the registered backends."""
    return sorted(_BACKENDS)


def create_backend(settings: Any, name: str | None = None) -> Backend:
    """The backend `name` (default: the `ai.backend` setting, 'auto' resolved)."""
    chosen = resolve_backend_name(name or settings.backend)
    registration = _BACKENDS.get(chosen)
    if registration is None:
        known = ", ".join(sorted(_BACKENDS))
        raise ValidationError(f"AI backend {chosen!r} is not registered; choose one of {known}.")
    if not registration.installed():
        raise ModelUnavailable(
            f"AI backend {chosen!r} is not installed here; install the extra "
            f"(pip install 'nodespace-lab[{'mlx' if chosen == 'mlx' else 'ai'}]') or choose "
            "another backend with the ai.backend setting."
        )
    return registration.factory(settings)


def resolve_backend_name(name: str) -> str:
    """'auto' means MLX on Apple Silicon when mlx-lm is installed, llama.cpp elsewhere."""
    if name != "auto":
        return name
    mlx = _BACKENDS.get("mlx")
    apple_silicon = sys.platform == "darwin" and platform.machine() == "arm64"
    if apple_silicon and mlx is not None and mlx.installed():
        return "mlx"
    return "llamacpp"

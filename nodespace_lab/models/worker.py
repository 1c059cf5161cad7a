"""Run a model backend in its own process, so a crash or a hang cannot take the
knowledge base down.

`ModelWorker` has the `Backend` interface. Each call goes over a pipe to a child
process that owns the model, with a time limit (`ai.timeout_s`): a call past it,
or a child that dies, stops the child and a fresh one loads the model again in
the background. A cancelled call is stopped inside the child at the next token.
After `ai.failure_threshold` failures in a row the circuit breaker refuses calls
for `ai.cooldown_s`, saying why, instead of reloading a model that keeps failing;
everything that needs no model keeps working meanwhile.
"""

from __future__ import annotations

import contextlib
import itertools
import multiprocessing
import threading
import time
from collections.abc import Generator, Iterator, Sequence
from dataclasses import asdict
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

from ..errors import ModelUnavailable, NodespaceError, ValidationError
from .backend import (
    Backend,
    CancelToken,
    GenerationOptions,
    Health,
    Message,
    ModelInfo,
)

_POLL_S = 0.05
_CANCEL_GRACE_S = 5.0


class CircuitBreaker:
    """Counts failures in a row; past the threshold, refuses calls for a cool-down."""

    def __init__(self, threshold: int, cooldown_s: float) -> None:
        self.threshold = threshold
        self.cooldown_s = cooldown_s
        self.failures = 0
        self.last_error = ""
        self.open_until = 0.0

    def check(self) -> None:
        """Raise `ModelUnavailable` while open; after the cool-down one trial call passes."""
        wait = self.open_until - time.monotonic()
        if wait > 0:
            raise ModelUnavailable(
                f"AI calls are paused for {wait:.0f} s more after {self.failures} failures in "
                f"a row (last: {self.last_error}). Text search and every other feature keep "
                "working; check the model settings (ai.model_path, ai.backend) meanwhile."
            )

    def succeeded(self) -> None:
        """A call worked: close the circuit."""
        self.failures, self.open_until = 0, 0.0

    def failed(self, error: str) -> None:
        """A call failed: open the circuit once failures reach the threshold."""
        self.failures += 1
        self.last_error = error
        if self.failures >= self.threshold:
            self.open_until = time.monotonic() + self.cooldown_s

    @property
    def is_open(self) -> bool:
        """True while calls are refused."""
        return self.open_until > time.monotonic()


class ModelWorker(Backend):
    """A backend that runs in a child process, restarted when it crashes or hangs."""

    name = "worker"

    def __init__(self, settings: Any, backend: str | None = None) -> None:
        self.settings = settings
        self.backend_name = backend
        self.breaker = CircuitBreaker(settings.failure_threshold, settings.cooldown_s)
        self.restarts = 0  # model processes started to replace one that died or hung
        self.last_recovery_s: float | None = None  # from that failure to the model answering
        self._failed_at: float | None = None
        self._info: ModelInfo | None = None
        self._process: BaseProcess | None = None
        self._conn: Connection | None = None
        self._lock = threading.RLock()  # one call at a time: the model is not thread-safe
        self._ids = itertools.count(1)

    # -- Backend ---------------------------------------------------------------

    def load(self) -> ModelInfo:
        """Start the child and load the model (waits up to `ai.load_timeout_s`)."""
        self.breaker.check()
        with self._lock:
            return self._ready()

    @property
    def info(self) -> ModelInfo | None:
        """The loaded model, or None while no child runs."""
        return self._info

    def stream(
        self, prompt: str, options: GenerationOptions, cancel: CancelToken | None = None
    ) -> Iterator[str]:
        """Complete `prompt` in the child, piece by piece."""
        return self._generate("prompt", prompt, options, cancel)

    def stream_chat(
        self,
        messages: Sequence[Message],
        options: GenerationOptions,
        cancel: CancelToken | None = None,
    ) -> Iterator[str]:
        """Answer `messages` in the child, piece by piece."""
        return self._generate("chat", [asdict(m) for m in messages], options, cancel)

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """Vectors from the child's model (if it is an embedding model)."""
        result: list[list[float]] = self._call("embed", list(texts))
        return result

    def perplexity(self, text: str) -> float:
        """Perplexity of `text` under the child's model."""
        return float(self._call("perplexity", text))

    def health(self) -> Health:
        """Whether a one-token generation answers now (never raises)."""
        started = time.perf_counter()
        try:
            self.generate("Hello", GenerationOptions(max_tokens=1))
        except NodespaceError as error:
            return Health(False, str(error))
        return Health(True, f"{self.describe()}", time.perf_counter() - started)

    def unload(self) -> None:
        """Stop the child (the next call starts a new one)."""
        with self._lock:
            self._stop_child()

    close = unload

    # -- state -----------------------------------------------------------------

    @property
    def pid(self) -> int | None:
        """The child's process id while it runs."""
        process = self._process
        return process.pid if process is not None and process.is_alive() else None

    def describe(self) -> str:
        """One line: which model, and in which state."""
        if self.breaker.is_open:
            return f"paused after repeated failures (last: {self.breaker.last_error})"
        if self._info is None:
            return "not loaded"
        return f"{self._info.backend}: {self._info.name} (pid {self.pid})"

    # -- calls -----------------------------------------------------------------

    def _generate(
        self,
        kind: str,
        payload: object,
        options: GenerationOptions,
        cancel: CancelToken | None,
    ) -> Generator[str, None, Any]:
        self.breaker.check()
        with self._lock:
            conn = self._connection()
            call = next(self._ids)
            conn.send(("generate", call, kind, payload, asdict(options)))
            counts = yield from self._receive(conn, call, cancel)
            return counts

    def _call(self, method: str, argument: object) -> Any:
        self.breaker.check()
        with self._lock:
            conn = self._connection()
            call = next(self._ids)
            conn.send(("call", call, method, argument))
            pieces = self._receive(conn, call, None)
            while True:
                try:
                    next(pieces)
                except StopIteration as done:
                    return done.value

    def _receive(
        self, conn: Connection, call: int, cancel: CancelToken | None
    ) -> Generator[str, None, Any]:
        deadline = time.monotonic() + self.settings.timeout_s
        asked_to_cancel = False
        try:
            while True:
                if cancel is not None and cancel.cancelled and not asked_to_cancel:
                    conn.send(("cancel", call))
                    asked_to_cancel = True
                message = self._next_message(conn, deadline)
                if message is None:
                    continue
                tag, _, body = message[0], message[1], message[2:]
                if tag == "piece":
                    yield body[0]
                elif tag == "done":
                    self.breaker.succeeded()
                    return body[0]
                elif tag == "error":
                    raise self._error(body[0], body[1])
        except GeneratorExit:
            self._abandon(conn, call)
            raise

    def _next_message(self, conn: Connection, deadline: float) -> tuple[Any, ...] | None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            self._fail(
                f"the model did not finish within ai.timeout_s = {self.settings.timeout_s:g} s; "
                "it was stopped and is reloading (raise ai.timeout_s for long answers)"
            )
        try:
            if not conn.poll(min(remaining, _POLL_S)):
                if self._process is None or not self._process.is_alive():
                    self._crashed()
                return None
            message: tuple[Any, ...] = conn.recv()
        except (EOFError, OSError):
            self._crashed()
        return message

    def _abandon(self, conn: Connection, call: int) -> None:
        """The caller stopped reading: cancel in the child and wait for it to finish."""
        try:
            conn.send(("cancel", call))
            deadline = time.monotonic() + _CANCEL_GRACE_S
            while time.monotonic() < deadline:
                if conn.poll(_POLL_S) and conn.recv()[0] in ("done", "error"):
                    return
            self._stop_child()
        except (EOFError, OSError):
            self._stop_child()

    def _crashed(self) -> None:
        code = self._process.exitcode if self._process is not None else None
        self._fail(f"the model process died (exit code {code}); it is being restarted")

    def _fail(self, reason: str) -> None:
        self._failed_at = time.monotonic()
        self._stop_child()
        self.breaker.failed(reason)
        self._restart_in_background()
        raise ModelUnavailable(f"The AI call failed: {reason}.")

    def _error(self, kind: str, message: str) -> NodespaceError:
        if kind == "ValidationError":
            return ValidationError(message)  # the caller's mistake: not the model's failure
        self.breaker.failed(f"{kind}: {message}")
        return ModelUnavailable(message if kind == "ModelUnavailable" else f"{kind}: {message}")

    # -- the child process -------------------------------------------------------

    def _connection(self) -> Connection:
        self._ready()
        assert self._conn is not None
        return self._conn

    def _ready(self) -> ModelInfo:
        if self._process is not None and self._process.is_alive() and self._info is not None:
            return self._info
        return self._start_child()

    def _start_child(self) -> ModelInfo:
        self._stop_child()
        context = multiprocessing.get_context("spawn")  # no fork of a threaded server
        parent, child = context.Pipe()
        values = {k: v for k, v in self.settings.param.values().items() if k != "name"}
        process = context.Process(
            target=_child_main, args=(child, values, self.backend_name), daemon=True
        )
        process.start()
        child.close()
        self._process, self._conn = process, parent
        try:
            message = self._wait_loaded(parent, process)
        except ModelUnavailable as error:
            self._stop_child()
            self.breaker.failed(str(error))
            raise
        self._info = ModelInfo(**message)
        if self._failed_at is not None:
            self.restarts += 1
            self.last_recovery_s = time.monotonic() - self._failed_at
            self._failed_at = None
        return self._info

    def _wait_loaded(self, conn: Connection, process: BaseProcess) -> dict[str, Any]:
        deadline = time.monotonic() + self.settings.load_timeout_s
        while time.monotonic() < deadline:
            if conn.poll(_POLL_S):
                try:
                    tag, _, *body = conn.recv()
                except (EOFError, OSError):
                    break
                if tag == "ready":
                    loaded: dict[str, Any] = body[0]
                    return loaded
                kind, message = body
                raise ModelUnavailable(
                    message if kind == "ModelUnavailable" else f"{kind}: {message}"
                )
            if not process.is_alive():
                break
        code = process.exitcode
        raise ModelUnavailable(
            f"The model process exited (code {code}) while loading the model, or took longer "
            f"than ai.load_timeout_s = {self.settings.load_timeout_s:g} s; check ai.model_path."
        )

    def _stop_child(self) -> None:
        process, conn = self._process, self._conn
        self._process, self._conn, self._info = None, None, None
        if conn is not None:
            with contextlib.suppress(OSError, ValueError):
                conn.send(("stop", 0))
            conn.close()
        if process is not None:
            process.join(timeout=1)
            if process.is_alive():
                process.kill()
                process.join(timeout=5)

    def _restart_in_background(self) -> None:
        """Load a fresh child now, so the next call finds the model ready."""
        if self.breaker.is_open:
            return  # wait for the cool-down; the next call retries

        def restart() -> None:
            # A call arriving meanwhile waits for the model; a failure here is reported
            # by the next call, which tries again.
            with self._lock, contextlib.suppress(ModelUnavailable):
                self._ready()

        threading.Thread(target=restart, name="nodespace-model-restart", daemon=True).start()


# -- in the child ------------------------------------------------------------------


def _child_main(conn: Connection, values: dict[str, Any], backend_name: str | None) -> None:
    """The child: load the model, then answer calls until told to stop."""
    from ..config.sections import AISettings
    from .backend import create_backend

    _quiet_native_logs()
    try:
        backend = create_backend(AISettings(**values), backend_name)  # type: ignore[no-untyped-call]  # param is unannotated
        info = backend.load()
    except Exception as error:  # reported to the parent, which raises ModelUnavailable
        conn.send(("error", 0, type(error).__name__, str(error)))
        return
    conn.send(("ready", 0, asdict(info)))
    _ChildLoop(conn, backend).run()


def _quiet_native_logs() -> None:
    """Send the child's stderr to /dev/null: llama.cpp prints notices there on every
    context (they would land in notebook outputs). Errors reach the parent through
    the pipe, and a crash through the exit code."""
    import os

    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    os.close(devnull)


class _ChildLoop:
    """Reads the pipe on the main thread (so a cancel arrives mid-generation); runs
    each call on one worker thread."""

    def __init__(self, conn: Connection, backend: Backend) -> None:
        self.conn = conn
        self.backend = backend
        self.send_lock = threading.Lock()
        self.cancels: dict[int, CancelToken] = {}
        self.busy: threading.Thread | None = None

    def run(self) -> None:
        while True:
            try:
                message = self.conn.recv()
            except (EOFError, OSError):
                return  # the parent went away
            tag, call = message[0], message[1]
            if tag == "stop":
                return
            if tag == "cancel":
                token = self.cancels.get(call)
                if token is not None:
                    token.cancel()
                continue
            if self.busy is not None:
                self.busy.join()
            token = self.cancels[call] = CancelToken()
            self.busy = threading.Thread(target=self.serve, args=(message, token), daemon=True)
            self.busy.start()

    def serve(self, message: tuple[Any, ...], token: CancelToken) -> None:
        call = message[1]
        try:
            result = self.answer(message, token)
            self.send(("done", call, result))
        except Exception as error:
            self.send(("error", call, type(error).__name__, str(error)))
        finally:
            self.cancels.pop(call, None)

    def answer(self, message: tuple[Any, ...], token: CancelToken) -> object:
        tag, call = message[0], message[1]
        if tag == "call":
            method, argument = message[2], message[3]
            return getattr(self.backend, method)(argument)
        kind, payload, options = message[2], message[3], GenerationOptions(**message[4])
        if kind == "chat":
            pieces = self.backend.stream_chat([Message(**m) for m in payload], options, token)
        else:
            pieces = self.backend.stream(payload, options, token)
        while True:
            try:
                piece = next(pieces)
            except StopIteration as done:
                counts = done.value
                if token.cancelled and counts:
                    counts = (counts[0], counts[1], "cancelled")
                return counts
            self.send(("piece", call, piece))

    def send(self, message: tuple[Any, ...]) -> None:
        # Errors mean the parent is gone or stopped us: nothing left to tell it.
        with self.send_lock, contextlib.suppress(OSError, ValueError):
            self.conn.send(message)

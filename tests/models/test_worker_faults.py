"""The model runs in its own process: each fault is injected for real and the
knowledge base's process survives it (the real packaged Gemma through llama.cpp)."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from nodespace_lab.config.sections import AISettings
from nodespace_lab.errors import ModelUnavailable
from nodespace_lab.models.backend import CancelToken, GenerationOptions
from nodespace_lab.models.files import default_gguf
from nodespace_lab.models.worker import ModelWorker

LONG = GenerationOptions(max_tokens=400)


def ai_settings(**values: Any) -> AISettings:
    """AI settings for a test: the packaged model unless `model_path` is given."""
    base: dict[str, Any] = {"timeout_s": 60.0, "load_timeout_s": 60.0, "cooldown_s": 30.0}
    return AISettings(**{**base, **values})  # type: ignore[no-untyped-call]


@pytest.fixture
def worker() -> Iterator[ModelWorker]:
    running = ModelWorker(ai_settings())
    yield running
    running.close()


def _pid_gone(pid: int, timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


def test_a_missing_model_file_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "model.gguf"
    worker = ModelWorker(ai_settings(model_path=str(missing)))
    with pytest.raises(ModelUnavailable, match=str(missing)):
        worker.load()
    assert worker.pid is None


def test_a_corrupt_model_file_fails_in_the_child_only(tmp_path: Path) -> None:
    corrupt = tmp_path / "corrupt.gguf"
    corrupt.write_bytes(default_gguf().read_bytes()[: 4 * 1024 * 1024])  # GGUF header, cut short
    worker = ModelWorker(ai_settings(model_path=str(corrupt)))
    with pytest.raises(ModelUnavailable) as failure:
        worker.load()
    assert "corrupt.gguf" in str(failure.value) or "exited" in str(failure.value)
    assert worker.pid is None  # and this process is still here to say so


def test_a_worker_killed_mid_generation_is_replaced(worker: ModelWorker) -> None:
    worker.load()
    pid = worker.pid
    assert pid is not None
    pieces = worker.stream("Once upon a time", LONG)
    next(pieces)
    killed_at = time.monotonic()
    os.kill(pid, signal.SIGKILL)
    with pytest.raises(ModelUnavailable, match="died"):
        for _ in pieces:
            pass
    after = worker.generate("The capital of France is", GenerationOptions(max_tokens=4))
    recovered_s = time.monotonic() - killed_at
    assert after.completion_tokens >= 1
    assert worker.pid not in (None, pid)
    assert recovered_s < 30, f"recovery took {recovered_s:.1f} s"
    assert worker.restarts >= 1 and worker.last_recovery_s is not None


def test_a_hung_worker_is_stopped_at_the_timeout(worker: ModelWorker) -> None:
    worker.settings.timeout_s = 2.0
    worker.load()
    pid = worker.pid
    assert pid is not None
    pieces = worker.stream("Once upon a time", LONG)
    next(pieces)
    os.kill(pid, signal.SIGSTOP)  # a real hang: the child stops answering
    started = time.monotonic()
    with pytest.raises(ModelUnavailable, match=r"did not finish within ai\.timeout_s = 2 s"):
        for _ in pieces:
            pass
    assert time.monotonic() - started < 10
    assert _pid_gone(pid), "the hung child must be killed"
    worker.settings.timeout_s = 60.0
    assert worker.generate("Hello", GenerationOptions(max_tokens=2)).completion_tokens >= 1


def test_cancelling_stops_within_a_token_or_two(worker: ModelWorker) -> None:
    cancel = CancelToken()
    pieces = worker.stream("Once upon a time", LONG, cancel)
    received = [next(pieces)]
    threading.Timer(0.2, cancel.cancel).start()
    started = time.monotonic()
    while True:
        try:
            received.append(next(pieces))
        except StopIteration as done:
            counts = done.value
            break
    assert counts[2] == "cancelled"
    assert counts[1] < LONG.max_tokens
    assert time.monotonic() - started < 5
    # Walking away from a stream cancels it too; the worker stays usable.
    abandoned = worker.stream("Once upon a time", LONG)
    next(abandoned)
    abandoned.close()
    assert worker.generate("Hello", GenerationOptions(max_tokens=2)).completion_tokens >= 1


def test_the_circuit_breaker_pauses_a_failing_model(tmp_path: Path) -> None:
    missing = tmp_path / "gone.gguf"
    worker = ModelWorker(ai_settings(model_path=str(missing), failure_threshold=2, cooldown_s=1))
    for _ in range(2):
        with pytest.raises(ModelUnavailable, match=r"gone\.gguf"):
            worker.load()
    started = time.monotonic()
    with pytest.raises(ModelUnavailable, match=r"paused .* after 2 failures in a row"):
        worker.load()
    assert time.monotonic() - started < 0.5  # refused at once, no new child
    assert not worker.health().ok and "paused" in worker.describe()
    time.sleep(1.1)
    with pytest.raises(ModelUnavailable, match=r"gone\.gguf"):  # half-open: one real try
        worker.load()

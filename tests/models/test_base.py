"""The loading plumbing every in-process backend shares (`LoadedBackend`): one open per
load, one lock per model, a bounded wait naming the model, unload and load again.

`Counting` is a real (if trivial) backend on the base class: the tests check the
base's bookkeeping, which the llama.cpp, MLX and OpenAI tests then rely on.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence

import pytest

from nodespace_lab.errors import ModelUnavailable
from nodespace_lab.models.backend import CancelToken, GenerationOptions, Message, ModelInfo
from nodespace_lab.models.base import LoadedBackend
from nodespace_lab.models.llamacpp import LlamaCppBackend
from nodespace_lab.models.mlx import MlxBackend
from nodespace_lab.models.openai_http import OpenAIBackend


class Counting(LoadedBackend):
    """Counts opens and releases; `hold` keeps the lock for a while, as a generation does."""

    name = "counting"

    def __init__(self, busy_timeout_s: float = 5.0, open_s: float = 0.0) -> None:
        super().__init__(label="Model 'counting'", busy_timeout_s=busy_timeout_s)
        self.opens = 0
        self.releases = 0
        self.open_s = open_s
        self.handle: object | None = None

    def _open(self) -> ModelInfo:
        time.sleep(self.open_s)  # a slow load: concurrent first calls must still open once
        self.opens += 1
        self.handle = object()
        return ModelInfo("counting", f"model-{self.opens}", "", 16)

    def _release(self) -> None:
        self.releases += 1
        self.handle = None

    def hold(self, seconds: float) -> None:
        with self._locked():
            self._ensure_loaded()
            time.sleep(seconds)

    def stream(
        self, prompt: str, options: GenerationOptions, cancel: CancelToken | None = None
    ) -> Iterator[str]:
        with self._locked():
            self._ensure_loaded()
            yield prompt

    def stream_chat(
        self,
        messages: Sequence[Message],
        options: GenerationOptions,
        cancel: CancelToken | None = None,
    ) -> Iterator[str]:
        return self.stream(messages[-1].content, options, cancel)

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        raise ModelUnavailable("not an embedding model")

    def perplexity(self, text: str) -> float:
        raise ModelUnavailable("no scores")


def test_load_opens_once_and_describes_the_model() -> None:
    backend = Counting()
    assert backend.info is None
    first = backend.load()
    assert backend.load() is first and backend.info is first
    assert backend.opens == 1 and first.name == "model-1"


def test_concurrent_first_calls_open_the_model_once() -> None:
    backend = Counting(open_s=0.2)
    threads = [threading.Thread(target=backend.load) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert backend.opens == 1


def test_unload_releases_and_the_next_call_loads_again() -> None:
    backend = Counting()
    backend.load()
    backend.unload()
    assert backend.info is None and backend.handle is None and backend.releases == 1
    assert backend.generate("hi", GenerationOptions()).text == "hi"
    assert backend.opens == 2 and backend.info is not None and backend.info.name == "model-2"


def test_a_call_waits_for_the_one_before_then_names_the_model() -> None:
    backend = Counting(busy_timeout_s=0.2)
    busy = threading.Thread(target=backend.hold, args=(1.0,))
    busy.start()
    time.sleep(0.1)
    started = time.perf_counter()
    with pytest.raises(ModelUnavailable, match=r"Model 'counting' is still busy .* 0\.2 s"):
        backend.generate("hi", GenerationOptions())
    waited = time.perf_counter() - started
    busy.join()
    assert 0.15 < waited < 0.8
    assert backend.generate("hi", GenerationOptions()).text == "hi"  # free again


def test_the_backends_share_the_base_and_name_their_model() -> None:
    llama = LlamaCppBackend("")
    mlx = MlxBackend("/models/x")
    server = OpenAIBackend("http://127.0.0.1:9/v1")
    assert all(isinstance(b, LoadedBackend) for b in (llama, mlx, server))
    assert llama._label == "Model 'Gemma 3 270M'"
    assert mlx._label == "MLX model '/models/x'"
    assert server._label == "The server at http://127.0.0.1:9/v1"
    assert llama.info is None and mlx.info is None and server.info is None

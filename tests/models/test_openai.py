"""The OpenAI-compatible backend against a real server: llama-cpp-python's own
(`python -m llama_cpp.server`) serving the packaged Gemma on loopback, 1 thread."""

from __future__ import annotations

import json
import math
import os
import secrets
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from nodespace_lab.config.sections import AISettings
from nodespace_lab.errors import ModelUnavailable
from nodespace_lab.models.backend import Backend, CancelToken, GenerationOptions, Message, collect
from nodespace_lab.models.openai_http import OpenAIBackend
from nodespace_lab.models.structured import structured, validate
from tests.processes import free_port

# Registered once per session, so the packaged Gemma loads once for all files.
pytest_plugins = ["tests.models.gemma_fixtures"]

KEY_ENV = "NODESPACE_TEST_OPENAI_KEY"
STORY = "Once upon a time, in a small village by the sea, there lived"
GREEDY = GenerationOptions(max_tokens=32)
SCHEMA = {
    "type": "object",
    "properties": {
        "title": {"type": "string", "maxLength": 30},
        "priority": {"type": "integer", "minimum": 1, "maximum": 4},
        "status": {"enum": ["todo", "done"]},
    },
    "required": ["title", "priority", "status"],
    "additionalProperties": False,
}


def _wait_for(url: str, key: str, server: subprocess.Popen[bytes], timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {key}"})
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(f"llama_cpp.server exited with code {server.returncode}")
        try:
            with urllib.request.urlopen(request, timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"llama_cpp.server did not answer at {url} within {timeout:.0f} s")


@pytest.fixture(scope="module")
def server_url(gemma_gguf: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """llama-cpp-python's OpenAI-compatible server with the packaged Gemma, API key set."""
    port, key = free_port(), secrets.token_hex(8)
    command = [
        sys.executable, "-m", "llama_cpp.server", "--model", str(gemma_gguf),
        "--model_alias", "gemma", "--host", "127.0.0.1", "--port", str(port),
        "--n_threads", "1", "--n_threads_batch", "1", "--n_ctx", "1024",
        "--chat_format", "gemma", "--embedding", "True", "--verbose", "False",
        "--api_key", key,
    ]  # fmt: skip
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE"}
    log = (tmp_path_factory.mktemp("openai") / "server.log").open("wb")
    server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    os.environ[KEY_ENV] = key
    try:
        _wait_for(f"{url}/models", key, server)
        yield url
    finally:
        os.environ.pop(KEY_ENV, None)
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


@pytest.fixture
def backend(server_url: str) -> OpenAIBackend:
    settings = AISettings(  # type: ignore[no-untyped-call]  # param is unannotated
        backend="openai", openai_url=server_url, openai_api_key_env=KEY_ENV, timeout_s=60.0
    )
    return OpenAIBackend.from_settings(settings)


def test_load_picks_the_served_model_and_health_is_ok(backend: OpenAIBackend) -> None:
    info = backend.load()
    assert (info.backend, info.name, info.details["served_models"]) == (
        "openai",
        "gemma",
        ["gemma"],
    )
    health = backend.health()
    assert health.ok and health.latency_s is not None


def test_completion_streams_in_pieces(backend: OpenAIBackend) -> None:
    stream = backend.stream(STORY, GREEDY)
    pieces: list[str] = []
    while True:
        try:
            pieces.append(next(stream))
        except StopIteration as done:
            counts = done.value
            break
    assert len(pieces) >= 5 and "".join(pieces).strip()
    assert counts[1:] == (GREEDY.max_tokens, "length")


# This server's greedy output depends on what it cached from earlier requests, so
# the text is pinned with a schema instead: the answer can only be this JSON string.
FORCED = {"enum": ["alpha beta gamma delta"]}
ASK = [Message("user", "Say the words.")]


def test_chat_streams_the_exact_text(backend: OpenAIBackend) -> None:
    options = GenerationOptions(max_tokens=40, json_schema=FORCED)
    pieces = list(backend.stream_chat(ASK, options))
    assert len(pieces) >= 3 and json.loads("".join(pieces)) == "alpha beta gamma delta"
    assert backend.chat(ASK, options).finish_reason == "stop"


def test_a_stop_string_ends_the_text_before_it(backend: OpenAIBackend) -> None:
    options = GenerationOptions(max_tokens=40, json_schema=FORCED, stop=(" gamma",))
    result = backend.chat(ASK, options)
    assert (result.text, result.finish_reason) == ('"alpha beta', "stop")


def test_more_stop_strings_than_the_api_takes_still_stop(backend: OpenAIBackend) -> None:
    unused = tuple(f"zz{index}qq" for index in range(4))  # the server gets only these four
    options = GenerationOptions(max_tokens=40, json_schema=FORCED, stop=(*unused, " gam"))
    pieces = list(backend.stream_chat(ASK, options))
    assert "".join(pieces) == '"alpha beta'


def test_cancel_closes_the_stream_quickly(backend: OpenAIBackend) -> None:
    cancel = CancelToken()
    cancelled_at: list[float] = []

    def cancel_soon() -> None:
        time.sleep(0.5)
        cancelled_at.append(time.perf_counter())
        cancel.cancel()

    canceller = threading.Thread(target=cancel_soon)
    canceller.start()
    result = collect(backend.stream(STORY, GenerationOptions(max_tokens=400), cancel), cancel)
    ended = time.perf_counter()
    canceller.join()
    assert result.finish_reason == "cancelled" and 0 < result.completion_tokens < 400
    assert ended - cancelled_at[0] < 1.0
    # The server stopped that generation and serves the next request.
    assert backend.generate(STORY, GenerationOptions(max_tokens=3)).completion_tokens == 3


def test_schema_output_falls_back_to_json_object(backend: OpenAIBackend) -> None:
    # This server refuses {"type": "json_schema"} and takes llama.cpp's older
    # {"type": "json_object", "schema": ...}: the backend retries with it.
    options = GenerationOptions(max_tokens=80, json_schema=SCHEMA)
    result = backend.chat([Message("user", "A task to water the plants, as JSON.")], options)
    assert validate(json.loads(result.text), SCHEMA) is None


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_structured_output_through_the_server(backend: OpenAIBackend, seed: int) -> None:
    options = GenerationOptions(max_tokens=80, temperature=0.8, seed=seed)
    task = structured(backend, [Message("user", "Plan: call the bank.")], SCHEMA, options)
    assert validate(task, SCHEMA) is None


def test_embeddings_are_pooled_and_normalised(backend: OpenAIBackend) -> None:
    first, second = backend.embed(["a cat on a mat", "quarterly tax report"])
    assert len(first) == len(second) == 640
    assert math.isclose(math.fsum(v * v for v in first), 1.0, rel_tol=1e-6)
    assert first != second


def test_perplexity_from_prompt_logprobs(backend: OpenAIBackend, llama_backend: Backend) -> None:
    # Short: this server sorts the whole 262k vocabulary for every echoed token.
    english = "The children played in the park while their parents talked."
    served = backend.perplexity(english)
    # The same model scored in-process; the server leaves out the first token's score.
    assert math.isfinite(served)
    assert served == pytest.approx(llama_backend.perplexity(english), rel=0.3)


def test_a_wrong_api_key_is_refused_without_showing_it(
    server_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NODESPACE_TEST_WRONG_KEY", "not-the-key-5f2c")
    wrong = OpenAIBackend(server_url, api_key_env="NODESPACE_TEST_WRONG_KEY", timeout_s=10)
    with pytest.raises(ModelUnavailable, match="401") as caught:
        wrong.load()
    assert "NODESPACE_TEST_WRONG_KEY" in str(caught.value)
    assert "not-the-key-5f2c" not in str(caught.value)
    assert not wrong.health().ok


def test_a_dead_url_is_named(backend: OpenAIBackend) -> None:
    dead = f"http://127.0.0.1:{free_port()}/v1"
    nobody = OpenAIBackend(dead, "gemma", timeout_s=5)
    with pytest.raises(ModelUnavailable, match=f"No OpenAI-compatible server answers at {dead}"):
        nobody.load()
    with pytest.raises(ModelUnavailable, match=r"ai\.openai_url"):
        nobody.generate(STORY, GREEDY)
    health = nobody.health()
    assert not health.ok and dead in health.detail


def test_a_server_that_never_answers_times_out() -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()  # connections are accepted by the kernel, never answered
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/v1"
        started = time.perf_counter()
        with pytest.raises(ModelUnavailable, match=r"did not answer /models within 1 s"):
            OpenAIBackend(url, timeout_s=1).load()
        assert time.perf_counter() - started < 5


def test_bad_urls_are_refused_with_the_setting() -> None:
    with pytest.raises(ModelUnavailable, match=r"set ai\.openai_url"):
        OpenAIBackend("")
    with pytest.raises(ModelUnavailable, match="not an http"):
        OpenAIBackend("localhost:8080")


def test_a_wrong_route_names_the_url(server_url: str) -> None:
    root = server_url.removesuffix("/v1") + "/nothing-here"
    with pytest.raises(ModelUnavailable, match=r"answered 404 to /models.*ai\.openai_url"):
        OpenAIBackend(root, api_key_env=KEY_ENV, timeout_s=10).load()

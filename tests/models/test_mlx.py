"""The MLX backend, on real MLX (CPU build): mechanics on a tiny random Gemma 3, then
greedy agreement of the converted Gemma 3 270M with llama.cpp on the same GGUF.

The tiny model (see `mlx_fixtures`) produces random but deterministic words, so
these tests compare the backend with itself and with raw mlx-lm, never with a
hard-coded text.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
from collections.abc import Generator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from nodespace_lab.config.sections import AISettings
from nodespace_lab.errors import ModelUnavailable, ValidationError
from nodespace_lab.models.backend import (
    CancelToken,
    Generation,
    GenerationOptions,
    Message,
    collect,
    create_backend,
)
from nodespace_lab.models.mlx import MlxBackend, mean_logprob
from nodespace_lab.models.mlx_convert import CACHE_ENV

if TYPE_CHECKING:
    from tests.models.mlx_fixtures import RealModel

# Registered once per session, so the real model converts and loads once for all files.
pytest_plugins = ["tests.models.mlx_fixtures"]

PROMPT = "the river"
GREEDY = GenerationOptions(max_tokens=40)
ROOT = Path(__file__).resolve().parents[2]


def _run(stream: Generator[str, None, Any]) -> tuple[list[str], Any]:
    """The pieces of a stream and its return value (the token counts)."""
    pieces: list[str] = []
    while True:
        try:
            pieces.append(next(stream))
        except StopIteration as done:
            return pieces, done.value


def _raw_greedy(folder: Path, prompt: str, max_tokens: int) -> tuple[str, list[int]]:
    """Greedy text and tokens straight from mlx-lm, without our backend."""
    from mlx_lm import load, stream_generate
    from mlx_lm.sample_utils import make_sampler

    model, tokenizer = load(str(folder))[:2]
    text, tokens = "", []
    for response in stream_generate(
        model, tokenizer, prompt, max_tokens=max_tokens, sampler=make_sampler(0.0)
    ):
        text += response.text
        tokens.append(response.token)
    return text, tokens


# -- streaming, stops, limits -----------------------------------------------------


def test_streamed_pieces_join_to_the_generated_text(tiny_backend: MlxBackend) -> None:
    pieces, counts = _run(tiny_backend.stream(PROMPT, GREEDY))
    whole = tiny_backend.generate(PROMPT, GREEDY)
    assert len(pieces) >= 10 and all(pieces)
    assert "".join(pieces) == whole.text
    assert counts == (whole.prompt_tokens, whole.completion_tokens, whole.finish_reason)
    assert whole.prompt_tokens == 3  # <bos> the ▁river: both are words of the tiny vocabulary
    assert (whole.completion_tokens, whole.finish_reason) == (40, "length")
    assert whole.first_token_seconds is not None and whole.first_token_seconds <= whole.seconds


def test_greedy_text_is_raw_mlx_lm_greedy_text(tiny_backend: MlxBackend, tiny_folder: Path) -> None:
    raw_text, _ = _raw_greedy(tiny_folder, PROMPT, 40)
    assert tiny_backend.generate(PROMPT, GREEDY).text == raw_text


def test_a_stop_string_ends_the_text_before_it(tiny_backend: MlxBackend) -> None:
    full = tiny_backend.generate(PROMPT, GREEDY).text
    stop = full[len(full) // 2 : len(full) // 2 + 4]
    result = tiny_backend.generate(PROMPT, GenerationOptions(max_tokens=40, stop=(stop,)))
    assert result.text == full[: full.find(stop)]
    assert result.finish_reason == "stop"
    assert result.completion_tokens < 40


def test_a_stop_string_across_pieces_is_never_yielded_in_part(tiny_backend: MlxBackend) -> None:
    pieces, _ = _run(tiny_backend.stream(PROMPT, GREEDY))
    at = next(i for i in range(3, len(pieces)) if len(pieces[i]) >= 2 and len(pieces[i + 1]) >= 2)
    stop = pieces[at][-2:] + pieces[at + 1][:2]  # starts in one token, ends in the next
    full = "".join(pieces)
    expected = full[: full.find(stop)]
    options = GenerationOptions(max_tokens=40, stop=(stop,))
    streamed, counts = _run(tiny_backend.stream(PROMPT, options))
    assert "".join(streamed) == expected
    emitted = ""
    for piece in streamed:  # at no moment has any part of the stop string been shown
        emitted += piece
        assert emitted == expected[: len(emitted)]
    assert counts[2] == "stop"


def test_held_back_text_is_released_when_no_stop_follows(tiny_backend: MlxBackend) -> None:
    full = tiny_backend.generate(PROMPT, GREEDY).text
    stop = full[-1] + "\x00never"  # the last character could begin it, until the end
    assert (
        tiny_backend.generate(PROMPT, GenerationOptions(max_tokens=40, stop=(stop,))).text == full
    )


def test_max_tokens_limits_the_completion(tiny_backend: MlxBackend) -> None:
    five = tiny_backend.generate(PROMPT, GenerationOptions(max_tokens=5))
    assert (five.completion_tokens, five.finish_reason) == (5, "length")
    assert tiny_backend.generate(PROMPT, GREEDY).text.startswith(five.text)


def test_an_eos_token_stops_with_reason_stop(tiny_folder: Path, tmp_path: Path) -> None:
    # The random model never picks its real EOS, so declare a later greedy token one.
    _, tokens = _raw_greedy(tiny_folder, PROMPT, 12)
    at = next(i for i in range(3, 12) if tokens[i] not in tokens[:i])
    folder = tmp_path / "eos"
    shutil.copytree(tiny_folder, folder)
    config = json.loads((folder / "config.json").read_text())
    config["eos_token_id"] = [*config["eos_token_id"], tokens[at]]
    (folder / "config.json").write_text(json.dumps(config))
    result = MlxBackend(str(folder)).generate(PROMPT, GREEDY)
    assert (result.completion_tokens, result.finish_reason) == (at, "stop")
    before = MlxBackend(str(tiny_folder)).generate(PROMPT, GenerationOptions(max_tokens=at))
    assert result.text == before.text


def test_a_long_prompt_is_refused_and_the_budget_is_capped(tiny_folder: Path) -> None:
    small = MlxBackend(str(tiny_folder), context_length=8)
    with pytest.raises(ValidationError, match="context window is 8"):
        small.generate("the river and the town of the bridge", GREEDY)
    result = small.generate(PROMPT, GREEDY)  # 3 prompt tokens leave 5 of the 8
    assert (result.completion_tokens, result.finish_reason) == (5, "length")


def test_sampling_is_seeded(tiny_backend: MlxBackend) -> None:
    hot = GenerationOptions(max_tokens=20, temperature=1.0, top_p=0.9, seed=7)
    first = tiny_backend.generate(PROMPT, hot).text
    assert tiny_backend.generate(PROMPT, hot).text == first
    assert first != tiny_backend.generate(PROMPT, GenerationOptions(max_tokens=20)).text


def test_a_json_schema_is_not_enforced_while_generating(tiny_backend: MlxBackend) -> None:
    # MLX has no grammar decoding: the text is what it would be without the schema,
    # and the caller validates it and retries.
    schema = {"type": "object", "properties": {"a": {"type": "string"}}}
    with_schema = tiny_backend.generate(
        PROMPT, GenerationOptions(max_tokens=10, json_schema=schema)
    )
    assert with_schema.text == tiny_backend.generate(PROMPT, GenerationOptions(max_tokens=10)).text


# -- cancellation and threads -----------------------------------------------------


def test_cancel_from_another_thread_stops_the_stream(tiny_backend: MlxBackend) -> None:
    cancel = CancelToken()
    started = threading.Event()

    def cancel_after_the_first_piece() -> None:
        started.wait(30)
        cancel.cancel()

    canceller = threading.Thread(target=cancel_after_the_first_piece)
    canceller.start()
    stream = tiny_backend.stream(PROMPT, GenerationOptions(max_tokens=2000), cancel)

    def pieces() -> Generator[str, None, Any]:
        first = next(stream)
        started.set()
        yield first
        return (yield from stream)

    result = collect(pieces(), cancel)
    canceller.join()
    assert result.finish_reason == "cancelled"
    assert 1 <= result.completion_tokens < 2000


def test_a_cancelled_token_generates_nothing(tiny_backend: MlxBackend) -> None:
    cancel = CancelToken()
    cancel.cancel()
    result = tiny_backend.generate(PROMPT, GREEDY, cancel)
    assert (result.text, result.completion_tokens, result.finish_reason) == ("", 0, "cancelled")


def test_generation_on_another_thread_than_the_load(tiny_backend: MlxBackend) -> None:
    here = tiny_backend.generate(PROMPT, GREEDY)
    with ThreadPoolExecutor(1) as pool:
        there: Generation = pool.submit(tiny_backend.generate, PROMPT, GREEDY).result()
    assert there.text == here.text


# -- chat -------------------------------------------------------------------------


def test_chat_folds_the_system_message_into_the_first_user_turn(tiny_backend: MlxBackend) -> None:
    messages = [Message("system", "Be brief."), Message("user", "Hello")]
    prompt, stops = tiny_backend.chat_prompt(messages)
    assert prompt == (
        "<bos><start_of_turn>user\nBe brief.\n\nHello<end_of_turn>\n<start_of_turn>model\n"
    )
    assert "<end_of_turn>" in stops
    pieces, counts = _run(tiny_backend.stream_chat(messages, GREEDY))
    chat = tiny_backend.chat(messages, GREEDY)
    assert "".join(pieces) == chat.text and chat.completion_tokens == 40
    # The markers are single special tokens, and the rendered BOS is not doubled.
    tokenizer = tiny_backend._tokenizer
    assert tokenizer is not None
    ids = tokenizer.encode(prompt, add_special_tokens=False)
    bos, start, end = tokenizer.convert_tokens_to_ids(["<bos>", "<start_of_turn>", "<end_of_turn>"])
    assert ids[0] == bos and (ids.count(bos), ids.count(start), ids.count(end)) == (1, 2, 1)
    assert counts[0] == chat.prompt_tokens == len(ids)


def test_chat_roles_must_alternate(tiny_backend: MlxBackend) -> None:
    with pytest.raises(ValidationError, match="alternate"):
        tiny_backend.chat([Message("user", "a"), Message("user", "b")], GREEDY)
    with pytest.raises(ValidationError, match="at least one message"):
        tiny_backend.chat([], GREEDY)


# -- scoring, embeddings, lifecycle ------------------------------------------------


def test_chunked_scoring_equals_one_pass_across_the_sliding_window(
    tiny_backend: MlxBackend,
) -> None:
    model, tokenizer = tiny_backend._model, tiny_backend._tokenizer
    assert model is not None and tokenizer is not None
    tokens = tokenizer.encode(" ".join(["the river and the town"] * 12))
    assert len(tokens) > 3 * 16  # well past the 16-token sliding window
    one_pass = mean_logprob(model, tokens, chunk=len(tokens))
    assert mean_logprob(model, tokens, chunk=7) == pytest.approx(one_pass, rel=1e-4)


def test_perplexity_needs_some_text_within_the_context(tiny_folder: Path) -> None:
    backend = MlxBackend(str(tiny_folder), context_length=10)
    assert backend.perplexity("the river") > 1.0
    with pytest.raises(ValidationError, match="at least one token"):
        backend.perplexity("")
    with pytest.raises(ValidationError, match="longer than the context window"):
        backend.perplexity("the river " * 10)


def test_embed_is_unavailable(tiny_backend: MlxBackend) -> None:
    with pytest.raises(ModelUnavailable, match="not an embedding model"):
        tiny_backend.embed(["a text"])


def test_unload_frees_and_load_brings_back(tiny_folder: Path) -> None:
    backend = MlxBackend(str(tiny_folder))
    before = backend.generate(PROMPT, GREEDY).text
    assert backend.info is not None and backend.info.backend == "mlx"
    backend.unload()
    assert backend.info is None and backend._model is None
    assert backend.generate(PROMPT, GREEDY).text == before
    assert backend.health().ok


# -- where models come from --------------------------------------------------------


@pytest.mark.parametrize("name", ["google/gemma-3-270m", "no/such/folder"])
def test_a_path_that_is_no_folder_is_refused_not_downloaded(name: str) -> None:
    with pytest.raises(ModelUnavailable, match=f"'{name}' does not exist.*nothing is downloaded"):
        MlxBackend(name).load()


def test_a_folder_or_file_that_is_no_model_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ModelUnavailable, match=r"is not an MLX model: config\.json"):
        MlxBackend(str(tmp_path)).load()
    text = tmp_path / "notes.txt"
    text.write_text("not a model")
    with pytest.raises(ModelUnavailable, match="not a GGUF file"):
        MlxBackend(str(text)).load()


def test_from_settings_converts_a_gguf_into_the_cache(
    tiny_gguf: Path, tiny_folder: Path, mlx_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(CACHE_ENV, str(mlx_cache))
    settings = AISettings(backend="mlx", model_path=str(tiny_gguf))  # type: ignore[no-untyped-call]
    backend = create_backend(settings)
    assert isinstance(backend, MlxBackend)
    info = backend.load()
    assert Path(info.path) == tiny_folder and info.details["source"] == str(tiny_gguf)
    assert info.name == "tiny-gemma3" and info.context_length == settings.context_length
    direct = MlxBackend(str(tiny_folder)).generate(PROMPT, GREEDY)
    assert backend.generate(PROMPT, GREEDY).text == direct.text


def test_importing_the_models_package_loads_no_mlx() -> None:
    code = (
        "import sys, nodespace_lab.ai, nodespace_lab.models, nodespace_lab.models.mlx\n"
        "import nodespace_lab.models.mlx_convert\n"
        "from nodespace_lab.models.backend import create_backend\n"
        "from nodespace_lab.config.sections import AISettings\n"
        "create_backend(AISettings(backend='mlx'))\n"
        "heavy = ('mlx', 'mlx_lm', 'transformers', 'gguf', 'tokenizers', 'numpy')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert out.stdout.strip() == "[]"


# -- the real Gemma 3 270M ---------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize(
    ("prompt", "expected_word"),
    [("One, two, three, four,", "five"), ("The opposite of hot is", "cold")],
)
def test_greedy_270m_agrees_with_llama_cpp(
    real_backend: MlxBackend, reference_llama: Any, prompt: str, expected_word: str
) -> None:
    ours = real_backend.generate(prompt, GenerationOptions(max_tokens=8))
    text, prompt_tokens = _llama_greedy(reference_llama, prompt, 8)
    assert ours.text == text
    assert expected_word in ours.text  # and it makes sense: the conversion is not garbage
    assert (ours.prompt_tokens, ours.completion_tokens) == (prompt_tokens, 8)


@pytest.mark.slow
def test_270m_info_names_the_packaged_gguf(real_backend: MlxBackend, real_model: RealModel) -> None:
    info = real_backend.info
    assert info is not None and Path(info.path) == real_model.folder
    assert info.details["source"] == str(real_model.gguf)
    assert info.details["eos_token_ids"] == [1, 106]


def _llama_greedy(llama: Any, prompt: str, max_tokens: int) -> tuple[str, int]:
    """Raw llama.cpp greedy decoding (the argmax of each next-token distribution):
    the text and the number of prompt tokens."""
    import numpy as np

    llama.reset()
    feed = llama.tokenize(prompt.encode(), add_bos=True, special=False)
    prompt_tokens = len(feed)
    out: list[int] = []
    for _ in range(max_tokens):
        llama.eval(feed)
        out.append(int(np.argmax(llama.scores[llama.n_tokens - 1])))
        feed = out[-1:]
    text: str = llama.detokenize(out).decode()
    return text, prompt_tokens

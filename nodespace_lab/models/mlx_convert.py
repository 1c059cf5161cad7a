"""Convert a Gemma 3 GGUF into an MLX model folder, offline, once per file (cached by sha256).

MLX cannot read llama.cpp's quantised tensors (`mx.load` refuses Q4_K) and
`gguf2mlx` builds a wrong model, so we rebuild the Hugging Face layout that
mlx-lm's `gemma3_text` model loads:

- every tensor is dequantised to float32 with the `gguf` package, in row
  chunks, and streamed into `model.safetensors` (peak memory stays near the
  size of one chunk, not of the model);
- tensors get their Hugging Face names; llama.cpp stores Gemma's RMS-norm
  weights as 1 + w (its norm multiplies by w, Gemma's by 1 + w), so 1 is
  subtracted from every `*norm.weight`, the q/k norms included -- without this
  perplexity goes from 9 to 45 and the output is garbage;
- `config.json` comes from the GGUF metadata plus the Gemma 3 defaults the GGUF
  does not store;
- the tokenizer is rebuilt from the GGUF vocabulary with transformers'
  torch-free GGUF converter, with Gemma 3's chat template.

Weights stay float32: on x86 CPUs mlx's bf16 and bf16-scaled quantised kernels
are about 10x slower. The folder is built next to its final place and renamed
into it, so a crash never leaves a folder that looks complete, and a lock file
makes a second process wait for the first conversion instead of repeating it.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ModelUnavailable
from .files import file_sha256
from .template import GEMMA3_TEMPLATE

if TYPE_CHECKING:
    from gguf import GGUFReader, ReaderTensor

CACHE_ENV = "NODESPACE_MLX_CACHE"
MARKER = "nodespace-mlx.json"
FORMAT_VERSION = 1
WEIGHTS = "model.safetensors"
REQUIRED_FILES = ("config.json", WEIGHTS, "tokenizer.json", "tokenizer_config.json")

# Called after each tensor is written: (Hugging Face name, index, count).
ProgressCallback = Callable[[str, int, int], None]

# Gemma 3 values a GGUF does not store (Google's config.json of the Gemma 3 models).
_GEMMA3_DEFAULTS: dict[str, Any] = {
    "rope_theta": 1_000_000.0,
    "rope_local_base_freq": 10_000.0,
    "query_pre_attn_scalar": 256,
    "sliding_window": 512,
    "sliding_window_pattern": 6,
    "rms_norm_eps": 1e-6,
    "max_position_embeddings": 32_768,
    "hidden_activation": "gelu_pytorch_tanh",
    "attention_bias": False,
    "attn_logit_softcapping": None,
    "final_logit_softcapping": None,
}
# llama.cpp's block_count of Gemma 3 27B: its only size that scales queries by
# hidden_size / heads instead of head_dim (llama.cpp, llm_load_hparams).
_GEMMA3_27B_LAYERS = 62
_METADATA_KEYS = {
    "context_length": "max_position_embeddings",
    "embedding_length": "hidden_size",
    "block_count": "num_hidden_layers",
    "feed_forward_length": "intermediate_size",
    "attention.head_count": "num_attention_heads",
    "attention.head_count_kv": "num_key_value_heads",
    "attention.key_length": "head_dim",
    "attention.layer_norm_rms_epsilon": "rms_norm_eps",
    "attention.sliding_window": "sliding_window",
    "rope.freq_base": "rope_theta",
}
_LAYER_TENSORS = {
    "attn_q": "self_attn.q_proj",
    "attn_k": "self_attn.k_proj",
    "attn_v": "self_attn.v_proj",
    "attn_output": "self_attn.o_proj",
    "attn_q_norm": "self_attn.q_norm",
    "attn_k_norm": "self_attn.k_norm",
    "attn_norm": "input_layernorm",
    "post_attention_norm": "post_attention_layernorm",
    "ffn_norm": "pre_feedforward_layernorm",
    "post_ffw_norm": "post_feedforward_layernorm",
    "ffn_gate": "mlp.gate_proj",
    "ffn_up": "mlp.up_proj",
    "ffn_down": "mlp.down_proj",
}
_GLOBAL_TENSORS = {
    "token_embd.weight": "model.embed_tokens.weight",
    "output_norm.weight": "model.norm.weight",
    "output.weight": "lm_head.weight",
}
_LAYER_NAME = re.compile(r"blk\.(\d+)\.(\w+)\.weight")
# Elements dequantised at once (128 MB of float32): bounds the converter's memory.
_CHUNK_ELEMENTS = 1 << 25


@dataclass(frozen=True, slots=True)
class _Tensor:
    name: str
    source: ReaderTensor
    shape: tuple[int, ...]
    is_norm: bool

    @property
    def nbytes(self) -> int:
        count = 1
        for size in self.shape:
            count *= size
        return count * 4


# -- public API -------------------------------------------------------------------


def default_cache() -> Path:
    """The conversion cache: `$NODESPACE_MLX_CACHE`, else ~/.cache/nodespace-lab/mlx."""
    configured = os.environ.get(CACHE_ENV, "").strip()
    if configured:
        return Path(configured).expanduser()
    return Path.home() / ".cache" / "nodespace-lab" / "mlx"


def cache_key(gguf: Path) -> str:
    """The cache folder name of `gguf`: the first 16 hex digits of its sha256."""
    return file_sha256(gguf)[:16]


def find_mlx_model(gguf: Path, cache: Path | None = None) -> Path | None:
    """The complete converted folder of `gguf` in the cache, or None (never converts)."""
    folder = (cache if cache is not None else default_cache()) / cache_key(gguf)
    return folder if is_complete(folder) else None


def ensure_mlx_model(
    gguf: Path, cache: Path | None = None, *, progress: ProgressCallback | None = None
) -> Path:
    """The MLX folder converted from `gguf`, converting it the first time only.

    The folder is `<cache>/<sha256[:16]>/` (cache: `default_cache()`). Another
    process converting the same file at the same time is waited for.
    """
    gguf = Path(gguf).expanduser()
    if not gguf.is_file():
        raise ModelUnavailable(
            f"GGUF file {str(gguf)!r} does not exist; set ai.model_path to a .gguf file "
            "or an MLX model folder, or leave it empty for the packaged Gemma 3 270M."
        )
    root = Path(cache).expanduser() if cache is not None else default_cache()
    key = cache_key(gguf)
    folder = root / key
    if is_complete(folder):
        return folder
    _make_dirs(root)
    with _conversion_lock(root / f".{key}.lock"):
        if not is_complete(folder):  # the process we waited for may have done it
            _remove_stale(root, key)
            _convert_into_place(gguf, folder, key, progress)
    return folder


def is_complete(folder: Path) -> bool:
    """True when `folder` is a finished conversion (its marker and files exist)."""
    try:
        marker = json.loads((folder / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if not isinstance(marker, dict) or marker.get("format") != FORMAT_VERSION:
        return False
    sha = str(marker.get("source_sha256", ""))
    return sha.startswith(folder.name) and all((folder / f).is_file() for f in REQUIRED_FILES)


def convert_gguf(gguf: Path, out: Path, *, progress: ProgressCallback | None = None) -> None:
    """Write the MLX model of a Gemma 3 `gguf` into the empty folder `out` (not atomic)."""
    reader = _open_reader(gguf)
    metadata = _metadata(reader)
    tensors = _plan(reader, gguf)
    config = _gemma3_config(metadata, tensors)
    _write_json(out / "config.json", config)
    _write_safetensors(out / WEIGHTS, tensors, progress)
    _write_tokenizer(metadata, out)


def _gemma3_config(metadata: dict[str, Any], tensors: list[_Tensor]) -> dict[str, Any]:
    """`config.json` of mlx-lm's `gemma3_text` from GGUF metadata and Gemma 3 defaults."""
    config: dict[str, Any] = {"architectures": ["Gemma3ForCausalLM"], "model_type": "gemma3_text"}
    config.update(_GEMMA3_DEFAULTS)
    for key, name in _METADATA_KEYS.items():
        if f"gemma3.{key}" in metadata:
            config[name] = metadata[f"gemma3.{key}"]
    if config["num_hidden_layers"] == _GEMMA3_27B_LAYERS:
        config["query_pre_attn_scalar"] = config["hidden_size"] // config["num_attention_heads"]
    config["rope_scaling"] = _rope_scaling(metadata)
    tokens: list[str] = metadata["tokenizer.ggml.tokens"]
    config["vocab_size"] = len(tokens)
    config["bos_token_id"] = metadata.get("tokenizer.ggml.bos_token_id", 2)
    config["pad_token_id"] = metadata.get("tokenizer.ggml.padding_token_id", 0)
    config["eos_token_id"] = _eos_ids(metadata, tokens)
    config["tie_word_embeddings"] = all(t.name != "lm_head.weight" for t in tensors)
    config["torch_dtype"] = "float32"
    return config


def offline_environment() -> None:
    """Keep transformers and huggingface_hub offline and quiet; call before importing them."""
    # Models come from local files only. transformers' advice that torch is missing
    # is noise: we use its tokenizers, which need no torch.
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")


# -- atomic placement -------------------------------------------------------------


def _convert_into_place(
    gguf: Path, folder: Path, key: str, progress: ProgressCallback | None
) -> None:
    # A private sibling folder (same file system) renamed into place: readers see
    # either nothing or a finished folder, whatever happens in between.
    temp = Path(tempfile.mkdtemp(prefix=f".{key}.{os.getpid()}.", suffix=".tmp", dir=folder.parent))
    try:
        started = time.perf_counter()
        convert_gguf(gguf, temp, progress=progress)
        _sync_files(temp)  # on disk before the marker says so, even across a power cut
        _write_json(temp / MARKER, _marker(gguf, time.perf_counter() - started))
        temp.chmod(0o755)  # mkdtemp made it private; the cache is an ordinary folder
        _discard_incomplete(folder)
        try:
            temp.rename(folder)
        except OSError:
            # Lost a race with a process that does not take the lock: theirs is as good.
            if not is_complete(folder):
                raise
    except OSError as error:
        raise ModelUnavailable(
            f"Could not write the MLX conversion of {str(gguf)!r} into {str(folder.parent)!r} "
            f"({error}); check free disk space (about 4 bytes per parameter) and permissions, "
            f"or choose another folder with {CACHE_ENV}."
        ) from error
    finally:
        shutil.rmtree(temp, ignore_errors=True)


def _marker(gguf: Path, seconds: float) -> dict[str, Any]:
    return {
        "format": FORMAT_VERSION,
        "source": str(gguf),
        "source_sha256": file_sha256(gguf),
        "dtype": "float32",
        "converted_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "seconds": round(seconds, 2),
    }


def _sync_files(folder: Path) -> None:
    for path in folder.iterdir():
        with path.open("rb") as handle:
            os.fsync(handle.fileno())


def _discard_incomplete(folder: Path) -> None:
    # Something not made by us (or by an older format) sits where the folder goes.
    if folder.exists() and not is_complete(folder):
        aside = folder.with_name(f".{folder.name}.{os.getpid()}.old.tmp")
        folder.rename(aside)
        shutil.rmtree(aside, ignore_errors=True)


def _remove_stale(root: Path, key: str) -> None:
    # Called with the lock held: any temp folder of this key is a dead converter's.
    for stale in root.glob(f".{key}.*.tmp"):
        shutil.rmtree(stale, ignore_errors=True)


def _make_dirs(root: Path) -> None:
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ModelUnavailable(
            f"Cannot create the MLX model cache {str(root)!r} ({error}); set {CACHE_ENV} "
            "to a writable folder."
        ) from error


@contextmanager
def _conversion_lock(path: Path) -> Iterator[None]:
    try:
        import fcntl
    except ImportError:  # no flock (Windows): the atomic rename alone keeps it safe
        yield
        return
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# -- reading the GGUF -------------------------------------------------------------


def _open_reader(gguf: Path) -> GGUFReader:
    try:
        from gguf import GGUFReader
    except ImportError as error:
        raise ModelUnavailable(
            f"The gguf package is needed to convert {str(gguf)!r} for MLX ({error}); "
            "pip install 'nodespace-lab[mlx]'."
        ) from error
    try:
        return GGUFReader(gguf)
    except (ValueError, OSError, KeyError, IndexError) as error:
        raise ModelUnavailable(
            f"{str(gguf)!r} is not a readable GGUF file ({error}); download it again or "
            "set ai.model_path to another model."
        ) from error


def _metadata(reader: GGUFReader) -> dict[str, Any]:
    values = {name: field.contents() for name, field in reader.fields.items()}
    architecture = values.get("general.architecture")
    if architecture != "gemma3":
        raise ModelUnavailable(
            f"The MLX converter handles Gemma 3 GGUF files only; this one is "
            f"{architecture!r}. Use the llama.cpp backend (ai.backend = 'llamacpp') for it, "
            "or set ai.model_path to an MLX model folder (mlx_lm.convert makes one)."
        )
    if not values.get("tokenizer.ggml.tokens"):
        raise ModelUnavailable(
            "This Gemma 3 GGUF carries no tokenizer vocabulary (tokenizer.ggml.tokens), so "
            "no MLX tokenizer can be built from it; use the llama.cpp backend or an MLX folder."
        )
    return values


def _plan(reader: GGUFReader, gguf: Path) -> list[_Tensor]:
    # Every name is mapped before anything is written, so an unexpected file fails fast.
    planned = [
        _Tensor(
            name=_hf_name(tensor.name, gguf),
            source=tensor,
            shape=tuple(int(size) for size in reversed(tensor.shape.tolist())),
            is_norm=tensor.name.endswith("norm.weight"),
        )
        for tensor in reader.tensors
    ]
    return sorted(planned, key=lambda tensor: tensor.name)


def _hf_name(name: str, gguf: Path) -> str:
    if name in _GLOBAL_TENSORS:
        return _GLOBAL_TENSORS[name]
    match = _LAYER_NAME.fullmatch(name)
    if match and match.group(2) in _LAYER_TENSORS:
        return f"model.layers.{match.group(1)}.{_LAYER_TENSORS[match.group(2)]}.weight"
    raise ModelUnavailable(
        f"Tensor {name!r} of {str(gguf)!r} is not part of a Gemma 3 text model; the MLX "
        "converter cannot place it. Use the llama.cpp backend for this file."
    )


def _rope_scaling(metadata: dict[str, Any]) -> dict[str, Any] | None:
    kind = metadata.get("gemma3.rope.scaling.type")
    factor = metadata.get("gemma3.rope.scaling.factor")
    if kind in (None, "none") or factor in (None, 1.0):
        return None
    return {"rope_type": kind, "factor": float(factor)}


def _eos_ids(metadata: dict[str, Any], tokens: list[str]) -> list[int]:
    # Gemma 3 ends a turn with <end_of_turn> (106 in its vocabulary) as well as <eos>.
    ids = [int(metadata.get("tokenizer.ggml.eos_token_id", 1))]
    if "<end_of_turn>" in tokens:
        ids.append(tokens.index("<end_of_turn>"))
    return list(dict.fromkeys(ids))


# -- writing ----------------------------------------------------------------------


def _write_safetensors(
    path: Path, tensors: list[_Tensor], progress: ProgressCallback | None
) -> None:
    # Written by hand, tensor by tensor: safetensors' own writers need the whole
    # float32 model in memory at once (over 1 GB for 270M parameters).
    header: dict[str, Any] = {"__metadata__": {"format": "mlx"}}
    offset = 0
    for tensor in tensors:
        header[tensor.name] = {
            "dtype": "F32",
            "shape": list(tensor.shape),
            "data_offsets": [offset, offset + tensor.nbytes],
        }
        offset += tensor.nbytes
    encoded = json.dumps(header, separators=(",", ":")).encode()
    encoded += b" " * (-len(encoded) % 8)  # data starts 8-byte aligned
    with path.open("wb") as handle:
        handle.write(len(encoded).to_bytes(8, "little"))
        handle.write(encoded)
        for index, tensor in enumerate(tensors):
            for block in _dequantised(tensor):
                handle.write(memoryview(block))
            if progress is not None:
                progress(tensor.name, index, len(tensors))


def _dequantised(tensor: _Tensor) -> Iterator[Any]:
    import numpy as np
    from gguf import dequantize

    data = tensor.source.data
    step = len(data) if data.ndim < 2 else max(1, _CHUNK_ELEMENTS // max(tensor.shape[-1], 1))
    for start in range(0, len(data), step):
        block = data[start : start + step]
        values = dequantize(np.asarray(block), tensor.source.tensor_type)
        values = np.ascontiguousarray(values, dtype="<f4")
        if tensor.is_norm:
            values = values - np.float32(1.0)
        yield values


def _write_tokenizer(metadata: dict[str, Any], out: Path) -> None:
    offline_environment()
    from transformers import PreTrainedTokenizerFast
    from transformers.integrations.gguf.gguf_tokenizer_mapping import (
        GGUF_TOKENIZER_MAPPING,
        convert_gguf_tokenizer,
    )

    # transformers' get_gguf_tokenizer() reads the file with torch; the converter
    # itself needs only the metadata, which gguf's reader already holds.
    description = {
        name: metadata[f"tokenizer.{key}"]
        for key, name in GGUF_TOKENIZER_MAPPING["tokenizer"].items()
        if f"tokenizer.{key}" in metadata
    }
    try:
        backend, _extra = convert_gguf_tokenizer(str(metadata["general.architecture"]), description)
    except (ValueError, KeyError) as error:
        raise ModelUnavailable(
            f"transformers cannot build a tokenizer from this GGUF's vocabulary ({error}); "
            "use the llama.cpp backend for it, or an MLX model folder."
        ) from error
    tokens: list[str] = metadata["tokenizer.ggml.tokens"]

    def special(key: str, default: str) -> str:
        index = metadata.get(f"tokenizer.ggml.{key}")
        return tokens[int(index)] if index is not None else default

    tokenizer = PreTrainedTokenizerFast(  # type: ignore[no-untyped-call]
        tokenizer_object=backend,
        bos_token=special("bos_token_id", "<bos>"),
        eos_token=special("eos_token_id", "<eos>"),
        unk_token=special("unknown_token_id", "<unk>"),
        pad_token=special("padding_token_id", "<pad>"),
        add_bos_token=bool(metadata.get("tokenizer.ggml.add_bos_token", True)),
        add_eos_token=bool(metadata.get("tokenizer.ggml.add_eos_token", False)),
        chat_template=metadata.get("tokenizer.chat_template") or GEMMA3_TEMPLATE,
    )
    tokenizer.save_pretrained(str(out))


def _write_json(path: Path, value: dict[str, Any]) -> None:
    path.write_text(json.dumps(value, indent=2, sort_keys=True) + "\n", encoding="utf-8")

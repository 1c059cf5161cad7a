"""The MLX backend (mlx-lm): an MLX model folder, or a Gemma 3 GGUF converted into one.

MLX is the native backend on Apple Silicon; on Linux mlx-lm's CPU build runs
the same code. `ai.model_path` may name an MLX folder (used as is), a Gemma 3
GGUF file, or nothing (the packaged Gemma 3 270M); a GGUF is converted once
into a cached MLX folder (`mlx_convert`).

mlx-lm stops only at EOS token ids: stop strings, cancellation and token counts
are added here. It has no grammar-constrained decoding either: a `json_schema`
option is not enforced while generating, and callers validate the output and
retry (`structured.py`). `mlx` and `mlx_lm` are imported in `load()` only.
"""

from __future__ import annotations

import gc
import math
from collections.abc import Generator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from ..errors import ModelUnavailable, ValidationError
from .backend import CancelToken, FinishReason, GenerationOptions, Message, ModelInfo
from .base import LoadedBackend
from .files import PACKAGED_NAME
from .template import GEMMA3_TEMPLATE, StopMatcher, stop_strings

if TYPE_CHECKING:
    import mlx.core as mx
    from mlx.nn.layers.base import Module
    from mlx_lm.tokenizer_utils import TokenizerWrapper

Counts = tuple[int, int, FinishReason]
# Tokens scored per forward pass in `perplexity()`: the logits of one token are
# 1 MB for Gemma's 262k vocabulary, so chunks bound the memory on long texts.
_PERPLEXITY_CHUNK = 128
_INSTALL_HINT = "pip install 'nodespace-lab[mlx]'"


class MlxBackend(LoadedBackend):
    """A model run in this process by MLX. One generation at a time (a lock per model)."""

    name = "mlx"

    def __init__(
        self,
        model_path: str = "",
        *,
        context_length: int = 4096,
        busy_timeout_s: float = 120.0,
        cache: Path | None = None,
    ) -> None:
        super().__init__(
            label=f"MLX model {model_path or PACKAGED_NAME!r}", busy_timeout_s=busy_timeout_s
        )
        self._model_path = model_path
        self._context_length = context_length
        self._cache = cache
        self._model: Module | None = None
        self._tokenizer: TokenizerWrapper | None = None

    @classmethod
    def from_settings(cls, settings: Any) -> MlxBackend:
        """Build from the `ai` settings section (model_path, context_length, timeout_s)."""
        return cls(
            settings.model_path,
            context_length=settings.context_length,
            busy_timeout_s=settings.timeout_s,
        )

    # -- loading (the lock and the loaded state are LoadedBackend's) --------------

    def _open(self) -> ModelInfo:
        # A GGUF is converted into the cache first (once).
        folder, source = resolve_folder(self._model_path, self._cache)
        model, tokenizer = _load_folder(folder)
        info = _describe(folder, source, tokenizer, self._context_length)
        self._model, self._tokenizer = model, tokenizer
        return info

    def _release(self) -> None:
        # Give MLX's cached buffers back too, not only the model's arrays.
        self._model = self._tokenizer = None
        gc.collect()
        if _mlx_imported():
            import mlx.core as mx

            mx.clear_cache()

    def _load_locked(self) -> tuple[Module, TokenizerWrapper]:
        self._ensure_loaded()
        assert self._model is not None and self._tokenizer is not None
        return self._model, self._tokenizer

    # -- generation ---------------------------------------------------------

    def stream(
        self, prompt: str, options: GenerationOptions, cancel: CancelToken | None = None
    ) -> Generator[str, None, Counts]:
        """Complete `prompt` piece by piece; returns (prompt, completion tokens, reason).

        `options.json_schema` is not enforced: MLX has no grammar decoding, so the
        caller validates the text and retries (see `structured.py`).
        """
        return self._generate(prompt, options, cancel)

    def stream_chat(
        self,
        messages: Sequence[Message],
        options: GenerationOptions,
        cancel: CancelToken | None = None,
    ) -> Generator[str, None, Counts]:
        """Answer `messages` in the tokenizer's chat template (Gemma 3's if it has none).

        Gemma 3 has no system role: its template folds a system message into the
        first user turn. `options.json_schema` is not enforced (see `stream`).
        """
        return self._generate(tuple(messages), options, cancel)

    def chat_prompt(self, messages: Sequence[Message]) -> tuple[str, tuple[str, ...]]:
        """The prompt text (with BOS) and the stop strings for `messages`."""
        with self._locked():
            _model, tokenizer = self._load_locked()
            return _chat_prompt(tokenizer, messages)

    def _generate(
        self,
        prompt: str | tuple[Message, ...],
        options: GenerationOptions,
        cancel: CancelToken | None,
    ) -> Generator[str, None, Counts]:
        with self._locked():
            model, tokenizer = self._load_locked()
            chat_stops: tuple[str, ...] = ()
            if not isinstance(prompt, str):
                prompt, chat_stops = _chat_prompt(tokenizer, prompt)
            tokens = self._tokenize(tokenizer, prompt)
            budget = min(options.max_tokens, self._context_length - len(tokens))
            if cancel is not None and cancel.cancelled:
                return len(tokens), 0, "cancelled"
            if budget <= 0:
                return len(tokens), 0, "length"
            stops = StopMatcher((*options.stop, *chat_stops))
            produced, reason = yield from _decode(
                model, tokenizer, tokens, options, budget, stops, cancel
            )
            return len(tokens), produced, reason

    def _tokenize(self, tokenizer: TokenizerWrapper, prompt: str) -> list[int]:
        # Add BOS unless the text has it already (a rendered chat template does).
        bos = tokenizer.bos_token
        tokens: list[int] = tokenizer.encode(
            prompt, add_special_tokens=not (bos and prompt.startswith(bos))
        )
        if len(tokens) >= self._context_length:
            raise ValidationError(
                f"The prompt is {len(tokens)} tokens but the context window is "
                f"{self._context_length}; shorten it or raise ai.context_length."
            )
        return tokens

    # -- scoring ------------------------------------------------------------

    def perplexity(self, text: str) -> float:
        """exp of the mean negative log-likelihood of each token of `text` given the ones before.

        Exact: the model scores every token in forward passes over the text (in
        chunks that share the attention cache), not by sampling.
        """
        with self._locked():
            model, tokenizer = self._load_locked()
            tokens: list[int] = tokenizer.encode(text)
            if len(tokens) < 2:
                raise ValidationError(f"Perplexity needs at least one token of text; got {text!r}.")
            if len(tokens) > self._context_length:
                raise ValidationError(
                    f"The text is {len(tokens)} tokens, longer than the context window "
                    f"({self._context_length}); score a shorter text or raise ai.context_length."
                )
            return math.exp(-mean_logprob(model, tokens))

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """Not supported: a chat model is not a sentence-embedding model."""
        raise ModelUnavailable(
            f"The MLX chat model {self._model_path or PACKAGED_NAME!r} is not an embedding "
            "model; use the sentence-embedding model (setting ai.embedding_model, default "
            "'minilm') for embeddings."
        )


# -- model folders ------------------------------------------------------------------


def resolve_folder(model_path: str, cache: Path | None = None) -> tuple[Path, Path]:
    """(MLX folder, where it came from) for `ai.model_path`: a folder, a GGUF, or empty."""
    from .files import default_gguf, resolve_gguf
    from .mlx_convert import ensure_mlx_model

    if not model_path.strip():
        gguf = default_gguf()
        return ensure_mlx_model(gguf, cache), gguf
    path = Path(model_path).expanduser()
    if path.is_dir():
        check_folder(path)
        return path, path
    if not path.exists():
        # mlx_lm.load would take this for a Hugging Face repository and download it.
        raise ModelUnavailable(
            f"MLX model {str(path)!r} does not exist; set ai.model_path to a local MLX "
            "model folder or a Gemma 3 .gguf file (nothing is downloaded), or leave it "
            "empty for the packaged Gemma 3 270M."
        )
    gguf = resolve_gguf(str(path))
    return ensure_mlx_model(gguf, cache), gguf


def check_folder(folder: Path) -> None:
    """Refuse a folder that is not an MLX model (config, weights and tokenizer)."""
    needed = ("config.json", "tokenizer_config.json")
    missing = [name for name in needed if not (folder / name).is_file()]
    if not any(folder.glob("model*.safetensors")):
        missing.append("model*.safetensors")
    if missing:
        raise ModelUnavailable(
            f"Folder {str(folder)!r} is not an MLX model: {', '.join(missing)} missing. Set "
            "ai.model_path to a folder made by mlx_lm.convert, or to a Gemma 3 .gguf file."
        )


def _load_folder(folder: Path) -> tuple[Module, TokenizerWrapper]:
    from .mlx_convert import offline_environment

    # mlx-lm downloads whatever is not a local folder; ours always is, and offline
    # mode makes sure nothing underneath reaches for the network either.
    offline_environment()
    try:
        from mlx_lm import load
    except ImportError as error:
        raise ModelUnavailable(
            f"mlx-lm is not installed ({error}); {_INSTALL_HINT}, or choose the llama.cpp "
            "backend (ai.backend = 'llamacpp')."
        ) from error
    try:
        loaded = load(str(folder))
    except (ValueError, OSError, KeyError, TypeError) as error:
        raise ModelUnavailable(
            f"mlx-lm could not load {str(folder)!r} ({error}); the folder may be incomplete "
            "or hold an architecture mlx-lm does not know. Convert the model again, or set "
            "ai.model_path to another model."
        ) from error
    return loaded[0], loaded[1]


def _describe(
    folder: Path, source: Path, tokenizer: TokenizerWrapper, context_length: int
) -> ModelInfo:
    import json

    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    return ModelInfo(
        backend="mlx",
        name=source.stem if source.is_file() else folder.name,
        path=str(folder),
        context_length=context_length,
        details={
            "source": str(source),
            "model_type": config.get("model_type", ""),
            "dtype": config.get("torch_dtype", ""),
            "vocabulary": config.get("vocab_size", 0),
            "eos_token_ids": sorted(tokenizer.eos_token_ids),
            "chat_template": "model" if tokenizer.chat_template else "gemma3 (built in)",
        },
    )


def _mlx_imported() -> bool:
    import sys

    return "mlx.core" in sys.modules


# -- generation helpers (mlx imported by load()) -------------------------------------


def _chat_prompt(
    tokenizer: TokenizerWrapper, messages: Sequence[Message]
) -> tuple[str, tuple[str, ...]]:
    from jinja2 import TemplateError

    if not messages:
        raise ValidationError("A chat needs at least one message; got none.")
    own = tokenizer.chat_template
    turns = [{"role": message.role, "content": message.content} for message in messages]
    try:
        text = tokenizer.apply_chat_template(  # type: ignore[no-untyped-call]
            turns,
            chat_template=None if own else GEMMA3_TEMPLATE,
            tokenize=False,
            add_generation_prompt=True,
        )
    except TemplateError as error:
        roles = "/".join(message.role for message in messages)
        raise ValidationError(
            f"The chat template refused the conversation ({roles}): {error}. After an "
            "optional system message, turns must alternate user/assistant, starting with user."
        ) from error
    return str(text), stop_strings(own or None, tokenizer.eos_token or "")


def _decode(
    model: Module,
    tokenizer: TokenizerWrapper,
    tokens: list[int],
    options: GenerationOptions,
    budget: int,
    stops: StopMatcher,
    cancel: CancelToken | None,
) -> Generator[str, None, tuple[int, FinishReason]]:
    import mlx.core as mx
    from mlx_lm import stream_generate

    mx.random.seed(options.seed)
    responses = stream_generate(
        model, tokenizer, tokens, max_tokens=budget, sampler=_sampler(options)
    )
    produced = 0
    reason: FinishReason = "length"
    try:
        for response in responses:
            if cancel is not None and cancel.cancelled:
                reason = "cancelled"
                break
            # The last response of an EOS carries the EOS token: it is not output.
            if response.finish_reason == "stop":
                reason = "stop"
            else:
                produced += 1
            if text := stops.feed(response.text):
                yield text
            if stops.stopped:
                reason = "stop"
                break
    finally:
        responses.close()
    if tail := stops.flush():
        yield tail
    return produced, reason


def _sampler(options: GenerationOptions) -> Any:
    from mlx_lm.sample_utils import make_sampler

    # mlx-lm's top_p of 0 means "off"; ours of 1 means the same.
    top_p = options.top_p if 0.0 < options.top_p < 1.0 else 0.0
    return make_sampler(temp=options.temperature, top_p=top_p)


def mean_logprob(model: Module, tokens: list[int], chunk: int = _PERPLEXITY_CHUNK) -> float:
    """Mean log-probability of `tokens[1:]`, each given the tokens before it."""
    import mlx.core as mx
    from mlx_lm.models.cache import make_prompt_cache

    cache = make_prompt_cache(model)
    total = 0.0
    for start in range(0, len(tokens) - 1, chunk):
        inputs = tokens[start : start + chunk]
        targets = tokens[start + 1 : start + 1 + len(inputs)]
        logits = model(mx.array(inputs)[None], cache=cache)[0, : len(targets)]
        total += _sum_logprobs(logits.astype(mx.float32), targets)
    return total / (len(tokens) - 1)


def _sum_logprobs(logits: mx.array, targets: list[int]) -> float:
    import mlx.core as mx

    norm = mx.logsumexp(logits, axis=-1)
    chosen = mx.take_along_axis(logits, mx.array(targets)[:, None], axis=-1)[:, 0]
    return cast(float, (chosen - norm).sum().item())

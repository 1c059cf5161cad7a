"""The llama.cpp backend (llama-cpp-python): any GGUF file, the packaged Gemma by default.

We drive llama.cpp token by token (`Llama.generate`) rather than through
`create_completion`, so that cancellation, stop strings, token counts and chat
templates are ours and cost nothing per token. `llama_cpp` is imported in
`load()` only.
"""

from __future__ import annotations

import codecs
import functools
import json
import math
import os
from collections.abc import Generator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ModelUnavailable, ValidationError
from .backend import CancelToken, FinishReason, GenerationOptions, Message, ModelInfo
from .base import LoadedBackend
from .files import PACKAGED_NAME, model_file
from .template import StopMatcher, format_chat, stop_strings, strip_bos

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    from llama_cpp import Llama
    from llama_cpp.llama_grammar import LlamaGrammar

Counts = tuple[int, int, FinishReason]
# Tokens scored per decode in `perplexity()`: the logits of one token are 1 MB for
# Gemma's 262k vocabulary, so small chunks keep llama.cpp's output buffer small.
_PERPLEXITY_CHUNK = 64
_LOOSE_CHAR_RULE = 'char ::= [^"\\\\] |'
_JSON_CHAR_RULE = 'char ::= [^"\\\\\\x7F\\x00-\\x1F] |'


class LlamaCppBackend(LoadedBackend):
    """A GGUF model run in this process by llama.cpp (one lock per loaded model).

    Each call evaluates its whole prompt, so that the same call gives the same
    answer whatever came before; `reuse_prompt_cache=True` reuses the prefix the
    previous call left in the KV cache (faster, but greedy output may differ).
    """

    name = "llamacpp"

    def __init__(
        self,
        model_path: str = "",
        *,
        context_length: int = 4096,
        threads: int = 1,
        busy_timeout_s: float = 120.0,
        reuse_prompt_cache: bool = False,
    ) -> None:
        super().__init__(
            label=f"Model {model_path or PACKAGED_NAME!r}", busy_timeout_s=busy_timeout_s
        )
        self._model_path = model_path
        self._context_length = context_length
        self._threads = threads
        self._reuse_prompt_cache = reuse_prompt_cache
        self._llama: Llama | None = None
        self._template: str | None = None
        self._pieces: dict[int, bytes] = {}
        self._grammars: dict[str, LlamaGrammar] = {}

    @classmethod
    def from_settings(cls, settings: Any) -> LlamaCppBackend:
        """Build from the `ai` settings section (model_path, context_length, threads)."""
        return cls(
            settings.model_path,
            context_length=settings.context_length,
            threads=settings.threads,
            busy_timeout_s=settings.timeout_s,
        )

    # -- loading (the lock and the loaded state are LoadedBackend's) --------------

    def _open(self) -> ModelInfo:
        path = model_file(self._model_path)
        llama = _open_llama(path, self._context_length, self._threads)
        self._template = llama.metadata.get("tokenizer.chat_template") or None
        info = _describe(llama, path, self._template, self._threads)
        self._llama = llama
        return info

    def _release(self) -> None:
        llama, self._llama = self._llama, None
        self._pieces.clear()
        self._grammars.clear()
        if llama is not None:
            llama.close()

    def _load_locked(self) -> Llama:
        self._ensure_loaded()
        assert self._llama is not None
        return self._llama

    # -- generation ---------------------------------------------------------

    def stream(
        self, prompt: str, options: GenerationOptions, cancel: CancelToken | None = None
    ) -> Generator[str, None, Counts]:
        """Complete `prompt` piece by piece; returns (prompt, completion tokens, reason)."""
        return self._generate(prompt, options, cancel)

    def stream_chat(
        self,
        messages: Sequence[Message],
        options: GenerationOptions,
        cancel: CancelToken | None = None,
    ) -> Generator[str, None, Counts]:
        """Answer `messages` in the model's chat template (Gemma 3's if it has none)."""
        return self._generate(tuple(messages), options, cancel)

    def chat_prompt(self, messages: Sequence[Message]) -> tuple[str, tuple[str, ...]]:
        """The prompt (without BOS: llama.cpp adds it) and the stop strings for `messages`."""
        with self._locked():
            return self._chat_prompt(self._load_locked(), messages)

    def _chat_prompt(
        self, llama: Llama, messages: Sequence[Message]
    ) -> tuple[str, tuple[str, ...]]:
        bos = _token_text(llama, llama.token_bos())
        eos = _token_text(llama, llama.token_eos())
        text = format_chat(messages, self._template, bos_token=bos, eos_token=eos)
        return strip_bos(text, bos), stop_strings(self._template, eos)

    def _generate(
        self,
        prompt: str | tuple[Message, ...],
        options: GenerationOptions,
        cancel: CancelToken | None,
    ) -> Generator[str, None, Counts]:
        with self._locked():
            llama = self._load_locked()
            chat_stops: tuple[str, ...] = ()
            if not isinstance(prompt, str):
                prompt, chat_stops = self._chat_prompt(llama, prompt)
            tokens = self._tokenize(llama, prompt)
            budget = min(options.max_tokens, llama.n_ctx() - len(tokens))
            grammar = self._grammar(llama, options.json_schema)
            stops = StopMatcher((*options.stop, *chat_stops))
            if cancel is not None and cancel.cancelled:
                return len(tokens), 0, "cancelled"
            produced, reason = yield from self._decode_loop(
                llama, tokens, options, budget, grammar, stops, cancel
            )
            return len(tokens), produced, reason

    def _decode_loop(
        self,
        llama: Llama,
        tokens: list[int],
        options: GenerationOptions,
        budget: int,
        grammar: LlamaGrammar | None,
        stops: StopMatcher,
        cancel: CancelToken | None,
    ) -> Generator[str, None, tuple[int, FinishReason]]:
        import llama_cpp

        vocab = llama._model.vocab
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        produced = 0
        reason: FinishReason = "length"
        tokens_out = self._sampled(llama, tokens, options, grammar)
        try:
            for token in tokens_out if budget > 0 else ():
                if cancel is not None and cancel.cancelled:
                    reason = "cancelled"
                    break
                if llama_cpp.llama_vocab_is_eog(vocab, token):
                    reason = "stop"
                    break
                produced += 1
                if text := stops.feed(decoder.decode(self._piece(llama, token))):
                    yield text
                if stops.stopped:
                    reason = "stop"
                    break
                if produced >= budget:
                    break
        finally:
            tokens_out.close()
        if tail := stops.feed(decoder.decode(b"", final=True)) + stops.flush():
            yield tail
        return produced, reason

    def _sampled(
        self,
        llama: Llama,
        tokens: list[int],
        options: GenerationOptions,
        grammar: LlamaGrammar | None,
    ) -> Generator[int, Sequence[int] | None, None]:
        llama.set_seed(options.seed)
        if not self._reuse_prompt_cache:
            # Reusing a cached prefix evaluates the rest in a different batch shape, and
            # batched and single-token matmuls round differently: greedy output then
            # depends on the previous call. A full evaluation makes runs repeat.
            _forget(llama)
        # top_k 0 and min_p 0 switch those samplers off: temperature and top_p mean
        # what they mean in the OpenAI API. Temperature 0 is greedy.
        return llama.generate(
            tokens, temp=options.temperature, top_p=options.top_p, top_k=0, min_p=0.0,
            repeat_penalty=1.0, grammar=grammar,
        )  # fmt: skip

    def _tokenize(self, llama: Llama, prompt: str) -> list[int]:
        # Like create_completion: special=True so that template markers such as
        # <start_of_turn> become their control tokens; llama.cpp adds the BOS.
        tokens = llama.tokenize(prompt.encode("utf-8"), add_bos=True, special=True)
        if len(tokens) > 1 and tokens[0] == tokens[1] == llama.token_bos():
            del tokens[0]  # the prompt began with the BOS text: never feed two
        if len(tokens) >= llama.n_ctx():
            raise ValidationError(
                f"The prompt is {len(tokens)} tokens but the context window is "
                f"{llama.n_ctx()}; shorten it or raise ai.context_length."
            )
        return tokens

    def _piece(self, llama: Llama, token: int) -> bytes:
        piece = self._pieces.get(token)
        if piece is None:
            piece = self._pieces[token] = _token_bytes(llama, token)
        return piece

    def _grammar(self, llama: Llama, schema: dict[str, Any] | None) -> LlamaGrammar | None:
        if schema is None:
            return None
        key = json.dumps(schema, sort_keys=True)
        grammar = self._grammars.get(key)
        if grammar is None:
            grammar = self._grammars[key] = _compile_grammar(llama, schema)
        return grammar

    # -- scoring ------------------------------------------------------------

    def perplexity(self, text: str) -> float:
        """exp of the mean negative log-likelihood of each token of `text` given the ones before."""
        with self._locked():
            llama = self._load_locked()
            tokens = llama.tokenize(text.encode("utf-8"), add_bos=True, special=False)
            if len(tokens) < 2:
                raise ValidationError(f"Perplexity needs at least one token of text; got {text!r}.")
            if len(tokens) > llama.n_ctx():
                raise ValidationError(
                    f"The text is {len(tokens)} tokens, longer than the context window "
                    f"({llama.n_ctx()}); score a shorter text or raise ai.context_length."
                )
            return math.exp(-_mean_logprob(llama, tokens))

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """Not supported: a chat model gives poor sentence embeddings."""
        raise ModelUnavailable(
            f"The llama.cpp chat model {self._model_path or PACKAGED_NAME!r} is not an "
            "embedding model; use the sentence-embedding model (setting ai.embedding_model, "
            "default 'minilm') for embeddings."
        )


# -- helpers (all run with llama_cpp imported by load()) ------------------------


def _open_llama(path: Path, context_length: int, threads: int) -> Llama:
    # Idle OpenMP workers must sleep, not spin: spinning threads slowed generation
    # from ~22 to 2-10 tokens/s whenever anything else used the CPU. It is read when
    # the library loads, so it has to be set before the import. A user's value wins.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    try:
        import llama_cpp
    except ImportError as error:
        raise ModelUnavailable(
            f"llama-cpp-python is not installed ({error}); pip install 'nodespace-lab[ai]'."
        ) from error
    try:
        return llama_cpp.Llama(
            model_path=str(path),
            n_ctx=context_length,
            n_threads=threads,
            n_threads_batch=threads,
            embedding=False,
            logits_all=False,
            verbose=False,
        )
    except (ValueError, RuntimeError, OSError) as error:
        raise ModelUnavailable(
            f"llama.cpp could not load {str(path)!r} ({error}); the file may be truncated or "
            "not a model llama.cpp supports: download it again, or set ai.model_path to "
            "another GGUF (empty uses the packaged Gemma 3 270M)."
        ) from error


def _describe(llama: Llama, path: Path, template: str | None, threads: int) -> ModelInfo:
    meta = llama.metadata
    return ModelInfo(
        backend="llamacpp",
        name=meta.get("general.name") or path.stem,
        path=str(path),
        context_length=llama.n_ctx(),
        details={
            "architecture": meta.get("general.architecture", ""),
            "size_label": meta.get("general.size_label", ""),
            "file_type": meta.get("general.file_type", ""),
            "vocabulary": llama.n_vocab(),
            "threads": threads,
            "chat_template": "model" if template else "gemma3 (built in)",
        },
    )


def _token_text(llama: Llama, token: int) -> str:
    return "" if token < 0 else _token_bytes(llama, token).decode("utf-8", errors="replace")


def _token_bytes(llama: Llama, token: int) -> bytes:
    import ctypes

    import llama_cpp

    # special=True renders control tokens (<start_of_turn>...) as their text, so
    # stop strings can match them; ordinary tokens render the same either way.
    size = 64
    while True:
        buffer = ctypes.create_string_buffer(size)
        written = llama_cpp.llama_token_to_piece(llama._model.vocab, token, buffer, size, 0, True)
        if written >= 0:
            return buffer.raw[:written]
        size = -written


def _compile_grammar(llama: Llama, schema: dict[str, Any]) -> LlamaGrammar:
    from .structured import grammar_schema

    try:
        gbnf = _schema_to_gbnf(grammar_schema(schema))
    except Exception as error:  # the converter asserts and raises on what it cannot do
        raise ValidationError(
            f"The JSON schema cannot be turned into a grammar ({error}); simplify it "
            "(enum and maxLength work; regex patterns and $ref to remote files do not)."
        ) from error
    # The Python converter lets raw control characters into strings (invalid JSON);
    # llama.cpp's own converter excludes them, as here.
    gbnf = gbnf.replace(_LOOSE_CHAR_RULE, _JSON_CHAR_RULE)
    return _parse_grammar(llama, gbnf)


# GBNF string-literal escapes (llama.cpp's grammar parser reads these).
_GBNF_LITERAL_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _schema_to_gbnf(schema: dict[str, Any]) -> str:
    """llama-cpp-python's `json_schema_to_gbnf`, with literals escaped completely."""
    converter = _converter_class()(
        prop_order={}, allow_fetch=False, dotall=False, raw_pattern=False
    )
    converter.visit(converter.resolve_refs(schema, "stdin"), "")
    grammar: str = converter.format_grammar()
    return grammar


@functools.cache
def _converter_class() -> Any:
    from llama_cpp.llama_grammar import SchemaConverter

    class Converter(SchemaConverter):
        # The original escapes only quotes and line breaks, so an enum value such as
        # a tag 'we"ird\\tag' became the literal "\"we\\"ird..." that ends early:
        # the grammar did not parse and the model was not used (issue 12, bug 9b).
        def _format_literal(self, literal: str) -> str:
            return '"' + "".join(_GBNF_LITERAL_ESCAPES.get(c, c) for c in literal) + '"'

    return Converter


def _parse_grammar(llama: Llama, gbnf: str) -> LlamaGrammar:
    import llama_cpp
    from llama_cpp.llama_grammar import LlamaGrammar

    # A grammar llama.cpp cannot parse gives a NULL sampler, and llama-cpp-python
    # adds it to the chain unchecked: the process segfaults. Parse it once here.
    sampler = llama_cpp.llama_sampler_init_grammar(llama._model.vocab, gbnf.encode(), b"root")
    if not sampler:
        raise ValidationError(
            f"The grammar made from the JSON schema does not parse in llama.cpp: "
            f"{gbnf[:300]!r}; simplify the schema (drop regex patterns)."
        )
    llama_cpp.llama_sampler_free(sampler)
    return LlamaGrammar.from_string(gbnf, verbose=False)


def _mean_logprob(llama: Llama, tokens: list[int]) -> float:
    from llama_cpp import _internals

    # Score with our own batch and reset llama's bookkeeping on both sides, so the
    # next generate() neither reuses nor trips over what this evaluation cached.
    # (These llama-cpp-python internals carry no type hints, hence Any.)
    context: Any = llama._ctx
    batch: Any = _internals.LlamaBatch(n_tokens=_PERPLEXITY_CHUNK, embd=0, n_seq_max=1)
    _forget(llama)
    total = 0.0
    try:
        for start in range(0, len(tokens) - 1, _PERPLEXITY_CHUNK):
            chunk = tokens[start : start + _PERPLEXITY_CHUNK]
            batch.set_batch(chunk, n_past=start, logits_all=True)
            context.decode(batch)
            targets = tokens[start + 1 : start + 1 + len(chunk)]
            logits = _logits(context.get_logits(), len(chunk), llama.n_vocab())
            total += _sum_logprobs(logits[: len(targets)], targets)
    finally:
        batch.close()
        _forget(llama)
    return total / (len(tokens) - 1)


def _forget(llama: Llama) -> None:
    untyped: Any = llama
    untyped.reset()
    untyped._ctx.kv_cache_clear()


def _logits(pointer: Any, rows: int, vocab: int) -> npt.NDArray[np.float32]:
    import numpy as np

    flat = np.ctypeslib.as_array(pointer, shape=(rows * vocab,))
    return flat.reshape(rows, vocab)


def _sum_logprobs(logits: npt.NDArray[np.float32], targets: list[int]) -> float:
    import numpy as np

    wide = logits.astype(np.float64)
    peak = wide.max(axis=1, keepdims=True)
    log_norm = peak[:, 0] + np.log(np.exp(wide - peak).sum(axis=1))
    chosen = wide[np.arange(len(targets)), targets]
    return float((chosen - log_norm).sum())

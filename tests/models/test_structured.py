"""Structured output on the real packaged Gemma through llama.cpp: grammar-constrained
JSON that is validated against the full schema, and one repair retry."""

from __future__ import annotations

import json
from collections.abc import Generator, Sequence
from pathlib import Path
from typing import cast

import pytest

from nodespace_lab.errors import ValidationError
from nodespace_lab.models.backend import Backend, CancelToken, GenerationOptions, Message, ModelInfo
from nodespace_lab.models.llamacpp import LlamaCppBackend
from nodespace_lab.models.structured import (
    StructuredOutputError,
    check_schema,
    grammar_schema,
    parse_json,
    structured,
    validate,
)

# Registered once per session, so the packaged Gemma loads once for all files.
pytest_plugins = ["tests.models.gemma_fixtures"]

TASK = {
    "type": "object",
    "properties": {
        "title": {"type": "string", "minLength": 1, "maxLength": 40},
        "priority": {"type": "integer", "minimum": 1, "maximum": 4},
        "status": {"enum": ["todo", "doing", "done"]},
        "tags": {
            "type": "array",
            "items": {"type": "string", "maxLength": 12},
            "maxItems": 3,
        },
    },
    "required": ["title", "priority", "status", "tags"],
    "additionalProperties": False,
}
ASK = [
    Message("system", "You turn requests into tasks, as JSON."),
    Message("user", "Remind me to buy milk and eggs tomorrow, it is urgent."),
]


class Recording(Backend):
    """Forwards to a real backend and keeps the conversations it was asked."""

    name = "recording"

    def __init__(self, inner: Backend) -> None:
        self.inner = inner
        self.asked: list[list[Message]] = []

    def load(self) -> ModelInfo:
        return self.inner.load()

    def stream(
        self, prompt: str, options: GenerationOptions, cancel: CancelToken | None = None
    ) -> Generator[str, None, object]:
        pieces = cast(Generator[str, None, object], self.inner.stream(prompt, options, cancel))
        return (yield from pieces)

    def stream_chat(
        self,
        messages: Sequence[Message],
        options: GenerationOptions,
        cancel: CancelToken | None = None,
    ) -> Generator[str, None, object]:
        self.asked.append(list(messages))
        pieces = self.inner.stream_chat(messages, options, cancel)
        return (yield from cast(Generator[str, None, object], pieces))

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        return self.inner.embed(texts)

    def perplexity(self, text: str) -> float:
        return self.inner.perplexity(text)

    def unload(self) -> None:
        self.inner.unload()

    @property
    def info(self) -> ModelInfo | None:
        return self.inner.info


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_sampled_output_is_valid_under_the_schema(
    llama_backend: LlamaCppBackend, seed: int
) -> None:
    options = GenerationOptions(max_tokens=160, temperature=0.9, seed=seed)
    recording = Recording(llama_backend)
    task = structured(recording, ASK, TASK, options)
    assert validate(task, TASK) is None
    assert set(task) == {"title", "priority", "status", "tags"}
    assert 1 <= task["priority"] <= 4 and task["status"] in ("todo", "doing", "done")
    assert len(recording.asked) == 1, "the grammar made the first answer valid"


def test_greedy_output_is_valid_and_repeatable(llama_backend: LlamaCppBackend) -> None:
    first = structured(llama_backend, ASK, TASK)
    assert validate(first, TASK) is None
    assert structured(llama_backend, ASK, TASK) == first


def test_an_answer_the_grammar_cannot_force_is_retried_once_then_refused(
    llama_backend: LlamaCppBackend,
) -> None:
    # A \b pattern is beyond the grammar converter: it is dropped from the grammar and
    # only checked afterwards, so the model's free answer fails validation twice.
    schema = {
        "type": "object",
        "properties": {"code": {"type": "string", "maxLength": 12, "pattern": "\\bQ7Z-\\d{4}\\b"}},
        "required": ["code"],
    }
    recording = Recording(llama_backend)
    with pytest.raises(StructuredOutputError) as caught:
        structured(recording, ASK, schema, GenerationOptions(max_tokens=40))
    message = str(caught.value)
    assert "does not match" in message and "at code:" in message and "first answer" in message
    assert len(recording.asked) == 2
    repair = recording.asked[1]
    assert repair[: len(ASK)] == ASK and repair[len(ASK)].role == "assistant"
    assert repair[-1].role == "user" and "not valid" in repair[-1].content
    assert json.dumps(schema) in repair[-1].content


def test_a_digit_pattern_is_constrained_not_a_crash(llama_backend: LlamaCppBackend) -> None:
    # Passed verbatim, \d makes a grammar llama.cpp cannot parse, which used to
    # segfault the process; rewritten as [0-9] it constrains the output.
    schema = {
        "type": "object",
        "properties": {"zip": {"type": "string", "pattern": "^\\d{5}$"}},
        "required": ["zip"],
    }
    answer = structured(llama_backend, ASK, schema, GenerationOptions(max_tokens=40))
    assert validate(answer, schema) is None and answer["zip"].isdigit()


def test_a_grammar_llama_cpp_cannot_parse_is_refused(gemma_gguf: Path) -> None:
    import llama_cpp
    from llama_cpp.llama_grammar import json_schema_to_gbnf

    from nodespace_lab.models.llamacpp import _parse_grammar

    dotted = {"type": "string", "pattern": "^a\\.b$"}
    vocab_only = llama_cpp.Llama(str(gemma_gguf), vocab_only=True, verbose=False)
    try:
        # Unrewritten, the converter copies \. into a grammar llama.cpp rejects; the
        # guard turns what would be a segfault of the process into an error.
        with pytest.raises(ValidationError, match="does not parse"):
            _parse_grammar(vocab_only, json_schema_to_gbnf(json.dumps(dotted)))
        rewritten = grammar_schema(dotted)
        assert rewritten["pattern"] == "^a[.]b$"
        _parse_grammar(vocab_only, json_schema_to_gbnf(json.dumps(rewritten)))
    finally:
        vocab_only.close()


def test_grammar_schema_rewrites_what_converters_miss() -> None:
    rewritten = grammar_schema(TASK)
    assert rewritten["properties"]["priority"] == {"enum": [1, 2, 3, 4]}
    assert rewritten["properties"]["title"] == TASK["properties"]["title"]  # type: ignore[index]
    assert TASK["properties"]["priority"]["type"] == "integer"  # type: ignore[index]
    digits = grammar_schema({"type": "string", "pattern": "^[\\d-]+\\.\\d$"})
    assert digits["pattern"] == "^[0-9-]+[.][0-9]$"
    wide = {"type": "integer", "minimum": 0, "maximum": 10_000}
    assert grammar_schema(wide) == wide
    assert grammar_schema({"type": "string", "pattern": "\\d+"}) == {"type": "string"}


def test_validate_names_the_place_and_the_rule() -> None:
    good = {"title": "Buy milk", "priority": 2, "status": "todo", "tags": []}
    assert validate(good, TASK) is None
    problem = validate({**good, "priority": 9}, TASK)
    assert problem is not None and problem.startswith("at priority:") and "4" in problem
    problem = validate({**good, "tags": ["a" * 20]}, TASK)
    assert problem is not None and problem.startswith("at tags/0:")


def test_json_is_found_in_prose_and_code_fences() -> None:
    assert parse_json('Sure! ```json\n{"a": [1, 2]}\n``` Done.') == {"a": [1, 2]}
    assert parse_json('{"text": "two\nlines"}') == {"text": "two\nlines"}
    with pytest.raises(json.JSONDecodeError):
        parse_json("no json here")


def test_an_invalid_schema_is_refused_before_asking() -> None:
    with pytest.raises(ValidationError, match="JSON schema is invalid"):
        check_schema({"type": "objekt"})

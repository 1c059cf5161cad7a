"""Structured output: JSON under a schema, constrained by the backend, then validated.

The backend constrains decoding where it can (a llama.cpp grammar, an OpenAI
`response_format`); whatever comes back is parsed and validated against the
full schema here, because grammars cover only part of JSON Schema (bounds on
integers and regex patterns are not enforced by llama.cpp's converter). One
invalid answer earns one retry with a repair message; a second is an error.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ..errors import ValidationError
from .backend import GenerationOptions, Message

if TYPE_CHECKING:
    from .backend import Backend

# Integer ranges up to this size become an enum in the grammar, which llama.cpp enforces.
_MAX_ENUM_RANGE = 64
# Regex shorthands the grammar converter passes through verbatim (then llama.cpp
# cannot parse the grammar), rewritten as character classes.
_CLASS_ESCAPES = {r"\d": "0-9", r"\w": "a-zA-Z0-9_", r"\s": r" \t\n"}
_GBNF_ESCAPES = "ntr"
_CLASS_SPECIAL = "[]^\\-"
_QUOTE_LIMIT = 200


class StructuredOutputError(ValidationError):
    """The model's answer was not JSON valid under the schema, even after a retry."""


def structured(
    backend: Backend,
    messages: Sequence[Message],
    schema: dict[str, Any],
    options: GenerationOptions | None = None,
) -> dict[str, Any]:
    """Ask `backend` for one JSON object under `schema`; parsed, validated, retried once."""
    check_schema(schema)
    asked = replace(options or GenerationOptions(max_tokens=512), json_schema=schema)
    history = list(messages)
    answer = backend.chat(history, asked).text
    problem = _problem(answer, schema)
    if problem is None:
        return _parse(answer)
    history += [Message("assistant", answer), Message("user", _repair_message(problem, schema))]
    second = backend.chat(history, asked).text
    second_problem = _problem(second, schema)
    if second_problem is None:
        return _parse(second)
    raise StructuredOutputError(
        f"The model's answer {_quote(second)} does not match the JSON schema: {second_problem} "
        f"(first answer: {problem}). Try a larger or instruction-tuned model (ai.model_path), "
        "or a simpler schema."
    )


def validate(value: Any, schema: dict[str, Any]) -> str | None:
    """The first way `value` breaks `schema` (a short sentence), or None if it is valid."""
    errors = sorted(_validator_class()(schema).iter_errors(value), key=lambda e: list(e.path))
    if not errors:
        return None
    error = errors[0]
    where = "/".join(str(part) for part in error.absolute_path) or "(top level)"
    return f"at {where}: {error.message}"


def check_schema(schema: dict[str, Any]) -> None:
    """`ValidationError` if `schema` is not a valid JSON schema."""
    jsonschema = importlib.import_module("jsonschema")
    try:
        jsonschema.Draft202012Validator.check_schema(schema)
    except jsonschema.SchemaError as error:
        raise ValidationError(
            f"The JSON schema is invalid: {error.message}; fix it (JSON Schema 2020-12)."
        ) from error


def _validator_class() -> Any:
    # import_module: jsonschema ships no type hints (types-jsonschema is not needed).
    return importlib.import_module("jsonschema").Draft202012Validator


def grammar_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """A copy of `schema` that grammar converters handle (validation still uses the original).

    Small integer ranges become enums (converters ignore minimum/maximum), regex
    shorthands become classes, and patterns a converter cannot read are dropped.
    """
    rewritten: dict[str, Any] = _for_grammar(schema)  # builds new dicts and lists
    return rewritten


def _for_grammar(node: Any) -> Any:
    if isinstance(node, list):
        return [_for_grammar(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _for_grammar(value) for key, value in node.items()}
    if "pattern" in node and isinstance(node["pattern"], str):
        pattern = _grammar_pattern(node.pop("pattern"))
        if pattern is not None:
            node["pattern"] = pattern
    if _small_integer_range(node):
        low, high = int(node.pop("minimum")), int(node.pop("maximum"))
        node.pop("type")
        node["enum"] = list(range(low, high + 1))
    return node


def _grammar_pattern(pattern: str) -> str | None:
    # The converter copies escapes into the grammar verbatim, where llama.cpp knows
    # only \n \t \r: rewrite the others, or give up on the pattern (None).
    parts: list[str] = []
    in_class = False
    at = 0
    while at < len(pattern):
        pair = pattern[at : at + 2]
        if pair[0] == "\\" and len(pair) == 2:
            escaped = _grammar_escape(pair, in_class)
            if escaped is None:
                return None
            parts.append(escaped)
            at += 2
            continue
        in_class = (in_class or pair[0] == "[") and pair[0] != "]"
        parts.append(pair[0])
        at += 1
    result = "".join(parts)
    # The converter only reads whole-string patterns.
    return result if result.startswith("^") and result.endswith("$") else None


def _grammar_escape(pair: str, in_class: bool) -> str | None:
    members = _CLASS_ESCAPES.get(pair)
    if members is not None:
        return members if in_class else f"[{members}]"
    char = pair[1]
    if char in _GBNF_ESCAPES:
        return pair
    if char.isalnum() or char in _CLASS_SPECIAL:
        return None  # \b, \D, \p{..}, \1, or a bracket: nothing the grammar can say
    return char if in_class else f"[{char}]"


def _small_integer_range(node: dict[str, Any]) -> bool:
    low, high = node.get("minimum"), node.get("maximum")
    return (
        node.get("type") == "integer"
        and isinstance(low, int)
        and isinstance(high, int)
        and 0 <= high - low < _MAX_ENUM_RANGE
        and "enum" not in node
    )


def _problem(answer: str, schema: dict[str, Any]) -> str | None:
    try:
        value = parse_json(answer)
    except json.JSONDecodeError as error:
        return f"not JSON ({error.msg}, character {error.pos})"
    return validate(value, schema)


def parse_json(answer: str) -> Any:
    """The JSON value in `answer`, also when a model wrapped it in prose or a code fence."""
    # strict=False: raw newlines inside strings are invalid JSON but harmless, and
    # some servers' grammars let them through.
    try:
        return json.loads(answer, strict=False)
    except json.JSONDecodeError as error:
        starts = [at for at in (answer.find("{"), answer.find("[")) if at >= 0]
        if not starts:
            raise
        try:
            return json.JSONDecoder(strict=False).raw_decode(answer, min(starts))[0]
        except json.JSONDecodeError:
            raise error from None


def _parse(answer: str) -> dict[str, Any]:
    value = parse_json(answer)
    if not isinstance(value, dict):
        raise StructuredOutputError(
            f"The model answered {_quote(answer)}, a JSON {type(value).__name__}, where an "
            "object was expected; give the schema a top-level 'type': 'object'."
        )
    return value


def _repair_message(problem: str, schema: dict[str, Any]) -> str:
    return (
        f"That answer is not valid: {problem}. Answer again with only one JSON object "
        f"that matches this JSON schema:\n{json.dumps(schema)}"
    )


def _quote(text: str) -> str:
    text = text.strip()
    return repr(text if len(text) <= _QUOTE_LIMIT else text[:_QUOTE_LIMIT] + "...")

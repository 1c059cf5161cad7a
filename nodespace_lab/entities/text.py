"""Entity field values typed as text (the command line's `--set year=2024`), read by type.

Reading only turns text into the Python value its field takes (`"2024"` into
2024 for an integer field, `"a,b"` into a list); checking stays with
`schema.check_value`, called by create() and update(). Text that does not
read as the type is passed on as it is, so the error is the one the Python
API gives ("... field 'year' must be an integer, not 'soon' (text)").
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from ..errors import ValidationError
from .find import is_many, item_type
from .schema import Field, KindSchema, short

_BOOLS = {"true": True, "yes": True, "false": False, "no": False}


def parse_assignment(text: str, option: str = "--set") -> tuple[str, str]:
    """`name=value` split at the first '=' (ValidationError naming the fix otherwise)."""
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise ValidationError(
            f"{option} {short(text)} is not FIELD=VALUE; write e.g. {option} year=2024."
        )
    return name.strip(), value


def read_fields(schema: KindSchema, assignments: Iterable[str]) -> dict[str, Any]:
    """The field values of `FIELD=VALUE` texts, each read as its field's type.

    A name the kind does not have is passed on as text: create() and update()
    refuse it naming the kind's fields. An empty VALUE clears the field.
    """
    values: dict[str, Any] = {}
    for text in assignments:
        name, raw = parse_assignment(text)
        if name in values:
            raise ValidationError(f"--set {name} is given twice; give each field once.")
        item = next((f for f in schema.fields if f.name == name), None)
        values[name] = raw if item is None else read_value(item, raw)
    return values


def read_value(item: Field, raw: str) -> Any:
    """`raw` as the value of field `item` (None for empty text: the field is cleared)."""
    if raw.strip() == "":
        return None
    if is_many(item):
        return _read_list(item, raw)
    return _read_scalar(item_type(item), raw)


def read_condition(item: Field, op: str, raw: str) -> Any:
    """The value of a find() condition `item op raw` typed as text (`nodespace find --where`).

    'in' takes comma-separated values; 'contains' on a list takes one item;
    'contains' and 'startswith' on text take a piece of text as it is.
    """
    one = replace(item, type=item_type(item), many=False, of=None)
    if op == "in":
        return [read_value(one, part.strip()) for part in raw.split(",")]
    if op in ("contains", "startswith") and one.type in ("text", "enum", "ref"):
        return raw
    return read_value(one if op == "contains" else item, raw)


def _read_list(item: Field, raw: str) -> Any:
    stripped = raw.strip()
    if stripped.startswith("["):
        # A JSON list, for items that hold commas: --set keywords='["a, b", "c"]'.
        try:
            loaded: Any = json.loads(stripped)
        except ValueError:
            return raw  # refused by the check as "not a list", naming the text
        return loaded
    kind_of = item_type(item)
    return [_read_scalar(kind_of, part.strip()) for part in stripped.split(",")]


def _read_scalar(kind_of: str, raw: str) -> Any:
    text = raw.strip()
    if kind_of == "integer":
        body = text.lstrip("+-")
        return int(text) if body.isdigit() and body.isascii() else raw
    if kind_of == "number":
        try:
            return float(text)
        except ValueError:
            return raw
    if kind_of == "bool":
        found = _BOOLS.get(text.lower())
        return raw if found is None else found
    if kind_of in ("date", "datetime", "ref", "enum"):
        return text
    return raw  # text keeps its spaces

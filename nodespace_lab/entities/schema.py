"""Entity kinds: typed fields, their stored form, and checking values against them.

A `KindSchema` is a user-defined kind (paper, dataset, person...) with an
ordered tuple of `Field`s. Values live in the node's `properties` JSON in a
stored form that round-trips through JSON exactly: text, enum and reference
ids as strings, numbers as floats, integers as ints (int64 range), bools,
dates as 'YYYY-MM-DD', datetimes as naive-UTC ISO strings, lists as arrays.

A field with an `expression` is calculated (see `calc/`): its value is
computed from other fields and stored like any other, but never set by hand.
Its type may be left out ('auto') and is then inferred when it is defined.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from ..errors import ValidationError
from ..nodes.model import COLUMNS

#: The type of a calculated field whose type is inferred from its expression.
AUTO = "auto"
SCALAR_TYPES = ("text", "number", "integer", "bool", "date", "datetime", "enum")
FIELD_TYPES = (*SCALAR_TYPES, "ref", "list")
#: Names a field cannot take: node columns, the keyword arguments of create(), the
#: names expressions use for neighbours and built-in attributes, and `args` (the
#: service protocol's key for positional arguments).
RESERVED = frozenset(
    {*COLUMNS, "parent", "index", "tags", "node_id", "expected_version", "children", "kind",
     "links", "backlinks", "done", "archived", "args"}
)  # fmt: skip
_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
_INT = re.compile(r"[-+]?\d+")
_INT64 = 2**63
_ALLOWED = {
    "text": "text",
    "number": "a number",
    "integer": "an integer",
    "bool": "true or false",
    "date": "a date YYYY-MM-DD",
    "datetime": "a date and time such as 2026-11-25T14:30:00",
}
_SPEC_KEYS = frozenset(
    {"type", "required", "default", "description", "indexed", "choices", "to", "many", "of",
     "expression"}
)  # fmt: skip


def short(value: object) -> str:
    """repr of a user value, cut to a readable length."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


@dataclass(frozen=True)
class Field:
    """One typed field of an entity kind.

    `type` is one of FIELD_TYPES. `choices` for enum (and lists of enum),
    `to` (a kind, or None for any node) and `many` for references, `of` (a
    scalar type) for lists. `default` is kept in stored form.
    """

    name: str
    type: str
    required: bool = False
    default: Any = None
    description: str = ""
    indexed: bool = False
    choices: tuple[str, ...] = ()
    to: str | None = None
    many: bool = False
    of: str | None = None
    expression: str | None = None

    def allowed(self) -> str:
        """What this field accepts, in words."""
        if self.type == "enum":
            return "one of " + ", ".join(repr(c) for c in self.choices)
        if self.type == "ref":
            if self.many:
                return f"a list of ids of {self.to + ' ' if self.to else ''}nodes"
            return f"the id of {'a ' + self.to if self.to else 'a'} node"
        if self.type == "list":
            item = replace(self, type=self.of or "text", name=self.name)
            return f"a list of items, each {item.allowed()}"
        return _ALLOWED[self.type]

    def type_label(self) -> str:
        """The type as written in a schema file: 'integer', 'list of date', 'ref to person'."""
        if self.expression is not None:
            return f"{self.type} = {self.expression}"
        if self.type == "list":
            return f"list of {self.of}"
        if self.type == "ref":
            return f"ref{'s' if self.many else ''} to {self.to or 'any kind'}"
        return self.type

    def to_json(self) -> dict[str, Any]:
        """The field as a JSON-ready dict, defaults left out."""
        data: dict[str, Any] = {"name": self.name, "type": self.type}
        for key in ("required", "default", "description", "indexed", "to", "many", "of",
                    "expression"):  # fmt: skip
            value = getattr(self, key)
            if value not in (None, False, ""):
                data[key] = value
        if self.choices:
            data["choices"] = list(self.choices)
        return data


@dataclass(frozen=True)
class KindSchema:
    """A user-defined entity kind: name, description and ordered fields."""

    name: str
    description: str = ""
    fields: tuple[Field, ...] = ()
    version: int = 1
    extra: dict[str, Any] = field(default_factory=dict)

    def field(self, name: str) -> Field:
        """The field called `name`, or a ValidationError listing the fields."""
        for item in self.fields:
            if item.name == name:
                return item
        raise ValidationError(
            f"Kind {self.name!r} has no field {name!r}; its fields are "
            f"{', '.join(self.names()) or '(none)'}."
        )

    def names(self) -> list[str]:
        """Field names in order."""
        return [f.name for f in self.fields]

    def to_json(self) -> dict[str, Any]:
        """The schema as a JSON-ready dict (what the graph stores)."""
        return {
            "name": self.name,
            "description": self.description,
            "fields": [f.to_json() for f in self.fields],
        }

    def __repr__(self) -> str:
        inner = ", ".join(f"{f.name}: {f.type_label()}" for f in self.fields)
        return f"KindSchema({self.name!r}, {{{inner}}})"


# -- building schemas from user input ---------------------------------------


def check_kind_name(name: object) -> str:
    """A kind name: a lowercase identifier."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ValidationError(
            f"Kind name {short(name)} is invalid; use a lowercase identifier such as 'paper'."
        )
    return name


def check_field_name(kind: str, name: object) -> str:
    """A field name: a lowercase identifier that is not a node column."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ValidationError(
            f"Kind {kind!r}: field name {short(name)} is invalid; use a lowercase identifier "
            "such as 'year' or 'first_author'."
        )
    if name in RESERVED:
        raise ValidationError(
            f"Kind {kind!r}: field name {name!r} is reserved (a node column or create() "
            f"argument: {', '.join(sorted(RESERVED))}); pick another, e.g. {name + '_'!r}."
        )
    return name


def parse_field(kind: str, name: str, spec: object) -> Field:
    """A Field from a type name ('integer'), a dict of options, or a Field."""
    name = check_field_name(kind, name)
    if isinstance(spec, Field):
        spec = spec.to_json()
    if isinstance(spec, str):
        spec = {"type": spec}
    if not isinstance(spec, Mapping):
        raise ValidationError(
            f"Kind {kind!r} field {name!r}: spec {short(spec)} is not a type name or a table "
            "of options; write e.g. year = 'integer' or year = {type = 'integer'}."
        )
    unknown = sorted(set(spec) - _SPEC_KEYS - {"name"})
    if unknown:
        raise ValidationError(
            f"Kind {kind!r} field {name!r} has unknown option {unknown[0]!r}; options are "
            f"{', '.join(sorted(_SPEC_KEYS))}."
        )
    return _finish_field(kind, _build_field(kind, name, dict(spec)))


def _build_field(kind: str, name: str, spec: dict[str, Any]) -> Field:
    where = f"Kind {kind!r} field {name!r}"
    kind_of = spec.get("type")
    if kind_of is None and spec.get("expression") is not None:
        kind_of = AUTO  # inferred from the expression when the kind is defined
    if kind_of not in FIELD_TYPES and not (kind_of == AUTO and spec.get("expression")):
        raise ValidationError(
            f"{where} has type {short(kind_of)}; use one of {', '.join(FIELD_TYPES)}."
        )
    for flag in ("required", "indexed", "many"):
        if not isinstance(spec.get(flag, False), bool):
            raise ValidationError(
                f"{where}: {flag} must be true or false, not {short(spec[flag])}."
            )
    for text in ("description", "to", "of", "expression"):
        if spec.get(text) is not None and not isinstance(spec[text], str):
            raise ValidationError(f"{where}: {text} must be text, not {short(spec[text])}.")
    choices = spec.get("choices", ())
    if not isinstance(choices, list | tuple) or not all(isinstance(c, str) for c in choices):
        raise ValidationError(f"{where}: choices must be a list of text, not {short(choices)}.")
    return Field(
        name=name, type=kind_of, required=spec.get("required", False),
        default=spec.get("default"), description=spec.get("description") or "",
        indexed=spec.get("indexed", False), choices=tuple(choices), to=spec.get("to"),
        many=spec.get("many", False), of=spec.get("of"), expression=spec.get("expression"),
    )  # fmt: skip


def _finish_field(kind: str, item: Field) -> Field:
    where = f"Kind {kind!r} field {item.name!r}"
    enum_like = item.type == "enum" or (item.type == "list" and item.of == "enum")
    if enum_like and (not item.choices or len(set(item.choices)) != len(item.choices)):
        raise ValidationError(f"{where} is an enum: give choices, a list of distinct values.")
    if item.choices and not enum_like:
        raise ValidationError(f"{where}: choices only apply to enum fields; remove them.")
    if item.type == "list" and item.of not in SCALAR_TYPES:
        raise ValidationError(
            f"{where} is a list: set of to one of {', '.join(SCALAR_TYPES)} "
            "(a list of references is type = 'ref' with many = true)."
        )
    if item.type != "list" and item.of is not None:
        raise ValidationError(f"{where}: 'of' only applies to lists; remove it.")
    if item.type != "ref" and (item.to is not None or item.many):
        raise ValidationError(f"{where}: 'to' and 'many' only apply to references; remove them.")
    if item.to is not None:
        check_kind_name(item.to)
    if item.expression is not None:
        return _finish_calculated(kind, item)
    if item.default is not None:
        default = check_value(f"{where} default", item, item.default, label=False)
        item = replace(item, default=default)
    return item


def _finish_calculated(kind: str, item: Field) -> Field:
    """Check what can be checked of a calculated field on its own (names and types need
    the other kinds: `calc.plan.compile_plan` checks them when the kind is stored)."""
    from .calc.plan import CALC_TYPES, parsed  # the language is loaded only when used

    where = f"Kind {kind!r} field {item.name!r}"
    if item.type not in (*CALC_TYPES, AUTO):
        raise ValidationError(
            f"{where} is calculated, so its type is one of {', '.join(CALC_TYPES)} "
            f"(or left out to infer it), not {item.type!r}."
        )
    for option in ("required", "default", "to", "many", "of"):
        if getattr(item, option) not in (None, False):
            raise ValidationError(
                f"{where} is calculated: {option!r} does not apply (its value always comes "
                "from the expression); remove it."
            )
    parsed(kind, item.name, item.expression or "")
    return item


def make_schema(
    name: str, fields: Mapping[str, object] | None = None, description: str = ""
) -> KindSchema:
    """A checked KindSchema from user input (the arguments of `kb.define`)."""
    name = check_kind_name(name)
    if not isinstance(description, str):
        raise ValidationError(f"Kind {name!r}: description must be text, not {short(description)}.")
    if fields is None:
        fields = {}
    if not isinstance(fields, Mapping):
        raise ValidationError(
            f"Kind {name!r}: fields must be a mapping of name to type, not {short(fields)}."
        )
    built = tuple(parse_field(name, key, spec) for key, spec in fields.items())
    return KindSchema(name, description, built)


def schema_from_json(data: Mapping[str, Any], version: int = 1) -> KindSchema:
    """Rebuild a stored schema (no checks: it was checked when defined)."""
    fields = []
    for item in data.get("fields", []):
        values = dict(item)
        values["choices"] = tuple(values.get("choices", ()))
        fields.append(Field(**values))
    return KindSchema(data["name"], data.get("description", ""), tuple(fields), version)


# -- checking values ------------------------------------------------------------


def check_value(obj: str, item: Field, value: object, *, label: bool = True) -> Any:
    """`value` in stored form for field `item`, or a ValidationError naming all four parts.

    `obj` names the entity (e.g. "New paper 'Graphs'"); None is returned as is
    (the caller decides whether the field is required).
    """
    if value is None:
        return None
    where = f"{obj} field {item.name!r}" if label else obj
    if item.type == "list" or (item.type == "ref" and item.many):
        return _check_list(where, item, value)
    return _check_scalar(where, item, item.type, value)


def _check_list(where: str, item: Field, value: object) -> list[Any]:
    if not isinstance(value, list | tuple):
        raise ValidationError(
            f"{where} must be {item.allowed()}, not {short(value)} ({_type_name(value)})."
        )
    kind_of = "ref" if item.type == "ref" else item.of or "text"
    return [_check_scalar(f"{where} item {i}", item, kind_of, v) for i, v in enumerate(value)]


def _check_scalar(where: str, item: Field, kind_of: str, value: object) -> Any:
    stored = _scalar(kind_of, item, value)
    if stored is _BAD:
        one = replace(item, type=kind_of, many=False, of=None)
        allowed = one.allowed()
        raise ValidationError(
            f"{where} must be {allowed}, not {short(value)} ({_type_name(value)})."
        )
    return stored


_BAD = object()


def _scalar(kind_of: str, item: Field, value: object) -> Any:
    """The stored form of one scalar, or _BAD."""
    if kind_of in ("text", "ref", "enum"):
        ok = isinstance(value, str) and "\x00" not in value and _encodable(value)
        if not ok or (kind_of == "enum" and value not in item.choices):
            return _BAD
        return value if kind_of != "ref" or value else _BAD
    if kind_of == "bool":
        return value if isinstance(value, bool) else _BAD
    if kind_of == "integer":
        ok = isinstance(value, int) and not isinstance(value, bool) and -_INT64 <= value < _INT64
        return value if ok else _BAD
    if kind_of == "number":
        if isinstance(value, bool) or not isinstance(value, int | float):
            return _BAD
        return float(value) if math.isfinite(value) and abs(value) < 1e308 else _BAD
    if kind_of == "date":
        return _date(value)
    return _datetime(value)


def _date(value: object) -> Any:
    if isinstance(value, dt.datetime):
        return _BAD
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value).isoformat()
        except ValueError:
            return _BAD
    return _BAD


def _datetime(value: object) -> Any:
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            return _BAD
    if not isinstance(value, dt.datetime):
        return _BAD
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return value.isoformat()


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _type_name(value: object) -> str:
    names = {str: "text", int: "integer", float: "number", bool: "bool", list: "list",
             tuple: "list", dict: "table", type(None): "nothing"}  # fmt: skip
    return names.get(type(value), type(value).__name__)


def decode_value(item: Field, stored: Any) -> Any:
    """A stored value as Python: dates and datetimes parsed, the rest as stored."""
    if stored is None:
        return None
    kind_of = item.of if item.type == "list" else item.type
    if isinstance(stored, list):
        return [_decode_scalar(kind_of or "text", v) for v in stored]
    return _decode_scalar(kind_of or "text", stored)


def _decode_scalar(kind_of: str, stored: Any) -> Any:
    if kind_of == "date":
        return dt.date.fromisoformat(stored)
    if kind_of == "datetime":
        return dt.datetime.fromisoformat(stored)
    return stored

"""Static checking of an expression against a kind's fields: names and types.

Types are number (integer included), text (enum included), bool, date,
datetime, list, any and null. 'any' is compatible with everything; only
mismatches that are certain are errors (text + number, date * 2, comparing
text with a number, summing text...). Reference fields ('ref', 'refs') are
sources, not values: they may only be read through `.attr`, an aggregate or
`is null`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import NoReturn

from .functions import AGGREGATORS, FUNCTIONS, Function
from .syntax import (
    COLLECTIONS,
    SOURCES,
    Aggregate,
    Attr,
    Binary,
    Call,
    Constant,
    InList,
    IsNull,
    Logic,
    Name,
    Node,
    Unary,
    error_at,
    suggest,
)

#: Attributes every node has, with their types.
BUILTIN_ATTRIBUTES: Mapping[str, str] = MappingProxyType({
    "id": "text", "kind": "text", "title": "text", "content": "text",
    "created_at": "datetime", "updated_at": "datetime", "status": "text", "done": "bool",
    "priority": "integer", "due": "date", "scheduled": "date", "completed_at": "datetime",
    "archived": "bool",
})  # fmt: skip

Target = Callable[[str], Mapping[str, str] | None]

_CONCRETE = ("number", "text", "bool", "date", "datetime", "list")
_FREE = frozenset({"any", "null"})  # accepted wherever a value is
_ALIASES = {"integer": "number", "enum": "text"}
_REFERENCES = frozenset({"ref", "refs"})
_KNOWN = frozenset({*_CONCRETE, *_REFERENCES, "any"})
_NUMBERS = {("number", "number"): "number"}
_ORDER = {
    **{(t, t): "bool" for t in ("number", "text", "bool", "date", "datetime")},
    ("date", "datetime"): "bool", ("datetime", "date"): "bool",
}  # fmt: skip
#: What each binary operator accepts: (left, right) -> result.
_RULES: dict[str, dict[tuple[str, str], str]] = {
    "+": {**_NUMBERS, ("text", "text"): "text", ("date", "number"): "date",
          ("number", "date"): "date", ("datetime", "number"): "datetime",
          ("number", "datetime"): "datetime"},
    "-": {**_NUMBERS, ("date", "number"): "date", ("datetime", "number"): "datetime",
          ("date", "date"): "number", ("datetime", "datetime"): "number",
          ("date", "datetime"): "number", ("datetime", "date"): "number"},
    "*": _NUMBERS, "/": _NUMBERS, "%": _NUMBERS,
    "=": {**_ORDER, ("list", "list"): "bool"}, "!=": {**_ORDER, ("list", "list"): "bool"},
    "<": _ORDER, "<=": _ORDER, ">": _ORDER, ">=": _ORDER,
}  # fmt: skip
_FIXES = {
    "+": "+ adds numbers, joins two texts or adds days to a date; convert with text(...) "
         "or use concat(...) to join other values",
    "-": "- subtracts numbers, days from a date, or two dates",
    "*": "* multiplies numbers only",
    "/": "/ divides numbers only",
    "%": "% works on numbers only",
}  # fmt: skip
_COMPARE_FIX = "compare values of the same type; convert with text(...), date(...) first"


def normal(kind: str) -> str:
    """A field type as the checker sees it: integer is number, enum is text, unknown is any."""
    kind = _ALIASES.get(kind, kind)
    return kind if kind in _KNOWN else "any"


class _Names:
    """Where bare names are looked up: the node itself, or the items of a source.

    `open` scopes (items of children, links...) give 'any' for names that are
    not built-in attributes, since the items may be of any kind.
    """

    def __init__(self, types: Mapping[str, str], *, open: bool, what: str) -> None:
        self.types = types
        self.open = open
        self.what = what

    def lookup(self, name: str) -> str | None:
        """The type of `name`, 'any' for an unknown name of an open scope, else None."""
        found = self.types.get(name)
        if found is None and self.open:
            return "any"
        return None if found is None else normal(found)


def check(tree: Node, text: str, owner: str, own: Mapping[str, str], target: Target) -> str:
    """The result type of `tree`; ValidationError for an unknown name or a certain mismatch."""
    checker = _Checker(text, owner, own, target)
    result = checker.type_of(tree, checker.own)
    return result


class _Checker:
    """Infers types bottom-up; every error points at the offending node."""

    def __init__(self, text: str, owner: str, own: Mapping[str, str], target: Target) -> None:
        self.text = text
        self.owner = owner
        # Built-in names win: entity fields cannot take them anyway.
        self.own = _Names({**own, **BUILTIN_ATTRIBUTES}, open=False, what="this node")
        self.target = target

    def fail(self, pos: int, problem: str, fix: str) -> NoReturn:
        """Raise the error for `pos`."""
        raise error_at(self.text, self.owner, pos, problem, fix)

    def type_of(self, node: Node, names: _Names) -> str:
        """The static type of `node`, with bare names looked up in `names`."""
        if isinstance(node, Constant):
            return _constant_type(node.value)
        if isinstance(node, Name):
            return self.value_type(node.name, node.pos, names)
        if isinstance(node, Attr):
            return self.attr_type(node, references=False)
        if isinstance(node, Unary):
            return self.unary_type(node, names)
        if isinstance(node, Binary):
            return self.binary_type(node, names)
        if isinstance(node, Logic):
            for side in (node.left, node.right):
                self.need_bool(
                    side,
                    names,
                    f"'{node.op}' needs true/false values",
                    "compare first, e.g. hours > 0",
                )
            return "bool"
        if isinstance(node, IsNull):
            self.null_test_type(node.operand, names)
            return "bool"
        if isinstance(node, InList):
            return self.in_list_type(node, names)
        if isinstance(node, Call):
            return self.call_type(node, names)
        return self.aggregate_type(node)

    # -- names

    def name_type(self, name: str, pos: int, names: _Names) -> str:
        """The type of a bare name (references included), or an error listing the names."""
        found = names.lookup(name)
        if found is not None:
            return found
        known = sorted(names.types) + (sorted(SOURCES) if names is self.own else [])
        self.fail(
            pos,
            f"unknown name {name!r} in {names.what}",
            f'{suggest(name, known)}put text in quotes ("..."); the names are {", ".join(known)}',
        )

    def value_type(self, name: str, pos: int, names: _Names) -> str:
        """The type of a bare name used as a value: references are refused."""
        found = self.name_type(name, pos, names)
        if found in _REFERENCES and names is not self.own:
            self.fail(
                pos,
                f"{name!r} of {names.what} is a reference, not a value",
                f"attributes are read one level deep; test {name} is null",
            )
        if found == "ref":
            self.fail(
                pos,
                f"{name!r} is a reference field, not a value",
                f"read one of its attributes, e.g. {name}.title, or test {name} is null",
            )
        if found == "refs":
            self.fail(
                pos,
                f"{name!r} is a field of many references, not a value",
                f"use an aggregate, e.g. count({name}), or test {name} is null",
            )
        return found

    def null_test_type(self, node: Node, names: _Names) -> str:
        """The operand of `is null`: a reference field may be tested too."""
        if isinstance(node, Name):
            return self.name_type(node.name, node.pos, names)
        if isinstance(node, Attr):
            return self.attr_type(node, references=True)
        return self.type_of(node, names)

    def source_kind(self, name: str, pos: int) -> str:
        """'one' (parent, a single reference), 'many', or the type of a non-source field."""
        if name in COLLECTIONS:
            return "many"
        if name == "parent":
            return "one"
        found = self.name_type(name, pos, self.own)
        return {"ref": "one", "refs": "many"}.get(found, found)

    def items_of(self, source: str) -> _Names:
        """The names readable on the items of `source`."""
        if source in SOURCES:
            return _Names(BUILTIN_ATTRIBUTES, open=True, what=f"the items of {source}")
        fields = self.target(source)
        if fields is None:
            return _Names(BUILTIN_ATTRIBUTES, open=True, what=f"the nodes {source} refers to")
        return _Names(
            {**fields, **BUILTIN_ATTRIBUTES}, open=False, what=f"the nodes {source} refers to"
        )

    def attr_type(self, node: Attr, *, references: bool) -> str:
        """`source.attr` outside an aggregate: parent or a single reference only.

        With `references` the attribute may itself be a reference (for `is null`).
        """
        where = self.source_kind(node.source, node.pos)
        if where == "many":
            self.fail(
                node.pos,
                f"{node.source}.{node.attr} reads many references, not one value",
                f"use an aggregate, e.g. min({node.source}.{node.attr}) or count({node.source})",
            )
        if where != "one":
            self.fail(
                node.pos,
                f"'.{node.attr}' on {node.source!r}, a {where} field",
                "only parent and reference fields have attributes; call a function "
                f"instead, e.g. upper({node.source})",
            )
        found = self.name_type(node.attr, node.attr_pos, self.items_of(node.source))
        if found in _REFERENCES and not references:
            self.fail(
                node.attr_pos,
                f"{node.source}.{node.attr} is a reference, not a value",
                "attributes are read one level deep; test "
                f"{node.source}.{node.attr} is null, or count({node.source}.{node.attr})",
            )
        return found

    # -- operators

    def need_bool(self, node: Node, names: _Names, problem: str, fix: str) -> None:
        """Fail unless `node` can be true/false."""
        found = self.type_of(node, names)
        if found not in _FREE and found != "bool":
            self.fail(node.pos, f"{problem}, got {found}", fix)

    def unary_type(self, node: Unary, names: _Names) -> str:
        """`not x` is bool; `-x` is a number."""
        if node.op == "not":
            self.need_bool(
                node.operand,
                names,
                "'not' needs a true/false value",
                "compare first, e.g. not (hours > 0)",
            )
            return "bool"
        found = self.type_of(node.operand, names)
        if found not in _FREE and found != "number":
            self.fail(node.pos, f"'-' needs a number, got {found}", "negate numbers only")
        return "null" if found == "null" else "number"

    def binary_type(self, node: Binary, names: _Names) -> str:
        """Arithmetic or comparison, by the table of what each operator accepts."""
        if node.op in ("=", "!=") and (_is_null(node.left) or _is_null(node.right)):
            self.fail(
                node.pos,
                f"'{node.op} null' is always null",
                "test for a missing value with is null or is not null",
            )
        left, right = self.type_of(node.left, names), self.type_of(node.right, names)
        result = combine(node.op, left, right)
        if result is None:
            problem = f"'{node.op}' cannot combine {left} and {right}"
            self.fail(node.pos, problem, _FIXES.get(node.op, _COMPARE_FIX))
        return result

    def in_list_type(self, node: InList, names: _Names) -> str:
        """`x in [a, b]`: each item must be comparable with x."""
        value = self.type_of(node.operand, names)
        for option in node.options:
            found = self.type_of(option, names)
            if combine("=", value, found) is None:
                self.fail(
                    option.pos, f"the list holds {found}, compared with {value}", _COMPARE_FIX
                )
        return "bool"

    # -- functions

    def call_type(self, node: Call, names: _Names) -> str:
        """Argument types against the function's parameters, then its result rule."""
        function = FUNCTIONS[node.name]
        types = [self.type_of(arg, names) for arg in node.args]
        for index, (found, pos) in enumerate(zip(types, node.arg_pos, strict=True)):
            accepted = function.param(index)
            if found not in _FREE and found not in accepted:
                self.fail(
                    pos,
                    f"{node.name} expects {' or '.join(sorted(accepted))} as "
                    f"argument {index + 1}, got {found}",
                    f"call it as {function.signature}",
                )
        return self.call_result(function, types, node.pos)

    def call_result(self, function: Function, types: Sequence[str], pos: int) -> str:
        """A function's result type by its rule."""
        if function.result == "same":
            return types[0]
        if function.result == "common":
            return self.common(types, pos, function.name)
        if function.result == "branches":
            return self.common(types[1:], pos, function.name)
        return function.result

    def common(self, types: Sequence[str], pos: int, name: str) -> str:
        """The one type of several values (if's branches, coalesce's arguments...)."""
        known = sorted({t for t in types if t not in _FREE})
        if len(known) > 1:
            self.fail(
                pos,
                f"the values of {name} have different types ({', '.join(known)})",
                "give them one type, e.g. convert with text(...) or date(...)",
            )
        if "any" in types:
            return "any"
        return known[0] if known else "null"

    def aggregate_type(self, node: Aggregate) -> str:
        """The collection must be a source; the attribute's type must suit the aggregate."""
        collection, aggregator = node.collection, AGGREGATORS[node.name]
        kind = self.source_kind(collection.source, collection.pos)
        if kind not in ("one", "many"):
            self.fail(
                collection.pos,
                f"{node.name}({collection.source}): "
                f"{collection.source!r} is a {kind} field, not a collection",
                "aggregate over children, links, backlinks, parent or a reference "
                f"field, e.g. {aggregator.signature}",
            )
        items = self.items_of(collection.source)
        if collection.where is not None:
            self.need_bool(
                collection.where,
                items,
                "a where filter must be true/false",
                'compare, e.g. status = "done"',
            )
        if collection.attr is None:
            return aggregator.result
        found = self.attr_value(node.name, collection.attr, collection.attr_pos, items)
        if found not in _FREE and found not in aggregator.values:
            self.fail(
                collection.attr_pos,
                f"{node.name} over {collection.attr!r}, which is {found}",
                f"{node.name} works on {' or '.join(sorted(aggregator.values))} values",
            )
        return found if aggregator.result == "same" else aggregator.result

    def attr_value(self, name: str, attr: str, pos: int, items: _Names) -> str:
        """The type of an aggregated attribute: count may count references too."""
        if name == "count":
            found = self.name_type(attr, pos, items)
            return "any" if found in _REFERENCES else found
        return self.value_type(attr, pos, items)


def combine(op: str, left: str, right: str) -> str | None:
    """The result type of `left op right`, or None when no runtime types could fit."""
    if "null" in (left, right):
        return "null"
    rules = _RULES[op]
    lefts = _CONCRETE if left == "any" else (left,)
    rights = _CONCRETE if right == "any" else (right,)
    results = {rules[(a, b)] for a in lefts for b in rights if (a, b) in rules}
    if not results:
        return None
    return results.pop() if len(results) == 1 else "any"


def _constant_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    return "text" if isinstance(value, str) else "number"


def _is_null(node: Node) -> bool:
    return isinstance(node, Constant) and node.value is None

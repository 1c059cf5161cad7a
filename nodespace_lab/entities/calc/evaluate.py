"""Compiling a syntax tree into nested Python closures, once per expression.

Each node becomes a function of the Scope; evaluating an expression is then
a handful of direct calls, with no tree walk and no dispatch on node types.
Null propagates through operators and strict functions before they run, and
the operators themselves (values.py) return None for operands that do not
fit, so a compiled expression never raises for a data problem.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from typing import Any

from .functions import AGGREGATORS, FUNCTIONS, Function
from .syntax import (
    Aggregate,
    Attr,
    Binary,
    Call,
    Collection,
    Constant,
    InList,
    IsNull,
    Logic,
    Name,
    Node,
    Unary,
)
from .values import OPERATORS, Scope, equal, negate, truth

Run = Callable[[Scope], Any]


def compile_tree(node: Node) -> Run:
    """A function computing `node` for a scope."""
    return _COMPILERS[type(node)](node)


def _constant(node: Constant) -> Run:
    value = node.value
    return lambda scope: value


def _name(node: Name) -> Run:
    # methodcaller runs in C: cheaper than a Python closure for the most common node.
    return operator.methodcaller("value", node.name)


def _attr(node: Attr) -> Run:
    source, attr = node.source, node.attr

    def run(scope: Scope) -> Any:
        items = scope.items(source)
        # A single reference or the parent has 0 or 1 items; more is not one value.
        return items[0].value(attr) if len(items) == 1 else None

    return run


def _unary(node: Unary) -> Run:
    operand = compile_tree(node.operand)
    if node.op == "not":

        def invert(scope: Scope) -> Any:
            value = truth(operand(scope))
            return None if value is None else not value

        return invert

    def minus(scope: Scope) -> Any:
        value = operand(scope)
        return None if value is None else negate(value)

    return minus


def _binary(node: Binary) -> Run:
    left, right, op = compile_tree(node.left), compile_tree(node.right), OPERATORS[node.op]

    def run(scope: Scope) -> Any:
        a = left(scope)
        if a is None:
            return None
        b = right(scope)
        if b is None:
            return None
        return op(a, b)

    return run


def _logic(node: Logic) -> Run:
    left, right = compile_tree(node.left), compile_tree(node.right)
    # SQL's three-valued logic: the deciding value wins over null.
    decisive = node.op == "or"

    def run(scope: Scope) -> Any:
        a = truth(left(scope))
        if a is decisive:
            return decisive
        b = truth(right(scope))
        if b is decisive:
            return decisive
        return None if a is None or b is None else not decisive

    return run


def _is_null(node: IsNull) -> Run:
    operand, negated = compile_tree(node.operand), node.negated
    return lambda scope: (operand(scope) is None) is not negated


def _in_list(node: InList) -> Run:
    operand = compile_tree(node.operand)
    options = [compile_tree(option) for option in node.options]
    negated = node.negated

    def run(scope: Scope) -> Any:
        value = operand(scope)
        if value is None:
            return None
        found = any(equal(value, option(scope)) is True for option in options)
        return found is not negated

    return run


def _call(node: Call) -> Run:
    function = FUNCTIONS[node.name]
    args = [compile_tree(arg) for arg in node.args]
    if node.name == "if":
        return _if(*args)
    if node.name == "coalesce":
        return _coalesce(args)
    assert function.impl is not None, f"{node.name} has no implementation"
    if function.volatile:
        return _volatile(function.impl, args)
    if function.strict and len(args) == 1:
        return _strict_one(function.impl, args[0])
    return _general(function, args)


def _if(condition: Run, then: Run, otherwise: Run) -> Run:
    # Only true picks `then`: null and non-bool conditions pick `else`.
    return lambda scope: then(scope) if condition(scope) is True else otherwise(scope)


def _coalesce(args: Sequence[Run]) -> Run:
    def run(scope: Scope) -> Any:
        for arg in args:
            value = arg(scope)
            if value is not None:
                return value
        return None

    return run


def _volatile(impl: Callable[..., Any], args: Sequence[Run]) -> Run:
    def run(scope: Scope) -> Any:
        values = [arg(scope) for arg in args]
        if any(value is None for value in values):
            return None
        return impl(scope, *values)

    return run


def _strict_one(impl: Callable[[Any], Any], arg: Run) -> Run:
    def run(scope: Scope) -> Any:
        value = arg(scope)
        return None if value is None else impl(value)

    return run


def _general(function: Function, args: Sequence[Run]) -> Run:
    impl, strict = function.impl, function.strict
    assert impl is not None

    def run(scope: Scope) -> Any:
        values = [arg(scope) for arg in args]
        if strict and any(value is None for value in values):
            return None
        return impl(*values)

    return run


def _aggregate(node: Aggregate) -> Run:
    reduce, values = AGGREGATORS[node.name].reduce, _values(node.collection)
    return lambda scope: reduce(values(scope))


def _values(collection: Collection) -> Callable[[Scope], list[Any]]:
    """The values an aggregate reduces: the attribute of each matching item.

    Without an attribute it is True for a matching item and None for another,
    so count() counts matches and all() sees the items that fail.
    """
    source, attr = collection.source, collection.attr
    if collection.where is None:
        if attr is None:
            return lambda scope: [True] * len(scope.items(source))
        return lambda scope: [item.value(attr) for item in scope.items(source)]
    keep = compile_tree(collection.where)
    if attr is None:
        return lambda scope: [True if keep(i) is True else None for i in scope.items(source)]
    return lambda scope: [i.value(attr) for i in scope.items(source) if keep(i) is True]


_COMPILERS: dict[type, Callable[[Any], Run]] = {
    Constant: _constant, Name: _name, Attr: _attr, Unary: _unary, Binary: _binary,
    Logic: _logic, IsNull: _is_null, InList: _in_list, Call: _call, Aggregate: _aggregate,
}  # fmt: skip

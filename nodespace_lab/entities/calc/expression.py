"""Calculated fields: the public face of the expression language.

`parse_expression` reads the text once: it builds the syntax tree, records
which names the expression reads, and compiles the tree into closures.
`check_expression` checks the names and types against a kind's fields at
definition time. `Expression.evaluate` runs the closures against a Scope and
gives None instead of raising when the data does not fit.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from .evaluate import compile_tree
from .functions import FUNCTIONS
from .syntax import SOURCES, Aggregate, Attr, Call, Name, Node, parse, walk
from .types import BUILTIN_ATTRIBUTES, check
from .values import Scope

__all__ = [
    "BUILTIN_ATTRIBUTES",
    "SOURCES",
    "Expression",
    "Scope",
    "check_expression",
    "parse_expression",
]


@dataclass(frozen=True)
class Expression:
    """A parsed, compiled calculated-field expression.

    `own_names` are the bare names read on the node itself; `sources` maps
    each source (children, author...) to the attributes read on its items;
    `volatile` is true when the value depends on today() or now(). Equality
    and hashing go by text and owner: everything else derives from them.
    """

    text: str
    owner: str
    own_names: frozenset[str]
    sources: Mapping[str, frozenset[str]] = field(compare=False)
    volatile: bool
    syntax: Node = field(compare=False, repr=False)
    compiled: Callable[[Scope], Any] = field(compare=False, repr=False)

    def evaluate(self, scope: Scope) -> Any:
        """The value for the node `scope` describes; None where the data does not fit."""
        return self.compiled(scope)

    def __reduce__(self) -> tuple[Any, ...]:
        # Closures cannot be pickled or deep-copied; the text rebuilds the same expression.
        return (_rebuild, (self.text, self.owner))


def parse_expression(text: str, *, owner: str) -> Expression:
    """Parse and compile `text`; ValidationError (naming `owner`) for a syntax error."""
    tree = parse(text, owner)
    own, sources = _reads(tree)
    return Expression(
        text=text,
        owner=owner,
        own_names=own,
        sources=MappingProxyType(sources),
        volatile=any(
            isinstance(node, Call) and FUNCTIONS[node.name].volatile for node in walk(tree)
        ),
        syntax=tree,
        compiled=compile_tree(tree),
    )


def check_expression(
    expr: Expression,
    own: Mapping[str, str],
    target: Callable[[str], Mapping[str, str] | None],
) -> str:
    """The result type of `expr` for a kind with fields `own` (name -> type).

    `target(ref_field)` gives the field types of the kind a reference field
    points to, or None when it may point to any kind. Raises ValidationError
    for an unknown name or a certain type mismatch.
    """
    return check(expr.syntax, expr.text, expr.owner, own, target)


def _reads(tree: Node) -> tuple[frozenset[str], dict[str, frozenset[str]]]:
    """The names read on the node itself, and per source the attributes read on its items."""
    own: set[str] = set()
    sources: dict[str, set[str]] = {}
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, Name):
            own.add(node.name)
        elif isinstance(node, Attr):
            sources.setdefault(node.source, set()).add(node.attr)
        elif isinstance(node, Aggregate):
            # The where filter's names belong to the items, so it is not walked as own.
            _collection_reads(node, sources.setdefault(node.collection.source, set()))
            continue
        stack.extend(node.parts())
    return frozenset(own), {name: frozenset(attrs) for name, attrs in sources.items()}


def _collection_reads(node: Aggregate, into: set[str]) -> None:
    collection = node.collection
    if collection.attr is not None:
        into.add(collection.attr)
    if collection.where is not None:
        # The parser allows only bare names in a filter, so these are all item attributes.
        into.update(part.name for part in walk(collection.where) if isinstance(part, Name))


def _rebuild(text: str, owner: str) -> Expression:
    return parse_expression(text, owner=owner)

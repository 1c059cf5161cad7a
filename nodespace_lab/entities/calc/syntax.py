"""Tokens, syntax tree and parser of the calculated-field expression language.

A hand-written tokenizer and a recursive-descent parser, one method per
grammar level (precedence low to high)::

    expr     := or
    or       := and ('or' and)*
    and      := not ('and' not)*
    not      := 'not' not | compare
    compare  := sum ( ('='|'=='|'!='|'<>'|'<'|'<='|'>'|'>=') sum
                    | 'is' ['not'] 'null'
                    | ['not'] 'in' '[' [expr (',' expr)*] ']' )?
    sum      := product (('+'|'-') product)*
    product  := unary (('*'|'/'|'%') unary)*
    unary    := '-' unary | postfix
    postfix  := primary ('.' NAME)?
    primary  := NUMBER | STRING | true | false | null | NAME | NAME '(' args ')' | '(' expr ')'
    args     := [expr ['where' expr] (',' expr)*]

The tree holds literals and names as plain strings, never Python objects, so
an expression can only read what a Scope hands out. Whether a name is a
source is decided here: children, links, backlinks and parent always are; any
other name is one when it is followed by '.attr' or is an aggregate's
collection.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, NoReturn

from ...errors import ValidationError
from .functions import AGGREGATORS, FUNCTIONS, function_names

MAX_LENGTH = 2000
#: Levels of nesting in the tree: compiling and evaluating recurse that deep.
MAX_DEPTH = 100
# Brackets, unary operators and calls: each level costs about ten parser frames.
_MAX_NESTING = 32

SOURCES = frozenset({"children", "links", "backlinks", "parent"})
#: Sources with many items, only usable inside an aggregate.
COLLECTIONS = frozenset({"children", "links", "backlinks"})
KEYWORDS = frozenset({"and", "or", "not", "is", "null", "true", "false", "where", "in"})
_COMPARISONS = {
    "=": "=", "==": "=", "!=": "!=", "<>": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">=",
}  # fmt: skip
_SKIP = re.compile(r"(?:\s+|#[^\n]*)+")
_NUMBER = re.compile(r"(?:[0-9]+(?:\.[0-9]+)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_OPERATOR = re.compile(r"==|!=|<>|<=|>=|[-+*/%=<>(),.\[\]]")
_ESCAPES = {'"': '"', "'": "'", "\\": "\\", "n": "\n", "t": "\t"}
_CHARACTER_HINTS = {
    "&": "write and",
    "|": "write or",
    "!": "write not, or != for 'not equal'",
    "^": "there is no power operator; multiply instead",
    "`": "quote text with \"...\" or '...'",
}
_COLLECTION_HELP = (
    "a collection is S, S.attr, S where condition or S.attr where condition, with S = "
    "children, links, backlinks, parent or a reference field"
)


# -- error messages ------------------------------------------------------------


def error_at(text: str, owner: str, pos: int, problem: str, fix: str) -> ValidationError:
    """A ValidationError naming the owner, the problem and its fix, with a caret under `pos`."""
    start = text.rfind("\n", 0, pos) + 1
    end = text.find("\n", pos)
    line = text[start : len(text) if end < 0 else end]
    column = pos - start + 1
    where = f"column {column}"
    if "\n" in text:
        where = f"line {text.count(chr(10), 0, pos) + 1}, {where}"
    shown, offset = _window(line, column - 1)
    # Tabs stay tabs so the caret lines up under the same character.
    pad = "".join(c if c == "\t" else " " for c in shown[:offset])
    return ValidationError(f"{owner}: {problem} at {where}; {fix}\n  {shown}\n  {pad}^")


def _window(line: str, offset: int, width: int = 100) -> tuple[str, int]:
    """At most `width` characters of `line` around `offset`, and the caret's offset in them."""
    if len(line) <= width:
        return line, offset
    begin = max(0, min(offset - width // 2, len(line) - width))
    head = "..." if begin else ""
    tail = "..." if begin + width < len(line) else ""
    return head + line[begin : begin + width] + tail, offset - begin + len(head)


def suggest(word: str, choices: Iterable[str]) -> str:
    """'did you mean x? ' for close matches of `word`, else ''."""
    close = difflib.get_close_matches(word, list(choices), n=3, cutoff=0.6)
    return f"did you mean {' or '.join(close)}? " if close else ""


# -- tokens --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Token:
    """A token: kind is number, string, name, keyword (lowercased), op or end."""

    kind: str
    text: str
    value: Any
    pos: int
    end: int


def tokenize(text: str, owner: str) -> list[Token]:
    """The tokens of `text`, ending with an 'end' token; ValidationError on a bad character."""
    tokens: list[Token] = []
    pos = 0
    while True:
        skip = _SKIP.match(text, pos)
        if skip:
            pos = skip.end()
        if pos >= len(text):
            break
        token = _token(text, owner, pos)
        tokens.append(token)
        pos = token.end
    # The end sits right after the last token, not after trailing comments.
    last = tokens[-1].end if tokens else 0
    tokens.append(Token("end", "", None, last, last))
    return tokens


def _token(text: str, owner: str, pos: int) -> Token:
    char = text[pos]
    if char in "\"'":
        return _string(text, owner, pos)
    if match := _NUMBER.match(text, pos):
        return _number(text, owner, match)
    if match := _NAME.match(text, pos):
        word = match.group()
        if word.lower() in KEYWORDS:
            return Token("keyword", word.lower(), None, pos, match.end())
        return Token("name", word, word, pos, match.end())
    if match := _OPERATOR.match(text, pos):
        return Token("op", match.group(), None, pos, match.end())
    hint = _CHARACTER_HINTS.get(char, 'remove it, or put text in quotes: "..."')
    raise error_at(text, owner, pos, f"unexpected character {char!r}", hint)


def _number(text: str, owner: str, match: re.Match[str]) -> Token:
    written = match.group()
    value: int | float = int(written) if written.isdigit() else float(written)
    if value == float("inf"):
        raise error_at(
            text,
            owner,
            match.start(),
            f"the number {written} is too large",
            "use a number below 1e308",
        )
    return Token("number", written, value, match.start(), match.end())


def _string(text: str, owner: str, start: int) -> Token:
    quote, i = text[start], start + 1
    parts: list[str] = []
    while i < len(text):
        char = text[i]
        if char == quote:
            return Token("string", text[start : i + 1], "".join(parts), start, i + 1)
        if char == "\\":
            escaped = text[i + 1 : i + 2]
            if escaped not in _ESCAPES:
                raise error_at(
                    text,
                    owner,
                    i,
                    f"unknown escape '\\{escaped}' in text",
                    "write \\\\ for a backslash, \\\" or \\' for a quote, \\n or \\t",
                )
            parts.append(_ESCAPES[escaped])
            i += 2
            continue
        parts.append(char)
        i += 1
    raise error_at(text, owner, start, "the text is not closed", f"end it with {quote}")


# -- syntax tree ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Constant:
    """A literal: number, text, true, false or null."""

    value: Any
    pos: int

    def parts(self) -> tuple[Node, ...]:
        """The sub-expressions (none)."""
        return ()


@dataclass(frozen=True, slots=True)
class Name:
    """A bare name: an attribute of the node (or of the item, inside a where filter)."""

    name: str
    pos: int

    def parts(self) -> tuple[Node, ...]:
        """The sub-expressions (none)."""
        return ()


@dataclass(frozen=True, slots=True)
class Attr:
    """`source.attr`: an attribute of the parent or of the node a reference field names."""

    source: str
    attr: str
    pos: int
    attr_pos: int

    def parts(self) -> tuple[Node, ...]:
        """The sub-expressions (none)."""
        return ()


@dataclass(frozen=True, slots=True)
class Unary:
    """`-x` or `not x`."""

    op: str
    operand: Node
    pos: int

    def parts(self) -> tuple[Node, ...]:
        """The operand."""
        return (self.operand,)


@dataclass(frozen=True, slots=True)
class Binary:
    """Arithmetic (+ - * / %) or a comparison (= != < <= > >=); pos is the operator's."""

    op: str
    left: Node
    right: Node
    pos: int

    def parts(self) -> tuple[Node, ...]:
        """Both operands."""
        return (self.left, self.right)


@dataclass(frozen=True, slots=True)
class Logic:
    """`a and b` or `a or b`, three-valued."""

    op: str
    left: Node
    right: Node
    pos: int

    def parts(self) -> tuple[Node, ...]:
        """Both operands."""
        return (self.left, self.right)


@dataclass(frozen=True, slots=True)
class IsNull:
    """`x is null` or `x is not null`."""

    operand: Node
    negated: bool
    pos: int

    def parts(self) -> tuple[Node, ...]:
        """The operand."""
        return (self.operand,)


@dataclass(frozen=True, slots=True)
class InList:
    """`x in [a, b]` or `x not in [a, b]`."""

    operand: Node
    options: tuple[Node, ...]
    negated: bool
    pos: int

    def parts(self) -> tuple[Node, ...]:
        """The operand and the list's items."""
        return (self.operand, *self.options)


@dataclass(frozen=True, slots=True)
class Call:
    """A scalar function call; `name` is lowercase."""

    name: str
    args: tuple[Node, ...]
    pos: int
    arg_pos: tuple[int, ...]

    def parts(self) -> tuple[Node, ...]:
        """The arguments."""
        return self.args


@dataclass(frozen=True, slots=True)
class Collection:
    """The first argument of an aggregate: `source[.attr] [where condition]`."""

    source: str
    attr: str | None
    where: Node | None
    pos: int
    attr_pos: int


@dataclass(frozen=True, slots=True)
class Aggregate:
    """count/sum/avg/min/max/any/all over a collection."""

    name: str
    collection: Collection
    pos: int

    def parts(self) -> tuple[Node, ...]:
        """The where filter, if any (it reads the items, not the node)."""
        where = self.collection.where
        return () if where is None else (where,)


Node = Constant | Name | Attr | Unary | Binary | Logic | IsNull | InList | Call | Aggregate


def walk(node: Node) -> Iterator[Node]:
    """Every node of the tree under `node` (itself included), without recursion."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(current.parts())


def depth(node: Node) -> int:
    """Levels of nesting of the tree, computed without recursion."""
    deepest, stack = 0, [(node, 1)]
    while stack:
        current, level = stack.pop()
        deepest = max(deepest, level)
        stack.extend((part, level + 1) for part in current.parts())
    return deepest


# -- parser --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Arg:
    value: Node
    pos: int
    where: Node | None
    where_pos: int


def parse(text: str, owner: str) -> Node:
    """The syntax tree of `text`; ValidationError (naming `owner`) for any syntax error."""
    if len(text) > MAX_LENGTH:
        raise error_at(
            text,
            owner,
            MAX_LENGTH,
            f"the expression is {len(text)} characters long",
            f"keep it under {MAX_LENGTH}; split it into several calculated fields",
        )
    return _Parser(text, owner).parse()


class _Parser:
    """Recursive descent over the token list; one method per grammar level."""

    def __init__(self, text: str, owner: str) -> None:
        self.text = text
        self.owner = owner
        self.tokens = tokenize(text, owner)
        self.at = 0
        self.nesting = 0

    def parse(self) -> Node:
        """The whole expression, checked for shape and depth."""
        if self.peek().kind == "end":
            self.fail(0, "the expression is empty", "write a formula such as hours * rate")
        node = self.expression()
        if self.peek().kind != "end":
            self.unexpected(self.peek())
        if depth(node) > MAX_DEPTH:
            self.fail(
                node.pos,
                f"the expression is nested more than {MAX_DEPTH} levels deep",
                "split it into several calculated fields",
            )
        self.check_shape(node, None)
        return node

    # -- helpers

    def fail(self, pos: int, problem: str, fix: str) -> NoReturn:
        """Raise the error for `pos`."""
        raise error_at(self.text, self.owner, pos, problem, fix)

    def peek(self, ahead: int = 0) -> Token:
        """The token `ahead` positions on (the end token past the end)."""
        return self.tokens[min(self.at + ahead, len(self.tokens) - 1)]

    def take(self) -> Token:
        """The next token, consumed."""
        token = self.peek()
        self.at = min(self.at + 1, len(self.tokens) - 1)
        return token

    def accept(self, kind: str, *texts: str) -> Token | None:
        """The next token, consumed, if it has this kind and one of these texts."""
        token = self.peek()
        if token.kind == kind and token.text in texts:
            return self.take()
        return None

    def expect(self, text: str, problem: str, fix: str) -> Token:
        """The next token, which must be the operator `text`."""
        token = self.accept("op", text)
        if token is None:
            self.fail(self.peek().pos, f"{problem}, found {describe(self.peek())}", fix)
        return token

    @contextmanager
    def nested(self, pos: int) -> Iterator[None]:
        """Count one more level of brackets, calls or unary operators."""
        self.nesting += 1
        if self.nesting > _MAX_NESTING:
            self.fail(
                pos,
                f"the expression nests more than {_MAX_NESTING} brackets deep",
                "split it into several calculated fields",
            )
        try:
            yield
        finally:
            self.nesting -= 1

    def unexpected(self, token: Token) -> NoReturn:
        """Fail on a token that cannot continue the expression."""
        if token.kind == "keyword" and token.text == "where":
            self.fail(
                token.pos,
                "'where' outside an aggregate",
                "a where filter only follows an aggregate's collection, e.g. "
                'count(children where status = "done")',
            )
        if token.kind == "op" and token.text == ")":
            self.fail(token.pos, "unbalanced ')'", "remove it or add the matching '('")
        if token.kind in ("name", "number", "string") or token.text in ("true", "false", "null"):
            self.fail(
                token.pos,
                f"missing operator before {describe(token)}",
                "join values with an operator such as + or and, or separate function "
                "arguments with commas",
            )
        self.fail(token.pos, f"unexpected {describe(token)}", "check the expression here")

    # -- grammar levels, low to high precedence

    def expression(self) -> Node:
        """expr := or"""
        return self.or_()

    def or_(self) -> Node:
        """or := and ('or' and)*"""
        node = self.and_()
        while token := self.accept("keyword", "or"):
            node = Logic("or", node, self.and_(), token.pos)
        return node

    def and_(self) -> Node:
        """and := not ('and' not)*"""
        node = self.not_()
        while token := self.accept("keyword", "and"):
            node = Logic("and", node, self.not_(), token.pos)
        return node

    def not_(self) -> Node:
        """not := 'not' not | compare"""
        token = self.accept("keyword", "not")
        if token is None:
            return self.compare()
        with self.nested(token.pos):
            return Unary("not", self.not_(), token.pos)

    def compare(self) -> Node:
        """compare := sum (op sum | 'is' ['not'] 'null' | ['not'] 'in' list)?"""
        left = self.sum_()
        token = self.peek()
        if token.kind == "op" and token.text in _COMPARISONS:
            self.take()
            node: Node = Binary(_COMPARISONS[token.text], left, self.sum_(), token.pos)
        elif self.accept("keyword", "is"):
            node = self.is_null(left, token)
        elif token.text == "in" or (token.text == "not" and self.peek(1).text == "in"):
            node = self.in_list(left)
        else:
            return left
        after = self.peek()
        if after.text in _COMPARISONS or after.text in ("is", "in"):
            self.fail(
                after.pos,
                "comparisons cannot be chained",
                "join two comparisons with and, e.g. 0 < hours and hours < 8",
            )
        return node

    def is_null(self, operand: Node, token: Token) -> Node:
        """The rest of `x is [not] null`."""
        negated = self.accept("keyword", "not") is not None
        if self.accept("keyword", "null") is None:
            self.fail(
                self.peek().pos,
                f"'is' must be followed by null or not null, found {describe(self.peek())}",
                'compare values with =, e.g. status = "done"',
            )
        return IsNull(operand, negated, token.pos)

    def in_list(self, operand: Node) -> Node:
        """The rest of `x [not] in [a, b]`."""
        negated = self.accept("keyword", "not") is not None
        token = self.take()
        hint = 'write the list in brackets, e.g. status in ["todo", "doing"]'
        self.expect("[", "'in' needs a list", hint)
        options: list[Node] = []
        if self.accept("op", "]") is None:
            options.append(self.expression())
            while self.accept("op", ","):
                options.append(self.expression())
            self.expect("]", "expected ',' or ']' in the list", hint)
        return InList(operand, tuple(options), negated, token.pos)

    def sum_(self) -> Node:
        """sum := product (('+'|'-') product)*"""
        node = self.product()
        while token := self.accept("op", "+", "-"):
            node = Binary(token.text, node, self.product(), token.pos)
        return node

    def product(self) -> Node:
        """product := unary (('*'|'/'|'%') unary)*"""
        node = self.unary()
        while token := self.accept("op", "*", "/", "%"):
            node = Binary(token.text, node, self.unary(), token.pos)
        return node

    def unary(self) -> Node:
        """unary := '-' unary | postfix"""
        token = self.accept("op", "-")
        if token is None:
            return self.postfix()
        with self.nested(token.pos):
            return Unary("-", self.unary(), token.pos)

    def postfix(self) -> Node:
        """postfix := primary ('.' NAME)?"""
        first = self.peek()
        node = self.primary()
        dot = self.accept("op", ".")
        if dot is None:
            return node
        # Only a bare name: `(hours).x` and `f(x).y` are not sources.
        if not isinstance(node, Name) or first.kind != "name":
            self.fail(
                dot.pos,
                "'.' can only follow a name",
                "read an attribute of parent or of a reference field, e.g. parent.title "
                "or author.name",
            )
        attr = self.take()
        if attr.kind != "name":
            self.fail(
                attr.pos,
                f"expected an attribute name after '.', found {describe(attr)}",
                f"write e.g. {node.name}.title",
            )
        after = self.peek()
        if after.text == ".":
            self.fail(
                after.pos,
                "only one '.' is allowed",
                "read attributes one level deep: author.name works, author.boss.name does not",
            )
        if after.text == "(":
            self.fail(
                after.pos,
                "an attribute cannot be called",
                f"use a function instead, e.g. upper({node.name})",
            )
        return Attr(node.name, attr.text, node.pos, attr.pos)

    def primary(self) -> Node:
        """primary := literal | NAME | NAME '(' args ')' | '(' expr ')'"""
        token = self.take()
        if token.kind in ("number", "string"):
            return Constant(token.value, token.pos)
        if token.kind == "keyword" and token.text in ("true", "false", "null"):
            value = {"true": True, "false": False, "null": None}[token.text]
            return Constant(value, token.pos)
        if token.kind == "name":
            return self.call(token) if self.peek().text == "(" else Name(token.text, token.pos)
        if token.text == "(":
            with self.nested(token.pos):
                node = self.expression()
            self.expect(")", "expected ')'", "close the bracket with ')'")
            return node
        if token.text == "[":
            self.fail(
                token.pos,
                "a list [...] can only follow in",
                'write e.g. status in ["todo", "doing"]',
            )
        if token.kind == "end":
            self.fail(token.pos, "the expression ends too early", "complete it")
        self.fail(
            token.pos,
            f"expected a value, found {describe(token)}",
            'write a number, "text", a field name or a function call',
        )

    # -- calls

    def call(self, token: Token) -> Node:
        """NAME '(' args ')' as a scalar Call or an Aggregate."""
        name = token.text.lower()
        if name not in FUNCTIONS and name not in AGGREGATORS:
            names = function_names()
            self.fail(
                token.pos,
                f"unknown function {token.text!r}",
                f"{suggest(name, names)}the functions are {', '.join(names)}",
            )
        self.take()
        with self.nested(token.pos):
            args = self.arguments(name)
        if name in AGGREGATORS and (name not in FUNCTIONS or len(args) == 1):
            return self.aggregate(name, token, args)
        return self.scalar(name, token, args)

    def arguments(self, name: str) -> list[_Arg]:
        """args := [arg (',' arg)*] ')' where arg := expr ['where' expr]."""
        args: list[_Arg] = []
        if self.accept("op", ")"):
            return args
        while True:
            start = self.peek().pos
            value = self.expression()
            where = self.accept("keyword", "where")
            condition = self.expression() if where else None
            args.append(_Arg(value, start, condition, where.pos if where else start))
            if self.accept("op", ")"):
                return args
            self.expect(
                ",",
                f"expected ',' or ')' in the arguments of {name}",
                "separate arguments with commas and close with ')'",
            )

    def scalar(self, name: str, token: Token, args: list[_Arg]) -> Node:
        """A scalar function call with its arity checked."""
        function = FUNCTIONS[name]
        for arg in args:
            if arg.where is not None:
                self.fail(
                    arg.where_pos,
                    f"'where' in {name}(...), which is not an aggregate",
                    "a where filter only follows the collection of count, sum, avg, "
                    "min, max, any or all",
                )
        top = function.max_args
        if not function.min_args <= len(args) <= (len(args) if top is None else top):
            self.fail(
                token.pos,
                f"{name} takes {_arity(function.min_args, top)}, got {len(args)}",
                f"call it as {function.signature}",
            )
        return Call(name, tuple(a.value for a in args), token.pos, tuple(a.pos for a in args))

    def aggregate(self, name: str, token: Token, args: list[_Arg]) -> Node:
        """An aggregate: its single argument must be a collection."""
        aggregator = AGGREGATORS[name]
        if len(args) != 1:
            self.fail(
                token.pos,
                f"{name} takes one collection, got {len(args)} arguments",
                f"call it as {aggregator.signature}",
            )
        arg = args[0]
        attr: str | None
        if isinstance(arg.value, Name):
            source, attr, attr_pos = arg.value.name, None, arg.pos
        elif isinstance(arg.value, Attr):
            source, attr, attr_pos = arg.value.source, arg.value.attr, arg.value.attr_pos
        else:
            self.fail(
                arg.pos,
                f"the argument of {name} is not a collection",
                f"{_COLLECTION_HELP}; write e.g. {aggregator.signature}",
            )
        if attr is None and aggregator.needs == "attr":
            scalar = f", or compare values with {name}(a, b)" if name in FUNCTIONS else ""
            self.fail(
                arg.pos,
                f"{name}({source}) does not say which values to use",
                f"name an attribute of the items, e.g. {name}({source}.hours){scalar}",
            )
        if attr is None and arg.where is None and aggregator.needs == "attr_or_where":
            self.fail(
                arg.pos,
                f"{name}({source}) has no condition",
                f'add one, e.g. {name}({source} where status = "done")',
            )
        collection = Collection(source, attr, arg.where, arg.pos, attr_pos)
        return Aggregate(name, collection, token.pos)

    # -- shape rules the grammar alone does not express

    def check_shape(self, node: Node, source: str | None) -> None:
        """Refuse collections used as values, and sources read inside a where filter.

        `source` is the collection whose where filter `node` is in, else None.
        Recursion is bounded: the depth was checked before.
        """
        if isinstance(node, Name) and node.name in SOURCES:
            self.source_as_value(node.name, node.pos, source)
        if isinstance(node, Attr):
            if source is not None:
                self.fail(
                    node.pos,
                    f"{node.source}.{node.attr} inside the where filter of {source}",
                    "a filter reads the item's own attributes: write the "
                    f"attribute alone, e.g. {source} where {node.attr} > 0",
                )
            if node.source in COLLECTIONS:
                self.fail(
                    node.pos,
                    f"{node.source}.{node.attr} is a collection of values, not one value",
                    f"wrap it in an aggregate, e.g. "
                    f"sum({node.source}.{node.attr}) or count({node.source}.{node.attr})",
                )
        if isinstance(node, Aggregate):
            if source is not None:
                self.fail(
                    node.pos,
                    f"{node.name}(...) inside the where filter of {source}",
                    "aggregates cannot be nested; filter on the item's own attributes",
                )
            source = node.collection.source
        for part in node.parts():
            self.check_shape(part, source)

    def source_as_value(self, name: str, pos: int, source: str | None) -> NoReturn:
        """Fail on `children`, `parent`... written where a value is expected."""
        if source is not None:
            self.fail(
                pos,
                f"{name!r} inside the where filter of {source}",
                "a filter reads the item's own attributes; aggregates cannot be nested",
            )
        if name == "parent":
            self.fail(
                pos,
                "'parent' is a node, not a value",
                "read one of its attributes, e.g. parent.title, or test parent.id is null",
            )
        self.fail(
            pos,
            f"{name!r} is a collection of nodes, not a value",
            f"wrap it in an aggregate, e.g. count({name})",
        )


def describe(token: Token) -> str:
    """A token as named in an error message."""
    return "the end of the expression" if token.kind == "end" else repr(token.text)


def _arity(low: int, high: int | None) -> str:
    if high is None:
        return f"at least {low} argument{'s' * (low != 1)}"
    if low == high:
        return f"{low} argument{'s' * (low != 1)}"
    return f"{low} to {high} arguments"

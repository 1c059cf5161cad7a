"""A tokenizer for the Cypher of Kùzu and LadybugDB, exact where safety depends on it.

It follows the engines' own lexer (ANTLR grammar `src/antlr4/Cypher.g4`, the same
in kuzu 0.11.3 and ladybug 0.22) in everything that decides where code ends and a
string, a backtick name or a comment begins, and it refuses what it cannot read
the same way the engines do: unterminated strings, names and comments; unknown
escapes; characters outside strings that are neither code nor the engines'
whitespace; and the two lexer corners where a careless reader and the engine
disagree (`**/` inside a block comment, a lone carriage return in a line comment).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from ..errors import QueryError

# The engines' WHITESPACE rule, checked on both engines by the security tests: a
# no-break space or U+3000 separates tokens exactly like a space.
WHITESPACE = frozenset(
    " \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\u00a0\u1680\u180e\u2028\u2029\u202f\u205f\u3000"
    + "".join(chr(c) for c in range(0x2000, 0x200B))
)
# ASCII punctuation the grammar uses; anything else outside strings is refused.
OPERATORS = frozenset("()[]{},.:;=<>+-*/%^|&!~")
_SIMPLE_ESCAPES = frozenset("\\'\"bBfFnNrRtT")
_HEX = frozenset("0123456789abcdefABCDEF")
_DIGITS = frozenset("0123456789")


@dataclass(frozen=True)
class Token:
    """One token: `kind` is word, name (backticks), string, number, param or op."""

    kind: str
    text: str
    at: int

    @property
    def upper(self) -> str:
        """The word in ASCII capitals (how the engines compare keywords); '' otherwise."""
        return self.text.upper() if self.kind == "word" and self.text.isascii() else ""


def tokenize(query: str) -> list[Token]:
    """The tokens of `query`, comments and whitespace left out; `QueryError` if unreadable."""
    return _Lexer(query).tokens()


def refuse(query: str, at: int, problem: str, fix: str) -> QueryError:
    """A `QueryError` naming the position and text of a refused part of `query`."""
    shown = query[max(0, at - 20) : at + 20].replace("\n", " ")
    return QueryError(
        f"Cypher query not allowed in kb.cypher(): at character {at} (near {shown!r}) "
        f"{problem}; {fix}."
    )


def describe(char: str) -> str:
    """U+00A0 (NO-BREAK SPACE): how a refused character is named in messages."""
    return f"U+{ord(char):04X} ({unicodedata.name(char, 'unnamed')})"


def is_word_start(char: str) -> bool:
    """Can `char` begin an unquoted name (ID_Start or connector punctuation, as the engines)?"""
    return char.isidentifier() or unicodedata.category(char) == "Pc"


def is_word_part(char: str) -> bool:
    """Can `char` continue an unquoted name (ID_Continue, connectors or currency signs)?"""
    return ("a" + char).isidentifier() or unicodedata.category(char) in ("Pc", "Sc")


class _Lexer:
    def __init__(self, query: str) -> None:
        self.query = query
        self.at = 0
        self.out: list[Token] = []

    def tokens(self) -> list[Token]:
        self._refuse_unencodable()
        while self.at < len(self.query):
            self._step()
        return self.out

    def _refuse_unencodable(self) -> None:
        # NUL could end the text early in the engine; a lone surrogate cannot be sent at all.
        for at, char in enumerate(self.query):
            if char == "\x00" or unicodedata.category(char) == "Cs":
                raise refuse(
                    self.query, at, f"character {describe(char)} is not allowed", "remove it"
                )

    def _step(self) -> None:
        char, pair = self.query[self.at], self.query[self.at : self.at + 2]
        if char in WHITESPACE:
            self.at += 1
        elif pair == "//":
            self._line_comment()
        elif pair == "/*":
            self._block_comment()
        elif char in "'\"":
            self._string(char)
        elif char == "`":
            self._emit("name", self._backticks())
        elif char == "$":
            self._param()
        elif char in _DIGITS or (char == "." and self._peek(1) in _DIGITS):
            self._number()
        elif pair == "..":
            self._emit("op", 2)
        elif char in OPERATORS:
            self._emit("op", 1)
        elif is_word_start(char):
            self._emit("word", self._word_length(self.at))
        else:
            raise refuse(
                self.query,
                self.at,
                f"character {describe(char)} is not Cypher outside a string",
                "use plain ASCII punctuation and spaces, or put the text in a string",
            )

    def _peek(self, offset: int) -> str:
        at = self.at + offset
        return self.query[at] if at < len(self.query) else ""

    def _emit(self, kind: str, length: int) -> None:
        self.out.append(Token(kind, self.query[self.at : self.at + length], self.at))
        self.at += length

    def _line_comment(self) -> None:
        end = self.query.find("\n", self.at)
        end = len(self.query) if end < 0 else end
        lone_cr = self.query.find("\r", self.at, end)
        # The engine ends `//` only at a line feed (or the end); with a carriage return
        # elsewhere its comment rule fails and the rest of the line becomes code.
        if lone_cr >= 0 and lone_cr + 1 < len(self.query) and self.query[lone_cr + 1] != "\n":
            raise refuse(
                self.query,
                lone_cr,
                "a carriage return without a line feed inside a // comment",
                "end lines with \\n",
            )
        self.at = end

    def _block_comment(self) -> None:
        # The engine's rule: '/*' ( ~'*' | '*' ~'/' )* '*/' - a '*' always takes the
        # next character with it, so '**/' does not end the comment.
        at = self.at + 2
        while at < len(self.query):
            if self.query[at] != "*":
                at += 1
            elif self._char(at + 1) == "/":
                self._check_comment_body(self.at, at)
                self.at = at + 2
                return
            else:
                at += 2
        raise refuse(self.query, self.at, "the /* comment is not closed", "end it with */")

    def _check_comment_body(self, start: int, end: int) -> None:
        if "*/" in self.query[start + 2 : end]:
            raise refuse(
                self.query,
                start,
                "the /* comment holds '*/' where the engine does not end it (after another '*')",
                "do not put '**/' inside a comment",
            )

    def _char(self, at: int) -> str:
        return self.query[at] if at < len(self.query) else ""

    def _string(self, quote: str) -> None:
        at = self.at + 1
        while at < len(self.query):
            char = self.query[at]
            if char == quote:
                self._emit("string", at + 1 - self.at)
                return
            at = self._escape_end(at) if char == "\\" else at + 1
        raise refuse(self.query, self.at, "the string is not closed", f"end it with {quote}")

    def _escape_end(self, at: int) -> int:
        letter = self._char(at + 1)
        if letter in _SIMPLE_ESCAPES:
            return at + 2
        width = {"x": 2, "X": 2, "u": 4, "U": 4}.get(letter, 0)
        long = letter in ("u", "U")
        digits = self._hex_run(at + 2, 8 if long else width)
        if width and digits >= width:
            # \u takes 4 or 8 hex digits; either way no quote hides among them.
            return at + 2 + (8 if long and digits == 8 else width)
        raise refuse(
            self.query,
            at,
            f"the escape {self.query[at : at + 2]!r} is not one the engine reads",
            "write \\\\ for a backslash, or pass the text as a $parameter",
        )

    def _hex_run(self, at: int, limit: int) -> int:
        count = 0
        while count < limit and self._char(at + count) in _HEX:
            count += 1
        return count

    def _backticks(self) -> int:
        # One name may be several `...` parts in a row: `a``b` is the name a`b.
        at = self.at
        while self._char(at) == "`":
            end = self.query.find("`", at + 1)
            if end < 0:
                raise refuse(self.query, at, "the `name` is not closed", "end it with `")
            at = end + 1
        return at - self.at

    def _word_length(self, start: int) -> int:
        at = start + 1
        while at < len(self.query) and is_word_part(self.query[at]):
            at += 1
        return at - start

    def _param(self) -> None:
        start, char = self.at, self._peek(1)
        if char == "`":
            self.at += 1
            length = self._backticks()
        elif char in _DIGITS:
            length = self._digit_run(start + 1)
        elif char and is_word_start(char):
            length = self._word_length(start + 1)
        else:
            raise refuse(
                self.query, start, "'$' must be followed by a parameter name", "write $name"
            )
        self.at = start
        self._emit("param", 1 + length)

    def _digit_run(self, at: int) -> int:
        count = 0
        while self._char(at + count) in _DIGITS:
            count += 1
        return count

    def _number(self) -> None:
        at = self.at + self._digit_run(self.at)
        if self._char(at) == "." and self._char(at + 1) in _DIGITS:
            at += 1 + self._digit_run(at + 1)
        if self._char(at) in ("e", "E"):
            sign = 1 if self._char(at + 1) == "-" else 0
            digits = self._digit_run(at + 1 + sign)
            if digits:
                at += 1 + sign + digits
        self._emit("number", at - self.at)

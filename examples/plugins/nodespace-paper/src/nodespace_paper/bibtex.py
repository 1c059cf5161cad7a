"""A small BibTeX reader: entries with braced, quoted or bare values (no @string macros)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from nodespace_lab.errors import ValidationError

_SKIPPED = {"comment", "string", "preamble"}
_NAME = re.compile(r"[A-Za-z][\w:-]*")


@dataclass(frozen=True)
class Entry:
    """One BibTeX entry: its type (article, inproceedings...), citation key and fields."""

    type: str
    key: str
    fields: dict[str, str]


def parse(text: str, source: str = "BibTeX") -> list[Entry]:
    """Every entry of `text`; a malformed one raises ValidationError naming its line."""
    entries = []
    at = text.find("@")
    while at != -1:
        reader = _Reader(text, at + 1, source)
        kind = reader.name().lower()
        if kind in _SKIPPED:
            at = text.find("@", reader.skip_group())
            continue
        entries.append(reader.entry(kind))
        at = text.find("@", reader.pos)
    return entries


class _Reader:
    def __init__(self, text: str, pos: int, source: str) -> None:
        self.text, self.pos, self.source = text, pos, source

    def fail(self, what: str) -> ValidationError:
        line = self.text.count("\n", 0, self.pos) + 1
        return ValidationError(
            f"{self.source} line {line}: {what}; fix the entry and import again."
        )

    def space(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def name(self) -> str:
        self.space()
        found = _NAME.match(self.text, self.pos)
        if found is None:
            raise self.fail("expected a name")
        self.pos = found.end()
        return found.group()

    def expect(self, char: str) -> None:
        self.space()
        if not self.text.startswith(char, self.pos):
            raise self.fail(f"expected {char!r}")
        self.pos += 1

    def skip_group(self) -> int:
        self.expect("{")
        self.braced()
        return self.pos

    def braced(self) -> str:
        """The text up to the brace closing the one just read (nested braces kept)."""
        depth, start = 1, self.pos
        while self.pos < len(self.text):
            char = self.text[self.pos]
            self.pos += 1
            depth += {"{": 1, "}": -1}.get(char, 0)
            if depth == 0:
                return self.text[start : self.pos - 1]
        raise self.fail("a '{' is never closed")

    def value(self) -> str:
        self.space()
        char = self.text[self.pos : self.pos + 1]
        if char == "{":
            self.pos += 1
            return self.braced()
        if char == '"':
            end = self.text.find('"', self.pos + 1)
            if end == -1:
                raise self.fail("a '\"' is never closed")
            quoted, self.pos = self.text[self.pos + 1 : end], end + 1
            return quoted
        found = re.compile(r"[\w.-]+").match(self.text, self.pos)
        if found is None:
            raise self.fail("expected a value in braces, quotes or a number")
        self.pos = found.end()
        return found.group()

    def entry(self, kind: str) -> Entry:
        self.expect("{")
        self.space()
        end = self.text.find(",", self.pos)
        if end == -1:
            raise self.fail(f"@{kind} has no citation key")
        key = self.text[self.pos : end].strip()
        self.pos = end + 1
        fields: dict[str, str] = {}
        while True:
            self.space()
            if self.text.startswith("}", self.pos):
                self.pos += 1
                return Entry(kind, key, fields)
            name = self.name().lower()
            self.expect("=")
            fields[name] = " ".join(self.value().replace("{", "").replace("}", "").split())
            self.space()
            if self.text.startswith(",", self.pos):
                self.pos += 1

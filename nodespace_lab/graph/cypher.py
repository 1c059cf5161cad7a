"""Guards for user-supplied Cypher: one statement, read clauses and read functions only.

Kùzu-family Cypher can read and write files (COPY, LOAD FROM, EXPORT), load native
code (LOAD EXTENSION), end the caller's transaction (COMMIT) and change settings
(CALL name=value). `check_query` reads the query with a tokenizer that follows the
engine's lexer (`_cypher_lexer`), refuses a second statement, and checks every
keyword, function and procedure outside strings, names and comments against an
allow-list (`_cypher_words`). It is the first wall: the store then runs the one
statement prepared, and reads inside a read-only engine transaction
(`GraphStore.read_only_frame`), so a write that got past this check is still
refused by the engine.

Decisions: `write=True` adds CREATE, MERGE, SET, DELETE, DETACH DELETE and REMOVE;
nothing ever allows files, extensions, other databases, transaction control,
settings or schema changes (CREATE/DROP/ALTER TABLE, macros, sequences, indexes):
the schema belongs to migrations and `kb.define()`.
"""

from __future__ import annotations

import unicodedata

from ..errors import QueryError
from ._cypher_lexer import Token, refuse, tokenize
from ._cypher_words import (
    FUNCTIONS,
    KEYWORDS,
    NEVER,
    PREFIXES,
    PROCEDURES,
    READ_STARTS,
    SCHEMA,
    TYPE_CONSTRUCTORS,
    WRITE,
    WRITE_STARTS,
)

__all__ = ["FUNCTIONS", "MAX_QUERY_CHARS", "PROCEDURES", "check_query", "parameter_names"]

#: Longer queries are refused before they are read (the engine's parser is not linear).
MAX_QUERY_CHARS = 100_000


def check_query(query: object, *, write: bool) -> str:
    """`query` if it is one statement of allowed clauses and functions, else `QueryError`.

    Reads (`write=False`) may use only read clauses; `write=True` adds the updating
    clauses. File access, extensions, transactions, settings and schema changes are
    refused either way.
    """
    text = _text(query)
    body = _one_statement(text, tokenize(text))
    start = _prefix_length(body)
    _check_start(text, body, start, write)
    for index in range(len(body)):
        _check_word(text, body, index, write)
    return text


def parameter_names(query: str) -> list[str]:
    """The `$name` parameters that `query` uses, sorted (`QueryError` if unreadable)."""
    names = {t.text[1:].strip("`").replace("``", "`") for t in tokenize(query) if t.kind == "param"}
    return sorted(names)


def _text(query: object) -> str:
    if not isinstance(query, str) or not query.strip():
        raise QueryError(f"Cypher query {query!r} is empty; pass the query text as a string.")
    if len(query) > MAX_QUERY_CHARS:
        raise QueryError(
            f"Cypher query of {len(query):,} characters is longer than the "
            f"{MAX_QUERY_CHARS:,} allowed; pass values as $parameters instead of in the text."
        )
    return query


def _one_statement(text: str, tokens: list[Token]) -> list[Token]:
    semicolons = [i for i, t in enumerate(tokens) if t.text == ";"]
    if semicolons and semicolons[0] != len(tokens) - 1:
        at = tokens[semicolons[0]].at
        raise QueryError(
            f"kb.cypher() runs exactly one statement, but the query goes on after the ';' at "
            f"character {at} (near {text[max(0, at - 20) : at + 20]!r}); run each statement "
            "in its own call."
        )
    body = tokens[:-1] if semicolons else tokens
    if not body:
        raise QueryError(f"Cypher query {text[:60]!r} is empty (only comments); write a query.")
    return body


def _prefix_length(tokens: list[Token]) -> int:
    if tokens[0].upper == "EXPLAIN" and len(tokens) > 1 and tokens[1].upper == "LOGICAL":
        return 2
    return 1 if tokens[0].upper in PREFIXES else 0


def _check_start(text: str, tokens: list[Token], start: int, write: bool) -> None:
    starts = WRITE_STARTS if write else READ_STARTS
    first = tokens[start] if start < len(tokens) else tokens[-1]
    if first.upper in starts or first.upper in NEVER | SCHEMA:
        return  # a refused keyword gets its own, clearer message
    if first.upper in WRITE and not write:
        return
    raise refuse(
        text,
        first.at,
        f"a {'write' if write else 'read'} query cannot start with {first.text!r}",
        f"start it with {', '.join(sorted(starts))}",
    )


def _check_word(text: str, tokens: list[Token], index: int, write: bool) -> None:
    token = tokens[index]
    if token.kind != "word":
        return
    before = tokens[index - 1] if index else None
    after = tokens[index + 1] if index + 1 < len(tokens) else None
    if before is not None and (before.text == "." or before.upper == "CALL"):
        return  # a property (n.set, n.copy), or a procedure that _check_call checked
    called = after is not None and after.text == "("
    if not token.upper:
        _check_unicode_word(text, token, called)
        return
    if before is not None and (before.text == ":" or before.upper == "AS"):
        if not called:
            return  # a label, relationship type, alias or type name
        if before.upper == "AS":
            _check_type_constructor(text, token)
            return
    if token.upper in KEYWORDS:
        _check_keyword(text, tokens, index, write)
    elif called:
        _check_function(text, token)


def _check_unicode_word(text: str, token: Token, called: bool) -> None:
    # The engines compare keywords in ASCII only, but a reader (or a later engine)
    # may not: refuse names that normalise to a keyword, e.g. ＳＥＴ or ſet.
    folded = unicodedata.normalize("NFKC", token.text).upper()
    if folded in KEYWORDS or folded in FUNCTIONS or called:
        raise refuse(
            text,
            token.at,
            f"the name {token.text!r} looks like the Cypher word {folded!r}",
            "write keywords and functions in ASCII, and such names in `backticks`",
        )


def _check_type_constructor(text: str, token: Token) -> None:
    if token.upper not in TYPE_CONSTRUCTORS:
        raise refuse(
            text,
            token.at,
            f"{token.text!r}( after AS is not a type",
            f"use one of {', '.join(sorted(TYPE_CONSTRUCTORS))}(...) in CAST",
        )


def _check_keyword(text: str, tokens: list[Token], index: int, write: bool) -> None:
    key = tokens[index].upper
    if key in PREFIXES or key == "LOGICAL":
        _check_prefix(text, tokens, index)
    elif key in NEVER:
        raise QueryError(
            f"Cypher clause {key!r} is not allowed in kb.cypher(): it reaches files, "
            "extensions, other databases or transactions. Use kb.import_nodes(), the "
            "importers, or kb.transaction()."
        )
    elif key in SCHEMA:
        raise QueryError(
            f"Cypher keyword {key!r} is not allowed in kb.cypher(): it is read-only unless "
            "write=True and never changes the schema, which belongs to kb.define() and "
            "the migrations."
        )
    elif key == "CALL":
        _check_call(text, tokens, index)
    elif key in WRITE:
        _check_write(text, tokens, index, write)


def _check_prefix(text: str, tokens: list[Token], index: int) -> None:
    if index == 0 or (index == 1 and tokens[1].upper == "LOGICAL" and tokens[0].upper == "EXPLAIN"):
        return
    raise refuse(
        text,
        tokens[index].at,
        f"{tokens[index].text!r} may only begin the query",
        "put EXPLAIN or PROFILE first, once",
    )


def _check_call(text: str, tokens: list[Token], index: int) -> None:
    name = tokens[index + 1] if index + 1 < len(tokens) else None
    called = index + 2 < len(tokens) and tokens[index + 2].text == "("
    if name is not None and name.upper in PROCEDURES and called:
        return
    shown = name.text if name is not None else ""
    raise QueryError(
        f"CALL {shown!r} is not allowed in kb.cypher(): only the read-only procedures "
        f"{', '.join(sorted(p.lower() for p in PROCEDURES))} are, as CALL name(...) "
        "(CALL name = value would change a setting)."
    )


def _check_write(text: str, tokens: list[Token], index: int, write: bool) -> None:
    key = tokens[index].upper
    if not write:
        raise QueryError(
            f"kb.cypher() is read-only but the query uses {key!r}; use the node API "
            "(kb.create/update/...) or pass write=True to opt in."
        )
    after = tokens[index + 1] if index + 1 < len(tokens) else None
    before = tokens[index - 1] if index else None
    if key in ("CREATE", "MERGE") and not (before is not None and before.upper == "ON"):
        _check_pattern_follows(text, tokens, index)
    elif key == "DETACH" and (after is None or after.upper != "DELETE"):
        raise QueryError("DETACH is allowed in kb.cypher() only as DETACH DELETE.")
    elif key == "ON" and (after is None or after.upper not in ("MATCH", "CREATE")):
        raise QueryError("ON is allowed in kb.cypher() only as MERGE ... ON MATCH / ON CREATE.")


def _check_pattern_follows(text: str, tokens: list[Token], index: int) -> None:
    # CREATE (pattern) or CREATE p = (pattern); anything else is a schema statement
    # (CREATE NODE TABLE, CREATE MACRO, CREATE INDEX ...).
    rest = [t.text for t in tokens[index + 1 : index + 3]]
    if rest[:1] == ["("] or (len(rest) == 2 and tokens[index + 1].kind in ("word", "name")
                             and rest[1] == "="):  # fmt: skip
        return
    raise QueryError(
        f"{tokens[index].upper} in kb.cypher() must be followed by a pattern such as "
        "(n:Node {...}); schema statements (CREATE NODE TABLE, MACRO, SEQUENCE, INDEX ...) "
        "are not allowed: the schema belongs to kb.define() and the migrations."
    )


def _check_function(text: str, token: Token) -> None:
    if token.upper in FUNCTIONS:
        return
    raise QueryError(
        f"Cypher function {token.text!r} is not allowed in kb.cypher(): only read-only "
        "functions are (nodespace_lab.graph.cypher.FUNCTIONS lists them); table functions "
        "go through CALL, and only the read-only ones in PROCEDURES."
    )

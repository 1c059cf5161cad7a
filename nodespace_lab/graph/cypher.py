"""Guards for user-supplied Cypher.

Kùzu-family Cypher can read and write files (COPY, LOAD FROM, EXPORT) and
load native code (LOAD EXTENSION), so user queries are read-only unless the
caller opts in, and those clauses are refused outright.
"""

from __future__ import annotations

import re

from ..errors import QueryError

_STRINGS = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|`[^`]*`", re.DOTALL)
_COMMENTS = re.compile(r"//[^\n]*|/\*.*?\*/", re.DOTALL)
_WORDS = r"\b({})\b"
NEVER = ("COPY", "LOAD", "EXPORT", "IMPORT", "INSTALL", "ATTACH", "DETACH\\s+DATABASE", "USE",
         "CHECKPOINT", "BEGIN", "COMMIT", "ROLLBACK", "CALL\\s+\\w+(?=\\s*=)")  # fmt: skip
WRITES = ("CREATE", "MERGE", "SET", "DELETE", "REMOVE", "DROP", "ALTER", "DETACH")
_NEVER = re.compile(_WORDS.format("|".join(NEVER)), re.IGNORECASE)
_WRITE = re.compile(_WORDS.format("|".join(WRITES)), re.IGNORECASE)


def code_only(query: str) -> str:
    """The query with string literals emptied and comments removed."""
    return _STRINGS.sub("''", _COMMENTS.sub(" ", query))


def check_query(query: object, *, write: bool) -> str:
    """Refuse file access, extensions and transaction control; refuse writes unless `write`."""
    if not isinstance(query, str) or not query.strip():
        raise QueryError(f"Cypher query {query!r} is empty; pass the query text as a string.")
    code = code_only(query)
    found = _NEVER.search(code)
    if found:
        raise QueryError(
            f"Cypher clause {found.group(0).upper()!r} is not allowed in kb.cypher(): it reaches "
            "files, extensions or transactions. Use kb.import_nodes() or kb.transaction()."
        )
    if not write:
        found = _WRITE.search(code)
        if found:
            raise QueryError(
                f"kb.cypher() is read-only but the query uses {found.group(0).upper()!r}; use the "
                "node API (kb.create/update/...) or pass write=True to opt in."
            )
    return query

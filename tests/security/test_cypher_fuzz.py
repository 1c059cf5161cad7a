"""Property fuzz of the read-only Cypher guard: token soups of dangerous pieces.

For any text: the checker raises nothing but `QueryError`; it never accepts a write,
file or transaction keyword outside strings, names and comments (as an independent,
regex-based reader sees them); and whatever it accepts, run through
`kb.cypher(..., write=False)` on a real knowledge base, leaves the change log, the
nodes and a watched folder as they were.
"""

from __future__ import annotations

import contextlib
import re
import unicodedata
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nodespace_lab import KnowledgeBase
from nodespace_lab.errors import QueryError
from nodespace_lab.graph.cypher import check_query

from ..conftest import isolated_settings

SINK_NAME = "fuzz-sink"
DANGEROUS = (
    "SET", "CREATE", "MERGE", "DELETE", "DETACH", "REMOVE", "COPY", "LOAD", "EXPORT",
    "IMPORT", "INSTALL", "ATTACH", "USE", "BEGIN", "COMMIT", "ROLLBACK", "CHECKPOINT",
    "DROP", "ALTER", "EXTENSION", "TRANSACTION",
)  # fmt: skip
PIECES = [
    *DANGEROUS, *(w.lower() for w in DANGEROUS), "set", "Copy",
    "MATCH (n:Node)", "RETURN", "RETURN 1 AS x", "WITH n", "WHERE", "n.title", "n.set",
    "AS", "UNWIND [1] AS i", "CALL", "CALL show_tables()", "threads=1", "EXPLAIN",
    "n.title = 'x'", "TO '{sink}/f.csv'", "FROM '/etc/passwd'", "DATABASE '{sink}/db'",
    "(", ")", "{", "}", "[", "]", ",", ".", ":", "=", "$p", "`", "``", "'", '"', "\\", "\\'",
    '\\"', "\\\\", "//", "/*", "*/", "**/", "*", "\n", "\r", ";", "; ", " ", "\t", "\u00a0",
    "\u2028", "\u3000", "\u200b", "\ufeff", "\u0085", "\uff33\uff25\uff34", "\u017fet",
    "'//'", "'/*'", "'*/'", "'; COMMIT; '", "nextval('s')", "lower(n.title)", "count(*)",
    "EXISTS { MATCH (m) }", "COUNT { MATCH (m) }", "UNION", "1", "-1", "..", "->", "<-",
]  # fmt: skip
# Besides \w, names go on with marks, connectors and currency signs (`a$b` is one
# name to the engine, as the grammar's ID_Continue | Sc says).
_WORD_PARTS = "".join(
    re.escape(chr(c))
    for c in range(0x80, 0x30000)
    if unicodedata.category(chr(c)) in ("Mn", "Mc", "Pc", "Sc")
)
# An independent reader (one regex, left to right) of what is code: strings, names
# and comments are skipped, and so are words right after '.', ':' or AS.
_READER = re.compile(
    r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|`[^`]*`|//[^\n]*|/\*.*?\*/"
    rf"|\$[\w{_WORD_PARTS}$]*|(?P<word>\w[\w{_WORD_PARTS}$]*)|(?P<other>\S)",
    re.DOTALL,
)


def code_words(query: str) -> list[str]:
    """Upper-cased words of `query` outside strings, names and comments, not properties."""
    words: list[str] = []
    previous = ""
    for match in _READER.finditer(query):
        text = match.group(0)
        if match.group("word") and previous not in (".", ":", "AS"):
            words.append(text.upper())
        if match.group("word") or match.group("other"):
            previous = text.upper()
        elif not text.startswith("/"):
            previous = "a string or name"  # comments may sit between '.' and a property
    return words


@st.composite
def soups(draw: st.DrawFn) -> str:
    """A random mix of dangerous pieces, read-query pieces and random unicode."""
    parts = draw(
        st.lists(
            st.one_of(st.sampled_from(PIECES), st.text(max_size=4)),
            min_size=1,
            max_size=14,
        )
    )
    start = draw(st.sampled_from(["", "RETURN 1 AS x ", "MATCH (n:Node) ", "RETURN "]))
    joiner = draw(st.sampled_from([" ", "", "\n"]))
    return start + joiner.join(parts)


@pytest.fixture(scope="module")
def fuzz_kb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[KnowledgeBase, Path]]:
    """A knowledge base with writes allowed (so only the read-only guard refuses) and a sink."""
    folder = tmp_path_factory.mktemp("cypher-fuzz") / "kb"
    sink = folder.parent / SINK_NAME
    sink.mkdir()
    settings_ = isolated_settings(
        folder, folder.parent / "none.toml", security={"allow_cypher_writes": True}
    )
    with KnowledgeBase(folder, settings=settings_) as kb:
        kb.create("text", "keep me", "[[keep me]]", tags=["t"])
        yield kb, sink


@settings(
    max_examples=600,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(soup=soups())
def test_whatever_the_checker_accepts_reads_only(
    fuzz_kb: tuple[KnowledgeBase, Path], soup: str
) -> None:
    kb, sink = fuzz_kb
    query = soup.replace("{sink}", str(sink))
    try:
        check_query(query, write=False)
    except QueryError:
        return
    assert not set(code_words(query)) & set(DANGEROUS), query
    seq, nodes = kb.seq, kb.find().include_deleted().count()
    changesets = kb.cypher("MATCH (c:ChangeSet) RETURN count(c) AS c")["c"][0]
    with contextlib.suppress(QueryError):  # the engine may still refuse it (syntax, binding)
        kb.cypher(query)
    assert kb.seq == seq
    assert kb.find().include_deleted().count() == nodes
    assert kb.cypher("MATCH (c:ChangeSet) RETURN count(c) AS c")["c"][0] == changesets
    assert list(sink.iterdir()) == []


def test_the_independent_reader_sees_what_it_should() -> None:
    assert code_words("RETURN 'SET' /* COPY */ // LOAD\n AS x, n.set, `DROP`") == [
        "RETURN",
        "AS",
        "N",
    ]

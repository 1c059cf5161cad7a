"""`kb.cypher()`: read-only by default, writes only by explicit opt-in, file access never."""

from __future__ import annotations

import polars as pl
import pytest

from nodespace_lab import KnowledgeBase
from nodespace_lab.errors import QueryError


@pytest.fixture
def guarded(module_kb: KnowledgeBase) -> KnowledgeBase:
    """The module's shared knowledge base, with a little content; refused queries keep it."""
    if module_kb.find().count() == 0:
        module_kb.create("text", "keep me", "[[keep me]]", tags=["t"])
    return module_kb


def test_read_query_returns_polars(kb: KnowledgeBase) -> None:
    kb.create("task", "a", priority=1)
    kb.create("task", "b", priority=2)
    frame = kb.cypher(
        "MATCH (n:Node) WHERE n.priority >= $p RETURN n.title AS title, n.priority AS priority",
        {"p": 2},
    )
    assert isinstance(frame, pl.DataFrame)
    assert frame.to_dicts() == [{"title": "b", "priority": 2}]


@pytest.mark.parametrize(
    "query",
    [
        "MATCH (n:Node) DETACH DELETE n",
        "MATCH (n:Node) SET n.title = 'x'",
        "CREATE (:Node {id: 'x'})",
        "MERGE (:Node {id: 'x'})",
        "MATCH (n:Node) REMOVE n.title",
        "DROP TABLE Node",
        "match (n:Node) delete n",
    ],
)
def test_writes_are_refused_by_default(guarded: KnowledgeBase, snapshot, query: str) -> None:
    before = snapshot(guarded)
    with pytest.raises(QueryError, match="read-only"):
        guarded.cypher(query)
    assert snapshot(guarded) == before


def test_write_keywords_inside_strings_and_comments_are_fine(kb: KnowledgeBase) -> None:
    kb.create("text", "please DELETE me")
    frame = kb.cypher(
        "MATCH (n:Node) WHERE n.title = 'please DELETE me' // SET nothing\nRETURN n.title AS t"
    )
    assert frame["t"].to_list() == ["please DELETE me"]


@pytest.mark.parametrize(
    "query",
    [
        "COPY Node FROM '/tmp/nodes.csv'",
        "LOAD FROM '/etc/passwd' RETURN *",
        "LOAD EXTENSION fts",
        "INSTALL fts",
        "ATTACH '/tmp/other' AS other (dbtype kuzu)",
        "EXPORT DATABASE '/tmp/out'",
        "IMPORT DATABASE '/tmp/in'",
        "BEGIN TRANSACTION",
        "CHECKPOINT",
        "CALL threads=2",
        "CALL timeout = 0",
    ],
)
def test_file_extension_and_transaction_clauses_refused_even_with_write(
    guarded: KnowledgeBase, snapshot, query: str
) -> None:
    assert guarded.settings.security.allow_cypher_writes
    before = snapshot(guarded)
    with pytest.raises(QueryError, match="not allowed"):
        guarded.cypher(query, write=True)
    with pytest.raises(QueryError, match="not allowed"):
        guarded.cypher(query)
    assert snapshot(guarded) == before


def test_write_needs_the_security_setting(kb: KnowledgeBase, snapshot) -> None:
    node = kb.create("text", "a")
    before = snapshot(kb)
    with pytest.raises(QueryError, match="allow_cypher_writes"):
        kb.cypher("MATCH (n:Node {id: $id}) SET n.title = 'b'", {"id": node.id}, write=True)
    assert snapshot(kb) == before


def test_opted_in_write_runs_and_is_recorded(kb_factory) -> None:
    kb = kb_factory(security={"allow_cypher_writes": True})
    node = kb.create("text", "a")
    frame = kb.cypher(
        "MATCH (n:Node {id: $id}) SET n.title = $t RETURN n.title AS title",
        {"id": node.id, "t": "b"},
        write=True,
    )
    assert frame["title"].to_list() == ["b"]
    assert kb.get(node.id).title == "b"
    change = kb.changes(since=1)[0]
    assert change.seq == 2 == kb.seq
    assert change.label == "cypher"
    assert [op.op for op in change.ops] == ["cypher"]
    assert "SET n.title" in (change.ops[0].target or "")
    with pytest.raises(QueryError, match="cannot be undone"):
        kb.undo()


def test_engine_error_becomes_query_error(kb: KnowledgeBase) -> None:
    with pytest.raises(QueryError, match="NoSuchTable"):
        kb.cypher("MATCH (n:NoSuchTable) RETURN n")


def test_empty_query_refused(kb: KnowledgeBase) -> None:
    with pytest.raises(QueryError, match="empty"):
        kb.cypher("   ")


def test_read_only_cypher_inside_a_transaction_sees_its_writes(kb: KnowledgeBase) -> None:
    with kb.transaction():
        kb.create("text", "pending")
        inside = kb.cypher("MATCH (n:Node) RETURN count(n) AS c")["c"][0]
    assert inside == 1


def test_query_timeout_setting_stops_a_slow_query(kb_factory) -> None:
    kb = kb_factory(performance={"query_timeout_ms": 1})
    kb.import_nodes(pl.DataFrame({"title": [f"n{i}" for i in range(3000)]}))
    with pytest.raises(QueryError, match=r"(?i)interrupt|timeout"):
        kb.cypher(
            "MATCH (a:Node), (b:Node), (c:Node) WHERE a.title < b.title AND b.title < c.title "
            "RETURN count(*)"
        )
    # The connection is usable afterwards (the API's own reads have no time limit).
    assert kb.find().count() == 3000


def test_a_second_statement_is_refused_not_run(guarded: KnowledgeBase, snapshot) -> None:
    # Issue 12: with no parameters the engine ran every ';'-separated statement, and a
    # '//' inside a string hid the rest of the line from the old filter.
    before = snapshot(guarded)
    for query in (
        "RETURN '//' AS x; COMMIT; MATCH (n:Node) SET n.title = 'pwned'",
        "MATCH (n:Node) RETURN n.id; MATCH (n:Node) DETACH DELETE n",
    ):
        with pytest.raises(QueryError, match="exactly one statement"):
            guarded.cypher(query)
        with pytest.raises(QueryError, match="exactly one statement"):
            guarded.cypher(query, write=True)
    assert snapshot(guarded) == before


def test_one_trailing_semicolon_and_tricky_strings_are_fine(guarded: KnowledgeBase) -> None:
    frame = guarded.cypher("RETURN '//' AS a, '/*' AS b, '\\'; COMMIT' AS c, 1 AS `x;y`;")
    assert frame.columns == ["a", "b", "c", "x;y"]
    assert frame.rows() == [("//", "/*", "'; COMMIT", 1)]


def test_schema_statements_are_refused_even_with_write(guarded: KnowledgeBase, snapshot) -> None:
    before = snapshot(guarded)
    for query in (
        "CREATE NODE TABLE Evil(id STRING, PRIMARY KEY(id))",
        "CREATE MACRO evil(x) AS x",
        "ALTER TABLE Node ADD evil STRING",
    ):
        with pytest.raises(QueryError, match="not allowed"):
            guarded.cypher(query, write=True)
    assert snapshot(guarded) == before


def test_a_read_inside_a_transaction_is_still_one_checked_statement(kb: KnowledgeBase) -> None:
    kb.create("text", "keep")
    with kb.transaction():
        with pytest.raises(QueryError, match="exactly one statement"):
            kb.cypher("RETURN 1; MATCH (n:Node) SET n.title = 'x'")
        assert kb.cypher("MATCH (n:Node) RETURN n.title AS t")["t"].to_list() == ["keep"]
    assert [n.title for n in kb.find().all()] == ["keep"]

"""The read-only Cypher guard (issue 12, hole 2) against bypass attempts, on the real engine.

Three walls are tested apart: the checker (`check_query`) refuses every attempt of
the corpus; the store runs one prepared statement in a read-only engine
transaction, which refuses a write even when the checker is bypassed; validation
of model-written queries only prepares them. The read corpus keeps the guard usable.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from nodespace_lab import KnowledgeBase
from nodespace_lab.ai.queries import CYPHER_EXAMPLES, _explain
from nodespace_lab.errors import QueryError
from nodespace_lab.graph._cypher_lexer import WHITESPACE
from nodespace_lab.graph.cypher import check_query, parameter_names
from nodespace_lab.widgets import graph as graph_widget

from ..conftest import db_state, isolated_settings
from .cypher_corpus import BYPASSES, NEVER, READS, long_attempts

ATTEMPTS = BYPASSES + NEVER + long_attempts()


@pytest.fixture(scope="module")
def sink(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder the attempts aim their files at; it must stay empty."""
    return tmp_path_factory.mktemp("sink")


@pytest.fixture(scope="module")
def corpus_kb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KnowledgeBase]:
    """Ten nodes the read corpus knows (Cypher writes allowed, so only the guard refuses)."""
    folder = tmp_path_factory.mktemp("cypher-corpus") / "kb"
    settings = isolated_settings(
        folder, folder.parent / "none.toml", security={"allow_cypher_writes": True}
    )
    with KnowledgeBase(folder, settings=settings) as kb:
        project = kb.create("text", "Project X")
        kb.create("text", "Methods")
        kb.create("text", "Results", "See [[Methods]].", parent=project.id)
        kb.create("text", "please DELETE me")
        kb.create("text", "sourdough", tags=["kitchen"])
        kb.create("text", "semi;colon", "/* not a comment */ COPY")
        kb.create("text", "it's")
        kb.create("task", "pay rent", priority=1)
        kb.create("task", "write report")
        yield kb


def _fill(query: str, sink: Path) -> str:
    return query.replace("{sink}", str(sink))


def _files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


# -- wall 1: the checker ---------------------------------------------------------


@pytest.mark.parametrize("query", ATTEMPTS, ids=[f"attempt{i}" for i in range(len(ATTEMPTS))])
def test_the_checker_refuses_every_attempt(query: str, sink: Path) -> None:
    with pytest.raises(QueryError):
        check_query(_fill(query, sink), write=False)


@pytest.mark.parametrize("query", NEVER, ids=[f"never{i}" for i in range(len(NEVER))])
def test_files_extensions_transactions_settings_and_schema_are_refused_with_writes_too(
    query: str, sink: Path
) -> None:
    with pytest.raises(QueryError, match="not allowed"):
        check_query(_fill(query, sink), write=True)


def test_the_corpus_is_large_enough() -> None:
    assert len(set(ATTEMPTS)) >= 200
    assert len(READS) >= 50


def test_refused_attempts_change_nothing_through_kb_cypher(
    corpus_kb: KnowledgeBase, sink: Path
) -> None:
    before, files = db_state(corpus_kb), _files(sink)
    for query in ATTEMPTS:
        with pytest.raises(QueryError):
            corpus_kb.cypher(_fill(query, sink))
    for query in NEVER:
        with pytest.raises(QueryError, match="not allowed"):
            corpus_kb.cypher(_fill(query, sink), write=True)
    assert db_state(corpus_kb) == before
    assert _files(sink) == files == []


def test_the_issue_attack_changes_no_title(corpus_kb: KnowledgeBase) -> None:
    titles = corpus_kb.cypher("MATCH (n:Node) RETURN n.title AS t ORDER BY t")["t"].to_list()
    seq = corpus_kb.seq
    with pytest.raises(QueryError, match="exactly one statement"):
        corpus_kb.cypher("RETURN '//' AS x; COMMIT; MATCH (n:Node) SET n.title = 'pwned'")
    after = corpus_kb.cypher("MATCH (n:Node) RETURN n.title AS t ORDER BY t")["t"].to_list()
    assert after == titles and corpus_kb.seq == seq


@pytest.mark.parametrize("char", sorted(WHITESPACE), ids=lambda c: f"U+{ord(c):04X}")
def test_the_engines_whitespace_is_the_checkers_whitespace(
    corpus_kb: KnowledgeBase, char: str
) -> None:
    # The checker reads these as spaces; the test proves the engine does the same
    # (if a new engine read one as part of a word, this fails).
    query = f"RETURN{char}1{char}AS{char}x"
    assert check_query(query, write=False) == query
    assert corpus_kb.cypher(query)["x"].to_list() == [1]


# -- the read corpus --------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "params", "rows"), READS, ids=[f"read{i}" for i in range(len(READS))]
)
def test_read_queries_are_accepted_and_return_their_rows(
    corpus_kb: KnowledgeBase, query: str, params: dict[str, Any], rows: list[tuple[Any, ...]] | None
) -> None:
    assert check_query(query, write=False) == query
    frame = corpus_kb.cypher(query, params)
    if rows is not None:
        assert frame.rows() == rows


def _package_queries(kb: KnowledgeBase) -> list[tuple[str, dict[str, Any], Any]]:
    """Queries the package itself writes, with what each must return (None: just runs)."""
    finds = [
        kb.find(),
        kb.find("task").where(task_status="todo"),
        kb.find("task").where("priority", "<=", 2).order_by("due").limit(5),
        kb.find().contains("DELETE"),
        kb.find().tagged("kitchen"),
        kb.find("text").under(kb.find().where(title="Project X").ids()[0]),
        kb.find().include_deleted().offset(2),
        kb.find(["task", "text"]).select("title", "priority").order_by("title"),
        kb.find("task").where("due", "<", dt.date(2026, 1, 1)),
        kb.find()
        .where("title", "in", ["Methods", "Results"])
        .order_by("updated_at", descending=True),
    ]
    queries: list[tuple[str, dict[str, Any], Any]] = []
    for find in finds:
        cypher, params = find.compile()
        queries.append((cypher, params, sorted(find.ids())))
    ids = kb.find().ids()
    queries += [
        (graph_widget._OUT, {"ids": ids, "cap": 50}, None),
        (graph_widget._IN, {"ids": ids, "cap": 50}, None),
        (graph_widget._REFERS, {"ids": ids}, None),
        (graph_widget._REFERRED_BY, {"keys": ["methods"], "cap": 50}, None),
        (graph_widget._IDS_EXISTING, {"keys": ids[:2]}, None),
        (graph_widget._NODE, {"id": ids[0]}, None),
        (graph_widget._REF, {"key": "methods"}, None),
    ]
    queries += [(cypher, {}, None) for _, cypher in CYPHER_EXAMPLES]
    queries += [
        ("MATCH (n:Node) RETURN n.* ORDER BY n.id", {}, None),
        ("MATCH (r:Ref) RETURN r.key", {}, None),
        ("MATCH (a)-[:CHILD_OF]->(b) RETURN a.id, b.id", {}, None),
        ("MATCH (a)-[:REFERS]->(b) RETURN a.id, b.key", {}, None),
        ("MATCH (c:ChangeSet) RETURN count(c)", {}, None),
        ("MATCH (n:Node) RETURN n.kind AS kind, count(*) AS n", {}, None),
        ("MATCH (t:Node)-[:CHILD_OF]->(d:Node {kind: 'date'}) RETURN d.id AS day, "
         "count(t) AS tasks", {}, None),
    ]  # fmt: skip
    return queries


def test_the_packages_own_queries_are_accepted(corpus_kb: KnowledgeBase) -> None:
    queries = _package_queries(corpus_kb)
    assert len(queries) >= 25
    for query, params, ids in queries:
        assert check_query(query, write=False) == query
        frame = corpus_kb.cypher(query, params)
        if ids is not None:
            assert sorted(frame["id"].to_list()) == ids, query


def test_live_cypher_queries_pass_the_guard(corpus_kb: KnowledgeBase) -> None:
    live = corpus_kb.live(
        "MATCH (t:Node {kind: 'task'}) WHERE t.priority <= $p RETURN t.id AS id, t.title AS title",
        p=1,
    )
    assert [row["title"] for row in live.rows] == ["pay rent"]
    with pytest.raises(QueryError, match="exactly one statement"):
        corpus_kb.live("RETURN 1 AS id; MATCH (n:Node) SET n.title = 'x'")


def test_parameter_names_ignore_strings_and_comments() -> None:
    query = "MATCH (n) WHERE n.a = $a AND n.b = '$no' /* $no */ // $no\nRETURN $`b c`, $1"
    assert parameter_names(query) == ["1", "a", "b c"]


# -- wall 2: the engine's read-only transaction, with the checker bypassed ------------


@pytest.mark.parametrize(
    "query",
    [
        "MATCH (n:Node) SET n.title = 'pwned'",
        "MATCH (n:Node) SET n.title = 'pwned' RETURN n.title",
        "CREATE (:Node {id: 'pwned'})",
        "MATCH (n:Node) DETACH DELETE n",
        "MERGE (n:Node {id: 'pwned'})",
        "RETURN 1; MATCH (n:Node) SET n.title = 'pwned'",
        "RETURN '//'; COMMIT; MATCH (n:Node) SET n.title = 'pwned'",
    ],
)
def test_the_engine_refuses_writes_on_the_read_path(corpus_kb: KnowledgeBase, query: str) -> None:
    before = db_state(corpus_kb)
    store = corpus_kb.store
    with pytest.raises(QueryError, match=r"read-only transaction|multiple statements"):
        store.read_only_frame(query, {}, 0)
    with pytest.raises(QueryError, match=r"read-only transaction|multiple statements"):
        store.prepare_read(query, {})
    assert db_state(corpus_kb) == before
    # The reader is usable afterwards (the read-only transaction was closed).
    assert store.read_only_frame("RETURN 1 AS x", {}, 0)["x"].to_list() == [1]


def test_inside_a_transaction_one_prepared_statement_runs(kb_factory: Any) -> None:
    kb = kb_factory()
    kb.create("text", "keep")
    with kb.transaction():
        with pytest.raises(QueryError, match="multiple statements"):
            kb.store.read_only_frame("RETURN 1; MATCH (n:Node) SET n.title = 'x'", {}, 0)
        with pytest.raises(QueryError, match="exactly one statement"):
            kb.cypher("RETURN 1; MATCH (n:Node) SET n.title = 'x'")
    assert [n.title for n in kb.find().all()] == ["keep"]


# -- wall 3: validation of model-written queries never runs them -----------------------


@pytest.mark.parametrize(
    "query",
    [
        "MATCH (n:Node) RETURN n.id AS id; MATCH (n:Node) SET n.title = 'pwned'",
        "MATCH (n:Node) WHERE n.title = '//' RETURN n.id; COMMIT; MATCH (n:Node) SET n.title = 'x'",
        "MATCH (n:Node) RETURN n.id /* **/ ; MATCH (n:Node) DETACH DELETE n /* */",
        "MATCH (n:Node) SET n.title = 'pwned' RETURN n.id AS id",
        "COPY (MATCH (n:Node) RETURN n.title) TO '{sink}/model.csv'",
        "LOAD FROM '/etc/passwd' (header=false, delim=':') RETURN *",
    ],
)
def test_validating_a_model_query_runs_nothing(
    corpus_kb: KnowledgeBase, sink: Path, query: str
) -> None:
    before, files = db_state(corpus_kb), _files(sink)
    with pytest.raises(QueryError):
        _explain(corpus_kb, _fill(query, sink), {})
    assert db_state(corpus_kb) == before
    assert _files(sink) == files


def test_validation_binds_without_running(corpus_kb: KnowledgeBase) -> None:
    _explain(corpus_kb, "MATCH (n:Node) WHERE n.priority = $p RETURN n.id", {"p": 1})
    with pytest.raises(QueryError, match="NoSuchTable"):
        _explain(corpus_kb, "MATCH (n:NoSuchTable) RETURN n", {})

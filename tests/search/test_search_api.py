"""`kb.search()`: the full-text sidecar index seen through the KnowledgeBase API."""

from __future__ import annotations

import shutil

import pytest

from nodespace_lab import KnowledgeBase
from nodespace_lab.errors import ValidationError
from nodespace_lab.kb.embedded import FULLTEXT_DIR
from nodespace_lab.search import FullTextIndex


@pytest.fixture
def notes(kb: KnowledgeBase) -> dict[str, str]:
    """A few searchable nodes; returns name -> id."""
    project = kb.create("text", "Graph project")
    made = {"project": project.id}
    made["engine"] = kb.create(
        "text",
        "Embedded engines",
        "LadybugDB is an embedded graph database; it continues the Kuzu engine.",
        parent=project.id,
    ).id
    made["task"] = kb.create(
        "task", "Benchmark the graph engine", "Compare lookups.", parent=project.id, tags=["perf"]
    ).id
    made["cooking"] = kb.create("text", "Pancakes", "Flour, eggs, milk. Not a graph.").id
    made["deep"] = kb.create("text", "Deep note", "graph theory basics", parent=made["engine"]).id
    return made


def test_ranked_hits_with_snippets(kb: KnowledgeBase, notes) -> None:
    hits = kb.search("embedded graph database")
    assert hits[0].id == notes["engine"]
    assert hits[0].kind == "text" and hits[0].title == "Embedded engines"
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    snippet = hits[0].snippet
    assert "embedded" in snippet.lower()
    assert hits[0].highlights
    start, end = hits[0].highlights[0]
    assert snippet[start:end].lower() in {"embedded", "graph", "database"}


def test_title_matches_rank_above_content_matches(kb: KnowledgeBase, notes) -> None:
    hits = kb.search("pancakes")
    assert [h.id for h in hits] == [notes["cooking"]]
    kb.create("text", "Breakfast", "we ate pancakes")
    assert kb.search("pancakes")[0].id == notes["cooking"]


def test_filter_by_kind(kb: KnowledgeBase, notes) -> None:
    assert [h.id for h in kb.search("graph", kind="task")] == [notes["task"]]
    assert notes["task"] not in {h.id for h in kb.search("graph", kind="text")}
    both = {h.id for h in kb.search("graph", kind=["task", "text"])}
    assert {notes["task"], notes["engine"]} <= both


def test_filter_by_tag(kb: KnowledgeBase, notes) -> None:
    assert [h.id for h in kb.search("graph", tag="perf")] == [notes["task"]]
    assert [h.id for h in kb.search("graph", tag="PERF")] == [notes["task"]]
    assert kb.search("graph", tag=["perf", "other"]) == []


def test_filter_by_subtree(kb: KnowledgeBase, notes) -> None:
    under = {h.id for h in kb.search("graph", under=notes["project"])}
    assert under == {notes["engine"], notes["task"], notes["deep"]}
    assert {h.id for h in kb.search("graph", under=notes["engine"])} == {notes["deep"]}


def test_limit_and_offset(kb: KnowledgeBase, notes) -> None:
    everything = [h.id for h in kb.search("graph", limit=50)]
    assert len(everything) >= 4
    assert [h.id for h in kb.search("graph", limit=2)] == everything[:2]
    assert [h.id for h in kb.search("graph", limit=2, offset=2)] == everything[2:4]


def test_index_follows_updates(kb: KnowledgeBase, notes) -> None:
    kb.update(notes["cooking"], title="Crepes", content="thin and French")
    assert kb.search("pancakes") == []
    assert [h.id for h in kb.search("crepes")] == [notes["cooking"]]


def test_index_follows_moves_for_subtree_filter(kb: KnowledgeBase, notes) -> None:
    kb.move(notes["engine"], None)
    under = {h.id for h in kb.search("graph", under=notes["project"])}
    assert under == {notes["task"]}
    assert {h.id for h in kb.search("graph", under=notes["engine"])} == {notes["deep"]}


def test_index_follows_tags(kb: KnowledgeBase, notes) -> None:
    kb.tag(notes["cooking"], "perf")
    assert {h.id for h in kb.search("graph", tag="perf")} == {notes["task"], notes["cooking"]}
    kb.untag(notes["task"], "perf")
    assert {h.id for h in kb.search("graph", tag="perf")} == {notes["cooking"]}


def test_deleted_nodes_are_hidden_then_back_on_restore(kb: KnowledgeBase, notes) -> None:
    kb.delete(notes["engine"])
    ids = {h.id for h in kb.search("graph")}
    assert notes["engine"] not in ids and notes["deep"] not in ids
    assert notes["deep"] in {h.id for h in kb.search("graph", include_deleted=True)}
    kb.restore(notes["engine"])
    assert notes["deep"] in {h.id for h in kb.search("graph")}


@pytest.mark.embedded
def test_purged_nodes_leave_the_index(kb: KnowledgeBase, notes) -> None:
    kb.delete(notes["cooking"])
    kb.purge(notes["cooking"])
    assert kb.search("pancakes", include_deleted=True) == []
    assert notes["cooking"] not in kb.fulltext.doc_ids()


@pytest.mark.embedded
def test_index_follows_undo(kb: KnowledgeBase, notes) -> None:
    kb.update(notes["cooking"], title="Crepes")
    kb.undo()
    assert [h.id for h in kb.search("pancakes")] == [notes["cooking"]]
    kb.undo()  # undo the creation of the deepest note
    kb.sync_search()
    assert notes["deep"] not in kb.fulltext.doc_ids()
    assert kb.fulltext.applied_seq == kb.seq


def test_index_follows_rolled_back_transactions(kb: KnowledgeBase, notes) -> None:
    with pytest.raises(RuntimeError), kb.transaction():
        kb.create("text", "zeppelin")
        raise RuntimeError
    assert kb.search("zeppelin") == []


def test_index_follows_raw_cypher_writes(kb_factory) -> None:
    kb = kb_factory(security={"allow_cypher_writes": True})
    node = kb.create("text", "Pancakes")
    kb.cypher("MATCH (n:Node {id: $id}) SET n.title = 'Waffles'", {"id": node.id}, write=True)
    assert [h.id for h in kb.search("waffles")] == [node.id]
    assert kb.search("pancakes") == []


def test_catch_up_on_reopen(kb_factory, tmp_path) -> None:
    kb = kb_factory()
    kb.create("text", "alpha")
    kb.close()
    # Keep the index as it was at seq 1, write more, then put the old index back:
    # the graph is now ahead of the index, as after a crash or another writer.
    stale = tmp_path / "stale-index"
    shutil.copytree(kb.path / FULLTEXT_DIR, stale)
    old = FullTextIndex(stale)
    assert old.applied_seq == 1
    old.close()
    kb = kb_factory()
    node = kb.create("text", "bravo")
    kb.update(node.id, content="charlie")
    kb.close()
    shutil.rmtree(kb.path / FULLTEXT_DIR)
    shutil.copytree(stale, kb.path / FULLTEXT_DIR)
    again = kb_factory()
    assert again.fulltext.applied_seq == again.seq == 3
    assert [h.id for h in again.fulltext.search("charlie")] == [node.id]


def test_catch_up_after_index_folder_is_lost(kb_factory) -> None:
    kb = kb_factory()
    node = kb.create("text", "charlie", "delta")
    path = kb.path
    kb.close()
    shutil.rmtree(path / FULLTEXT_DIR)
    again = kb_factory()
    assert [h.id for h in again.search("delta")] == [node.id]
    assert again.fulltext.applied_seq == again.seq


@pytest.mark.embedded
def test_reindex_rebuilds_from_the_graph(kb: KnowledgeBase, notes) -> None:
    count = kb.reindex()
    assert count == kb.find().include_deleted().count()
    assert kb.fulltext.doc_ids() == set(kb.find().include_deleted().ids())
    assert kb.search("pancakes")[0].id == notes["cooking"]
    assert kb.fulltext.applied_seq == kb.seq


@pytest.mark.embedded
def test_index_agrees_with_graph_after_many_writes(kb: KnowledgeBase, notes) -> None:
    for i in range(10):
        node = kb.create("text", f"bulk {i}", parent=notes["project"])
        if i % 3 == 0:
            kb.delete(node.id)
            kb.purge(node.id)
    kb.sync_search()
    assert kb.fulltext.doc_ids() == set(kb.find().include_deleted().ids())


def test_query_syntax_and_bad_input(kb: KnowledgeBase, notes) -> None:
    assert [h.id for h in kb.search('"embedded graph"')] == [notes["engine"]]
    assert kb.search("title:pancakes")[0].id == notes["cooking"]
    assert isinstance(kb.search('unbalanced "quote ( AND'), list)
    with pytest.raises(ValidationError, match="empty"):
        kb.search("   ")
    with pytest.raises(ValidationError, match="limit"):
        kb.search("graph", limit=-1)

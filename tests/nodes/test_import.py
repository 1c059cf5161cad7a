"""`kb.import_nodes(frame)`: bulk import of nodes and hierarchy through the engine's COPY path."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from nodespace_lab import KnowledgeBase


def test_import_plain_titles_gets_fresh_ids_in_order(kb: KnowledgeBase) -> None:
    count = kb.import_nodes(pl.DataFrame({"title": ["a", "b", "c"]}))
    assert count == 3
    top = kb.children()
    assert [n.title for n in top] == ["a", "b", "c"]
    assert all(n.kind == "text" and n.version == 1 and n.status == "active" for n in top)
    assert len({n.id for n in top}) == 3
    assert kb.seq == 1


@pytest.mark.embedded
def test_import_hierarchy_inside_the_frame(kb: KnowledgeBase) -> None:
    frame = pl.DataFrame(
        {
            "id": ["book", "ch1", "ch2", "s11", "s12"],
            "title": ["Book", "Chapter 1", "Chapter 2", "Section 1.1", "Section 1.2"],
            "parent_id": [None, "book", "book", "ch1", "ch1"],
        }
    )
    kb.import_nodes(frame)
    tree = [(depth, n.title) for depth, n in kb.subtree("book")]
    assert tree == [
        (0, "Book"),
        (1, "Chapter 1"),
        (2, "Section 1.1"),
        (2, "Section 1.2"),
        (1, "Chapter 2"),
    ]
    assert [n.id for n in kb.ancestors("s12")] == ["ch1", "book"]
    edges = kb.store.rows("MATCH (c:Node)-[:CHILD_OF]->(p:Node) RETURN c.id, p.id ORDER BY c.id")
    assert edges == [["ch1", "book"], ["ch2", "book"], ["s11", "ch1"], ["s12", "ch1"]]


def test_children_listed_before_their_parent_in_the_frame(kb: KnowledgeBase) -> None:
    frame = pl.DataFrame(
        {"id": ["kid", "mum"], "title": ["Kid", "Mum"], "parent_id": ["mum", None]}
    )
    kb.import_nodes(frame)
    assert [n.id for n in kb.children("mum")] == ["kid"]


def test_import_under_an_existing_node_appends_after_its_children(kb: KnowledgeBase) -> None:
    parent = kb.create("text", "Existing")
    kb.create("text", "first", parent=parent.id)
    kb.create("text", "last", parent=parent.id)
    frame = pl.DataFrame(
        {"id": ["x", "y", "z"], "title": ["x", "y", "z"], "parent_id": [parent.id, parent.id, "x"]}
    )
    kb.import_nodes(frame)
    assert [n.title for n in kb.children(parent.id)] == ["first", "last", "x", "y"]
    assert [n.title for n in kb.children("x")] == ["z"]
    # and normal writes keep working with the imported ordering keys
    kb.create("text", "after", parent=parent.id, index=2)
    assert [n.title for n in kb.children(parent.id)] == ["first", "last", "after", "x", "y"]


def test_import_after_existing_top_level_nodes(kb: KnowledgeBase) -> None:
    kb.create("text", "old")
    kb.import_nodes(pl.DataFrame({"title": ["new1", "new2"]}))
    assert [n.title for n in kb.children()] == ["old", "new1", "new2"]


def test_links_in_imported_content(kb: KnowledgeBase) -> None:
    existing = kb.create("text", "Existing Note")
    waiting = kb.create("text", "waiting", "[[Imported Two]]")
    frame = pl.DataFrame(
        {
            "id": ["i1", "i2"],
            "title": ["Imported One", "Imported Two"],
            "content": ["[[Existing Note]] and [[Imported Two|two]]", f"[[{existing.id}]]"],
        }
    )
    kb.import_nodes(frame)
    assert {n.id for n in kb.links("i1")} == {existing.id, "i2"}
    assert {n.id for n in kb.links("i2")} == {existing.id}
    assert {n.id for n in kb.links(waiting.id)} == {"i2"}
    assert {n.id for n in kb.backlinks(existing.id)} == {"i1", "i2"}
    # later edits keep them in sync
    kb.update("i1", content="nothing")
    assert kb.links("i1") == []
    kb.update("i2", title="Renamed")
    assert kb.links(waiting.id) == []


def test_import_tasks_with_typed_fields(kb: KnowledgeBase) -> None:
    frame = pl.DataFrame(
        {
            "title": ["t1", "t2", "note"],
            "kind": ["task", "task", "text"],
            "priority": [1, None, None],
            "due": [dt.date(2026, 12, 1), None, None],
            "task_status": [None, "doing", None],
        }
    )
    kb.import_nodes(frame)
    tasks = kb.find("task").order_by("title").all()
    assert [(t.title, t.task_status, t.priority, t.due) for t in tasks] == [
        ("t1", "todo", 1, dt.date(2026, 12, 1)),
        ("t2", "doing", None, None),
    ]
    assert kb.find("text").all()[0].task_status is None


def test_import_properties_column(kb: KnowledgeBase) -> None:
    kb.import_nodes(pl.DataFrame({"id": ["p"], "title": ["p"], "properties": ['{"doi": "10/x"}']}))
    assert kb.get("p").properties == {"doi": "10/x"}


def test_imported_nodes_are_searchable_and_findable(kb: KnowledgeBase) -> None:
    kb.import_nodes(pl.DataFrame({"title": ["zebra crossing", "lion"], "content": ["", "zebra"]}))
    assert kb.find().contains("zebra").count() == 2
    assert {h.title for h in kb.search("zebra")} == {"zebra crossing", "lion"}


def test_import_is_one_change_set_and_published(kb: KnowledgeBase) -> None:
    seen = []
    kb.subscribe(seen.append)
    kb.import_nodes(pl.DataFrame({"title": ["a", "b"]}))
    assert [c.seq for c in seen] == [1]
    assert seen[0].ops[0].op == "import" and seen[0].ops[0].count == 2


def test_import_inside_a_transaction_rolls_back_with_it(kb: KnowledgeBase, snapshot) -> None:
    before = snapshot(kb)
    with pytest.raises(RuntimeError), kb.transaction():
        kb.import_nodes(pl.DataFrame({"title": ["a", "b"]}))
        raise RuntimeError("stop")
    assert snapshot(kb) == before


@pytest.mark.embedded
def test_bulk_import_of_many_rows(kb: KnowledgeBase) -> None:
    n = 20_000
    frame = pl.DataFrame(
        {
            "id": [f"n{i:05d}" for i in range(n)],
            "title": [f"node {i}" for i in range(n)],
            "parent_id": [None if i < 10 else f"n{i // 10:05d}" for i in range(n)],
        }
    )
    assert kb.import_nodes(frame) == n
    assert kb.find().count() == n
    assert kb.store.rows("MATCH ()-[e:CHILD_OF]->() RETURN count(e)")[0][0] == n - 10
    assert [c.id for c in kb.children("n00012")] == [f"n{i:05d}" for i in range(120, 130)]
    assert [a.id for a in kb.ancestors("n19999")] == ["n01999", "n00199", "n00019", "n00001"]


def test_empty_frame_imports_nothing(kb: KnowledgeBase) -> None:
    assert kb.import_nodes(pl.DataFrame({"title": []}, schema={"title": pl.String})) == 0
    assert kb.find().count() == 0

"""Tags (created on demand) and collections (a node may be in several)."""

from __future__ import annotations

import pytest

from nodespace_lab import KnowledgeBase
from nodespace_lab.errors import NotFound, ValidationError


def test_tag_creates_tag_nodes_on_demand(kb: KnowledgeBase) -> None:
    note = kb.create("text", "note")
    ids = kb.tag(note.id, "Ideas", "graph db")
    assert ids == ["tag:ideas", "tag:graph db"]
    assert kb.get("tag:ideas").kind == "tag"
    assert kb.get("tag:ideas").title == "Ideas"
    assert kb.tags(note.id) == ["Ideas", "graph db"]


@pytest.mark.embedded
def test_tag_twice_is_a_no_op(kb: KnowledgeBase) -> None:
    note = kb.create("text", "note")
    kb.tag(note.id, "x")
    seq = kb.seq
    kb.tag(note.id, "X")
    assert kb.seq == seq
    assert kb.tags(note.id) == ["x"]
    assert kb.store.rows("MATCH ()-[e:MEMBER_OF]->() RETURN count(e)")[0][0] == 1


def test_tag_reuses_tag_across_nodes_and_members_lists_them(kb: KnowledgeBase) -> None:
    a = kb.create("text", "a")
    b = kb.create("task", "b")
    kb.tag(a.id, "Project")
    kb.tag(b.id, "project")
    assert kb.find("tag").count() == 1
    assert [n.id for n in kb.members("project")] == [a.id, b.id]
    assert [n.id for n in kb.members("tag:project")] == [a.id, b.id]


def test_untag(kb: KnowledgeBase) -> None:
    note = kb.create("text", "note", tags=["a", "b"])
    assert kb.tags(note.id) == ["a", "b"]
    kb.untag(note.id, "a", "never-existed")
    assert kb.tags(note.id) == ["b"]
    assert kb.members("a") == []


def test_create_with_tags_is_one_change_set(kb: KnowledgeBase) -> None:
    kb.create("text", "note", tags=["t1", "t2"])
    assert kb.seq == 1
    ops = [op.op for op in kb.changes()[0].ops]
    assert ops.count("member+") == 2
    assert ops.count("create") == 3  # the note and two tags


def test_empty_tag_name_refused(kb: KnowledgeBase) -> None:
    note = kb.create("text", "note")
    with pytest.raises(ValidationError, match="empty"):
        kb.tag(note.id, "  ")
    assert kb.tags(note.id) == []


def test_tags_hidden_from_members_when_deleted(kb: KnowledgeBase) -> None:
    a = kb.create("text", "a", tags=["t"])
    kb.delete(a.id)
    assert kb.members("t") == []
    assert kb.tags(a.id) == ["t"]


def test_collections_membership_in_several(kb: KnowledgeBase) -> None:
    reading = kb.create("collection", "Reading")
    favourites = kb.create("collection", "Favourites")
    paper = kb.create("text", "paper")
    kb.add_to(paper.id, reading.id)
    kb.add_to(paper.id, favourites.id)
    kb.add_to(paper.id, favourites.id)  # twice: no duplicate edge
    assert [c.title for c in kb.collections(paper.id)] == ["Favourites", "Reading"]
    assert [n.id for n in kb.members(reading.id)] == [paper.id]
    assert [n.id for n in kb.members(favourites.id)] == [paper.id]
    kb.remove_from(paper.id, reading.id)
    assert [c.title for c in kb.collections(paper.id)] == ["Favourites"]
    assert kb.members(reading.id) == []


def test_collections_do_not_list_tags(kb: KnowledgeBase) -> None:
    note = kb.create("text", "note", tags=["t"])
    assert kb.collections(note.id) == []


def test_add_to_a_non_collection_is_refused(kb: KnowledgeBase) -> None:
    note = kb.create("text", "note")
    other = kb.create("text", "other")
    with pytest.raises(ValidationError, match="not a collection"):
        kb.add_to(note.id, other.id)
    with pytest.raises(NotFound, match="'nope'"):
        kb.add_to(note.id, "nope")
    assert kb.collections(note.id) == []


def test_find_tagged_uses_tags(kb: KnowledgeBase) -> None:
    a = kb.create("text", "a", tags=["x", "y"])
    kb.create("text", "b", tags=["x"])
    assert kb.find().tagged("x", "y").ids() == [a.id]

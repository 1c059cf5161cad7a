"""`[[Title]]`, `[[id]]` and `[[Title|alias]]` references and their LINKS_TO edges."""

from __future__ import annotations

import pytest

from nodespace_lab import KnowledgeBase


def link_ids(kb: KnowledgeBase, node_id: str) -> set[str]:
    return {n.id for n in kb.links(node_id, include_deleted=True)}


def backlink_ids(kb: KnowledgeBase, node_id: str) -> set[str]:
    return {n.id for n in kb.backlinks(node_id, include_deleted=True)}


def test_title_reference_becomes_a_link(kb: KnowledgeBase) -> None:
    target = kb.create("text", "Graph Databases")
    source = kb.create("text", "Reading", "See [[Graph Databases]] for more.")
    assert link_ids(kb, source.id) == {target.id}
    assert [n.id for n in kb.backlinks(target.id)] == [source.id]


def test_reference_matching_ignores_case_and_spacing(kb: KnowledgeBase) -> None:
    target = kb.create("text", "Graph  Databases")
    source = kb.create("text", "s", "[[graph databases]]")
    assert link_ids(kb, source.id) == {target.id}


def test_id_reference_becomes_a_link(kb: KnowledgeBase) -> None:
    target = kb.create("text", "Some title")
    source = kb.create("text", "s", f"by id: [[{target.id}]]")
    assert link_ids(kb, source.id) == {target.id}


def test_alias_reference_links_to_the_target(kb: KnowledgeBase) -> None:
    target = kb.create("text", "Kuzu")
    source = kb.create("text", "s", "the [[Kuzu|embedded engine]] we use")
    assert link_ids(kb, source.id) == {target.id}
    assert kb.find().where(title="embedded engine").count() == 0


def test_reference_before_target_exists_links_when_it_is_created(kb: KnowledgeBase) -> None:
    source = kb.create("text", "s", "todo: write [[Future Note]]")
    assert link_ids(kb, source.id) == set()
    target = kb.create("text", "Future Note")
    assert link_ids(kb, source.id) == {target.id}


@pytest.mark.embedded
def test_content_change_adds_and_removes_links(kb: KnowledgeBase) -> None:
    a = kb.create("text", "A")
    b = kb.create("text", "B")
    source = kb.create("text", "s", "[[A]]")
    kb.update(source.id, content="[[B]] only")
    assert link_ids(kb, source.id) == {b.id}
    assert backlink_ids(kb, a.id) == set()
    kb.update(source.id, content="[[A]] and [[B]] and [[A]] again")
    assert link_ids(kb, source.id) == {a.id, b.id}
    kb.update(source.id, content="no links")
    assert link_ids(kb, source.id) == set()
    assert kb.store.rows("MATCH (r:Ref) RETURN count(r)")[0][0] == 0


def test_renaming_the_target_moves_the_link(kb: KnowledgeBase) -> None:
    old = kb.create("text", "Old Name")
    source = kb.create("text", "s", "[[Old Name]] and [[New Name]]")
    assert link_ids(kb, source.id) == {old.id}
    kb.update(old.id, title="New Name")
    assert link_ids(kb, source.id) == {old.id}
    other = kb.create("text", "Old Name")
    assert link_ids(kb, source.id) == {old.id, other.id}
    kb.update(old.id, title="Third")
    assert link_ids(kb, source.id) == {other.id}
    assert backlink_ids(kb, old.id) == set()


def test_renaming_the_source_keeps_its_links(kb: KnowledgeBase) -> None:
    target = kb.create("text", "T")
    source = kb.create("text", "S", "[[T]]")
    kb.update(source.id, title="S renamed")
    assert link_ids(kb, source.id) == {target.id}
    # and a node that referenced the source by its old title loses that link
    fan = kb.create("text", "fan", "[[S renamed]]")
    assert link_ids(kb, fan.id) == {source.id}
    kb.update(source.id, title="S final")
    assert link_ids(kb, fan.id) == set()


def test_reference_to_several_nodes_with_one_title(kb: KnowledgeBase) -> None:
    one = kb.create("text", "Dup")
    two = kb.create("text", "Dup")
    source = kb.create("text", "s", "[[Dup]]")
    assert link_ids(kb, source.id) == {one.id, two.id}


def test_soft_deleted_target_hidden_from_links_but_edge_kept(kb: KnowledgeBase) -> None:
    target = kb.create("text", "T")
    source = kb.create("text", "s", "[[T]]")
    kb.delete(target.id)
    assert kb.links(source.id) == []
    assert link_ids(kb, source.id) == {target.id}
    kb.restore(target.id)
    assert [n.id for n in kb.links(source.id)] == [target.id]


def test_deleted_source_hidden_from_backlinks(kb: KnowledgeBase) -> None:
    target = kb.create("text", "T")
    source = kb.create("text", "s", "[[T]]")
    kb.delete(source.id)
    assert kb.backlinks(target.id) == []
    assert [n.id for n in kb.backlinks(target.id, include_deleted=True)] == [source.id]


def test_purge_of_target_drops_links_and_recreation_relinks(kb: KnowledgeBase) -> None:
    target = kb.create("text", "T")
    source = kb.create("text", "s", "[[T]]")
    kb.delete(target.id)
    kb.purge(target.id)
    assert link_ids(kb, source.id) == set()
    again = kb.create("text", "T")
    assert link_ids(kb, source.id) == {again.id}


@pytest.mark.embedded
def test_purge_of_source_drops_its_references(kb: KnowledgeBase) -> None:
    kb.create("text", "T")
    source = kb.create("text", "s", "[[T]] [[Nowhere]]")
    kb.delete(source.id)
    kb.purge(source.id)
    assert kb.store.rows("MATCH (r:Ref) RETURN count(r)")[0][0] == 0
    assert kb.store.rows("MATCH ()-[e:LINKS_TO]->() RETURN count(e)")[0][0] == 0


def test_self_reference(kb: KnowledgeBase) -> None:
    node = kb.create("text", "Me", "I am [[Me]]")
    assert link_ids(kb, node.id) == {node.id}


def test_malformed_references_are_not_links(kb: KnowledgeBase) -> None:
    kb.create("text", "T")
    source = kb.create("text", "s", "[[ ]] [T] [[T\n]] [[[T]]")
    # Only the well-formed innermost [[T]] counts.
    assert {n.title for n in kb.links(source.id)} == {"T"}
    plain = kb.create("text", "p", "[T] and [[]] and [[ ]]")
    assert kb.links(plain.id) == []


def test_links_equal_references_after_many_edits(kb: KnowledgeBase) -> None:
    nodes = [kb.create("text", f"N{i}") for i in range(5)]
    source = kb.create("text", "s")
    for pattern in ([0, 1], [1, 2, 3], [], [4], [0, 4]):
        kb.update(source.id, content=" ".join(f"[[N{i}]]" for i in pattern))
        assert link_ids(kb, source.id) == {nodes[i].id for i in pattern}


def test_reference_to_a_journal_day_links_when_the_day_is_created(kb: KnowledgeBase) -> None:
    source = kb.create("text", "plan", "meet on [[2026-11-25]]")
    assert kb.links(source.id) == []
    day = kb.journal("2026-11-25")
    assert [n.id for n in kb.links(source.id)] == [day.id]


def test_reference_to_an_explicit_id_before_it_exists(kb: KnowledgeBase) -> None:
    source = kb.create("text", "s", "cites [[paper-2026-graphs]]")
    paper = kb.create("text", "Graphs at scale", id="paper-2026-graphs")
    assert [n.id for n in kb.links(source.id)] == [paper.id]

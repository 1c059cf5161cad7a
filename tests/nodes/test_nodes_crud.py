"""Create, read, update, move, delete, restore and purge nodes; hierarchy reads."""

from __future__ import annotations

import datetime as dt

import pytest

from nodespace_lab import KnowledgeBase, Node
from nodespace_lab.errors import ConflictError, NotFound, ValidationError


def titles(nodes: list[Node]) -> list[str]:
    return [n.title for n in nodes]


def test_create_then_get_returns_the_stored_node(kb: KnowledgeBase) -> None:
    node = kb.create("text", "Graph notes", "Some *Markdown*", properties={"source": "paper"})
    got = kb.get(node.id)
    assert got == node
    assert (got.kind, got.title, got.content) == ("text", "Graph notes", "Some *Markdown*")
    assert got.properties == {"source": "paper"}
    assert got.version == 1
    assert got.status == "active"
    assert got.parent_id is None
    assert isinstance(got.created_at, dt.datetime)
    assert got.created_at == got.updated_at
    assert kb.exists(node.id)
    assert not kb.exists("no-such-node")


def test_ids_are_unique_and_sort_by_creation(kb: KnowledgeBase) -> None:
    ids = [kb.create("text", f"n{i}").id for i in range(20)]
    assert len(set(ids)) == 20
    assert ids == sorted(ids)


def test_create_with_explicit_id(kb: KnowledgeBase) -> None:
    node = kb.create("text", "Paper", id="paper-2026-graphs")
    assert node.id == "paper-2026-graphs"
    with pytest.raises(ValidationError, match="already exists"):
        kb.create("text", "Again", id="paper-2026-graphs")
    with pytest.raises(ValidationError, match="lowercase"):
        kb.create("text", "Upper", id="Upper Case")


def test_get_unknown_id_raises_not_found_naming_it(kb: KnowledgeBase) -> None:
    with pytest.raises(NotFound, match="'ghost'"):
        kb.get("ghost")


def test_update_bumps_version_and_updated_at(kb: KnowledgeBase) -> None:
    node = kb.create("text", "Draft", "v1")
    new = kb.update(node.id, title="Final", content="v2")
    assert (new.title, new.content, new.version) == ("Final", "v2", 2)
    assert new.updated_at is not None and node.updated_at is not None
    assert new.updated_at >= node.updated_at
    assert new.created_at == node.created_at
    assert kb.get(node.id) == new


def test_update_with_matching_expected_version_succeeds(kb: KnowledgeBase) -> None:
    node = kb.create("text", "A")
    assert kb.update(node.id, expected_version=1, title="B").version == 2
    assert kb.update(node.id, expected_version=2, title="C").title == "C"


def test_update_with_stale_expected_version_raises_conflict(kb: KnowledgeBase) -> None:
    node = kb.create("text", "A")
    kb.update(node.id, title="B")  # someone else's edit
    with pytest.raises(ConflictError, match="version 2"):
        kb.update(node.id, expected_version=1, title="Mine")
    assert kb.get(node.id).title == "B"


def test_update_refuses_unknown_and_non_editable_fields(kb: KnowledgeBase) -> None:
    node = kb.create("text", "A")
    with pytest.raises(ValidationError, match="parent_id"):
        kb.update(node.id, parent_id=None)
    with pytest.raises(ValidationError, match="'colour'"):
        kb.update(node.id, colour="red")


def test_archive_is_a_status_not_a_delete(kb: KnowledgeBase) -> None:
    node = kb.create("text", "Old")
    assert kb.update(node.id, status="archived").status == "archived"
    assert kb.children() == [kb.get(node.id)]
    with pytest.raises(ValidationError, match="status"):
        kb.update(node.id, status="deleted")


def test_children_in_order_and_top_level(kb: KnowledgeBase) -> None:
    root = kb.create("text", "Root")
    for name in ("a", "b", "c"):
        kb.create("text", name, parent=root.id)
    assert titles(kb.children(root.id)) == ["a", "b", "c"]
    assert titles(kb.children()) == ["Root"]
    assert all(n.parent_id == root.id for n in kb.children(root.id))


def test_create_at_index_inserts_between_siblings(kb: KnowledgeBase) -> None:
    root = kb.create("text", "Root")
    kb.create("text", "a", parent=root.id)
    kb.create("text", "c", parent=root.id)
    kb.create("text", "b", parent=root.id, index=1)
    kb.create("text", "first", parent=root.id, index=0)
    kb.create("text", "last", parent=root.id, index=99)
    assert titles(kb.children(root.id)) == ["first", "a", "b", "c", "last"]


def test_move_with_index_reorders_siblings(kb: KnowledgeBase) -> None:
    root = kb.create("text", "Root")
    a, b, c, d = (kb.create("text", t, parent=root.id) for t in "abcd")
    kb.move(d.id, root.id, 0)
    assert titles(kb.children(root.id)) == ["d", "a", "b", "c"]
    kb.move(a.id, root.id, 2)
    assert titles(kb.children(root.id)) == ["d", "b", "a", "c"]
    kb.move(d.id, root.id)
    assert titles(kb.children(root.id)) == ["b", "a", "c", "d"]
    kb.move(c.id, root.id, 1)
    assert titles(kb.children(root.id)) == ["b", "c", "a", "d"]
    assert kb.get(b.id).version == 1  # a move rewrites only the moved row


def test_move_rewrites_only_the_moved_row(kb: KnowledgeBase) -> None:
    root = kb.create("text", "Root")
    kids = [kb.create("text", str(i), parent=root.id) for i in range(5)]
    before = {k.id: kb.get(k.id).position for k in kids}
    kb.move(kids[4].id, root.id, 0)
    after = {k.id: kb.get(k.id).position for k in kids}
    changed = [k for k in before if before[k] != after[k]]
    assert changed == [kids[4].id]


def test_move_to_another_parent_and_to_top_level(kb: KnowledgeBase) -> None:
    p1 = kb.create("text", "P1")
    p2 = kb.create("text", "P2")
    x = kb.create("text", "x", parent=p1.id)
    kb.create("text", "y", parent=p2.id)
    moved = kb.move(x.id, p2.id, 0)
    assert moved.parent_id == p2.id
    assert titles(kb.children(p2.id)) == ["x", "y"]
    assert kb.children(p1.id) == []
    top = kb.move(x.id, None, 1)
    assert top.parent_id is None
    assert titles(kb.children()) == ["P1", "x", "P2"]
    assert kb.ancestors(x.id) == []


def test_order_is_stable_across_reopen(kb_factory) -> None:
    kb = kb_factory()
    root = kb.create("text", "Root")
    nodes = [kb.create("text", str(i), parent=root.id) for i in range(6)]
    kb.move(nodes[5].id, root.id, 0)
    kb.move(nodes[0].id, root.id, 3)
    expected = titles(kb.children(root.id))
    assert titles(kb.children(root.id)) == expected
    kb.close()
    again = kb_factory()
    assert titles(again.children(root.id)) == expected == ["5", "1", "2", "0", "3", "4"]


def test_many_inserts_at_the_front_keep_order(kb: KnowledgeBase) -> None:
    root = kb.create("text", "Root")
    for i in range(30):
        kb.create("text", str(i), parent=root.id, index=0)
    assert titles(kb.children(root.id)) == [str(i) for i in reversed(range(30))]


def test_subtree_depth_first_in_order(kb: KnowledgeBase) -> None:
    root = kb.create("text", "root")
    a = kb.create("text", "a", parent=root.id)
    kb.create("text", "a1", parent=a.id)
    kb.create("text", "a2", parent=a.id)
    b = kb.create("text", "b", parent=root.id)
    kb.create("text", "b1", parent=b.id)
    got = [(depth, n.title) for depth, n in kb.subtree(root.id)]
    assert got == [(0, "root"), (1, "a"), (2, "a1"), (2, "a2"), (1, "b"), (2, "b1")]


def test_ancestors_from_parent_to_root(kb: KnowledgeBase) -> None:
    root = kb.create("text", "root")
    mid = kb.create("text", "mid", parent=root.id)
    leaf = kb.create("text", "leaf", parent=mid.id)
    assert titles(kb.ancestors(leaf.id)) == ["mid", "root"]
    assert kb.ancestors(root.id) == []
    with pytest.raises(NotFound):
        kb.ancestors("ghost")


def _tree(kb: KnowledgeBase) -> tuple[Node, Node, Node, Node]:
    root = kb.create("text", "root")
    a = kb.create("text", "a", parent=root.id)
    a1 = kb.create("text", "a1", parent=a.id)
    b = kb.create("text", "b", parent=root.id)
    return root, a, a1, b


def test_delete_soft_deletes_the_whole_subtree(kb: KnowledgeBase) -> None:
    root, a, a1, b = _tree(kb)
    deleted = kb.delete(a.id)
    assert sorted(deleted) == sorted([a.id, a1.id])
    assert kb.get(a.id).status == "deleted"
    assert kb.get(a1.id).status == "deleted"
    assert kb.get(b.id).status == "active"
    assert titles(kb.children(root.id)) == ["b"]
    assert titles(kb.children(root.id, include_deleted=True)) == ["a", "b"]
    assert [n.title for _, n in kb.subtree(root.id)] == ["root", "b"]
    assert kb.find().count() == 2


def test_deleted_node_cannot_be_edited_until_restored(kb: KnowledgeBase) -> None:
    node = kb.create("text", "x")
    kb.delete(node.id)
    with pytest.raises(ValidationError, match="restore"):
        kb.update(node.id, title="y")
    kb.restore(node.id)
    assert kb.update(node.id, title="y").title == "y"


def test_restore_brings_back_subtree_and_deleted_ancestors(kb: KnowledgeBase) -> None:
    root, a, a1, b = _tree(kb)
    kb.delete(root.id)
    restored = kb.restore(a1.id)
    assert set(restored) >= {root.id, a.id, a1.id}
    assert all(kb.get(i).status == "active" for i in (root.id, a.id, a1.id))
    # A sibling subtree deleted with the root is not on the restored path: it stays deleted.
    assert kb.get(b.id).status == "deleted"
    assert titles(kb.children(root.id)) == ["a"]
    kb.restore(root.id)
    assert titles(kb.children(root.id)) == ["a", "b"]


def test_purge_needs_delete_first(kb: KnowledgeBase) -> None:
    node = kb.create("text", "x")
    with pytest.raises(ValidationError, match="delete it first"):
        kb.purge(node.id)
    assert kb.exists(node.id)


@pytest.mark.embedded
def test_purge_removes_subtree_and_edges(kb: KnowledgeBase) -> None:
    root, a, a1, _ = _tree(kb)
    kb.tag(a1.id, "gone")
    kb.delete(a.id)
    purged = kb.purge(a.id)
    assert sorted(purged) == sorted([a.id, a1.id])
    assert not kb.exists(a.id) and not kb.exists(a1.id)
    assert titles(kb.children(root.id, include_deleted=True)) == ["b"]
    assert kb.members("gone") == []
    edges = kb.store.rows("MATCH (x:Node)-[e]-(y:Node) WHERE x.id IN $ids RETURN count(e)",
                          {"ids": [a.id, a1.id]})  # fmt: skip
    assert edges[0][0] == 0


def test_top_level_children_hide_tags_and_deleted(kb: KnowledgeBase) -> None:
    n = kb.create("text", "note")
    kb.tag(n.id, "idea")
    gone = kb.create("text", "gone")
    kb.delete(gone.id)
    assert titles(kb.children()) == ["note"]
    assert titles(kb.children(include_deleted=True)) == ["note", "gone"]


def test_child_counts_count_visible_grandchildren(kb: KnowledgeBase) -> None:
    root = kb.create("text", "Root")
    full = kb.create("text", "full", parent=root.id)
    empty = kb.create("text", "empty", parent=root.id)
    for name in ("x", "y"):
        kb.create("text", name, parent=full.id)
    kb.delete(kb.create("text", "deleted child", parent=full.id).id)
    kb.delete(kb.create("text", "deleted sibling", parent=root.id).id)
    kb.tag(root.id, "idea")  # the tag is no top-level node
    assert kb.child_counts(root.id) == {full.id: 2, empty.id: 0}
    assert kb.child_counts() == {root.id: 2}
    assert kb.child_counts(empty.id) == {}
    with pytest.raises(NotFound):
        kb.child_counts("no-such-node")

"""`kb.undo()`: each kind of change set is reverted to the exact previous state.

Undo is itself a recorded write, so it bumps `version` and `updated_at` of the
rows it rewrites (versions never go backwards, or a stale `expected_version`
could pass again). Everything else must equal the state before the change.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import polars as pl
import pytest

from nodespace_lab import KnowledgeBase
from nodespace_lab.errors import NothingToUndo

BOOKKEEPING = ("n.version", "n.updated_at")
CheckUndo = Callable[..., None]


@pytest.fixture
def check_undo(kb: KnowledgeBase, snapshot) -> CheckUndo:
    """`check_undo(change, exact=False)`: apply `change`, undo it, compare with before."""

    def state(exact: bool) -> dict[str, Any]:
        # Without `exact`, version and updated_at are left out (undo moves them on).
        full = snapshot(kb)
        frame = kb.cypher("MATCH (n:Node) RETURN n.* ORDER BY n.id")
        if not exact:
            frame = frame.drop(BOOKKEEPING)
        return {"nodes": frame.rows(), "refs": full["refs"], "edges": full["edges"]}

    def check(change: Callable[[], object], *, exact: bool = False) -> None:
        before = state(exact)
        seq = kb.seq
        change()
        assert kb.seq == seq + 1
        assert state(exact) != before
        undone = kb.undo()
        assert undone.seq == seq + 1
        assert kb.seq == seq + 2
        assert kb.changes(since=seq + 1)[0].undoes == seq + 1
        assert state(exact) == before

    return check


@pytest.fixture
def base(kb: KnowledgeBase) -> dict[str, str]:
    """A small tree with links and tags; returns name -> id."""
    root = kb.create("text", "Root", "top [[Leaf]]")
    mid = kb.create("text", "Mid", parent=root.id)
    leaf = kb.create("task", "Leaf", "[[Root]] and [[Mid]]", parent=mid.id, priority=2)
    other = kb.create("text", "Other", "[[Leaf]]", tags=["t"])
    coll = kb.create("collection", "Reading")
    kb.add_to(leaf.id, coll.id)
    kb.tag(leaf.id, "t", "u")
    return {"root": root.id, "mid": mid.id, "leaf": leaf.id, "other": other.id, "coll": coll.id}


def test_undo_create(kb: KnowledgeBase, base, check_undo: CheckUndo) -> None:
    check_undo(lambda: kb.create("text", "Mid", "[[Root]]", parent=base["root"]), exact=True)


def test_undo_create_with_new_tag(kb: KnowledgeBase, base, check_undo: CheckUndo) -> None:
    check_undo(lambda: kb.create("text", "x", tags=["brand new"]), exact=True)
    assert not kb.exists("tag:brand new")


def test_undo_update_of_content_and_title(kb: KnowledgeBase, base, check_undo: CheckUndo) -> None:
    check_undo(lambda: kb.update(base["leaf"], title="Renamed", content="[[Other]]"))
    assert kb.get(base["leaf"]).title == "Leaf"
    assert kb.get(base["leaf"]).version == 3  # moved on, never back


def test_undo_update_of_task_fields(kb: KnowledgeBase, base, check_undo: CheckUndo) -> None:
    check_undo(lambda: kb.update(base["leaf"], task_status="done", priority=1, due="2026-01-01"))
    assert kb.get(base["leaf"]).completed_at is None


def test_undo_move(kb: KnowledgeBase, base, check_undo: CheckUndo) -> None:
    check_undo(lambda: kb.move(base["leaf"], base["root"], 0))
    assert [n.id for n in kb.children(base["mid"])] == [base["leaf"]]


def test_undo_delete_of_subtree(kb: KnowledgeBase, base, check_undo: CheckUndo) -> None:
    check_undo(lambda: kb.delete(base["root"]))
    assert kb.find().count() == kb.find().include_deleted().count()


def test_undo_restore(kb: KnowledgeBase, base, check_undo: CheckUndo) -> None:
    kb.delete(base["mid"])
    check_undo(lambda: kb.restore(base["leaf"]))
    assert kb.get(base["leaf"]).status == "deleted"


def test_undo_purge_recreates_rows_edges_and_memberships(
    kb: KnowledgeBase, base, check_undo: CheckUndo
) -> None:
    kb.delete(base["mid"])
    check_undo(lambda: kb.purge(base["mid"]), exact=True)
    assert kb.tags(base["leaf"]) == ["t", "u"]
    assert [c.id for c in kb.collections(base["leaf"])] == [base["coll"]]
    assert {n.id for n in kb.backlinks(base["leaf"], include_deleted=True)} == {
        base["root"],
        base["other"],
    }


def test_undo_purge_of_a_collection_restores_its_members(
    kb: KnowledgeBase, base, check_undo: CheckUndo
) -> None:
    kb.delete(base["coll"])
    check_undo(lambda: kb.purge(base["coll"]), exact=True)
    kb.restore(base["coll"])
    assert [n.id for n in kb.members(base["coll"])] == [base["leaf"]]


def test_undo_tag_and_untag(kb: KnowledgeBase, base, check_undo: CheckUndo) -> None:
    check_undo(lambda: kb.tag(base["root"], "t"), exact=True)
    check_undo(lambda: kb.untag(base["leaf"], "t"), exact=True)


def test_undo_collection_membership(kb: KnowledgeBase, base, check_undo: CheckUndo) -> None:
    check_undo(lambda: kb.add_to(base["root"], base["coll"]), exact=True)
    check_undo(lambda: kb.remove_from(base["leaf"], base["coll"]), exact=True)


def test_undo_journal(kb: KnowledgeBase, base, check_undo: CheckUndo) -> None:
    check_undo(lambda: kb.journal("2026-11-25"), exact=True)


def test_undo_transaction_reverts_all_its_operations(
    kb: KnowledgeBase, base, check_undo: CheckUndo
) -> None:
    def batch() -> None:
        with kb.transaction():
            new = kb.create("task", "inside", "[[Leaf]]", parent=base["mid"])
            kb.update(base["leaf"], title="Changed")
            kb.move(base["other"], new.id)
            kb.tag(new.id, "z")
            kb.delete(base["root"])

    check_undo(batch)


def test_undo_import(kb: KnowledgeBase, base, check_undo: CheckUndo) -> None:
    frame = pl.DataFrame(
        {
            "id": ["imp-a", "imp-b"],
            "title": ["Imported A", "Imported B"],
            "content": ["[[Leaf]]", "[[Imported A]] [[Other]]"],
            "parent_id": [base["root"], "imp-a"],
        }
    )
    check_undo(lambda: kb.import_nodes(frame), exact=True)
    assert not kb.exists("imp-a")


def test_undo_import_that_answers_an_existing_reference(
    kb: KnowledgeBase, check_undo: CheckUndo
) -> None:
    waiting = kb.create("text", "w", "[[Later]]")
    check_undo(lambda: kb.import_nodes(pl.DataFrame({"title": ["Later"]})), exact=True)
    assert kb.links(waiting.id) == []


def test_repeated_undo_walks_back_then_nothing_to_undo(kb: KnowledgeBase) -> None:
    node = kb.create("text", "a")
    kb.update(node.id, title="b")
    kb.update(node.id, title="c")
    assert kb.undo().seq == 3
    assert kb.get(node.id).title == "b"
    assert kb.undo().seq == 2
    assert kb.get(node.id).title == "a"
    assert kb.undo().seq == 1
    assert not kb.exists(node.id)
    seq = kb.seq
    with pytest.raises(NothingToUndo, match="nothing to undo"):
        kb.undo()
    assert kb.seq == seq


def test_nothing_to_undo_on_a_new_knowledge_base(kb: KnowledgeBase) -> None:
    with pytest.raises(NothingToUndo):
        kb.undo()
    assert kb.seq == 0


def test_undo_is_recorded_and_published(kb: KnowledgeBase) -> None:
    seen = []
    kb.subscribe(seen.append)
    node = kb.create("text", "a")
    kb.undo()
    assert [c.undoes for c in seen] == [None, 1]
    assert seen[1].ops[0].op == "purge" and seen[1].ops[0].id == node.id


def test_undo_after_reopen(kb_factory) -> None:
    kb = kb_factory()
    node = kb.create("text", "a")
    kb.update(node.id, title="b")
    kb.close()
    again = kb_factory()
    again.undo()
    assert again.get(node.id).title == "a"

"""The Outline widget's Python side: state, browser messages, write-back, live updates.

Messages go through ipywidgets' own handler, as they do from a real browser;
every edit is checked against the knowledge base itself.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import polars as pl
import pytest

from nodespace_lab import KnowledgeBase
from nodespace_lab.errors import NotFound
from nodespace_lab.widgets import Outline

from ..conftest import KBFactory


def send(outline: Outline, **message: Any) -> None:
    """Deliver `message` as the browser would."""
    data = {"method": "custom", "content": message}
    outline._handle_msg({"content": {"data": data}, "buffers": []})


def titles(kb: KnowledgeBase, parent: str | None) -> list[str]:
    return [node.title for node in kb.children(parent)]


def shown_titles(outline: Outline, key: str) -> list[str]:
    return [outline.nodes[i]["title"] for i in outline.nodes[key]["children"]]


@pytest.fixture
def tree(kb: KnowledgeBase) -> dict[str, str]:
    """a (a1, a2 (a2x)), b, c (c1) — ids by title."""
    ids: dict[str, str] = {}
    for title, parent in [
        ("a", None), ("a1", "a"), ("a2", "a"), ("a2x", "a2"),
        ("b", None), ("c", None), ("c1", "c"),
    ]:  # fmt: skip
        ids[title] = kb.create("text", title, parent=ids.get(parent or "")).id
    return ids


@pytest.fixture
def outline(kb: KnowledgeBase, tree: dict[str, str]) -> Iterator[Outline]:
    widget = Outline(kb)
    yield widget
    widget.close()


# -- state and lazy loading ---------------------------------------------


def test_only_the_roots_children_are_loaded_at_first(
    outline: Outline, tree: dict[str, str]
) -> None:
    assert outline.loaded() == [""]
    assert shown_titles(outline, "") == ["a", "b", "c"]
    assert set(outline.nodes) == {"", tree["a"], tree["b"], tree["c"]}
    a = outline.nodes[tree["a"]]
    assert a == {
        "id": tree["a"], "title": "a", "kind": "text", "task_status": None,
        "has_children": True, "children": None,
    }  # fmt: skip
    assert outline.nodes[tree["b"]]["has_children"] is False
    assert outline.visible() == [tree["a"], tree["b"], tree["c"]]


def test_expanding_loads_just_that_nodes_children(outline: Outline, tree: dict[str, str]) -> None:
    send(outline, type="expand", id=tree["a"])
    assert outline.error == ""
    assert outline.expanded == [tree["a"]]
    assert sorted(outline.loaded()) == sorted(["", tree["a"]])
    assert shown_titles(outline, tree["a"]) == ["a1", "a2"]
    assert outline.nodes[tree["a2"]]["children"] is None  # grandchildren not loaded
    assert outline.nodes[tree["a2"]]["has_children"] is True
    assert outline.nodes[tree["c"]]["children"] is None
    assert tree["a2x"] not in outline.nodes
    assert outline.visible() == [tree["a"], tree["a1"], tree["a2"], tree["b"], tree["c"]]


def test_collapsing_keeps_the_children_cached(outline: Outline, tree: dict[str, str]) -> None:
    send(outline, type="expand", id=tree["a"])
    send(outline, type="collapse", id=tree["a"])
    assert outline.expanded == []
    assert shown_titles(outline, tree["a"]) == ["a1", "a2"]
    assert outline.visible() == [tree["a"], tree["b"], tree["c"]]


def test_a_root_shows_its_subtree(kb: KnowledgeBase, tree: dict[str, str]) -> None:
    outline = Outline(kb, tree["a"])
    assert outline.root == tree["a"]
    assert outline.nodes[tree["a"]]["title"] == "a"
    assert shown_titles(outline, tree["a"]) == ["a1", "a2"]
    assert tree["b"] not in outline.nodes
    outline.root = tree["c"]
    assert shown_titles(outline, tree["c"]) == ["c1"]
    assert tree["a1"] not in outline.nodes
    outline.close()


def test_a_missing_root_is_refused(kb: KnowledgeBase) -> None:
    with pytest.raises(NotFound, match="nope"):
        Outline(kb, "nope")


def test_an_empty_outline_can_get_its_first_node(kb: KnowledgeBase) -> None:
    outline = Outline(kb)
    assert outline.nodes[""]["children"] == []
    send(outline, type="create")
    (node,) = kb.children(None)
    assert outline.nodes[""]["children"] == [node.id]
    assert outline.focus == node.id
    outline.close()


# -- editing through messages ------------------------------------------------


def test_enter_creates_a_sibling_right_after(
    kb: KnowledgeBase, outline: Outline, tree: dict[str, str]
) -> None:
    send(outline, type="create", after=tree["a"])
    top = kb.children(None)
    assert [n.title for n in top] == ["a", "", "b", "c"]
    new = top[1].id
    assert outline.nodes[""]["children"] == [n.id for n in top]
    assert outline.focus == new and outline.selected == new


def test_renaming_writes_back(kb: KnowledgeBase, outline: Outline, tree: dict[str, str]) -> None:
    send(outline, type="rename", id=tree["b"], title="bee")
    assert kb.get(tree["b"]).title == "bee"
    assert outline.nodes[tree["b"]]["title"] == "bee"
    seq = kb.seq
    send(outline, type="rename", id=tree["b"], title="bee")  # unchanged: no write
    assert kb.seq == seq


def test_tab_indents_under_the_previous_sibling(
    kb: KnowledgeBase, outline: Outline, tree: dict[str, str]
) -> None:
    send(outline, type="indent", id=tree["c"])
    assert outline.error == ""
    assert titles(kb, tree["b"]) == ["c"]
    assert titles(kb, None) == ["a", "b"]
    # The new parent is expanded and loaded; the moved node keeps its place in view.
    assert tree["b"] in outline.expanded
    assert outline.nodes[tree["b"]]["children"] == [tree["c"]]
    assert outline.visible() == [tree["a"], tree["b"], tree["c"]]
    assert outline.focus == tree["c"]


def test_indent_goes_last_among_loaded_children(
    kb: KnowledgeBase, outline: Outline, tree: dict[str, str]
) -> None:
    send(outline, type="expand", id=tree["a"])
    send(outline, type="indent", id=tree["b"])
    assert titles(kb, tree["a"]) == ["a1", "a2", "b"]
    assert shown_titles(outline, tree["a"]) == ["a1", "a2", "b"]


def test_indenting_the_first_child_is_an_error_and_writes_nothing(
    kb: KnowledgeBase,
    outline: Outline,
    tree: dict[str, str],
    snapshot: Callable[[KnowledgeBase], dict[str, Any]],
) -> None:
    before = snapshot(kb)
    send(outline, type="indent", id=tree["a"])
    assert "Cannot indent node 'a'" in outline.error
    assert snapshot(kb) == before
    send(outline, type="rename", id=tree["a"], title="a")  # a good message clears it
    assert outline.error == ""


def test_shift_tab_outdents_after_the_parent(
    kb: KnowledgeBase, outline: Outline, tree: dict[str, str]
) -> None:
    send(outline, type="expand", id=tree["a"])
    send(outline, type="outdent", id=tree["a1"])
    assert titles(kb, None) == ["a", "a1", "b", "c"]
    assert titles(kb, tree["a"]) == ["a2"]
    assert outline.visible() == [tree["a"], tree["a2"], tree["a1"], tree["b"], tree["c"]]
    assert outline.focus == tree["a1"]


def test_outdenting_a_top_row_is_an_error_and_writes_nothing(
    kb: KnowledgeBase,
    tree: dict[str, str],
    snapshot: Callable[[KnowledgeBase], dict[str, Any]],
) -> None:
    outline = Outline(kb, tree["a"])  # top of this outline, not of the knowledge base
    before = snapshot(kb)
    send(outline, type="outdent", id=tree["a1"])
    assert "already at the top level" in outline.error
    assert snapshot(kb) == before
    outline.close()


def test_alt_arrows_reorder_siblings(
    kb: KnowledgeBase, outline: Outline, tree: dict[str, str]
) -> None:
    send(outline, type="move_down", id=tree["a"])
    assert titles(kb, None) == ["b", "a", "c"]
    send(outline, type="move_down", id=tree["a"])
    assert titles(kb, None) == ["b", "c", "a"]
    seq = kb.seq
    send(outline, type="move_down", id=tree["a"])  # already last: nothing to do
    assert kb.seq == seq and outline.error == ""
    send(outline, type="move_up", id=tree["c"])
    assert titles(kb, None) == ["c", "b", "a"]
    assert shown_titles(outline, "") == ["c", "b", "a"]
    assert outline.focus == tree["c"]


def test_backspace_on_empty_deletes_and_focuses_the_row_above(
    kb: KnowledgeBase, outline: Outline, tree: dict[str, str]
) -> None:
    send(outline, type="create", after=tree["b"])
    new = outline.focus
    send(outline, type="delete", id=new)
    assert kb.get(new).status == "deleted"
    assert new not in outline.nodes
    assert outline.focus == tree["b"]
    assert kb.restore(new) == [new]  # soft: it can come back


def test_a_node_with_children_is_not_deleted_from_the_outline(
    kb: KnowledgeBase, outline: Outline, tree: dict[str, str]
) -> None:
    send(outline, type="delete", id=tree["a"])
    assert "has children" in outline.error
    assert kb.get(tree["a"]).status == "active"


def test_messages_about_nodes_not_shown_are_errors(
    kb: KnowledgeBase, outline: Outline, tree: dict[str, str]
) -> None:
    seq = kb.seq
    send(outline, type="rename", id=tree["a2x"], title="hidden")  # not loaded
    assert "not shown in this outline" in outline.error
    send(outline, type="indent", id=None)
    assert "must be text" in outline.error
    assert kb.seq == seq


# -- live updates ----------------------------------------------------------


def test_changes_made_elsewhere_show_up(
    kb: KnowledgeBase, outline: Outline, tree: dict[str, str]
) -> None:
    outline.expand(tree["a"])
    kb.create("text", "a3", parent=tree["a"])
    kb.update(tree["b"], title="b renamed")
    kb.update(tree["a1"], title="a1 renamed")
    assert outline.flush()
    assert shown_titles(outline, tree["a"]) == ["a1 renamed", "a2", "a3"]
    assert outline.nodes[tree["b"]]["title"] == "b renamed"


def test_moves_in_and_out_of_loaded_parents_show_up(
    kb: KnowledgeBase, outline: Outline, tree: dict[str, str]
) -> None:
    outline.expand(tree["a"])
    outline.expand(tree["a2"])
    kb.move(tree["a2"], None, 0)  # to the top, with its loaded children
    assert outline.flush()
    assert shown_titles(outline, "") == ["a2", "a", "b", "c"]
    assert shown_titles(outline, tree["a"]) == ["a1"]
    assert shown_titles(outline, tree["a2"]) == ["a2x"]  # cache kept across the move
    kb.move(tree["a2"], tree["c"])  # into a parent that is not loaded: out of view
    assert outline.flush()
    assert shown_titles(outline, "") == ["a", "b", "c"]
    assert tree["a2"] not in outline.nodes and tree["a2x"] not in outline.nodes
    assert tree["a2"] not in outline.expanded


def test_child_count_of_unloaded_nodes_follows_changes(
    kb: KnowledgeBase, outline: Outline, tree: dict[str, str]
) -> None:
    kb.create("task", "first child of b", parent=tree["b"])
    kb.delete(tree["c1"])
    assert outline.flush()
    assert outline.nodes[tree["b"]]["has_children"] is True
    assert outline.nodes[tree["c"]]["has_children"] is False
    outline.expand(tree["b"])
    (child,) = outline.nodes[tree["b"]]["children"]
    assert outline.nodes[child]["kind"] == "task"
    assert outline.nodes[child]["task_status"] == "todo"
    kb.update(child, task_status="done")
    assert outline.flush()
    assert outline.nodes[child]["task_status"] == "done"


def test_deletes_and_undo_show_up(
    kb: KnowledgeBase, outline: Outline, tree: dict[str, str]
) -> None:
    outline.expand(tree["a"])
    kb.delete(tree["a"])
    assert outline.flush()
    assert shown_titles(outline, "") == ["b", "c"]
    assert tree["a1"] not in outline.nodes and outline.expanded == []
    kb.undo()
    assert outline.flush()
    assert shown_titles(outline, "") == ["a", "b", "c"]


def test_renaming_the_root_shows_up(kb: KnowledgeBase, tree: dict[str, str]) -> None:
    outline = Outline(kb, tree["a"])
    kb.update(tree["a"], title="new root title")
    assert outline.flush()
    assert outline.nodes[tree["a"]]["title"] == "new root title"
    outline.close()


def test_a_batch_write_reloads_everything_loaded(kb_factory: KBFactory, tmp_path: Any) -> None:
    kb = kb_factory(security={"allow_cypher_writes": True})
    parent = kb.create("text", "parent").id
    kb.create("text", "child", parent=parent)
    outline = Outline(kb)
    outline.expand(parent)
    kb.cypher("MATCH (n:Node) WHERE n.title = 'child' SET n.title = 'set by cypher'", write=True)
    assert outline.flush()
    assert shown_titles(outline, parent) == ["set by cypher"]
    kb.import_nodes(pl.DataFrame({"kind": ["text"], "title": ["imported"]}))
    assert outline.flush()
    assert shown_titles(outline, "") == ["parent", "imported"]
    outline.close()


def test_a_commit_while_a_browser_edit_waits_does_not_deadlock(
    kb: KnowledgeBase, outline: Outline, tree: dict[str, str]
) -> None:
    """The subscriber runs under the writer's lock; it must not wait for the widget's lock."""
    in_tx, release = threading.Event(), threading.Event()

    def other_writer() -> None:
        with kb.transaction("elsewhere"):
            kb.update(tree["a"], title="a from elsewhere")
            in_tx.set()
            release.wait(5)

    writer = threading.Thread(target=other_writer, daemon=True)
    writer.start()
    assert in_tx.wait(5)
    # The browser's rename takes the widget's lock, then waits for the write lock.
    browser = threading.Thread(
        target=send,
        args=(outline,),
        kwargs={"type": "rename", "id": tree["b"], "title": "b2"},
        daemon=True,
    )
    browser.start()
    time.sleep(0.2)
    release.set()  # the other writer commits and publishes to the outline
    writer.join(10)
    browser.join(10)
    assert not writer.is_alive() and not browser.is_alive(), "deadlock"
    assert outline.flush()
    assert shown_titles(outline, "") == ["a from elsewhere", "b2", "c"]
    assert outline.error == ""


def test_many_writes_from_another_thread_settle(
    kb: KnowledgeBase, outline: Outline, tree: dict[str, str]
) -> None:
    outline.expand(tree["a"])

    def write() -> None:
        for i in range(20):
            kb.create("text", f"n{i:02d}", parent=tree["a"])

    thread = threading.Thread(target=write, daemon=True)
    thread.start()
    for _ in range(5):  # browser edits meanwhile
        send(outline, type="move_down", id=tree["b"])
        send(outline, type="move_up", id=tree["b"])
    thread.join(10)
    assert outline.flush()
    assert shown_titles(outline, tree["a"])[-20:] == [f"n{i:02d}" for i in range(20)]
    assert titles(kb, None) == ["a", "b", "c"]


def test_close_unsubscribes(kb: KnowledgeBase, tree: dict[str, str]) -> None:
    watchers, subscribers = kb.live_registry.watchers, len(kb.store._subscribers)
    before = len(watchers)
    outline = Outline(kb)
    # A watcher of the one live thread, not a commit subscriber of its own.
    assert len(watchers) == before + 1 and len(kb.store._subscribers) == subscribers
    outline.close()
    assert len(watchers) == before
    kb.update(tree["b"], title="after close")
    assert outline.flush()
    assert outline.nodes[tree["b"]]["title"] == "b"


def test_an_outline_nobody_sees_pauses_and_catches_up(
    kb: KnowledgeBase, outline: Outline, tree: dict[str, str]
) -> None:
    send(outline, type="view", shown=True)
    send(outline, type="view", shown=False)
    kb.update(tree["b"], title="while hidden")
    assert outline.flush()
    assert outline.nodes[tree["b"]]["title"] == "b"  # not reloaded: nobody looks
    send(outline, type="view", shown=True)
    assert outline.flush()
    assert outline.nodes[tree["b"]]["title"] == "while hidden"
    kb.update(tree["b"], title="while shown")
    assert outline.flush()
    assert outline.nodes[tree["b"]]["title"] == "while shown"

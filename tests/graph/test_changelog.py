"""The durable change log: `kb.changes(since=N)`, `kb.seq`, what each record says."""

from __future__ import annotations

import datetime as dt

import polars as pl

from nodespace_lab import KnowledgeBase
from nodespace_lab.graph.changelog import ChangeSet, Op, decode_ops, encode_ops


def test_every_write_appends_one_record_with_the_next_seq(kb: KnowledgeBase) -> None:
    assert kb.seq == 0
    node = kb.create("text", "a")
    kb.update(node.id, title="b")
    kb.delete(node.id)
    changes = kb.changes()
    assert [c.seq for c in changes] == [1, 2, 3] and kb.seq == 3
    assert [c.label for c in changes] == ["create text", "update", "delete"]
    assert all(isinstance(c.at, dt.datetime) for c in changes)
    assert changes[0].at <= changes[1].at <= changes[2].at


def test_changes_since_and_limit(kb: KnowledgeBase) -> None:
    for i in range(5):
        kb.create("text", str(i))
    assert [c.seq for c in kb.changes(since=3)] == [4, 5]
    assert [c.seq for c in kb.changes(since=1, limit=2)] == [2, 3]
    assert kb.changes(since=5) == []


def test_create_record_names_node_kind_fields_and_edges(kb: KnowledgeBase) -> None:
    parent = kb.create("text", "p")
    task = kb.create("task", "t", "see [[p]]", parent=parent.id, priority=2)
    change = kb.changes(since=1)[0]
    assert change.node_ids == [task.id]
    assert change.kinds == ["task"]
    assert {"title", "content", "priority", "parent_id", "task_status"} <= set(change.fields)
    assert change.edges == ["CHILD_OF", "LINKS_TO"]
    (op,) = change.ops
    assert (op.op, op.id, op.kind, op.before) == ("create", task.id, "task", None)
    assert op.after is not None and op.after["title"] == "t" and op.after["priority"] == 2


def test_update_record_has_before_and_after_images(kb: KnowledgeBase) -> None:
    node = kb.create("text", "old", "body")
    kb.update(node.id, title="new")
    change = kb.changes(since=1)[0]
    (op,) = change.ops
    assert op.op == "update"
    assert op.before is not None and op.after is not None
    assert (op.before["title"], op.after["title"]) == ("old", "new")
    assert (op.before["version"], op.after["version"]) == (1, 2)
    assert change.fields == ["title", "title_key", "updated_at", "version"]
    assert change.edges == ["LINKS_TO"]


def test_content_only_update_touches_links_not_hierarchy(kb: KnowledgeBase) -> None:
    node = kb.create("text", "a")
    kb.update(node.id, content="[[x]]")
    assert kb.changes(since=1)[0].edges == ["LINKS_TO"]
    kb.update(node.id, properties={"k": 1})
    assert kb.changes(since=2)[0].edges == []
    assert "properties" in kb.changes(since=2)[0].fields


def test_move_record_names_parent_and_position(kb: KnowledgeBase) -> None:
    a = kb.create("text", "a")
    b = kb.create("text", "b")
    kb.move(b.id, a.id)
    change = kb.changes(since=2)[0]
    assert change.ops[0].op == "move"
    assert {"parent_id", "position"} <= set(change.fields)
    assert change.edges == ["CHILD_OF"]
    assert change.ops[0].after is not None and change.ops[0].after["parent_id"] == a.id


def test_delete_record_lists_the_whole_subtree(kb: KnowledgeBase) -> None:
    root = kb.create("text", "root")
    child = kb.create("text", "child", parent=root.id)
    kb.delete(root.id)
    change = kb.changes(since=2)[0]
    assert change.node_ids == [root.id, child.id]
    assert {op.op for op in change.ops} == {"delete"}
    assert change.fields == ["status", "updated_at", "version"]


def test_tag_record_names_the_member_edge(kb: KnowledgeBase) -> None:
    node = kb.create("text", "n")
    kb.tag(node.id, "t")
    change = kb.changes(since=1)[0]
    assert [op.op for op in change.ops] == ["create", "member+"]
    assert change.node_ids == ["tag:t", node.id]
    assert "MEMBER_OF" in change.edges
    assert change.ops[1].target == "tag:t"
    kb.untag(node.id, "t")
    untag = kb.changes(since=2)[0]
    assert [(op.op, op.id, op.target) for op in untag.ops] == [("member-", node.id, "tag:t")]
    assert untag.edges == ["MEMBER_OF"]


def test_purge_record_keeps_the_row_for_undo(kb: KnowledgeBase) -> None:
    node = kb.create("text", "gone", "[[x]]", tags=["t"])
    kb.delete(node.id)
    kb.purge(node.id)
    (op,) = kb.changes(since=kb.seq - 1)[0].ops
    assert op.op == "purge" and op.after is None
    assert op.before is not None
    assert op.before["title"] == "gone" and op.before["_member_of"] == ["tag:t"]


def test_import_record_counts_rows(kb: KnowledgeBase) -> None:
    kb.import_nodes(pl.DataFrame({"title": ["a", "b", "c"]}))
    change = kb.changes()[0]
    assert change.label == "import"
    assert [(op.op, op.count) for op in change.ops] == [("import", 3)]
    assert change.edges == ["CHILD_OF", "LINKS_TO"]


def test_change_log_survives_reopen(kb_factory) -> None:
    kb = kb_factory()
    node = kb.create("text", "a")
    kb.update(node.id, title="b")
    logged = kb.changes()
    kb.close()
    again = kb_factory()
    assert again.seq == 2
    assert again.changes() == logged
    assert again.create("text", "c").id and again.seq == 3


def test_ops_round_trip_through_json() -> None:
    ops = [
        Op("create", "a", "task", None, {"due": dt.date(2026, 1, 2), "title": "ü"}),
        Op("member+", "a", "task", target="tag:x"),
        Op("import", "import:3", count=7),
    ]
    back = decode_ops(encode_ops(ops))
    assert back[0].after == {"due": "2026-01-02", "title": "ü"}
    assert back[1:] == tuple(ops[1:])


def test_change_set_summaries() -> None:
    change = ChangeSet(
        seq=1,
        at=dt.datetime(2026, 1, 1),
        label="x",
        ops=(
            Op("update", "a", "text", {"title": "x", "v": 1}, {"title": "y", "v": 1}),
            Op("member+", "b", "task", target="tag:t"),
        ),
    )
    assert change.node_ids == ["a", "b", "tag:t"]
    assert change.kinds == ["task", "text"]
    assert change.fields == ["title"]
    assert change.edges == ["LINKS_TO", "MEMBER_OF"]

"""Node kinds: text, task (status, priority, dates, completed_at), date (journal), plugins."""

from __future__ import annotations

import datetime as dt

import pytest

from nodespace_lab import KindSpec, KnowledgeBase, register_kind
from nodespace_lab.errors import HierarchyError, ValidationError
from nodespace_lab.nodes.kinds import KINDS


def test_text_node_has_no_task_fields(kb: KnowledgeBase) -> None:
    node = kb.create("text", "note")
    assert node.kind == "text"
    assert (node.task_status, node.priority, node.due, node.completed_at) == (None,) * 4


def test_task_defaults_to_todo(kb: KnowledgeBase) -> None:
    task = kb.create("task", "Write paper")
    assert task.kind == "task"
    assert task.task_status == "todo"
    assert task.completed_at is None


def test_task_fields_are_stored_typed(kb: KnowledgeBase) -> None:
    task = kb.create(
        "task",
        "Review",
        task_status="doing",
        priority=2,
        due="2026-12-01",
        scheduled=dt.date(2026, 11, 30),
    )
    got = kb.get(task.id)
    assert got.task_status == "doing"
    assert got.priority == 2
    assert got.due == dt.date(2026, 12, 1)
    assert got.scheduled == dt.date(2026, 11, 30)


def test_completed_at_set_when_done_and_cleared_when_reopened(kb: KnowledgeBase) -> None:
    task = kb.create("task", "Ship")
    before = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    done = kb.update(task.id, task_status="done")
    assert done.completed_at is not None
    assert before - dt.timedelta(seconds=1) <= done.completed_at <= before + dt.timedelta(minutes=1)
    # Editing something else keeps the completion time.
    assert kb.update(task.id, priority=1).completed_at == done.completed_at
    reopened = kb.update(task.id, task_status="todo")
    assert reopened.completed_at is None
    assert kb.get(task.id).completed_at is None


def test_task_created_done_gets_completed_at(kb: KnowledgeBase) -> None:
    assert kb.create("task", "Already", task_status="done").completed_at is not None


def test_cancelled_task_has_no_completed_at(kb: KnowledgeBase) -> None:
    task = kb.create("task", "Drop")
    assert kb.update(task.id, task_status="cancelled").completed_at is None


def test_task_dates_can_be_cleared(kb: KnowledgeBase) -> None:
    task = kb.create("task", "x", due="2026-01-02", priority=3)
    cleared = kb.update(task.id, due=None, priority=None)
    assert (cleared.due, cleared.priority) == (None, None)


def test_journal_creates_date_node_on_demand(kb: KnowledgeBase) -> None:
    page = kb.journal("2026-11-25")
    assert page.id == "2026-11-25"
    assert page.kind == "date"
    assert page.title == "2026-11-25"
    assert kb.get("2026-11-25") == page


def test_journal_is_idempotent(kb: KnowledgeBase) -> None:
    first = kb.journal(dt.date(2026, 11, 25))
    seq = kb.seq
    second = kb.journal("2026-11-25")
    assert second == first
    assert kb.seq == seq  # no write, no change-log record
    assert kb.find("date").count() == 1


def test_journal_accepts_date_str_and_defaults_to_today(kb: KnowledgeBase) -> None:
    assert kb.journal(dt.date(2026, 1, 5)).id == "2026-01-05"
    assert kb.journal("2026-01-06").id == "2026-01-06"
    assert kb.journal(dt.datetime(2026, 1, 7, 13, 0)).id == "2026-01-07"
    assert kb.journal().id == dt.date.today().isoformat()


def test_journal_refuses_impossible_day(kb: KnowledgeBase) -> None:
    with pytest.raises(ValidationError, match="2026-02-30"):
        kb.journal("2026-02-30")
    assert kb.seq == 0


def test_journal_page_can_hold_children(kb: KnowledgeBase) -> None:
    page = kb.journal("2026-11-25")
    kb.create("text", "morning notes", parent=page.id)
    assert [n.title for n in kb.children(page.id)] == ["morning notes"]


def test_date_node_cannot_be_renamed(kb: KnowledgeBase) -> None:
    kb.journal("2026-11-25")
    with pytest.raises(ValidationError, match="cannot be renamed"):
        kb.update("2026-11-25", title="2026-11-26")
    assert kb.get("2026-11-25").title == "2026-11-25"


def test_date_node_needs_a_day_title(kb: KnowledgeBase) -> None:
    with pytest.raises(ValidationError, match="YYYY-MM-DD"):
        kb.create("date", "not a day")


def test_collection_and_tag_kinds_exist(kb: KnowledgeBase) -> None:
    assert {"text", "task", "date", "tag", "collection"} <= set(KINDS)
    assert kb.create("collection", "Reading list").kind == "collection"


def test_registered_kind_is_usable_with_its_hook(kb: KnowledgeBase) -> None:
    def prepare(values: dict, old: dict | None) -> dict:
        if "title" in values and not values["title"].startswith("Paper:"):
            raise ValidationError(f"Paper title {values['title']!r} must start with 'Paper:'.")
        return values

    register_kind(KindSpec("testpaper", "A paper (test kind).", prepare=prepare), replace=True)
    try:
        node = kb.create("testpaper", "Paper: graphs")
        assert kb.get(node.id).kind == "testpaper"
        assert kb.find("testpaper").ids() == [node.id]
        with pytest.raises(ValidationError, match="must start with"):
            kb.update(node.id, title="graphs")
        with pytest.raises(ValidationError, match="already registered"):
            register_kind(KindSpec("testpaper", "again"))
    finally:
        KINDS.pop("testpaper", None)


def test_register_kind_refuses_bad_names() -> None:
    with pytest.raises(ValidationError, match="lowercase identifier"):
        register_kind(KindSpec("Bad Name", "x"))
    assert "Bad Name" not in KINDS


def test_out_of_tree_kind_cannot_have_a_parent(kb: KnowledgeBase) -> None:
    register_kind(KindSpec("testfloat", "Not in the tree.", in_tree=False), replace=True)
    try:
        parent = kb.create("text", "p")
        with pytest.raises(HierarchyError, match="cannot have a parent"):
            kb.create("testfloat", "x", parent=parent.id)
        node = kb.create("testfloat", "x")
        with pytest.raises(HierarchyError, match="cannot move"):
            kb.move(node.id, parent.id)
    finally:
        KINDS.pop("testfloat", None)

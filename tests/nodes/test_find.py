"""`kb.find()`: the query builder, compiled to parameterised Cypher, polars out."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from nodespace_lab import KnowledgeBase
from nodespace_lab.errors import ValidationError


@pytest.fixture
def tasks(kb: KnowledgeBase) -> dict[str, str]:
    """Five tasks and two notes with a mix of fields; returns title -> id."""
    project = kb.create("text", "Project")
    made = {"Project": project.id}
    for title, fields in {
        "write": {"priority": 1, "due": "2026-12-01", "task_status": "doing"},
        "review": {"priority": 2, "due": "2026-11-01"},
        "ship": {"priority": 3, "task_status": "done"},
        "plan": {"priority": 1},
        "archive": {"task_status": "cancelled"},
    }.items():
        made[title] = kb.create("task", title, parent=project.id, **fields).id
    made["notes"] = kb.create("text", "Meeting notes", "We discussed the Graph engine").id
    kb.tag(made["write"], "urgent")
    kb.tag(made["plan"], "urgent", "q4")
    return made


def test_find_returns_polars_with_public_columns(kb: KnowledgeBase, tasks) -> None:
    frame = kb.find("task").to_polars()
    assert isinstance(frame, pl.DataFrame)
    assert frame.height == 5
    assert "title_key" not in frame.columns and "created_seq" not in frame.columns
    assert {"id", "kind", "title", "task_status", "priority", "due"} <= set(frame.columns)
    assert frame.schema["due"] == pl.Date
    assert frame.schema["priority"] == pl.Int64


def test_find_by_kind(kb: KnowledgeBase, tasks) -> None:
    assert kb.find("text").count() == 2
    assert kb.find(["text", "task"]).count() == 7
    assert kb.find().count() == 9  # plus two tag nodes


def test_where_equals_and_operators(kb: KnowledgeBase, tasks) -> None:
    def titles(query) -> set[str]:
        return set(query.to_polars()["title"])

    assert titles(kb.find("task").where(task_status="todo")) == {"review", "plan"}
    assert titles(kb.find("task").where("priority", "<=", 2)) == {"write", "review", "plan"}
    assert titles(kb.find("task").where("priority", ">", 2)) == {"ship"}
    assert titles(kb.find("task").where("priority", "!=", 1)) == {"review", "ship"}
    assert titles(kb.find("task").where("priority", "in", [2, 3])) == {"review", "ship"}
    assert titles(kb.find("task").where("priority", "is_null")) == {"archive"}
    assert titles(kb.find("task").where("due", "not_null")) == {"write", "review"}
    assert titles(kb.find("task").where("due", "<", dt.date(2026, 11, 15))) == {"review"}
    assert titles(kb.find().where("title", "startswith", "Meet")) == {"Meeting notes"}
    both = kb.find("task").where(priority=1).where(task_status="doing")
    assert titles(both) == {"write"}


def test_contains_is_case_insensitive_on_title_and_content(kb: KnowledgeBase, tasks) -> None:
    assert kb.find().contains("graph ENGINE").ids() == [tasks["notes"]]
    assert kb.find().contains("MEETING", field_name="title").ids() == [tasks["notes"]]
    assert kb.find().contains("meeting", field_name="content").ids() == []


def test_tagged_and_under(kb: KnowledgeBase, tasks) -> None:
    assert set(kb.find().tagged("urgent").ids()) == {tasks["write"], tasks["plan"]}
    assert kb.find().tagged("urgent", "Q4").ids() == [tasks["plan"]]
    under = kb.find().under(tasks["Project"]).to_polars()
    assert list(under["title"]) == ["write", "review", "ship", "plan", "archive"]


def test_under_is_ordered_by_position_after_a_move(kb: KnowledgeBase, tasks) -> None:
    kb.move(tasks["archive"], tasks["Project"], 0)
    titles = list(kb.find().under(tasks["Project"]).to_polars()["title"])
    assert titles == ["archive", "write", "review", "ship", "plan"]


def test_order_limit_offset(kb: KnowledgeBase, tasks) -> None:
    query = kb.find("task").order_by("title")
    assert list(query.to_polars()["title"]) == ["archive", "plan", "review", "ship", "write"]
    assert list(query.limit(2).to_polars()["title"]) == ["archive", "plan"]
    assert list(query.offset(3).to_polars()["title"]) == ["ship", "write"]
    assert list(query.offset(1).limit(2).to_polars()["title"]) == ["plan", "review"]
    desc = kb.find("task").order_by("priority", descending=True).order_by("title")
    assert list(desc.limit(2).to_polars()["title"]) == ["archive", "ship"]  # NULL sorts first
    assert query.limit(2).count() == 5  # count ignores limit and offset


def test_select_keeps_id_and_chosen_columns(kb: KnowledgeBase, tasks) -> None:
    frame = kb.find("task").select("title", "priority").order_by("title").to_polars()
    assert frame.columns == ["id", "title", "priority"]
    assert frame.row(0) == (tasks["archive"], "archive", None)


def test_all_and_iteration_give_nodes(kb: KnowledgeBase, tasks) -> None:
    nodes = kb.find("task").where(priority=1).order_by("title").all()
    assert [n.title for n in nodes] == ["plan", "write"]
    assert all(n.kind == "task" for n in kb.find("task"))


def test_include_deleted(kb: KnowledgeBase, tasks) -> None:
    kb.delete(tasks["ship"])
    assert "ship" not in set(kb.find("task").to_polars()["title"])
    assert "ship" in set(kb.find("task").include_deleted().to_polars()["title"])
    assert kb.find("task").include_deleted().count() == 5


def test_builder_is_immutable(kb: KnowledgeBase, tasks) -> None:
    base = kb.find("task")
    base.where(priority=1).limit(1)
    assert base.count() == 5


def test_values_are_parameters_not_cypher_text(kb: KnowledgeBase) -> None:
    evil = "x' OR 1=1 //"
    kb.create("text", evil)
    kb.create("text", "other")
    query = kb.find().where(title=evil)
    text, params = query.compile()
    assert evil not in text
    assert evil in params.values()
    assert query.count() == 1


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda f: f.where("nope", "=", 1), "Unknown field 'nope'"),
        (lambda f: f.where("title", "~", "x"), "Unknown operator '~'"),
        (lambda f: f.where("title", "=", None), "is_null"),
        (lambda f: f.order_by("title_key"), "Unknown field"),
        (lambda f: f.limit(-1), "limit"),
        (lambda f: f.offset(1.5), "offset"),
        (lambda f: f.contains("x", field_name="kind"), "any, title or content"),
    ],
)
def test_bad_builder_input_is_refused(kb: KnowledgeBase, build, message) -> None:
    with pytest.raises(ValidationError, match=message):
        build(kb.find())


def test_unknown_kind_in_find_is_refused(kb: KnowledgeBase) -> None:
    with pytest.raises(ValidationError, match="Unknown node kind 'nope'"):
        kb.find("nope").count()


def test_open_tasks_are_todo_or_doing_by_due_date_undated_last(kb: KnowledgeBase, tasks) -> None:
    assert [n.title for n in kb.open_tasks()] == ["review", "write", "plan"]
    assert [n.title for n in kb.open_tasks(limit=1)] == ["review"]

"""LiveTable / TaskList models in Python: state, paging, sorting, diffs, write-back."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nodespace_lab import KnowledgeBase
from nodespace_lab.errors import ValidationError
from nodespace_lab.live import apply_diff
from nodespace_lab.live.query import RowDiff
from nodespace_lab.widgets import LiveTable, TaskList
from nodespace_lab.widgets._rows import sort_rows


class Sent:
    """What a widget sends to the browser, recorded at its comm."""

    def __init__(self, widget: Any) -> None:
        self.messages: list[dict[str, Any]] = []
        widget.comm.send = lambda data=None, metadata=None, buffers=None: self.messages.append(data)

    def custom(self, kind: str) -> list[dict[str, Any]]:
        return [
            m["content"]
            for m in self.messages
            if m.get("method") == "custom" and m["content"]["type"] == kind
        ]

    def states(self) -> list[dict[str, Any]]:
        return [m["state"] for m in self.messages if m.get("method") == "update"]


def edit(widget: Any, node_id: str, field: str, value: Any) -> None:
    """Send the widget the message its browser side sends for an edited cell."""
    widget._dispatch(widget, {"type": "edit", "id": node_id, "field": field, "value": value}, [])


def _tasks(kb: KnowledgeBase, n: int) -> list[str]:
    return [kb.create("task", f"t{i:03d}", priority=1 + i % 4).id for i in range(n)]


def test_only_one_page_of_shown_columns_is_in_the_state(kb: KnowledgeBase) -> None:
    _tasks(kb, 40)
    table = LiveTable(kb.live(kb.find("task").order_by("title")), page_size=15)
    assert table.total == 40
    assert [row["title"] for row in table.rows] == [f"t{i:03d}" for i in range(15)]
    shown = {c["name"] for c in table.columns}
    assert set(table.rows[0]) == shown | {"id", "version"}  # version: for edit conflicts
    assert "content" not in table.rows[0]
    table.page = 2
    assert [row["title"] for row in table.rows] == [f"t{i:03d}" for i in range(30, 40)]


def test_columns_are_typed_and_node_fields_editable(kb: KnowledgeBase) -> None:
    _tasks(kb, 1)
    table = LiveTable(kb.live(kb.find("task")))
    types = {c["name"]: (c["type"], c["editable"]) for c in table.columns}
    assert types["due"] == ("date", True)
    assert types["priority"] == ("integer", True)
    assert types["updated_at"] == ("datetime", False)
    status = next(c for c in table.columns if c["name"] == "task_status")
    assert status["choices"] == ["todo", "doing", "done", "cancelled"]


def test_cypher_rows_are_not_editable_unless_asked(kb: KnowledgeBase) -> None:
    _tasks(kb, 2)
    live = kb.live("MATCH (n:Node) WHERE n.kind = 'task' RETURN n.id AS id, n.priority AS p")
    table = LiveTable(live)
    assert [(c["name"], c["type"], c["editable"]) for c in table.columns] == [
        ("id", "id", False),
        ("p", "integer", False),
    ]
    assert LiveTable(live, editable=["p"]).columns[1]["editable"] is True


def test_a_change_sends_a_small_page_diff_not_the_page(kb: KnowledgeBase) -> None:
    ids = _tasks(kb, 50)
    table = LiveTable(kb.live(kb.find("task").order_by("title")), page_size=25)
    sent = Sent(table)
    before = [dict(r) for r in table.rows]
    kb.update(ids[3], priority=4)
    kb.live_registry.flush()
    (diff,) = sent.custom("diff")
    assert sent.states() == []  # the rows were not sent again
    assert [r["id"] for r in diff["changed"]] == [ids[3]]
    assert diff["added"] == diff["removed"] == [] and diff["order"] is None
    rebuilt = apply_diff(before, RowDiff(diff["seq"], (), (), tuple(diff["changed"])))
    assert rebuilt == table.rows
    assert len(json.dumps(diff)) < len(json.dumps(table.rows)) / 10


def test_a_change_off_the_page_sends_only_the_new_total(kb: KnowledgeBase) -> None:
    _tasks(kb, 30)
    table = LiveTable(kb.live(kb.find("task").order_by("title")), page_size=10)
    sent = Sent(table)
    kb.create("task", "zzz last")
    kb.live_registry.flush()
    (diff,) = sent.custom("diff")
    assert (diff["added"], diff["removed"], diff["changed"], diff["total"]) == ([], [], [], 31)
    assert diff["base"] + 1 == diff["seq"] == table.seq


def test_sorting_puts_empty_values_last_both_ways() -> None:
    rows = [{"id": "a", "v": 2}, {"id": "b", "v": None}, {"id": "c", "v": 1}]
    assert [r["id"] for r in sort_rows(rows, "v", False)] == ["c", "a", "b"]
    assert [r["id"] for r in sort_rows(rows, "v", True)] == ["a", "c", "b"]
    text = [{"id": "x", "v": "b"}, {"id": "y", "v": "A"}]
    assert [r["id"] for r in sort_rows(text, "v", False)] == ["y", "x"]  # case-insensitive


def test_sorting_resets_to_a_page_that_exists(kb: KnowledgeBase) -> None:
    _tasks(kb, 12)
    table = LiveTable(kb.live(kb.find("task")), page_size=5)
    table.page = 2
    table.page_size = 10
    assert table.page == 1 and len(table.rows) == 2


def test_edit_writes_through_the_api(kb: KnowledgeBase) -> None:
    (task,) = _tasks(kb, 1)
    table = LiveTable(kb.live(kb.find("task")))
    sent = Sent(table)
    edit(table, task, "due", "2026-12-24")
    edit(table, task, "priority", "3")
    assert kb.get(task).due == dt.date(2026, 12, 24)
    assert kb.get(task).priority == 3
    assert [m["field"] for m in sent.custom("edit-ok")] == ["due", "priority"]
    assert table.errors == {}


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("priority", "high", ["priority", "'high'", "integer"]),
        ("priority", "9", ["priority", "9"]),
        ("due", "next week", ["due", "'next week'", "2026-12-01"]),
        ("task_status", "finished", ["task_status", "'finished'", "todo, doing, done"]),
        ("updated_at", "2026-01-01", ["updated_at", "not editable"]),
    ],
)
def test_bad_values_are_shown_in_the_cell_and_nothing_is_written(
    kb: KnowledgeBase, field: str, value: str, words: list[str]
) -> None:
    (task,) = _tasks(kb, 1)
    before = kb.get(task)
    table = LiveTable(kb.live(kb.find("task")))
    sent = Sent(table)
    edit(table, task, field, value)
    message = table.errors[task][field]
    assert all(word in message for word in words), message
    assert sent.custom("edit-error")[0]["message"] == message
    assert kb.get(task).version == before.version
    edit(table, task, "title", "renamed")  # a good edit of another cell keeps this error
    assert field in table.errors[task]


def test_a_good_value_clears_the_cell_error(kb: KnowledgeBase) -> None:
    (task,) = _tasks(kb, 1)
    table = LiveTable(kb.live(kb.find("task")))
    edit(table, task, "priority", "nine")
    assert table.errors
    edit(table, task, "priority", "2")
    assert table.errors == {}


def test_selection_forgets_rows_that_leave_the_result(kb: KnowledgeBase) -> None:
    ids = _tasks(kb, 3)
    table = LiveTable(kb.live(kb.find("task").order_by("title")))
    table.selected = [ids[0], ids[2]]
    assert [r["id"] for r in table.selected_rows] == [ids[0], ids[2]]
    kb.delete(ids[0])
    kb.live_registry.flush()
    assert table.selected == [ids[2]]


def test_closed_table_stops_following(kb: KnowledgeBase) -> None:
    ids = _tasks(kb, 2)
    table = LiveTable(kb.live(kb.find("task")))
    sent = Sent(table)
    table.close()
    kb.update(ids[0], title="after close")
    kb.live_registry.flush()
    assert sent.custom("diff") == []


def test_page_size_must_be_positive(kb: KnowledgeBase) -> None:
    with pytest.raises(ValidationError, match="page_size 0"):
        LiveTable(kb.live(kb.find("task")), page_size=0)


def test_task_list_defaults_to_open_tasks_by_due_date(kb: KnowledgeBase) -> None:
    later = kb.create("task", "later", due=dt.date(2026, 12, 20))
    sooner = kb.create("task", "sooner", due=dt.date(2026, 12, 1))
    kb.create("task", "finished", task_status="done")
    tasks = TaskList.of(kb, today=dt.date(2026, 11, 25))
    assert [r["id"] for r in tasks.rows] == [sooner.id, later.id]
    assert tasks.today == "2026-11-25"
    edit(tasks, sooner.id, "task_status", "done")
    kb.live_registry.flush()
    assert [r["id"] for r in tasks.rows] == [later.id]


_ops = st.lists(
    st.tuples(
        st.sampled_from(["create", "priority", "done", "retitle", "delete"]), st.integers(0, 9)
    ),
    min_size=1,
    max_size=10,
)


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ops=_ops, descending=st.booleans(), page=st.integers(0, 2))
def test_page_diffs_applied_in_order_give_the_page_of_a_fresh_run(
    kb_factory: Any, tmp_path_factory: Any, ops: list[tuple[str, int]], descending: bool, page: int
) -> None:
    kb: KnowledgeBase = kb_factory(tmp_path_factory.mktemp("kb"))
    for i in range(9):
        kb.create("task", f"seed {i}", priority=1 + i % 4)
    query = kb.find("task").where(task_status="todo").order_by("id")  # ties keep this order
    table = LiveTable(kb.live(query), page_size=4, sort=("priority", descending))
    table.page = page
    sent = Sent(table)
    shown, seq = [dict(r) for r in table.rows], table.seq
    for op, n in ops:
        tasks = kb.find("task").ids()
        target = tasks[n % len(tasks)] if tasks else None
        if op == "create" or target is None:
            kb.create("task", f"new {n}", priority=1 + n % 4)
        elif op == "priority":
            kb.update(target, priority=1 + n % 4)
        elif op == "done":
            kb.update(target, task_status="done")
        elif op == "retitle":
            kb.update(target, title=f"renamed {n}")
        else:
            kb.delete(target)
        assert kb.live_registry.flush()
    for message in sent.messages:
        if message["method"] == "update":  # a whole page (the shown page ceased to exist)
            shown = message["state"].get("rows", shown)
            seq = message["state"].get("seq", seq)
            continue
        diff = message["content"]
        assert diff["base"] == seq, "diffs arrive in order, each on top of the last"
        order = None if diff["order"] is None else tuple(diff["order"])
        shown = apply_diff(
            shown,
            RowDiff(
                diff["seq"],
                tuple(diff["added"]),
                tuple(diff["removed"]),
                tuple(diff["changed"]),
                order,
            ),
        )
        seq = diff["seq"]
    fresh = sort_rows(query.to_polars().to_dicts(), "priority", descending)
    start = table.page * 4
    assert [r["id"] for r in shown] == [r["id"] for r in fresh[start : start + 4]]
    assert [r["title"] for r in shown] == [r["title"] for r in fresh[start : start + 4]]
    assert shown == table.rows
    kb.close()


def test_a_page_that_empties_falls_back_to_the_last_page(kb: KnowledgeBase) -> None:
    ids = _tasks(kb, 6)
    table = LiveTable(kb.live(kb.find("task").order_by("title")), page_size=5)
    table.page = 1
    assert [r["id"] for r in table.rows] == [ids[5]]
    kb.delete(ids[5])
    kb.live_registry.flush()
    assert table.page == 0 and len(table.rows) == 5


def test_an_edit_of_a_row_changed_since_it_was_shown_is_refused(kb: KnowledgeBase) -> None:
    (task,) = _tasks(kb, 1)
    table = LiveTable(kb.live(kb.find("task")))
    shown_version = table.rows[0]["version"]
    kb.update(task, title="changed elsewhere")  # the table has not re-run yet
    table._dispatch(
        table,
        {"type": "edit", "id": task, "field": "title", "value": "mine", "version": shown_version},
        [],
    )
    assert "version" in table.errors[task]["title"]
    assert kb.get(task).title == "changed elsewhere"


def test_a_table_of_entities_shows_their_fields_by_default(kb: KnowledgeBase) -> None:
    kb.define("project", {"budget": "number", "tasks": {"expression": "count(children)"}})
    project = kb.create("project", "P", budget=3)
    kb.create("task", "t", parent=project.id)
    table = LiveTable(kb.live(kb.find("project")))
    assert [c["name"] for c in table.columns] == ["title", "budget", "tasks"]
    assert [c["type"] for c in table.columns][1:] == ["number", "integer"]

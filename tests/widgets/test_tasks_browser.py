"""TaskList in Chromium: checkboxes write the status back; overdue dates are marked."""

from __future__ import annotations

import datetime as dt

from nodespace_lab import KnowledgeBase
from nodespace_lab.widgets import TaskList

from .host import WidgetHost

TODAY = dt.date(2026, 11, 25)


def test_ticking_marks_done_and_unticking_reopens(kb: KnowledgeBase, host: WidgetHost) -> None:
    task = kb.create("task", "write report")
    tasks = TaskList(kb.live(kb.find("task")), today=TODAY)
    el = host.show(tasks)
    box = el.locator(f"li[data-id='{task.id}'] input[type=checkbox]")
    box.check()
    host.settle()
    assert kb.get(task.id).task_status == "done"
    assert el.locator(f"li[data-id='{task.id}']").get_attribute("class") == "ns-task ns-closed"
    el.locator(f"li[data-id='{task.id}'] input[type=checkbox]").uncheck()
    host.settle()
    assert kb.get(task.id).task_status == "todo"


def test_open_tasks_view_drops_a_task_once_done(kb: KnowledgeBase, host: WidgetHost) -> None:
    keep = kb.create("task", "keep", due=TODAY)
    finish = kb.create("task", "finish", due=TODAY - dt.timedelta(days=1))
    el = host.show(TaskList.of(kb, today=TODAY))
    assert el.locator("li.ns-task").count() == 2
    el.locator(f"li[data-id='{finish.id}'] input[type=checkbox]").check()
    host.settle()
    assert el.locator("li.ns-task").evaluate_all("items => items.map(i => i.dataset.id)") == [
        keep.id
    ]


def test_only_open_overdue_tasks_are_highlighted(kb: KnowledgeBase, host: WidgetHost) -> None:
    late = kb.create("task", "late", due=TODAY - dt.timedelta(days=2))
    done_late = kb.create("task", "done late", due=TODAY - dt.timedelta(days=2), task_status="done")
    soon = kb.create("task", "soon", due=TODAY + dt.timedelta(days=2))
    el = host.show(TaskList(kb.live(kb.find("task")), today=TODAY))
    overdue = el.locator(".ns-overdue-task").evaluate_all("items => items.map(i => i.dataset.id)")
    assert overdue == [late.id]
    assert done_late.id != soon.id  # both shown, neither highlighted
    assert el.locator("li.ns-task").count() == 3


def test_a_task_created_elsewhere_appears(kb: KnowledgeBase, host: WidgetHost) -> None:
    el = host.show(TaskList.of(kb, today=TODAY))
    assert el.locator(".ns-empty").inner_text() == "No tasks"
    kb.create("task", "from the CLI", due=TODAY)
    host.settle()
    assert el.locator(".ns-task-title").all_inner_texts() == ["from the CLI"]

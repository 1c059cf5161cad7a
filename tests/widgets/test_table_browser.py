"""LiveTable's JavaScript in headless Chromium, driven by the real Python widget."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from nodespace_lab import KnowledgeBase
from nodespace_lab.widgets import LiveTable

from .host import WidgetHost


def _tasks(kb: KnowledgeBase, n: int) -> list[str]:
    return [kb.create("task", f"task {i:03d}", priority=1 + i % 4).id for i in range(n)]


def test_table_shows_one_page_and_pages_through(kb: KnowledgeBase, host: WidgetHost) -> None:
    _tasks(kb, 30)
    table = LiveTable(kb.live(kb.find("task").order_by("title")), page_size=10)
    el = host.show(table)
    assert el.locator("tbody tr").count() == 10
    assert el.locator(".ns-summary").inner_text() == "30 rows"
    el.get_by_title("Next page").click()
    host.settle()
    assert table.page == 1
    assert el.locator("tbody tr").first.locator("td[data-column=title]").inner_text() == "task 010"
    assert host.page_errors() == []


def test_live_change_arrives_as_a_diff(kb: KnowledgeBase, host: WidgetHost) -> None:
    ids = _tasks(kb, 5)
    table = LiveTable(kb.live(kb.find("task").order_by("title")))
    el = host.show(table)
    kb.update(ids[2], title="task 002 renamed")
    host.settle()
    assert "task 002 renamed" in el.locator("tbody").inner_text()
    kb.create("task", "task 000 first")
    host.settle()
    titles = el.locator("td[data-column=title]").all_inner_texts()
    assert titles[:2] == ["task 000", "task 000 first"]
    assert len(titles) == 6


def test_header_click_sorts_in_python(kb: KnowledgeBase, host: WidgetHost) -> None:
    _tasks(kb, 8)
    table = LiveTable(kb.live(kb.find("task")))
    el = host.show(table)
    el.locator("th[data-column=priority]").click()
    host.settle()
    el.locator("th[data-column=priority]").click()
    host.settle()
    assert table.sort == ["priority", True]
    shown = el.locator("td[data-column=priority]").all_inner_texts()
    assert shown == sorted(shown, reverse=True)


def test_editing_a_cell_writes_back(kb: KnowledgeBase, host: WidgetHost) -> None:
    (task,) = _tasks(kb, 1)
    table = LiveTable(kb.live(kb.find("task")))
    el = host.show(table)
    el.locator("td[data-column=title]").dblclick()
    editor = el.locator("td[data-column=title] input")
    editor.fill("edited in the browser")
    editor.press("Enter")
    host.settle()
    assert kb.get(task).title == "edited in the browser"
    assert el.locator("td[data-column=title]").inner_text() == "edited in the browser"


def test_a_rejected_value_is_shown_in_the_cell(kb: KnowledgeBase, host: WidgetHost) -> None:
    (task,) = _tasks(kb, 1)
    table = LiveTable(kb.live(kb.find("task")))
    el = host.show(table)
    el.locator("td[data-column=priority]").dblclick()
    editor = el.locator("td[data-column=priority] input")
    editor.fill("9")
    editor.press("Enter")
    host.settle()
    message = el.locator("td[data-column=priority] .ns-cell-error").inner_text()
    assert "priority" in message and "9" in message
    assert kb.get(task).priority == 2 - 1  # unchanged (created with priority 1)


def test_ticked_rows_are_readable_in_python(kb: KnowledgeBase, host: WidgetHost) -> None:
    ids = _tasks(kb, 3)
    table = LiveTable(kb.live(kb.find("task").order_by("title")))
    el = host.show(table)
    el.locator("tbody tr").nth(1).locator("input[type=checkbox]").check()
    host.settle()
    assert table.selected == [ids[1]]
    assert [row["id"] for row in table.selected_rows] == [ids[1]]


def test_missed_diff_triggers_a_resync(kb: KnowledgeBase, host: WidgetHost, page: Any) -> None:
    ids = _tasks(kb, 2)
    table = LiveTable(kb.live(kb.find("task").order_by("title")))
    el = host.show(table)
    page.evaluate(f"() => window.__ns.models['{table.model_id}'].state.seq = -1")
    kb.update(ids[0], title="task 000 after a gap")
    host.settle()
    assert "after a gap" in el.locator("tbody").inner_text()


def test_a_table_nobody_sees_stops_re_running(kb: KnowledgeBase, host: WidgetHost) -> None:
    ids = _tasks(kb, 2)
    live = kb.live(kb.find("task").order_by("title"))
    table = LiveTable(live)
    host.show(table)
    host.hide(table)
    reruns = live.reruns
    kb.update(ids[0], title="task 000 unseen")
    kb.live_registry.flush()
    assert live.reruns == reruns
    el = host.show(table)  # shown again: re-runs and catches up
    assert "task 000 unseen" in el.locator("tbody").inner_text()


def test_datetimes_show_in_the_viewers_time_zone(kb: KnowledgeBase, chromium: Any) -> None:
    # Stored in UTC without a zone: the page must not read them as local time.
    context = chromium.new_context(timezone_id="Asia/Tokyo", locale="en-US")
    try:
        host = WidgetHost(context.new_page())
        task = kb.create("task", "stamped")
        el = host.show(LiveTable(kb.live(kb.find("task")), columns=["title", "updated_at"]))
        assert task.updated_at is not None
        tokyo = task.updated_at.replace(tzinfo=dt.UTC).astimezone(ZoneInfo("Asia/Tokyo"))
        shown = el.locator("td[data-column=updated_at]").inner_text()
        assert f"{tokyo.month}/{tokyo.day}/{tokyo.year}" in shown
        assert f"{tokyo.hour % 12 or 12}:{tokyo.minute:02d}:{tokyo.second:02d}" in shown
    finally:
        context.close()

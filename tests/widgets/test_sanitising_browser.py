"""User content never runs as code: hostile titles and content in real Chromium."""

from __future__ import annotations

from typing import Any

import pytest

from nodespace_lab import KnowledgeBase
from nodespace_lab.widgets import LiveTable, SearchBox, TaskList

from .host import WidgetHost

HOSTILE_TITLE = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script> boom'
HOSTILE_CONTENT = (
    "boom <script>window.__pwned=3</script>\n\n"
    '<img src=x onerror="window.__pwned=4">\n\n'
    "[click](javascript:window.__pwned=5) ![i](x)\n\n"
    '<a href="javascript:window.__pwned=6">raw link</a>'
)


def _assert_nothing_ran(page: Any, el: Any) -> None:
    page.wait_for_timeout(200)  # give an injected image time to fail and fire onerror
    assert page.evaluate("() => window.__pwned") is None
    assert el.locator("script").count() == 0
    assert el.locator("[onerror]").count() == 0
    hrefs = el.locator("a").evaluate_all("links => links.map(a => a.getAttribute('href'))")
    assert not [h for h in hrefs if h and h.lower().startswith("javascript")]


@pytest.mark.parametrize("widget_class", [LiveTable, TaskList])
def test_hostile_titles_show_as_text(
    kb: KnowledgeBase, host: WidgetHost, page: Any, widget_class: Any
) -> None:
    kb.create("task", HOSTILE_TITLE, HOSTILE_CONTENT)
    el = host.show(widget_class(kb.live(kb.find("task"))))
    assert HOSTILE_TITLE in el.inner_text()
    _assert_nothing_ran(page, el)


def test_search_results_and_preview_are_safe(
    kb: KnowledgeBase, host: WidgetHost, page: Any
) -> None:
    node = kb.create("text", HOSTILE_TITLE, HOSTILE_CONTENT)
    box = SearchBox(kb)
    el = host.show(box)
    el.locator("input[type=search]").fill("boom")
    page.wait_for_timeout(300)  # the box waits for typing to pause
    host.settle()
    el.locator(f"li[data-id='{node.id}']").click()
    host.settle()
    assert HOSTILE_TITLE in el.locator(".ns-preview-title").inner_text()
    assert "raw link" in el.locator(".ns-preview").inner_text()
    _assert_nothing_ran(page, el)


def test_browser_sanitiser_is_a_second_line_of_defence(
    kb: KnowledgeBase, host: WidgetHost, page: Any
) -> None:
    # Even HTML that skipped the Python sanitiser is rebuilt from an allow-list.
    node = kb.create("text", "note")
    box = SearchBox(kb)
    el = host.show(box)
    box.preview = {
        "id": node.id,
        "title": "note",
        "html": '<p>ok</p><img src=x onerror="window.__pwned=7"><script>window.__pwned=8</script>'
        '<a href="javascript:window.__pwned=9">x</a><iframe src="javascript:1"></iframe>',
    }
    host.settle()
    assert el.locator(".ns-markdown p").inner_text() == "ok"
    assert el.locator(".ns-markdown iframe").count() == 0
    assert el.locator(".ns-markdown img").count() == 1  # kept, without its handler
    _assert_nothing_ran(page, el)

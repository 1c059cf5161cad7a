"""SearchBox in Chromium: incremental search, keyboard and click open a node."""

from __future__ import annotations

from typing import Any

from nodespace_lab import KnowledgeBase, Node
from nodespace_lab.widgets import SearchBox

from .host import WidgetHost


def _type(el: Any, page: Any, host: WidgetHost, text: str) -> None:
    el.locator("input[type=search]").fill(text)
    page.wait_for_timeout(300)  # the box waits for typing to pause
    host.settle()


def test_typing_searches_and_highlights(kb: KnowledgeBase, host: WidgetHost, page: Any) -> None:
    kb.create("text", "Graph databases", "Kùzu stores nodes and edges")
    kb.create("text", "Cooking", "nothing about graphs here")
    kb.create("text", "Edges everywhere", "edges edges")
    box = SearchBox(kb)
    el = host.show(box)
    _type(el, page, host, "edges")
    titles = el.locator(".ns-result-title").all_inner_texts()
    assert len(titles) == 2 and all("Cooking" not in t for t in titles)
    assert el.locator(".ns-snippet mark").first.inner_text().lower() == "edges"
    assert "2 results" in el.locator(".ns-search-status").inner_text()
    _type(el, page, host, "cooking")
    assert el.locator(".ns-result-title").all_inner_texts() == ["Cookingtext"]


def test_enter_opens_the_active_result(kb: KnowledgeBase, host: WidgetHost, page: Any) -> None:
    first = kb.create("text", "alpha one", "**bold** alpha")
    second = kb.create("text", "alpha two", "alpha alpha alpha")
    box = SearchBox(kb)
    opened: list[Node] = []
    box.on_open(opened.append)
    el = host.show(box)
    _type(el, page, host, "alpha")
    ids = el.locator(".ns-result").evaluate_all("items => items.map(i => i.dataset.id)")
    assert set(ids) == {first.id, second.id}
    search = el.locator("input[type=search]")
    search.press("ArrowDown")
    search.press("Enter")
    host.settle()
    assert box.opened == ids[1]
    assert [n.id for n in opened] == [ids[1]]
    assert el.locator(".ns-preview-title").inner_text() == kb.get(ids[1]).title


def test_clicking_a_result_renders_its_markdown(
    kb: KnowledgeBase, host: WidgetHost, page: Any
) -> None:
    node = kb.create(
        "text", "Formatted", "# Heading\n\nSome **bold** text and a [link](https://example.org)"
    )
    box = SearchBox(kb)
    el = host.show(box)
    _type(el, page, host, "bold")
    el.locator(f"li[data-id='{node.id}']").click()
    host.settle()
    assert el.locator(".ns-markdown h1").inner_text() == "Heading"
    assert el.locator(".ns-markdown strong").inner_text() == "bold"
    assert el.locator(".ns-markdown a").get_attribute("href") == "https://example.org"

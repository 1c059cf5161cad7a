"""The Outline's JavaScript in headless Chromium, driven by the real Python widget."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from nodespace_lab import KnowledgeBase
from nodespace_lab.widgets import Outline

from .host import WidgetHost

EVIL = '<img src=x onerror="window.__pwned=1">'


@pytest.fixture
def ids(kb: KnowledgeBase) -> dict[str, str]:
    """a (a1, a2 (a2x)), b, c — ids by title."""
    out: dict[str, str] = {}
    for title, parent in [
        ("a", None), ("a1", "a"), ("a2", "a"), ("a2x", "a2"), ("b", None), ("c", None),
    ]:  # fmt: skip
        out[title] = kb.create("text", title, parent=out.get(parent or "")).id
    return out


@pytest.fixture
def outline(kb: KnowledgeBase, ids: dict[str, str]) -> Iterator[Outline]:
    widget = Outline(kb)
    yield widget
    widget.close()


def title_input(el: Any, node_id: str) -> Any:
    return el.locator(f"li[data-id='{node_id}'] > .ns-row input.ns-title")


def shown(el: Any) -> list[str]:
    """Titles of the visible rows, top to bottom."""
    return [str(v) for v in el.locator("input.ns-title").evaluate_all("l => l.map(i => i.value)")]


def focused_id(page: Any) -> str | None:
    value = page.evaluate("() => document.activeElement?.dataset?.id ?? null")
    return None if value is None else str(value)


def test_expand_loads_children_lazily(
    kb: KnowledgeBase, outline: Outline, ids: dict[str, str], host: WidgetHost
) -> None:
    el = host.show(outline)
    assert shown(el) == ["a", "b", "c"]
    assert outline.loaded() == [""]
    el.locator(f"li[data-id='{ids['a']}'] > .ns-row .ns-toggle").click()
    host.settle()
    assert shown(el) == ["a", "a1", "a2", "b", "c"]
    assert sorted(outline.loaded()) == sorted(["", ids["a"]])  # not a2's children
    assert ids["a2x"] not in outline.nodes
    # Nodes without children have no arrow to click.
    assert el.locator(f"li[data-id='{ids['b']}'] > .ns-row .ns-toggle").is_disabled()
    el.locator(f"li[data-id='{ids['a']}'] > .ns-row .ns-toggle").click()
    host.settle()
    assert shown(el) == ["a", "b", "c"]
    assert outline.nodes[ids["a"]]["children"] == [ids["a1"], ids["a2"]]  # still cached
    assert host.page_errors() == []


def test_enter_creates_a_sibling_and_typing_names_it(
    kb: KnowledgeBase, outline: Outline, ids: dict[str, str], host: WidgetHost, page: Any
) -> None:
    el = host.show(outline)
    title_input(el, ids["a"]).press("Enter")
    host.settle()
    top = kb.children(None)
    assert [n.title for n in top] == ["a", "", "b", "c"]
    new = top[1].id
    assert focused_id(page) == new
    page.keyboard.type("typed in the browser")
    page.wait_for_timeout(450)  # the rename is sent after a 300 ms pause
    host.settle()
    assert kb.get(new).title == "typed in the browser"
    assert shown(el) == ["a", "typed in the browser", "b", "c"]


def test_tab_indents_and_shift_tab_outdents(
    kb: KnowledgeBase, outline: Outline, ids: dict[str, str], host: WidgetHost, page: Any
) -> None:
    el = host.show(outline)
    title_input(el, ids["c"]).press("Tab")
    host.settle()
    assert [n.title for n in kb.children(ids["b"])] == ["c"]
    assert shown(el) == ["a", "b", "c"]
    assert el.locator(f"li[data-id='{ids['b']}'] li[data-id='{ids['c']}']").count() == 1
    assert focused_id(page) == ids["c"]
    page.keyboard.press("Shift+Tab")
    host.settle()
    assert [n.title for n in kb.children(None)] == ["a", "b", "c"]
    assert kb.children(ids["b"]) == []
    assert el.locator(f"ul.ns-outline-tree > li[data-id='{ids['c']}']").count() == 1
    assert focused_id(page) == ids["c"]


def test_shift_tab_puts_the_node_right_after_its_parent(
    kb: KnowledgeBase, outline: Outline, ids: dict[str, str], host: WidgetHost
) -> None:
    el = host.show(outline)
    outline.expand(ids["a"])
    host.settle()
    title_input(el, ids["a1"]).press("Shift+Tab")
    host.settle()
    assert [n.title for n in kb.children(None)] == ["a", "a1", "b", "c"]
    assert shown(el) == ["a", "a2", "a1", "b", "c"]


def test_alt_arrows_reorder_siblings(
    kb: KnowledgeBase, outline: Outline, ids: dict[str, str], host: WidgetHost, page: Any
) -> None:
    el = host.show(outline)
    title_input(el, ids["a"]).press("Alt+ArrowDown")
    host.settle()
    assert [n.title for n in kb.children(None)] == ["b", "a", "c"]
    page.keyboard.press("Alt+ArrowDown")  # the caret stayed on "a"
    host.settle()
    assert [n.title for n in kb.children(None)] == ["b", "c", "a"]
    title_input(el, ids["b"]).press("Alt+ArrowUp")  # already first: nothing happens
    host.settle()
    title_input(el, ids["c"]).press("Alt+ArrowUp")
    host.settle()
    assert [n.title for n in kb.children(None)] == ["c", "b", "a"]
    assert shown(el) == ["c", "b", "a"]
    assert outline.error == ""


def test_arrows_move_between_visible_rows(
    outline: Outline, ids: dict[str, str], host: WidgetHost, page: Any
) -> None:
    el = host.show(outline)
    outline.expand(ids["a"])
    host.settle()
    title_input(el, ids["a"]).focus()
    page.keyboard.press("ArrowDown")
    assert focused_id(page) == ids["a1"]
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    assert focused_id(page) == ids["b"]
    page.keyboard.press("ArrowUp")
    assert focused_id(page) == ids["a2"]
    host.settle()
    assert outline.focus == ids["a2"] and outline.selected == ids["a2"]
    assert el.locator(".ns-row.ns-selected input").evaluate("i => i.dataset.id") == ids["a2"]


def test_leaving_a_row_saves_its_title(
    kb: KnowledgeBase, outline: Outline, ids: dict[str, str], host: WidgetHost, page: Any
) -> None:
    el = host.show(outline)
    title_input(el, ids["b"]).fill("bee")
    page.keyboard.press("ArrowDown")  # before the pause is over
    host.settle()
    assert kb.get(ids["b"]).title == "bee"
    assert outline.nodes[ids["b"]]["title"] == "bee"


def test_backspace_in_an_empty_title_deletes_the_node(
    kb: KnowledgeBase, outline: Outline, ids: dict[str, str], host: WidgetHost, page: Any
) -> None:
    el = host.show(outline)
    title_input(el, ids["c"]).fill("")
    page.keyboard.press("Backspace")
    host.settle()
    assert kb.get(ids["c"]).status == "deleted"
    assert shown(el) == ["a", "b"]
    assert focused_id(page) == ids["b"]
    # Backspace in a title with text only edits the text.
    page.keyboard.press("Backspace")
    host.settle()
    assert kb.get(ids["b"]).status == "active"


def test_an_error_shows_in_the_banner(
    kb: KnowledgeBase, outline: Outline, ids: dict[str, str], host: WidgetHost
) -> None:
    el = host.show(outline)
    seq = kb.seq
    title_input(el, ids["a"]).press("Tab")
    host.settle()
    assert "Cannot indent node 'a'" in el.locator(".ns-error").inner_text()
    assert kb.seq == seq
    title_input(el, ids["b"]).press("Tab")
    host.settle()
    assert el.locator(".ns-error").is_hidden()


def test_changes_made_in_python_appear(
    kb: KnowledgeBase, outline: Outline, ids: dict[str, str], host: WidgetHost
) -> None:
    el = host.show(outline)
    outline.expand(ids["a"])
    host.settle()
    kb.create("task", "added from Python", parent=ids["a"])
    kb.update(ids["b"], title="renamed from Python")
    kb.delete(ids["c"])
    host.settle()
    assert shown(el) == ["a", "a1", "a2", "added from Python", "renamed from Python"]
    assert "todo" in el.locator(".ns-badge").all_inner_texts()


def test_an_external_rename_keeps_text_being_typed(
    kb: KnowledgeBase, outline: Outline, ids: dict[str, str], host: WidgetHost, page: Any
) -> None:
    el = host.show(outline)
    title_input(el, ids["b"]).focus()
    page.keyboard.press("End")
    page.keyboard.type(" typing")
    kb.update(ids["a"], title="a changed meanwhile")
    host.settle()  # redraws while the rename of b is still waiting
    assert focused_id(page) == ids["b"]
    assert title_input(el, ids["b"]).input_value() == "b typing"
    page.keyboard.type("!")
    page.wait_for_timeout(450)
    host.settle()
    assert kb.get(ids["b"]).title == "b typing!"
    assert shown(el)[0] == "a changed meanwhile"


def test_keys_do_not_reach_the_notebook(
    outline: Outline, ids: dict[str, str], host: WidgetHost, page: Any
) -> None:
    el = host.show(outline)
    page.evaluate(
        "() => { window.__keys = 0; document.addEventListener('keydown', () => window.__keys++); }"
    )
    title_input(el, ids["b"]).press("x")
    title_input(el, ids["b"]).press("ArrowUp")
    host.settle()
    assert page.evaluate("() => window.__keys") == 0


def test_titles_are_text_never_markup(
    kb: KnowledgeBase, ids: dict[str, str], host: WidgetHost, page: Any
) -> None:
    root = kb.create("text", EVIL).id
    kb.create("text", EVIL, parent=root)
    outline = Outline(kb, root)
    el = host.show(outline)
    (first,) = outline.nodes[root]["children"]
    assert title_input(el, first).input_value() == EVIL
    assert el.locator(".ns-outline-root").inner_text() == EVIL
    title_input(el, first).press("Tab")  # the error message quotes the title
    host.settle()
    assert EVIL in el.locator(".ns-error").inner_text()
    kb.create("text", EVIL, parent=root)  # arriving live
    host.settle()
    assert shown(el) == [EVIL, EVIL]
    page.wait_for_timeout(100)
    assert el.locator("img").count() == 0
    assert page.evaluate("() => window.__pwned") is None
    assert host.page_errors() == []
    outline.close()


def test_a_removed_view_pauses_the_outline(
    kb: KnowledgeBase, outline: Outline, ids: dict[str, str], host: WidgetHost
) -> None:
    el = host.show(outline)
    title_input(el, ids["b"]).fill("typed before removal")
    host.hide(outline)  # a rename still waiting is sent, not lost
    assert kb.get(ids["b"]).title == "typed before removal"
    kb.update(ids["c"], title="while nobody looks")
    host.settle()
    assert outline.nodes[ids["c"]]["title"] == "c"
    el = host.show(outline)
    assert shown(el) == ["a", "typed before removal", "while nobody looks"]


def test_ctrl_arrows_expand_and_collapse(
    outline: Outline, ids: dict[str, str], host: WidgetHost, page: Any
) -> None:
    el = host.show(outline)
    title_input(el, ids["a"]).press("Control+ArrowDown")
    host.settle()
    assert outline.expanded == [ids["a"]]
    assert shown(el) == ["a", "a1", "a2", "b", "c"]
    assert focused_id(page) == ids["a"]
    page.keyboard.press("Control+ArrowUp")
    host.settle()
    assert outline.expanded == []
    assert shown(el) == ["a", "b", "c"]

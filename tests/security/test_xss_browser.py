"""The XSS corpus in a real JupyterLab: stored wherever a user or the model writes
text, then shown in the sidebar, the node editor's preview and the six widgets,
hovered and clicked, with a canary that must never fire.

One lab (its own knowledge base of payloads) and one page serve the whole module;
the tests run in order on that page, and the last one checks the canary itself by
injecting a payload as markup, so a silent canary means something.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import nbformat
import pytest

from nodespace_lab.errors import NodespaceError
from nodespace_lab.service.client import RemoteKnowledgeBase

from ..browser.conftest import Lab, start_lab
from ..browser.sidebar_helpers import connect_remote, eventually, open_sidebar, run_all_cells
from .xss_corpus import BY_ID, CANARY_JS, OVERLAY_MARKER, PAYLOADS, fired, unsafe_markup

# Text in every payload note's content (before the payload, so a payload that swallows
# what follows it cannot hide it): the editor test waits for it, search finds it.
MARK = "nsxss"
TARGET = "XSS target"
ENTITY_KIND = "xss_thing"
# Kinds of finding (see `_kinds`) that our own interface produces: the sidebar's and the
# widgets' buttons, inputs, sections and icons. Payload-made markup would add others.
CHROME = {
    "<button> tag",
    "<input> tag",
    "<textarea> tag",
    "<select> tag",
    "<option> tag",
    "<details> tag",
    "<svg> tag",
    "<input autofocus=…>",
    "<div style=…>",
    "<span style=…>",
    "<li style=…>",
    "<ul style=…>",
    "<svg style=…>",
    "<canvas style=…>",
}
# What a payload leaves in an attribute when it got through as markup: the canary call,
# the overlay marker, the attacker's host.
PAYLOAD_TRACES = re.compile(rf"__nsCanary|{OVERLAY_MARKER}|attacker\.invalid", re.I)


@dataclass
class Seeded:
    """What the module stored: ids of the payload notes and of the nodes around them."""

    notes: dict[str, str] = field(default_factory=dict)  # payload id -> note id
    target: str = ""  # linked from every note, tagged with every payload
    hub: str = ""  # links to every note (the graph's centre)
    chat: str = ""  # a chat node whose answer repeats every payload
    entity_refused: str = ""  # the schema's message if it refused payload enum choices


@pytest.fixture(scope="module")
def xss_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """A lab of its own: its knowledge base holds the payloads and nothing else."""
    with start_lab(tmp_path_factory.mktemp("xss-lab")) as lab:
        yield lab


@pytest.fixture(scope="module")
def remote(xss_lab: Lab) -> Iterator[RemoteKnowledgeBase]:
    client = connect_remote(xss_lab)
    yield client
    client.close()


@pytest.fixture(scope="module")
def seeded(remote: RemoteKnowledgeBase) -> Seeded:
    """Every payload as a title, a content, a tag, a task, an entity field value, an enum
    choice and a chat answer."""
    kb, seeded = remote, Seeded()
    target = kb.create("text", TARGET, "Every payload note links here and tags it.")
    seeded.target = target.id
    day = kb.journal()
    for ident, payload in BY_ID.items():
        content = f"{MARK} {ident} start [[{TARGET}]]\n\n{payload}\n"
        seeded.notes[ident] = kb.create("text", _title(payload), content).id
        kb.create("task", _title(payload), payload, parent=day.id, priority=1)
    kb.tag(target.id, *map(_title, PAYLOADS))
    hub_links = " ".join(f"[[{note}]]" for note in seeded.notes.values())
    seeded.hub = kb.create("text", "XSS hub", f"{hub_links}\n\n[[{PAYLOADS[0]}]]").id
    answer = "\n\n".join(f"{p} [1]" for p in PAYLOADS)
    seeded.chat = kb.create("chat", _title(PAYLOADS[0]), answer).id
    seeded.entity_refused = _define_entities(kb)
    return seeded


def _title(payload: str) -> str:
    """A payload as a title: titles are one line (the parser reads a newline inside a tag
    as a space anyway)."""
    return re.sub(r"[\r\n]+", " ", payload)


def _define_entities(kb: RemoteKnowledgeBase) -> str:
    """An entity kind whose enum choices are the payloads, one entity per payload;
    returns "" or, if the schema refuses such choices, its message."""
    fields: dict[str, Any] = {"mood": {"type": "enum", "choices": PAYLOADS}, "remark": "text"}
    try:
        kb.define(ENTITY_KIND, fields)
    except NodespaceError as refused:
        return str(refused)
    for payload in PAYLOADS:
        kb.create(ENTITY_KIND, _title(payload), payload, mood=payload, remark=payload)
    return ""


@pytest.fixture(scope="module")
def page(chromium: Any, xss_lab: Lab, seeded: Seeded) -> Iterator[Any]:
    """One page for the module, with the canary defined before any of JupyterLab runs."""
    context = chromium.new_context(viewport={"width": 1400, "height": 1000})
    context.add_init_script(script=CANARY_JS)
    # Nothing leaves the lab: a link or image to another server is refused at once
    # (it would otherwise wait on DNS), and refused requests are counted.
    context.route(lambda url: not url.startswith(xss_lab.url), lambda route: route.abort())
    page = context.new_page()
    yield page
    context.close()


def _kinds(findings: list[str]) -> set[str]:
    """`unsafe_markup` findings without their values: `<div style=…>`, `<button> tag`."""
    return {re.sub(r"=(['\"]).*\1>.*$|=\.\.\.>.*$", "=…>", f) for f in findings}


def _foreign_markup(page: Any, selector: str) -> list[str]:
    """What unsafe_markup finds under `selector` beyond our own interface's markup,
    plus any finding that carries a trace of a payload."""
    html = "".join(page.locator(selector).evaluate_all("els => els.map(e => e.innerHTML)"))
    findings = unsafe_markup(html)
    return sorted(
        {f for f in findings if PAYLOAD_TRACES.search(f)}
        | {k for k in _kinds(findings) if k not in CHROME}
    )


def _traced_attributes(page: Any, selector: str) -> list[str]:
    """Elements under `selector` with a payload trace in an attribute that is not plain
    text for people (title, aria-label, value, the wiki-link target) or an image URL
    the widgets hold back until asked."""
    return list(
        page.locator(selector).evaluate_all(
            """(roots, traces) => {
              const re = new RegExp(traces, 'i');
              // Text for people, and an image URL held back (it loads only on request).
              const text = new Set(['title', 'aria-label', 'value', 'data-ref', 'data-tag',
                                    'placeholder', 'alt', 'data-ns-remote-src']);
              const out = [];
              for (const root of roots) for (const el of root.querySelectorAll('*'))
                for (const a of el.attributes)
                  if (!text.has(a.name) && re.test(a.value))
                    out.push(`<${el.localName} ${a.name}="${a.value.slice(0, 60)}">`);
              return out;
            }""",
            PAYLOAD_TRACES.pattern,
        )
    )


def _assert_inert(page: Any, selector: str) -> None:
    page.wait_for_timeout(300)  # an image error or a focus handler would fire by now
    assert fired(page) == []
    assert _foreign_markup(page, selector) == []
    assert _traced_attributes(page, selector) == []


def _hover_and_click_links(page: Any, root: Any) -> int:
    """Hover and click every visible link under `root` (Ctrl+click: a new tab, which is
    closed again); returns how many were clicked. The `[[XSS target]]` link every note
    has is left alone: following it would switch the editor away."""
    from playwright.sync_api import Error as PlaywrightError

    links = root.locator(f"a:not([data-ref='{TARGET}']), [role=link]:not([data-ref='{TARGET}'])")
    clicked = 0
    for i in range(links.count()):
        link = links.nth(i)
        if not link.is_visible():
            continue
        try:
            link.hover(timeout=1_000)
            link.click(modifiers=["Control"], no_wait_after=True, timeout=1_000)
        except PlaywrightError:  # hidden, empty or gone (a re-render): nothing to click
            continue
        clicked += 1
    for other in page.context.pages:
        if other != page:
            other.close()
    return clicked


def test_the_schema_takes_payload_enum_choices_or_refuses_them_cleanly(
    seeded: Seeded, remote: RemoteKnowledgeBase
) -> None:
    # Either is fine (today the schema takes them: choices are data, shown as text); a
    # refusal must be our error naming the choices, not a crash.
    if seeded.entity_refused:
        assert "choice" in seeded.entity_refused.lower()
        return
    frame = remote.find(ENTITY_KIND).to_polars()
    assert sorted(frame["mood"].to_list()) == sorted(PAYLOADS)
    assert sorted(frame["remark"].to_list()) == sorted(PAYLOADS)


def test_the_sidebar_shows_every_payload_as_text(
    xss_lab: Lab, page: Any, seeded: Seeded, remote: RemoteKnowledgeBase
) -> None:
    sidebar = open_sidebar(xss_lab, page)
    # Outline: every payload note's title, character for character.
    titles = {remote.get(note).title for note in seeded.notes.values()}
    rows = sidebar.locator(".ns-tree .ns-title")
    eventually(lambda: titles <= set(rows.evaluate_all("els => els.map(e => e.textContent)")))

    # Today (the tasks are children of today's page) and Tasks.
    sidebar.locator(".ns-today-list .ns-entry").nth(len(PAYLOADS) - 1).wait_for()
    sidebar.locator(".ns-task-list .ns-task").first.wait_for()

    # Search: payload words, full text only (no model needed).
    sidebar.locator(".ns-search-bar select").select_option("text")
    for word in ("onerror", MARK, "javascript"):
        sidebar.locator(".ns-search-input").fill(word)
        sidebar.locator(".ns-hit mark").first.wait_for()
        _hover_and_click_links(page, sidebar.locator(".ns-search-results"))
    hits = sidebar.locator(".ns-hit")
    hits.first.hover()

    # Details of the target: every payload as a tag, every note as a backlink.
    target_row = sidebar.locator(f".ns-row[data-id='{seeded.target}'] .ns-title")
    target_row.click()
    sidebar.locator(".ns-backlinks .ns-entry").nth(len(PAYLOADS) - 1).wait_for(timeout=20_000)
    tags = sidebar.locator(".ns-tags .ns-tag")
    assert tags.count() == len(PAYLOADS)
    tags.nth(0).click()  # the tagged list
    sidebar.locator(".ns-tagged-list .ns-entry").first.wait_for()
    for i in range(0, len(PAYLOADS), 10):
        tags.nth(i).hover()
    _assert_inert(page, "#nodespace-sidebar")


def test_the_editor_preview_of_every_payload_is_inert(
    xss_lab: Lab, page: Any, seeded: Seeded
) -> None:
    sidebar = page.locator("#nodespace-sidebar")
    if not sidebar.count():
        sidebar = open_sidebar(xss_lab, page)
    unsafe: dict[str, list[str]] = {}
    opened = [*seeded.notes.items(), ("chat", seeded.chat)]
    for n, (ident, note) in enumerate(opened, start=1):
        # A click event, not a full browser action: 112 of those take half a minute.
        sidebar.locator(f".ns-row[data-id='{note}'] .ns-title").dispatch_event("click")
        preview = page.locator(f".ns-editor[data-id='{note}'] .ns-editor-preview")
        marker = MARK if ident != "chat" else "[1]"
        preview.get_by_text(re.compile(re.escape(marker))).first.wait_for(timeout=10_000)
        found = unsafe_markup(preview.evaluate(_POKE))
        if found:
            unsafe[ident] = found
        if n % 16 == 0:
            _close_all_tabs(page)  # many open tabs slow every new one down
    assert unsafe == {}
    # Real hovers and clicks too, on the last preview and its links.
    _hover_and_click_links(page, page.locator(".ns-editor-preview").last)
    assert _traced_attributes(page, ".lm-DockPanel-tabBar") == []
    _close_all_tabs(page)
    # A payload that ran names itself in the canary.
    _assert_inert(page, "#nodespace-sidebar")


# Hover, focus and click (what a reader does) every element of a preview, in the
# page: much faster than one browser action each. Links that would leave the page are
# not clicked (web links, relative paths); any other scheme is, and must do nothing.
# Returns the preview's HTML from before.
_POKE = """(root) => {
  const html = root.innerHTML;
  for (const el of root.querySelectorAll('*')) {
    for (const type of ['mouseover', 'mouseenter', 'mousemove', 'focus', 'focusin'])
      el.dispatchEvent(new Event(type, { bubbles: type !== 'mouseenter' && type !== 'focus' }));
  }
  for (const a of root.querySelectorAll('a[href]')) {
    const href = a.getAttribute('href').trim();
    if (!/^(https?:|mailto:|#|[^:]*$)/i.test(href)) a.click();
  }
  return html;
}"""


def _close_all_tabs(page: Any) -> None:
    page.locator(".lm-MenuBar-itemLabel", has_text="File").first.click()
    page.locator(".lm-Menu-itemLabel", has_text="Close All Tabs").first.click()
    page.locator(".ns-editor").first.wait_for(state="detached", timeout=10_000)


_NOTEBOOK_SETUP = """\
import json
import nodespace_lab as ns
from nodespace_lab.widgets import (
    ChatWidget, GraphView, LiveTable, Outline, SearchBox, TaskList,
)
kb = ns.connect()
data = json.load(open("xss.json"))
"""
_WIDGET_CELLS = {
    "tasks": "TaskList.of(kb)",
    "table": "LiveTable.of(kb, kb.find(data['table_kind']))",
    "outline": "Outline(kb)",
    "graph": "GraphView(kb, data['hub'], depth=1)",
    "search": "search = SearchBox(kb, query=data['mark'], limit=200)\nsearch",
    "chat": """\
chat = ChatWidget(kb, save=False)
cited = [{"number": 1, "id": data["chat"], "title": p} for p in data["payloads"][:1]]
chat.turns = [
    {"question": p, "answer": p + " [1]", "citations": cited,
     "sources": [{"number": 1, "id": data["chat"], "title": p, "reason": p}],
     "invalid": [], "chat_id": data["chat"], "model": p, "seconds": 0.1}
    for p in data["payloads"]
]
chat.opened = data["chat"]
chat""",
}
# In output areas: the sidebar (in the page too) has an outline and tasks of its own.
_WIDGET_ROOTS = {
    name: f".jp-OutputArea-output .ns-{name}"
    for name in ("tasks", "table", "outline", "graph", "search", "chat")
}


def _write_notebook(lab: Lab, seeded: Seeded) -> None:
    data = {
        "payloads": PAYLOADS,
        "hub": seeded.hub,
        "chat": seeded.chat,
        "mark": MARK,
        "table_kind": "task" if seeded.entity_refused else ENTITY_KIND,
    }
    (lab.root / "xss.json").write_text(json.dumps(data))
    notebook = nbformat.v4.new_notebook()
    cells = [_NOTEBOOK_SETUP, *_WIDGET_CELLS.values()]
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in cells]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    nbformat.write(notebook, lab.root / "xss.ipynb")


def test_every_widget_shows_the_payloads_inert(xss_lab: Lab, page: Any, seeded: Seeded) -> None:
    _write_notebook(xss_lab, seeded)
    page.goto(xss_lab.page_url("xss.ipynb"))
    run_all_cells(page)
    roots = {name: page.locator(selector) for name, selector in _WIDGET_ROOTS.items()}
    roots["tasks"].locator(".ns-task").first.wait_for(timeout=60_000)
    roots["table"].locator("tbody tr").first.wait_for(timeout=30_000)
    roots["search"].locator("li[data-id]").first.wait_for(timeout=30_000)
    roots["chat"].locator(".ns-preview .ns-markdown").wait_for(timeout=30_000)
    page.wait_for_function(
        "(s) => Number(document.querySelector(s)?.dataset.nodes) > 0", arg=_WIDGET_ROOTS["graph"]
    )

    # Open a few search results in the preview; hover and click what links there is.
    results = roots["search"].locator("li[data-id]")
    for i in range(0, min(results.count(), len(PAYLOADS)), 7):
        results.nth(i).click()
        roots["search"].locator(".ns-preview-title").wait_for()
        _hover_and_click_links(page, roots["search"].locator(".ns-preview"))
    _hover_and_click_links(page, roots["chat"])
    # The graph draws titles on a canvas; hovering shows one in a tooltip (as text).
    box = roots["graph"].locator("canvas").bounding_box()
    assert box is not None
    for x in range(10, int(box["width"]), 40):
        for y in range(10, int(box["height"]), 40):
            page.mouse.move(box["x"] + x, box["y"] + y)
    for name, selector in _WIDGET_ROOTS.items():
        assert page.locator(selector).count() >= 1, f"the {name} widget is not shown"
        _assert_inert(page, selector)


def test_the_canary_fires_when_markup_does_get_in(xss_lab: Lab, page: Any) -> None:
    # Injected the way a sanitiser bug would let it in: the canary must see it, in
    # JupyterLab's own page (its content security policy allows inline handlers).
    page.evaluate(
        "(html) => { const el = document.createElement('div'); el.id = 'ns-canary-check';"
        " el.innerHTML = html; document.body.append(el); }",
        PAYLOADS[0],
    )
    eventually(lambda: fired(page) == ["x01"], timeout=5)
    assert unsafe_markup(page.locator("#ns-canary-check").inner_html())

"""Every notebook repr of the package, fed every XSS payload in every user field,
shows nothing that can run (issue 12, hole 1).

JupyterLab renders the outputs of a cell the user ran as trusted: `text/html`
unsanitised, and `text/markdown` with raw HTML allowed. So each output is checked
as JupyterLab would show it (Markdown through markdown-it with HTML on), then
rendered in headless Chromium with a canary that must never fire.
"""

from __future__ import annotations

import ast
import datetime as dt
import html
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import nodespace_lab
from nodespace_lab import KnowledgeBase
from nodespace_lab.ai.ask import Answer, Citation, Source, finish, prepare
from nodespace_lab.ai.queries import QueryDraft
from nodespace_lab.ai.tasks import TaskDraft

from .xss_corpus import BY_ID, CANARY_JS, PAYLOADS, fired, unsafe_markup

PACKAGE = Path(nodespace_lab.__file__).parent
# IPython's rich display hooks: `_repr_html_`, `_repr_markdown_`, `_repr_mimebundle_`,
# `_repr_latex_`, `_repr_svg_`, ... and `_ipython_display_`.
_DISPLAY_HOOK = re.compile(r"^_repr_[a-z]+_$|^_ipython_display_$")
_METHOD_MIME = {
    "_repr_html_": "text/html",
    "_repr_markdown_": "text/markdown",
    "_repr_svg_": "image/svg+xml",
    "_repr_latex_": "text/latex",
    "_repr_json_": "application/json",
    "_repr_javascript_": "application/javascript",
    "_repr_pretty_": "text/plain",
}
# Mime types that carry no markup of ours (a widget's model id, plain text).
_INERT = {"text/plain", "application/vnd.jupyter.widget-view+json"}
CANONICAL = BY_ID["x01"]  # <img src=x onerror="window.__nsCanary('x01')">

Builder = Callable[[KnowledgeBase], Iterator[Any]]


def defined_display_hooks() -> set[str]:
    """`module.Class` of every class in the package's source that defines a display hook."""
    found: set[str] = set()
    for path in sorted(PACKAGE.rglob("*.py")):
        module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        module = module.removesuffix(".__init__")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef) and any(
                isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef)
                and _DISPLAY_HOOK.match(item.name)
                for item in node.body
            ):
                found.add(f"{module}.{node.name}")
    return found


# --- Objects with a payload in every user field ------------------------------


def _answers(kb: KnowledgeBase) -> Iterator[Answer]:
    for payload in PAYLOADS:
        source = Source(1, "n1", payload, "text", payload, "search")
        yield Answer(
            question=payload,
            text=f"{payload} [1] {payload}",
            citations=[Citation(1, "n1", payload)],
            sources=[source],
            invalid_citations=[payload],
            model=payload,
        )
    # The real path: retrieval over stored payload titles, the model's text checked.
    _payload_nodes(kb)
    prepared = prepare(kb, "Meeting")
    assert prepared.sources, "retrieval found none of the payload nodes"
    cited = " ".join(f"{s.title} [{s.number}]" for s in prepared.sources)
    yield finish(None, prepared, cited + " [99]")


def _query_drafts(kb: KnowledgeBase) -> Iterator[QueryDraft]:
    for payload in PAYLOADS:
        # `.code` shows the Cypher; a fence inside must not close the code block.
        cypher = f"RETURN 1 // ```\n{payload}\n````\n{payload}"
        yield QueryDraft(payload, "cypher", cypher=cypher, sources={payload: payload}, kb=kb)
        yield kb.draft_query(f"open tasks about {payload} #work", use_model=False)


def _task_drafts(kb: KnowledgeBase) -> Iterator[TaskDraft]:
    for payload in PAYLOADS:
        yield TaskDraft(
            sentence=payload,
            title=payload,
            due=dt.date(2026, 12, 4),
            priority=2,
            tags=[payload],
            links=[("n1", payload)],
            sources={"title": payload, "due": payload, "tags": payload, "links": payload},
            kb=kb,
        )
        yield kb.draft_task(f"email {payload} next Friday, p2 #work", use_model=False)


def _nodes(kb: KnowledgeBase) -> Iterator[Any]:
    for node in _payload_nodes(kb):
        yield kb.get(node)


def _live_queries(kb: KnowledgeBase) -> Iterator[Any]:
    ids = _payload_nodes(kb)
    # A frame's HTML shows about ten rows: pages of five show every payload. (Pages
    # by id, not `.order_by().offset()`: 36 such queries fill Ladybug's 64 MB buffer pool.)
    queries: list[Any] = [
        kb.find("thing").where("id", "in", ids[start : start + 5])
        for start in range(0, len(ids), 5)
    ]
    queries += [
        "MATCH (n:Node) WHERE n.kind = 'thing' RETURN n.id AS id, n.title LIMIT 5",
        # Column names are the query writer's: an alias may hold markup too.
        "MATCH (n:Node) RETURN n.id AS id, n.title AS `<img src=x onerror=alert(1)>` LIMIT 3",
    ]
    for query in queries:
        live = kb.live(query)
        yield live
        live.close()  # each open live query re-runs on every later write


def _payload_nodes(kb: KnowledgeBase) -> list[str]:
    """One `thing` per payload, with the payload as title, content, tag, text field
    and enum choice (created once per knowledge base)."""
    existing = kb.find("thing").ids() if "thing" in _kinds(kb) else []
    if existing:
        return list(existing)
    kb.define("thing", {"note": "text", "state": {"type": "enum", "choices": ["ok", *PAYLOADS]}})
    ids = []
    for payload in PAYLOADS:
        # Titles and tags are one line: their line breaks become spaces.
        line = " ".join(payload.splitlines())
        node = kb.create("thing", f"Meeting {line}", payload, note=payload, state=payload)
        kb.tag(node.id, line)
        ids.append(node.id)
    return ids


def _kinds(kb: KnowledgeBase) -> set[str]:
    return {row[0] for row in kb.cypher("MATCH (n:Node) RETURN DISTINCT n.kind").rows()}


# Every class with a display hook, and how to build it full of payloads. A new
# repr fails `test_every_display_hook_is_registered` until it is added here.
REGISTRY: dict[str, Builder] = {
    "nodespace_lab.ai.ask.Answer": _answers,
    "nodespace_lab.ai.queries.QueryDraft": _query_drafts,
    "nodespace_lab.ai.tasks.TaskDraft": _task_drafts,
    "nodespace_lab.nodes.model.Node": _nodes,
    "nodespace_lab.live.query.LiveQuery": _live_queries,
}


# --- What a notebook would show ------------------------------------------------


def display_outputs(obj: Any) -> list[tuple[str, str]]:
    """(mime type, data) of everything IPython would put in the output of `obj`."""
    outputs: list[tuple[str, str]] = []
    for name in sorted(n for n in dir(type(obj)) if _DISPLAY_HOOK.match(n)):
        hook = getattr(obj, name)
        if name == "_repr_mimebundle_":
            bundle = hook(include=None, exclude=None)
            data = bundle[0] if isinstance(bundle, tuple) else bundle
            outputs += [(mime, value) for mime, value in (data or {}).items()]
        elif name == "_ipython_display_":
            raise AssertionError(f"{type(obj).__name__}._ipython_display_: check it here")
        else:
            value = hook()
            if value is not None:
                outputs.append((_METHOD_MIME.get(name, name), value))
    return outputs


def jupyterlab_markdown(text: str) -> str:
    """`text` rendered as JupyterLab renders a trusted output's Markdown: raw HTML on."""
    from markdown_it import MarkdownIt

    parser = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
    return str(parser.render(text))


def unsafe_output(mime: str, data: Any) -> list[str]:
    """What in one output could run or restyle the page as JupyterLab shows it."""
    if mime in _INERT:
        return []
    if mime in {"text/html", "image/svg+xml"}:
        return unsafe_markup(str(data))
    if mime == "text/markdown":
        return unsafe_markup(jupyterlab_markdown(str(data)))
    return [f"{mime} output: not checked by this test (add a rule for it)"]


def shown_html(obj: Any) -> str:
    """The HTML JupyterLab would insert for `obj` (its richest markup output)."""
    outputs = dict(display_outputs(obj))
    if "text/html" in outputs:
        return str(outputs["text/html"])
    return jupyterlab_markdown(str(outputs.get("text/markdown", "")))


# --- Tests ------------------------------------------------------------------------


def test_every_display_hook_is_registered() -> None:
    defined = defined_display_hooks()
    assert defined, "no display hook found: is the package path right?"
    missing = defined - REGISTRY.keys()
    assert not missing, f"display hooks without an XSS test (add them to REGISTRY): {missing}"
    stale = REGISTRY.keys() - defined
    assert not stale, f"REGISTRY names classes without a display hook: {stale}"


def test_the_package_never_displays_markdown() -> None:
    """No `text/markdown` output and no `IPython.display.Markdown`: JupyterLab renders
    trusted Markdown with raw HTML allowed (see nodespace_lab/markdown.py)."""
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                (isinstance(node, ast.Constant) and node.value == "text/markdown")
                or (isinstance(node, ast.Name | ast.Attribute) and _name(node) == "Markdown")
                or (isinstance(node, ast.FunctionDef) and node.name == "_repr_markdown_")
            ):
                offenders.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    assert offenders == []


def _name(node: ast.Name | ast.Attribute) -> str:
    return node.id if isinstance(node, ast.Name) else node.attr


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_no_payload_survives_in_any_output(name: str, module_kb: KnowledgeBase) -> None:
    checked = 0
    for obj in REGISTRY[name](module_kb):
        for mime, data in display_outputs(obj):
            found = unsafe_output(mime, data)
            assert found == [], f"{name} {mime}: {found}\n{str(data)[:2000]}"
            checked += mime not in _INERT
    # One output per payload at least (live queries: one per page of five rows).
    assert checked >= len(PAYLOADS) // 5, f"{name}: only {checked} markup outputs checked"


def test_payloads_stay_readable_text(module_kb: KnowledgeBase) -> None:
    """The escaped title reads as written (not dropped, not double-escaped)."""
    answer = Answer("q", "See [1].", [Citation(1, "n1", f"Meeting {CANONICAL}")], [])
    draft = TaskDraft(sentence=CANONICAL, title=f"Meeting {CANONICAL}", tags=["a|b"])
    for obj in (answer, draft, module_kb.get(_payload_nodes(module_kb)[0])):
        text = html.unescape(re.sub(r"<[^>]+>", "", shown_html(obj)))
        assert f"Meeting {CANONICAL}" in text, text
    assert "a|b" in html.unescape(shown_html(draft))


def test_old_answer_repr_is_caught() -> None:
    """The check itself fails on the repr before the fix (Markdown with raw titles)."""
    title = f"Meeting {CANONICAL}"
    old_markdown = f"The notes say so [1].\n\n**Cited:** [1] {title}"  # the old _repr_markdown_
    assert unsafe_output("text/markdown", old_markdown), "the checker missed the old hole"


@dataclass
class CanaryPage:
    """A Chromium page with the canary; `hits` are kept in Python (a payload that
    navigates away cannot erase them)."""

    page: Any
    hits: list[str]

    def show(self, html: str) -> None:
        """Load `html` as the page's body and give its payloads time to run."""
        self.page.set_content(f"<!doctype html><html><body>{html}</body></html>")
        self.page.wait_for_timeout(300)  # image errors, autofocus, meta refresh, animations

    def fired(self) -> list[str]:
        """Every canary id that fired, in this document or an earlier one."""
        return sorted(set(self.hits) | set(fired(self.page)))


@pytest.fixture
def canary_page(chromium: Any) -> Iterator[CanaryPage]:
    """A canary page with no network and a link guard: http(s) and mailto links are
    stopped (they cannot run script here); a link of any other scheme runs."""
    context = chromium.new_context()
    hits: list[str] = []
    context.expose_binding("__nsReport", lambda _source, ident: hits.append(str(ident)))
    context.add_init_script(CANARY_JS)
    context.route("**/*", lambda route: route.abort())
    yield CanaryPage(context.new_page(), hits)
    context.close()


_CLICK_EVERYTHING = """() => {
  const inert = /^(https?|mailto):$/;
  const target = (link) => {
    const raw = link.getAttribute('href') ?? link.getAttribute('xlink:href');
    try { return raw === null ? null : new URL(raw, location.href); } catch { return raw; }
  };
  const seen = [];
  document.addEventListener('click', (event) => {
    const url = event.target.closest('a') && target(event.target.closest('a'));
    if (url instanceof URL && inert.test(url.protocol)) event.preventDefault();
  }, true);
  const click = () => new MouseEvent('click', {bubbles: true, cancelable: true, view: window});
  for (const link of document.querySelectorAll('a')) {
    const url = target(link);
    if (url !== null) seen.push(String(url));
    link.dispatchEvent(click());  // SVG and MathML links have no .click()
  }
  for (const el of document.querySelectorAll('body *')) {
    for (const type of ['mouseover', 'focus', 'toggle']) el.dispatchEvent(new Event(type));
  }
  const fixed = [...document.querySelectorAll('body *')]
    .filter((el) => ['fixed', 'absolute', 'sticky'].includes(getComputedStyle(el).position))
    .map((el) => el.outerHTML.slice(0, 120));
  return {links: seen, fixed, styles: document.querySelectorAll('style, link').length};
}"""


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_no_payload_runs_in_chromium(
    name: str, module_kb: KnowledgeBase, canary_page: CanaryPage
) -> None:
    canary_page.show("\n<hr>\n".join(shown_html(obj) for obj in REGISTRY[name](module_kb)))
    result = canary_page.page.evaluate(_CLICK_EVERYTHING)
    canary_page.page.wait_for_timeout(200)
    assert canary_page.fired() == [], f"{name}: the canary fired"
    assert canary_page.page.url == "about:blank", "a link, refresh or form took the page away"
    assert result["fixed"] == [] and result["styles"] == 0, result
    assert all(re.match(r"^(https?|mailto):", link) for link in result["links"]), result


def test_the_canary_page_catches_the_old_repr(canary_page: CanaryPage) -> None:
    """The browser check works: the old Answer repr, rendered as JupyterLab did, fires."""
    canary_page.show(
        jupyterlab_markdown(f"The notes say so [1].\n\n**Cited:** [1] Meeting {CANONICAL}")
    )
    assert canary_page.fired() == ["x01"]


@pytest.mark.embedded
def test_a_real_answer_over_a_payload_title_is_safe(
    kb_factory: Callable[..., KnowledgeBase], canary_page: CanaryPage
) -> None:
    """Stored payload titles, the real packaged Gemma answering through llama.cpp."""
    kb = kb_factory(ai={"answer_tokens": 64, "context_length": 2048, "threads": 1})
    payloads = [CANONICAL, BY_ID["x03"], BY_ID["x30"], BY_ID["x79"], BY_ID["x97"]]
    for payload in payloads:
        kb.create("text", f"Meeting {payload}", f"The meeting {payload} is on Friday at 10.")
    answer = kb.ask("When is the meeting?")
    assert answer.sources and answer.text.strip()
    assert any("<img" in s.title or "<svg" in s.title for s in answer.sources)
    for mime, data in display_outputs(answer):
        assert unsafe_output(mime, data) == [], (mime, data)
    canary_page.show(shown_html(answer))
    canary_page.page.evaluate(_CLICK_EVERYTHING)
    assert canary_page.fired() == []
    # What the model wrote is shown (escaped, not dropped), with the cited titles.
    text = html.unescape(re.sub(r"<[^>]+>", "", shown_html(answer)))
    assert " ".join(answer.text.split())[:40] in " ".join(text.split())
    assert all(c.title in text for c in answer.citations)


@pytest.mark.parametrize("render", ["ours", "jupyterlab"])
def test_escaped_text_is_literal_text(render: str) -> None:
    """`escape_markdown(p)` renders as exactly the text of `p` (one line), both with raw
    HTML off (ours) and on (JupyterLab's): no tag, link, image, entity or emphasis."""
    from nodespace_lab.markdown import escape_markdown, render_markdown

    for payload in [*PAYLOADS, "*a* _b_ `c` ~~d~~ &amp; &#60; \\* | x | # h\n- l\n1. n\n> q"]:
        source = f"Title: {escape_markdown(payload)}"
        shown = render_markdown(source) if render == "ours" else jupyterlab_markdown(source)
        assert re.fullmatch(r"<p>[^<]*</p>\n?", shown), (payload, shown)
        assert html.unescape(shown[3:].rstrip("\n")[:-4]) == "Title: " + " ".join(payload.split())


def test_a_code_block_holds_any_code() -> None:
    from nodespace_lab.markdown import code_block

    for code in [*PAYLOADS, "```\n<img src=x onerror=alert(1)>\n```", "`````` x"]:
        shown = jupyterlab_markdown(code_block(code, "python<img>"))
        assert shown.count("<pre>") == 1 and unsafe_markup(shown) == [], shown
        body = re.sub(r"^<pre><code[^>]*>|</code></pre>\n$", "", shown)
        # Markdown reads a CR as a line ending, like a newline.
        assert html.unescape(body) == code.replace("\r", "\n") + "\n"


# --- The reprs in a real JupyterLab (where the hole was) -----------------------

_LAB_CELLS = [
    """\
import json
import nodespace_lab as ns
from IPython.display import display
from nodespace_lab.ai.ask import Answer, Citation, Source
from nodespace_lab.ai.queries import QueryDraft
from nodespace_lab.ai.tasks import TaskDraft
payloads = json.load(open("payloads.json"))
lines = [" ".join(p.splitlines()) for p in payloads]
kb = ns.connect()""",
    """\
display(*[
    Answer(p, f"{p} [1]", [Citation(1, "n1", f"Meeting {p}")],
           [Source(1, "n1", p, "text", p, "search")], [p])
    for p in payloads
])""",
    """\
display(*[
    TaskDraft(sentence=p, title=line, tags=[line], links=[("n1", line)], sources={"title": p})
    for p, line in zip(payloads, lines)
])""",
    'display(*[QueryDraft(p, "cypher", cypher=p, sources={p: p}) for p in payloads])',
    'display(*[kb.create("text", f"Meeting {line}", p) for p, line in zip(payloads, lines)])',
    'print("all shown")',
]


def test_the_reprs_are_inert_in_a_real_jupyterlab(
    chromium: Any, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Trusted outputs of a notebook run in JupyterLab (no sanitiser of JupyterLab's own,
    MathJax typesetting on): hovered and clicked, the canary never fires."""
    import json

    import nbformat

    from ..browser.conftest import start_lab
    from ..browser.sidebar_helpers import run_all_cells

    with start_lab(tmp_path_factory.mktemp("xss-repr-lab")) as lab:
        (lab.root / "payloads.json").write_text(json.dumps(PAYLOADS))
        # Every output in the page at once (by default JupyterLab renders only cells
        # near the viewport, and at most 50 outputs of a cell).
        assert lab.settings_dir is not None
        tracker = lab.settings_dir / "@jupyterlab" / "notebook-extension"
        tracker.mkdir(parents=True, exist_ok=True)
        (tracker / "tracker.jupyterlab-settings").write_text(
            json.dumps({"windowingMode": "none", "maxNumberOutputs": 1000})
        )
        notebook = nbformat.v4.new_notebook()  # type: ignore[no-untyped-call]
        notebook.cells = [nbformat.v4.new_code_cell(cell) for cell in _LAB_CELLS]  # type: ignore[no-untyped-call]
        notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
        nbformat.write(notebook, lab.root / "reprs.ipynb")  # type: ignore[no-untyped-call]

        context = chromium.new_context(viewport={"width": 1400, "height": 1000})
        hits: list[str] = []
        context.expose_binding("__nsReport", lambda _source, ident: hits.append(str(ident)))
        context.add_init_script(CANARY_JS)
        try:
            page = context.new_page()
            page.goto(lab.page_url("reprs.ipynb"))
            run_all_cells(page)
            done = page.locator(".jp-OutputArea-output", has_text="all shown")
            deadline = time.monotonic() + 120
            while not hits and not done.count() and time.monotonic() < deadline:
                page.wait_for_timeout(200)
            page.wait_for_timeout(1000)  # image errors, MathJax, autofocus
            assert sorted(set(hits)) == [], "the canary fired"
            assert done.count() == 1, "the last cell did not run"
            outputs = page.locator(".jp-OutputArea-output[data-mime-type='text/html']")
            shown = outputs.evaluate_all("(els) => els.map((el) => el.innerHTML)")
            assert len(shown) >= 4 * len(PAYLOADS), f"only {len(shown)} HTML outputs"
            assert (
                page.locator(".jp-OutputArea-output[data-mime-type='text/markdown']").count() == 0
            )
            assert page.locator(".jp-OutputArea-output[data-mime-type$='error']").count() == 0
            for html_output in shown:
                # MathJax's own markup (typeset `$...$` of a payload) is JupyterLab's, not ours.
                ours = re.sub(r"<mjx-container.*?</mjx-container>", "", html_output, flags=re.S)
                assert unsafe_markup(ours) == [], html_output
            for link in page.locator(".jp-OutputArea-output a").all():
                link.hover()
                href = link.get_attribute("href")  # None: a relative link, dropped
                assert href is None or re.match(r"^(https?://|mailto:)", href), href
            assert sorted(set(hits) | set(fired(page))) == [], "the canary fired"
        finally:
            context.close()

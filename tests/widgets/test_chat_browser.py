"""ChatWidget's JavaScript in headless Chromium, against the real widget and model: typing
a question, the answer streaming into the pending turn, citations and sources opening a
preview, and hostile titles and content staying inert."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any

import pytest

from nodespace_lab import KnowledgeBase
from nodespace_lab.widgets import ChatWidget

from ..conftest import isolated_settings
from .host import WidgetHost
from .test_chat import FAST_AI, NOTES
from .test_sanitising_browser import HOSTILE_CONTENT, HOSTILE_TITLE

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="module")
def chat_kb(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[KnowledgeBase, dict[str, str]]]:
    """The notes of test_chat plus a hostile one (ids by title); one model process."""
    folder = tmp_path_factory.mktemp("chat-browser") / "kb"
    settings = isolated_settings(folder, folder.parent / "none.toml", ai=FAST_AI)
    with KnowledgeBase(folder, settings=settings) as kb:
        notes = {**NOTES, "Levain recipe": "Mix **50 g** rye flour with 50 g water."}
        ids = {title: kb.create("text", title, content).id for title, content in notes.items()}
        ids["hostile"] = kb.create("text", HOSTILE_TITLE, HOSTILE_CONTENT).id
        yield kb, ids


def answer_in_page(host: WidgetHost, widget: ChatWidget, el: Any) -> list[str]:
    """Relay messages until the widget has answered; the texts the pending turn showed."""
    shown: list[str] = []
    deadline = time.monotonic() + 60
    host.settle()  # the question reaches Python
    assert widget.turns, "no question was sent"
    while widget.busy:
        assert time.monotonic() < deadline, "no answer within 60 s"
        host.settle()
        pending = el.locator(".ns-pending")
        if pending.count():
            shown.append(pending.text_content())
        host.page.wait_for_timeout(20)
    host.settle()
    return shown


def assert_nothing_ran(host: WidgetHost, el: Any) -> None:
    """No injected script or handler ran, and none is in the widget's DOM."""
    host.page.wait_for_timeout(200)  # give an injected image time to fail and fire onerror
    assert host.page.evaluate("() => window.__pwned") is None
    assert el.locator("script, [onerror], iframe").count() == 0
    assert host.page_errors() == []


def test_a_typed_question_streams_its_answer_and_sources_open_a_preview(
    chat_kb: tuple[KnowledgeBase, dict[str, str]], host: WidgetHost
) -> None:
    kb, ids = chat_kb
    widget = ChatWidget(kb)
    el = host.show(widget)
    box = el.locator(".ns-chat-input")
    box.fill("How often should I feed")
    box.press("Shift+Enter")  # a new line, not a question
    box.type("my sourdough starter?")
    host.settle()
    assert widget.turns == []
    question = "How often should I feed\nmy sourdough starter?"
    assert box.input_value() == question
    box.press("Enter")
    host.settle()
    assert box.input_value() == ""
    assert el.locator(".ns-chat-send").is_disabled()
    assert el.locator(".ns-chat-status").inner_text() == "Answering…"

    shown = answer_in_page(host, widget, el)
    [turn] = widget.turns
    assert turn["question"] == question and "error" not in turn, turn
    streamed = [text for text in shown if text != "…"]
    assert streamed, f"the pending turn never showed streamed text: {shown}"
    if not turn["invalid"]:  # the final text is then exactly what was streamed
        assert turn["answer"].startswith(streamed[0])
    assert el.locator(".ns-pending").count() == 0
    assert el.locator(".ns-turn .ns-question").text_content() == question
    assert el.locator(".ns-turn .ns-answer").text_content() == turn["answer"]
    assert not el.locator(".ns-chat-send").is_disabled()
    assert el.locator(".ns-chat-status").inner_text() == widget.status != ""

    # Each kept [n] is a button naming its note; sources list every retrieved note.
    cites = el.locator(".ns-answer .ns-cite")
    assert cites.count() == sum(turn["answer"].count(f"[{c['number']}]") for c in turn["citations"])
    sources = el.locator("details.ns-sources")
    cited = {c["id"] for c in turn["citations"]}
    summary = f"Sources ({len(turn['sources'])}, {len(cited)} cited)"
    assert sources.locator("summary").inner_text() == summary
    sources.locator("summary").click()
    links = sources.locator(".ns-source .ns-link")
    assert links.all_inner_texts() == [s["title"] or "(untitled)" for s in turn["sources"]]
    assert links.first.get_attribute("data-id") == ids["Feeding the levain"]
    assert sources.locator(".ns-cited .ns-link").evaluate_all(
        "links => links.map(l => l.dataset.id)"
    ) == [s["id"] for s in turn["sources"] if s["id"] in cited]

    if turn["citations"]:
        cites.first.click()
        host.settle()
        cite_id = cites.first.get_attribute("data-id")
        first = next(c for c in turn["citations"] if c["id"] == cite_id)
        assert widget.opened == first["id"]
        assert el.locator(".ns-preview-title").inner_text() == first["title"]

    recipe = sources.locator(f".ns-link[data-id='{ids['Levain recipe']}']")
    if recipe.count():  # the recipe is retrieved too (rye flour + water)
        recipe.click()
        host.settle()
        assert el.locator(".ns-preview-title").inner_text() == "Levain recipe"
        assert el.locator(".ns-markdown strong").inner_text() == "50 g"
    links.first.click()
    host.settle()
    assert widget.opened == ids["Feeding the levain"]
    assert el.locator(".ns-preview").is_visible()
    assert el.locator(".ns-preview-title").inner_text() == "Feeding the levain"
    assert "twice a day" in el.locator(".ns-markdown p").inner_text()
    assert host.page_errors() == []


def test_hostile_titles_and_content_stay_text(
    chat_kb: tuple[KnowledgeBase, dict[str, str]], host: WidgetHost
) -> None:
    kb, ids = chat_kb
    widget = ChatWidget(kb)
    el = host.show(widget)
    el.locator(".ns-chat-input").fill("boom?")
    el.locator(".ns-chat-send").click()
    answer_in_page(host, widget, el)
    [turn] = widget.turns
    assert "error" not in turn, turn
    assert turn["sources"][0]["id"] == ids["hostile"]
    el.locator("details.ns-sources summary").click()
    source = el.locator(f".ns-source .ns-link[data-id='{ids['hostile']}']")
    assert source.inner_text() == HOSTILE_TITLE
    # The base model echoes its prompt, the hostile note included: as text.
    assert el.locator(".ns-answer").text_content() == turn["answer"]
    assert_nothing_ran(host, el)

    source.click()
    host.settle()
    assert el.locator(".ns-preview-title").inner_text() == HOSTILE_TITLE
    assert "raw link" in el.locator(".ns-preview").inner_text()
    hrefs = el.locator(".ns-preview a").evaluate_all("links => links.map(a => a.href)")
    assert not [href for href in hrefs if href.lower().startswith("javascript")]
    assert_nothing_ran(host, el)


def test_an_error_is_shown_as_text_and_the_next_question_can_be_asked(
    chat_kb: tuple[KnowledgeBase, dict[str, str]], host: WidgetHost
) -> None:
    kb, _ = chat_kb
    widget = ChatWidget(kb)
    el = host.show(widget)
    # A question longer than ask() takes: refused before the model, shown in the turn.
    long_question = "<b>why</b> " * 300
    el.locator(".ns-chat-input").fill(long_question)
    el.locator(".ns-chat-input").press("Enter")
    answer_in_page(host, widget, el)
    [turn] = widget.turns
    assert "at most 2000" in turn["error"]
    error = el.locator(".ns-turn .ns-answer.ns-error")
    assert error.inner_text() == turn["error"]
    assert el.locator(".ns-turn .ns-question").text_content() == long_question.strip()
    assert el.locator(".ns-turn b").count() == 0
    assert not el.locator(".ns-chat-send").is_disabled()

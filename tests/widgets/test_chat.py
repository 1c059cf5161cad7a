"""`ChatWidget` in Python: questions, streamed answers, turns with citations and sources,
the chat node, failures, the sanitised preview. The real packaged Gemma answers (a base
model: these tests check the mechanics, not the prose). They run embedded and, with
`NODESPACE_TEST_TRANSPORT=service`, through a service client.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from nodespace_lab import KnowledgeBase
from nodespace_lab.service.client import RemoteKnowledgeBase
from nodespace_lab.widgets import ChatWidget

from ..conftest import TEST_TRANSPORT, KBFactory, isolated_settings

# Before the model's process starts (it inherits the environment): see NOTES.md.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

# Short answers and a small context: the tests check mechanics, and 48 tokens take ~1 s.
FAST_AI: dict[str, Any] = {"answer_tokens": 48, "context_length": 2048, "threads": 1}
NOTES = {
    "Feeding the levain": "Feed the sourdough starter twice a day with equal weights of "
    "flour and water; keep it at room temperature.",
    "Bike maintenance": "Oil the bike chain every 300 km and check the tyre pressure weekly.",
    "Tomato seedlings": "Sow tomato seeds indoors in March; transplant after the last frost.",
}
AnyKB = KnowledgeBase | RemoteKnowledgeBase


@contextmanager
def transport(embedded: KnowledgeBase) -> Iterator[AnyKB]:
    """`embedded` itself, or a client of its service under NODESPACE_TEST_TRANSPORT=service."""
    if TEST_TRANSPORT != "service":
        yield embedded
        return
    from nodespace_lab.service.server import ServiceThread

    service = ServiceThread(embedded)
    client = RemoteKnowledgeBase(service.info)
    try:
        yield client
    finally:
        client.close()
        service.stop()


@pytest.fixture(scope="module")
def notes_kb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[AnyKB, dict[str, str]]]:
    """One knowledge base with three notes on distinct topics (ids by title), shared by the
    module so the model's process loads once."""
    folder = tmp_path_factory.mktemp("chat") / "kb"
    settings = isolated_settings(folder, folder.parent / "none.toml", ai=FAST_AI)
    with KnowledgeBase(folder, settings=settings) as embedded, transport(embedded) as kb:
        ids = {title: kb.create("text", title, content).id for title, content in NOTES.items()}
        yield kb, ids


def chat_nodes(kb: AnyKB) -> list[str]:
    """Ids of every chat node."""
    rows = kb.cypher("MATCH (n:Node) WHERE n.kind = 'chat' RETURN n.id").rows()
    return [row[0] for row in rows]


def test_an_answer_fills_a_turn_and_the_next_question_continues_the_chat(
    notes_kb: tuple[AnyKB, dict[str, str]],
) -> None:
    kb, ids = notes_kb
    widget = ChatWidget(kb)
    streamed: list[str] = []
    widget.observe(lambda change: streamed.append(change["new"]), names="streaming")

    question = "How often should I feed my sourdough starter?"
    widget.ask(question)
    assert widget.busy and widget.turns == [{"question": question, "pending": True}]
    widget.ask("A second question while the first is answered is ignored", wait=True)

    [turn] = widget.turns
    assert turn["question"] == question and "pending" not in turn and "error" not in turn
    assert not widget.busy and widget.streaming == "" and widget.error == ""
    [answer] = widget.answers
    assert turn["answer"] == answer.text and answer.text.strip()
    assert [piece for piece in streamed if piece], "nothing was streamed before the answer"
    assert turn["sources"][0]["id"] == ids["Feeding the levain"]
    assert turn["sources"][0]["reason"] == "search"
    source_ids = {source["id"] for source in turn["sources"]}
    assert {citation["id"] for citation in turn["citations"]} <= source_ids
    for citation in turn["citations"]:
        assert f"[{citation['number']}]" in turn["answer"]
    assert turn["model"] and re.fullmatch(rf"{re.escape(turn['model'])} · \d+\.\d s", widget.status)

    chat = kb.get(widget.conversation)
    assert chat.kind == "chat" and turn["chat_id"] == chat.id and question in chat.content
    assert {node.id for node in kb.links(chat.id)} == {c["id"] for c in turn["citations"]}

    widget.ask("When should I oil the bike chain?", wait=True)
    assert len(widget.turns) == 2 and widget.conversation == chat.id
    second = widget.turns[1]
    assert second["chat_id"] == chat.id
    assert second["sources"][0]["id"] == ids["Bike maintenance"]
    assert kb.get(chat.id).content.count("**Question:**") == 2
    cited = {c["id"] for t in widget.turns for c in t["citations"]}
    assert {node.id for node in kb.links(chat.id)} == cited
    assert chat.id not in {s["id"] for s in second["sources"]}  # answers are not evidence


def test_an_empty_question_does_nothing(notes_kb: tuple[AnyKB, dict[str, str]]) -> None:
    kb, _ = notes_kb
    before = chat_nodes(kb)
    widget = ChatWidget(kb)
    widget.ask("   \n ", wait=True)
    widget._dispatch(widget, {"type": "ask", "question": ""}, [])  # as the browser sends it
    assert widget.turns == [] and not widget.busy and widget.conversation == ""
    assert widget.error == ""
    assert chat_nodes(kb) == before


def test_a_model_failure_is_shown_in_the_turn(kb_factory: KBFactory, tmp_path: Path) -> None:
    missing = tmp_path / "models" / "none.gguf"
    ai = {**FAST_AI, "model_path": str(missing), "failure_threshold": 1, "cooldown_s": 60}
    with transport(kb_factory(ai=ai)) as kb:
        kb.create("text", "Feeding the levain", "Twice a day.")
        widget = ChatWidget(kb)
        widget.ask("How often do I feed the levain?", wait=True)
        [turn] = widget.turns
        assert "none.gguf" in turn["error"]
        assert not widget.busy and widget.streaming == "" and widget.status == ""
        assert widget.conversation == "" and widget.answers == []
        # The circuit breaker now refuses at once; the widget still takes questions.
        widget.ask("And now?", wait=True)
        assert len(widget.turns) == 2 and widget.turns[1]["error"]
        assert not widget.busy
        assert chat_nodes(kb) == []


def test_opening_a_node_previews_its_markdown_sanitised(
    notes_kb: tuple[AnyKB, dict[str, str]],
) -> None:
    kb, _ = notes_kb
    node = kb.create(
        "text",
        "Formatted <b>note</b>",
        "Some **bold** text <script>window.x=1</script>\n\n"
        '<img src=x onerror="window.x=2"> [bad](javascript:alert(1)) [good](https://example.org)',
    )
    widget = ChatWidget(kb)
    widget.opened = node.id
    preview = widget.preview
    assert (preview["id"], preview["kind"]) == (node.id, "text")
    assert preview["title"] == "Formatted <b>note</b>"  # titles stay text: the page escapes them
    html = preview["html"]
    assert "<strong>bold</strong>" in html and 'href="https://example.org"' in html
    assert "<script" not in html and not re.search(r"<[^>]*\son\w+=", html)  # no handlers
    assert not re.search(r"""(href|src)=["']?javascript""", html)
    widget.opened = ""
    assert widget.preview == {}

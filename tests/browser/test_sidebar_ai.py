"""The sidebar's AI parts in a real JupyterLab, with the real packaged Gemma in the lab's
service: the Ask section (streamed answer, sources that open editors, Stop), a task from
a sentence (an editable card, Add and Cancel) and search by meaning.

Python writes and checks through a client of the same service. The model is a base
model: the tests check the mechanics, not the prose.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from nodespace_lab.service.client import RemoteKnowledgeBase

from .conftest import Lab
from .sidebar_helpers import connect_remote, eventually, open_sidebar

NOTES = {
    "Feeding the levain": "Feed the sourdough starter twice a day with equal weights of "
    "flour and water; keep it at room temperature.",
    "Bike maintenance": "Oil the chain every 300 km and check the tyre pressure weekly.",
    "Tomato seedlings": "Sow tomato seeds indoors in March; transplant after the last frost.",
}
# Shares no word with the levain note: only search by meaning finds it.
PARAPHRASE = "what does my bread culture need to survive"
# The browser's local date `days` from today, as YYYY-MM-DD.
LOCAL_DAY = """(days) => {
  const d = new Date();
  d.setDate(d.getDate() + days);
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}"""


@pytest.fixture(scope="module")
def remote(lab: Lab) -> Iterator[RemoteKnowledgeBase]:
    """A Python client of the service the lab's server extension runs."""
    client = connect_remote(lab)
    yield client
    client.close()


@pytest.fixture(scope="module")
def notes(remote: RemoteKnowledgeBase) -> dict[str, str]:
    """Three notes on distinct topics in the lab's knowledge base (ids by title)."""
    return {title: remote.create("text", title, content).id for title, content in NOTES.items()}


def expand(details: Any) -> None:
    """Open a <details> element by clicking its summary (again if a re-layout ate the click)."""

    def is_open() -> bool:
        if details.get_attribute("open") is None:
            details.locator("summary").click()
        return details.get_attribute("open") is not None

    eventually(is_open)


def stored_answer(content: str, question: str) -> str:
    """The answer to `question` in a chat node's content."""
    turn = content.split(f"**Question:** {question}", 1)[1]
    answer = turn.split("**Answer:** ", 1)[1]
    return re.split(r"\n\n(?:\*\*Sources:\*\*|_Removed citations|\*\*Question:\*\*)", answer)[0]


def open_tasks(remote: RemoteKnowledgeBase) -> dict[str, Any]:
    """Open tasks by title."""
    return {node.title: node for node in remote.open_tasks(limit=500)}


def test_ask_streams_an_answer_whose_sources_open_editors(
    lab: Lab, lab_page: Any, remote: RemoteKnowledgeBase, notes: dict[str, str]
) -> None:
    page = lab_page
    sidebar = open_sidebar(lab, page)
    section = sidebar.locator(".ns-ask-section")
    question = "How often should I feed my sourdough starter?"
    section.locator(".ns-ask-input").fill(question)
    section.locator(".ns-ask-input").press("Enter")
    turn = section.locator(".ns-ask-log .ns-turn").last
    assert turn.locator(".ns-question").inner_text() == question
    assert section.locator(".ns-ask-input").input_value() == ""
    section.locator(".ns-ask-stop").wait_for()  # Stop shows while the model answers
    assert section.locator(".ns-ask-button").is_disabled()

    # Streamed: text arrives in the pending answer before the answer is final.
    page.wait_for_function(
        "(el) => el.classList.contains('ns-pending') && el.textContent.trim() !== '…'",
        arg=turn.locator(".ns-answer").element_handle(),
        timeout=60_000,
    )
    turn.locator(".ns-answer.ns-pending").wait_for(state="detached", timeout=90_000)
    answer = turn.locator(".ns-answer")
    assert "ns-error" not in (answer.get_attribute("class") or ""), answer.inner_text()
    status = section.locator(".ns-ask-status").inner_text()
    assert re.fullmatch(r".+ · \d+\.\d s", status), status
    assert section.locator(".ns-ask-stop").is_hidden()
    assert not section.locator(".ns-ask-button").is_disabled()

    # The exchange is stored as a chat node linked to what it cites, and every cited
    # note is among the sources listed under the answer.
    [chat] = [row for row in remote.search(question, kind="chat", mode="text")
              if row.title == question]  # fmt: skip
    cited = {node.id for node in remote.links(chat.id)}
    sources = turn.locator("details.ns-sources")
    expand(sources)
    links = sources.locator("li .ns-link")
    titles = links.all_text_contents()
    assert titles[0] == "Feeding the levain"
    assert {remote.get(node_id).title for node_id in cited} <= set(titles)
    assert turn.locator(".ns-cite").count() == len(re.findall(r"\[\d+\]", answer.inner_text()))
    assert sources.locator("summary").inner_text().endswith(f"{len(cited)} cited)")

    links.first.click()
    editor = page.locator(f".ns-editor[data-id='{notes['Feeding the levain']}']")
    editor.wait_for(timeout=10_000)
    # The editor fills its fields once the node has loaded.
    eventually(lambda: editor.locator(".ns-editor-title").input_value() == "Feeding the levain")

    # Stop ends an answer early, in the page and in the model: the chat keeps none of
    # it, or about what was shown (the full answer would be ~1500 characters).
    follow_up = "When should I oil the bike chain?"
    section.locator(".ns-ask-input").fill(follow_up)
    section.locator(".ns-ask-button").click()
    stopping = section.locator(".ns-ask-log .ns-turn").last.locator(".ns-answer")
    page.wait_for_function(
        "(el) => el.textContent.trim() !== '…'", arg=stopping.element_handle(), timeout=60_000
    )
    section.locator(".ns-ask-stop").click()
    eventually(lambda: stopping.inner_text().endswith("(stopped)"), timeout=10)
    assert section.locator(".ns-ask-stop").is_hidden()
    assert not section.locator(".ns-ask-button").is_disabled()
    shown = stopping.inner_text().removesuffix("(stopped)")
    remote.draft_task("buy milk")  # a model call: it runs once the model is free again
    content = remote.get(chat.id).content
    if f"**Question:** {follow_up}" in content:
        stored = stored_answer(content, follow_up)
        assert len(stored) <= len(shown) + 300, f"the model went on after Stop: {stored!r}"


def test_a_task_from_a_sentence_is_shown_edited_and_added(
    lab: Lab, lab_page: Any, remote: RemoteKnowledgeBase
) -> None:
    page = lab_page
    sidebar = open_sidebar(lab, page)
    section = sidebar.locator(".ns-tasks-section")
    sentence = section.locator(".ns-task-sentence")
    sentence.fill("call the dentist tomorrow, urgent")
    sentence.press("Enter")
    card = section.locator(".ns-task-draft")
    card.wait_for(timeout=60_000)
    assert card.locator(".ns-draft-title").input_value() == "Call the dentist"
    assert card.locator(".ns-draft-due").input_value() == page.evaluate(LOCAL_DAY, 1)
    assert card.locator(".ns-draft-priority").input_value() == "1"
    assert card.locator(".ns-draft-priority option:checked").inner_text() == "P1"
    assert "Call the dentist about the crown" not in open_tasks(remote)

    card.locator(".ns-draft-title").fill("Call the dentist about the crown")
    card.locator(".ns-draft-add").click()
    card.wait_for(state="hidden")
    assert sentence.input_value() == ""
    eventually(lambda: "Call the dentist about the crown" in open_tasks(remote))
    task = open_tasks(remote)["Call the dentist about the crown"]
    assert (str(task.due), task.priority) == (page.evaluate(LOCAL_DAY, 1), 1)
    entry = section.locator(".ns-task").filter(has_text="Call the dentist about the crown")
    entry.wait_for(timeout=5_000)
    assert entry.locator(".ns-priority").inner_text() == "P1"

    # Cancel drops the draft and writes nothing.
    seq = remote.seq
    sentence.fill("buy oat milk in two weeks")
    sentence.press("Enter")
    card.wait_for(timeout=60_000)
    assert card.locator(".ns-draft-due").input_value() == page.evaluate(LOCAL_DAY, 14)
    card.locator(".ns-draft-cancel").click()
    card.wait_for(state="hidden")
    page.wait_for_timeout(300)
    assert remote.seq == seq
    assert not [title for title in open_tasks(remote) if "oat milk" in title.lower()]


def test_search_by_meaning_finds_a_paraphrase(
    lab: Lab, lab_page: Any, notes: dict[str, str]
) -> None:
    sidebar = open_sidebar(lab, lab_page)
    section = sidebar.locator(".ns-search")
    mode = section.locator("select.ns-search-mode")
    assert mode.locator("option").all_inner_texts() == ["Words + meaning", "Words", "Meaning"]
    levain = section.locator(f".ns-hit[data-id='{notes['Feeding the levain']}']")

    mode.select_option("text")
    section.locator(".ns-search-input").fill(PARAPHRASE)
    section.locator(".ns-search-results li").first.wait_for()
    lab_page.wait_for_timeout(500)  # the search runs once typing pauses
    assert levain.count() == 0  # no word in common

    mode.select_option(label="Meaning")
    assert mode.input_value() == "semantic"
    levain.wait_for(timeout=30_000)
    hits = section.locator(".ns-hit").evaluate_all("hits => hits.map(h => h.dataset.id)")
    others = [notes["Bike maintenance"], notes["Tomato seedlings"]]
    assert all(hits.index(notes["Feeding the levain"]) < hits.index(i) for i in others if i in hits)

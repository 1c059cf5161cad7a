"""`%ask`, `%%ask`, `%task` and `%query` in a real IPython shell, with the real packaged
Gemma (a base model: the tests check what the magics return and write, not prose)."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

from nodespace_lab import KnowledgeBase
from nodespace_lab.live import LiveQuery
from nodespace_lab.widgets import ChatWidget

from ..conftest import db_state


@pytest.fixture(autouse=True)
def environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, engine: str) -> None:
    """Knowledge bases opened by the magics: engine under test, no user config, short answers."""
    monkeypatch.setenv("OMP_WAIT_POLICY", "PASSIVE")  # before the model's process starts
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    for name, value in {
        "CONFIG": str(tmp_path / "none.toml"),
        "STORAGE_ENGINE": engine,
        "STORAGE_BUFFER_POOL_MB": "64",
        "SEARCH_WRITER_HEAP_MB": "16",
        "SERVICE_RUNTIME_DIR": str(tmp_path / "runtime"),
        "AI_ANSWER_TOKENS": "48",
        "AI_CONTEXT_LENGTH": "2048",
        "AI_THREADS": "1",
    }.items():
        monkeypatch.setenv(f"NODESPACE_{name}", value)


@pytest.fixture
def shell(tmp_path: Path) -> Iterator[InteractiveShell]:
    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "nodespace_lab")
    ip.run_line_magic("nodespace", f"open {tmp_path / 'kb'}")
    yield ip
    ip.run_line_magic("nodespace", "close")


@pytest.fixture
def kb(shell: InteractiveShell) -> KnowledgeBase:
    """The knowledge base the magics use."""
    opened = shell.run_line_magic("nodespace", "")
    assert isinstance(opened, KnowledgeBase)
    return opened


def answered(widget: ChatWidget) -> ChatWidget:
    """`widget` once its question is answered (the magic returns at once)."""
    deadline = time.monotonic() + 60
    while widget.busy:
        assert time.monotonic() < deadline, "no answer within 60 s"
        time.sleep(0.05)
    return widget


def titles(live: LiveQuery) -> set[str]:
    """The titles in the live query's current rows."""
    return {row["title"] for row in live.rows}


def next_friday(today: dt.date) -> dt.date:
    """The Friday of next week (weeks start on Monday), as docs/ai.md defines 'next Friday'."""
    next_monday = today + dt.timedelta(days=7 - today.weekday())
    return next_monday + dt.timedelta(days=4)


def test_ask_returns_a_chat_widget_that_answers(shell: InteractiveShell, kb: KnowledgeBase) -> None:
    levain = kb.create("text", "Feeding the levain", "Feed the sourdough starter twice a day.")
    kb.create("text", "Bike maintenance", "Oil the chain every 300 km.")
    widget = answered(shell.run_line_magic("ask", "How often should I feed my sourdough starter?"))
    assert isinstance(widget, ChatWidget)
    [turn] = widget.turns
    assert turn["question"] == "How often should I feed my sourdough starter?"
    assert "error" not in turn and turn["answer"].strip()
    assert turn["sources"][0]["id"] == levain.id
    assert {c["id"] for c in turn["citations"]} <= {s["id"] for s in turn["sources"]}
    assert kb.get(widget.conversation).kind == "chat"

    # A %%ask cell: the line and the cell make one question; the chat node keeps it.
    asked = shell.run_cell_magic("ask", "When should I", "oil the bike chain?\n")  # type: ignore[no-untyped-call]
    cell = answered(asked)
    [turn] = cell.turns
    assert "error" not in turn, turn
    assert turn["question"] == "When should I oil the bike chain?"
    assert turn["question"] in kb.get(cell.conversation).content

    empty = shell.run_line_magic("ask", "")  # nothing asked yet: a chat to type into
    assert isinstance(empty, ChatWidget) and empty.turns == [] and not empty.busy


def test_a_multi_line_ask_cell_is_answered_and_stored(
    shell: InteractiveShell, kb: KnowledgeBase
) -> None:
    kb.create("text", "Bike maintenance", "Oil the chain every 300 km.")
    asked = shell.run_cell_magic("ask", "", "When should I oil\nthe bike chain?\n")  # type: ignore[no-untyped-call]
    widget = answered(asked)
    [turn] = widget.turns
    assert "error" not in turn, turn
    assert turn["question"] == "When should I oil\nthe bike chain?"
    chat = kb.get(widget.conversation)
    assert chat.kind == "chat" and chat.title == "When should I oil the bike chain?"


def test_task_shows_a_draft_that_add_writes_once(
    shell: InteractiveShell, kb: KnowledgeBase
) -> None:
    ana = kb.create("text", "Ana", "Co-author of the draft.")
    box = shell.run_line_magic("task", "email Ana next Friday, p2")
    draft = box.draft
    assert draft.due == next_friday(dt.date.today())
    assert draft.priority == 2
    assert draft.links == [(ana.id, "Ana")]
    assert "email" in draft.title.lower() and "friday" not in draft.title.lower()
    assert kb.find("task").count() == 0  # nothing is written before Add

    _, buttons, result = box.children
    add, discard = buttons.children
    assert add.description == "Add task" and discard.description == "Discard"
    add.click()
    [task] = kb.find("task").ids()
    node = kb.get(task)
    assert (node.title, node.due, node.priority) == (draft.title, draft.due, 2)
    assert [n.id for n in kb.links(node.id)] == [ana.id]
    assert node.id in result.value and add.disabled and discard.disabled


def test_discarding_a_task_draft_writes_nothing(shell: InteractiveShell, kb: KnowledgeBase) -> None:
    kb.create("text", "Ana", "Co-author of the draft.")
    before = db_state(kb)
    box = shell.run_line_magic("task", "call the dentist tomorrow, urgent")
    assert box.draft.due == dt.date.today() + dt.timedelta(days=1)
    assert box.draft.priority == 1
    _, buttons, result = box.children
    _, discard = buttons.children
    discard.click()
    assert "nothing was written" in result.value
    assert db_state(kb) == before


def test_query_shows_the_code_and_returns_a_live_query(
    shell: InteractiveShell, kb: KnowledgeBase
) -> None:
    kb.create("task", "Water the plants")
    kb.create("task", "Pay the rent", task_status="doing", due="2026-12-01")
    kb.create("task", "File the old taxes", task_status="done")
    kb.create("text", "Open questions", "Not a task.")
    with capture_output() as shown:
        live = shell.run_line_magic("query", "open tasks")
    # Sanitised HTML, never Markdown (JupyterLab renders trusted Markdown's raw HTML).
    assert all("text/markdown" not in out.data for out in shown.outputs)
    html = "\n".join(str(out.data.get("text/html", "")) for out in shown.outputs)
    code = "\n".join(str(out.data.get("text/plain", "")) for out in shown.outputs)
    assert "<pre><code" in html and "kb.find(" in html
    assert "kb.find('task')" in code and "task_status" in code
    assert isinstance(live, LiveQuery)
    assert titles(live) == {"Water the plants", "Pay the rent"}, code

    kb.create("task", "Written after the query")
    assert kb.live_registry.flush()
    assert titles(live) == {"Water the plants", "Pay the rent", "Written after the query"}


def test_empty_sentences_and_questions_are_usage_errors(
    shell: InteractiveShell, kb: KnowledgeBase
) -> None:
    before = db_state(kb)
    with pytest.raises(UsageError, match="%task needs a sentence"):
        shell.run_line_magic("task", "   ")
    with pytest.raises(UsageError, match="%query needs a question"):
        shell.run_line_magic("query", "")
    assert db_state(kb) == before


def test_a_line_magic_ending_in_a_question_mark_asks(
    shell: InteractiveShell, kb: KnowledgeBase
) -> None:
    """`%ask What does X say?` through IPython's own input transformation: the trailing
    `?` once made IPython look up help on `say` ("Object `say` not found")."""
    levain = kb.create("text", "Feeding the levain", "Feed the sourdough starter twice a day.")
    with capture_output() as shown:
        ran = shell.run_cell("%ask What does the levain note say?")  # type: ignore[no-untyped-call]
    assert ran.success, ran.error_in_exec
    assert "not found" not in shown.stdout
    widget = answered(ran.result)
    [turn] = widget.turns
    assert turn["question"] == "What does the levain note say?"
    assert turn["sources"][0]["id"] == levain.id

    # `%task ...?` is a sentence too, also indented inside a block and after other lines.
    ran = shell.run_cell("x = 1\nif x:\n    box = %task email Ana next Friday?\nbox")  # type: ignore[no-untyped-call]
    assert ran.success, ran.error_in_exec
    assert ran.result.draft.due == next_friday(dt.date.today())
    assert kb.find("task").count() == 0


def test_help_on_the_magics_still_works(shell: InteractiveShell) -> None:
    """`%ask?` and `%ask??` (no question) stay IPython's help on the magic."""
    transform = shell.input_transformer_manager.transform_cell
    assert transform("%ask?") == "get_ipython().run_line_magic('pinfo', '%ask')\n"
    assert transform("%task??") == "get_ipython().run_line_magic('pinfo2', '%task')\n"
    assert transform("%query due this week?") == (
        "get_ipython().run_line_magic('query', 'due this week?')\n"
    )
    cell = "%%bash\n%ask not a question for us?\n"
    assert transform(cell).startswith("get_ipython().run_cell_magic('bash', '', '%ask not")
    shell.run_line_magic("reload_ext", "nodespace_lab")
    cleanup = [getattr(t, "__name__", "") for t in shell.input_transformers_cleanup]
    assert cleanup.count("protect_questions") == 1

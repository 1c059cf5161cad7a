"""Sentences become task drafts and questions become queries, by rules (the packaged
model only where the grammar it decodes under is tested, bug 9b)."""

from __future__ import annotations

import datetime as dt

import pytest

from nodespace_lab.ai.queries import _find_messages, _find_schema, draft_query
from nodespace_lab.ai.tasks import draft_task
from nodespace_lab.errors import QueryError, ValidationError
from nodespace_lab.kb import KnowledgeBase
from nodespace_lab.models.backend import GenerationOptions
from nodespace_lab.models.llamacpp import LlamaCppBackend
from nodespace_lab.models.structured import structured

# Registered once per session, so the packaged Gemma loads once for all files.
pytest_plugins = ["tests.models.gemma_fixtures"]

THURSDAY = dt.date(2026, 11, 26)


def test_a_sentence_becomes_a_task_draft_and_nothing_is_written(kb: KnowledgeBase) -> None:
    ana = kb.create("text", "Ana")
    draft_doc = kb.create("text", "The draft")
    seq = kb.seq
    draft = draft_task(
        kb,
        "remind me to email Ana about the draft next Friday, high priority #work",
        today=THURSDAY,
    )
    assert draft.title == "Email Ana about the draft"
    assert draft.due == dt.date(2026, 12, 4)
    assert draft.priority == 2
    assert draft.tags == ["work"]
    assert {node_id for node_id, _ in draft.links} == {ana.id, draft_doc.id}
    assert "next Friday" in draft.sources["due"]
    assert kb.seq == seq  # a draft writes nothing
    assert "Nothing is written yet" in draft._repr_mimebundle_()["text/html"]

    task = draft.create()
    assert (task.kind, task.title, task.due, task.priority) == (
        "task", "Email Ana about the draft", dt.date(2026, 12, 4), 2,
    )  # fmt: skip
    assert kb.tags(task.id) == ["work"]
    assert {n.id for n in kb.links(task.id)} == {ana.id, draft_doc.id}


@pytest.mark.parametrize(
    ("sentence", "title", "priority"),
    [
        ("buy milk", "Buy milk", None),
        ("I need to renew the passport asap", "Renew the passport", 1),
        ("don't forget to water the plants tomorrow, low priority", "Water the plants", 4),
        ("task: file taxes p3", "File taxes", 3),
    ],
)
def test_titles_and_priorities_come_from_the_words(
    kb: KnowledgeBase, sentence: str, title: str, priority: int | None
) -> None:
    draft = draft_task(kb, sentence, today=THURSDAY)
    assert (draft.title, draft.priority) == (title, priority)


def test_a_sentence_with_nothing_to_do_is_refused(kb: KnowledgeBase) -> None:
    with pytest.raises(ValidationError, match="No task title left"):
        draft_task(kb, "next Friday, urgent", today=THURSDAY)
    with pytest.raises(ValidationError, match="needs a sentence"):
        draft_task(kb, "   ")


def test_a_question_becomes_a_checked_read_only_query(kb: KnowledgeBase) -> None:
    kb.create("task", "Due soon", due=dt.date(2026, 11, 28), priority=1)
    kb.create("task", "Due later", due=dt.date(2026, 12, 20))
    kb.create("task", "Already done", due=dt.date(2026, 11, 27), task_status="done")
    seq = kb.seq
    draft = draft_query(kb, "open tasks due this week", today=THURSDAY)
    assert draft.code == (
        "kb.find('task').where('task_status', 'in', ['todo', 'doing'])"
        ".where('due', '>=', date.fromisoformat('2026-11-26'))"
        ".where('due', '<=', date.fromisoformat('2026-11-29')).order_by('due').limit(50)"
    )
    assert draft.run()["title"].to_list() == ["Due soon"]
    overdue = draft_query(kb, "overdue tasks", today=dt.date(2026, 12, 25))
    assert overdue.run()["title"].to_list() == ["Due soon", "Due later"]
    urgent = draft_query(kb, "high priority tasks", today=THURSDAY)
    assert urgent.run()["title"].to_list() == ["Due soon"]
    assert kb.seq == seq


def test_a_query_draft_is_live(kb: KnowledgeBase) -> None:
    live = draft_query(kb, "notes about sourdough", today=THURSDAY).live()
    assert live.frame.height == 0
    kb.create("text", "Feeding the sourdough starter")
    kb.live_registry.flush()
    assert live.frame["title"].to_list() == ["Feeding the sourdough starter"]


def test_tags_in_a_question_must_exist(kb: KnowledgeBase) -> None:
    note = kb.create("text", "Bread")
    kb.tag(note.id, "kitchen")
    kb.create("text", "Not tagged")
    draft = draft_query(kb, "notes tagged #kitchen and #nosuchtag", today=THURSDAY)
    assert draft.spec["tags"] == ["kitchen"]
    assert draft.run()["title"].to_list() == ["Bread"]


def test_bad_modes_and_cypher_without_a_model_are_refused(kb: KnowledgeBase) -> None:
    with pytest.raises(ValidationError, match="mode 'sql' is not known"):
        draft_query(kb, "tasks", mode="sql")
    with pytest.raises(ValidationError, match="needs the model"):
        draft_query(kb, "tasks", mode="cypher")
    with pytest.raises((QueryError, ValidationError)):
        draft_query(kb, "")


def test_tags_and_questions_with_quotes_and_backslashes_reach_the_model(
    kb: KnowledgeBase, llama_backend: LlamaCppBackend
) -> None:
    # Bug 9b: the tag enum went into the model's GBNF grammar unescaped, so a tag with
    # a quote or backslash made a grammar llama.cpp cannot parse: the model was not used.
    weird = ['say "hi"', "back\\slash", "a]b", "kitchen"]
    kb.create("text", "Bread", tags=weird)
    question = 'notes about "sourdough" \\ starters]\n tagged kitchen'
    draft = draft_query(kb, question, model=llama_backend, today=THURSDAY)
    assert "model" not in draft.sources, draft.sources  # "not used (<grammar error>)" before
    assert draft.spec["tags"] == ["kitchen"]
    tags = sorted(t.lower() for t in weird)
    proposal = structured(
        llama_backend,
        _find_messages(question, tags),
        _find_schema(tags),
        GenerationOptions(max_tokens=64),
    )
    assert set(proposal) == {"topic", "tags"}
    assert set(proposal["tags"]) <= set(tags)

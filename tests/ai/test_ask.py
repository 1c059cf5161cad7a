"""`kb.ask()` over a small knowledge base with the real packaged Gemma (a base model:
these tests check retrieval, citations, storage and failure handling, not prose).
They run embedded and, in `make test`'s service pass, through the service."""

from __future__ import annotations

import pytest

from nodespace_lab.ai.ask import Prepared, Source, check_citations, finish
from nodespace_lab.errors import ModelUnavailable, ValidationError
from nodespace_lab.kb import KnowledgeBase
from nodespace_lab.models.backend import CancelToken

from ..conftest import KBFactory

NOTES = {
    "Feeding the levain": "Feed the sourdough starter twice a day with equal weights of "
    "flour and water; keep it at room temperature.",
    "Bike maintenance": "Oil the chain every 300 km and check the tyre pressure weekly.",
    "Tomato seedlings": "Sow tomato seeds indoors in March; transplant after the last frost.",
}


@pytest.fixture
def notes(kb: KnowledgeBase) -> dict[str, str]:
    return {title: kb.create("text", title, content).id for title, content in NOTES.items()}


def _sources(*titles: str) -> list[Source]:
    return [Source(n, f"id-{n}", t, "text", "", "search") for n, t in enumerate(titles, 1)]


def test_citations_of_retrieved_notes_are_kept_and_others_removed() -> None:
    sources = _sources("Feeding the levain", "Bike maintenance")
    text, cited, invalid = check_citations(
        "Feed it twice a day [1]. Oil the chain [2] [7].", sources
    )
    assert [c.id for c in cited] == ["id-1", "id-2"]
    assert invalid == ["[7]"]
    assert text == "Feed it twice a day [1]. Oil the chain [2]."
    assert check_citations("No citations here.", sources) == ("No citations here.", [], [])


def test_an_answer_is_stored_as_a_chat_linked_to_what_it_cites(
    kb: KnowledgeBase, notes: dict[str, str]
) -> None:
    sources = [
        Source(1, notes["Feeding the levain"], "Feeding the levain", "text", "", "search"),
        Source(2, notes["Bike maintenance"], "Bike maintenance", "text", "", "search"),
    ]
    prepared = Prepared("How often do I feed the starter?", sources, [], None)
    answer = finish(kb, prepared, "Twice a day [1], see also [3].")
    assert answer.invalid_citations == ["[3]"]
    chat = kb.get(answer.chat_id or "")
    assert chat.kind == "chat" and chat.parent_id == kb.journal().id
    assert {n.id for n in kb.links(chat.id)} == {notes["Feeding the levain"]}
    follow_up = finish(kb, Prepared("And the bike?", sources, [], chat.id), "Oil it [2].")
    assert follow_up.chat_id == chat.id
    assert {n.id for n in kb.links(chat.id)} == {
        notes["Feeding the levain"], notes["Bike maintenance"],
    }  # fmt: skip
    assert kb.get(chat.id).content.count("**Question:**") == 2


def test_ask_retrieves_answers_streams_and_keeps_only_valid_citations(
    kb: KnowledgeBase, notes: dict[str, str]
) -> None:
    pieces: list[str] = []
    answer = kb.ask("How often should I feed my sourdough starter?", on_piece=pieces.append)
    assert answer.sources, "retrieval found nothing"
    assert answer.sources[0].id == notes["Feeding the levain"]
    assert pieces and answer.model
    source_ids = {s.id for s in answer.sources}
    assert set(answer.cited_ids) <= source_ids
    assert all(f"[{c.number}]" in answer.text for c in answer.citations)
    chat = kb.get(answer.chat_id or "")
    assert chat.kind == "chat" and answer.question in chat.content
    assert {n.id for n in kb.links(chat.id)} == set(answer.cited_ids)
    # Earlier answers are never sources of later ones.
    again = kb.ask("How often should I feed my sourdough starter?", save=False)
    assert chat.id not in {s.id for s in again.sources}


def test_bad_questions_are_refused_before_the_model(kb: KnowledgeBase) -> None:
    with pytest.raises(ValidationError, match="non-empty text"):
        kb.ask("   ")
    with pytest.raises(ValidationError, match="at most 2000"):
        kb.ask("why " * 600)


@pytest.mark.embedded
def test_without_a_model_ask_says_why_and_search_still_works(
    kb_factory: KBFactory, tmp_path: pytest.TempPathFactory
) -> None:
    missing = f"{tmp_path}/models/none.gguf"
    kb = kb_factory(ai={"model_path": missing, "failure_threshold": 1, "cooldown_s": 60})
    note = kb.create("text", "Feeding the levain", "Twice a day.")
    with pytest.raises(ModelUnavailable, match=r"none\.gguf"):
        kb.ask("How often do I feed the levain?")
    with pytest.raises(ModelUnavailable, match="paused"):  # the breaker answers at once
        kb.ask("And now?")
    assert [hit.id for hit in kb.search("levain", mode="text")] == [note.id]
    assert kb.draft_task("feed the levain tomorrow").title == "Feed the levain"
    status = kb.ai_status()
    assert status["available"] is False and "none.gguf" in status["last_error"]


def test_a_cancelled_answer_is_not_stored(kb: KnowledgeBase, notes: dict[str, str]) -> None:
    sources = [Source(1, notes["Bike maintenance"], "Bike maintenance", "text", "", "search")]
    prepared = Prepared("When do I oil the chain?", sources, [], None)
    stopped = finish(kb, prepared, "Every 300 [1", finish_reason="cancelled")
    assert stopped.chat_id is None and stopped.finish_reason == "cancelled"
    assert kb.find("chat").all() == []


def test_ask_stops_when_its_cancel_token_is_cancelled(
    kb: KnowledgeBase, notes: dict[str, str]
) -> None:
    # The same call on both transports: through the service the token's cancel()
    # reaches the model with `POST ai/cancel`, and the stream ends as in-process.
    cancel = CancelToken()
    pieces: list[str] = []

    def on_piece(piece: str) -> None:
        pieces.append(piece)
        cancel.cancel()  # stop after the first piece

    answer = kb.ask("How often should I feed my sourdough starter?", on_piece=on_piece,
                    cancel=cancel)  # fmt: skip
    assert answer.finish_reason == "cancelled"
    assert answer.chat_id is None and kb.find("chat").all() == []
    whole: list[str] = []
    kb.ask("How often should I feed my sourdough starter?", save=False, on_piece=whole.append)
    assert 1 <= len(pieces) < len(whole)  # it stopped early

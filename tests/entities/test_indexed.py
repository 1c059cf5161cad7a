"""`indexed` fields: their values are searchable words of the entity's full-text document."""

from __future__ import annotations

import json

import polars as pl
import pytest

from nodespace_lab import KnowledgeBase


@pytest.fixture
def paper_kb(kb: KnowledgeBase) -> KnowledgeBase:
    kb.define(
        "paper",
        {
            "venue": {"type": "text", "indexed": True},
            "keywords": {"type": "list", "of": "text", "indexed": True},
            "stage": {"type": "enum", "choices": ["draft", "camera"], "indexed": True},
            "year": {"type": "integer", "indexed": True},
            "secret": "text",  # not indexed
        },
    )
    return kb


def test_indexed_values_are_found_with_a_snippet(paper_kb: KnowledgeBase) -> None:
    kb = paper_kb
    paper = kb.create(
        "paper", "Graph storage", "An abstract.", venue="Zurich Workshop",
        keywords=["hypergraphs", "columnar"], stage="camera", year=2024, secret="platypus",
    )  # fmt: skip
    kb.create("text", "Unrelated note")
    for words in ("zurich", "hypergraphs", "camera", "2024"):
        hits = kb.search(words)
        assert [h.id for h in hits] == [paper.id], words
    assert "Zurich Workshop" in kb.search("workshop")[0].snippet
    assert kb.search("platypus") == []  # a field that is not indexed
    assert kb.search("zurich", kind="text") == []


def test_search_follows_updates_and_deletes(paper_kb: KnowledgeBase) -> None:
    paper = paper_kb.create("paper", "P", venue="Oslo")
    paper_kb.update(paper.id, venue="Bergen")
    assert paper_kb.search("oslo") == []
    assert [h.id for h in paper_kb.search("bergen")] == [paper.id]
    paper_kb.delete(paper.id)
    assert paper_kb.search("bergen") == []


def test_making_a_field_indexed_reindexes_existing_entities(paper_kb: KnowledgeBase) -> None:
    paper = paper_kb.create("paper", "P", secret="platypus")
    assert paper_kb.search("platypus") == []
    paper_kb.change_field("paper", "secret", {"type": "text", "indexed": True})
    assert [h.id for h in paper_kb.search("platypus")] == [paper.id]
    paper_kb.change_field("paper", "secret", "text")
    assert paper_kb.search("platypus") == []
    paper_kb.undo()
    assert [h.id for h in paper_kb.search("platypus")] == [paper.id]


def test_imported_and_rebuilt_documents_carry_the_fields(paper_kb: KnowledgeBase) -> None:
    frame = pl.DataFrame(
        {
            "id": ["p1", "p2"],
            "kind": ["paper", "paper"],
            "title": ["One", "Two"],
            "properties": [json.dumps({"venue": "Lisbon"}), json.dumps({"keywords": ["tapir"]})],
        }
    )
    paper_kb.import_nodes(frame)
    assert [h.id for h in paper_kb.search("lisbon")] == ["p1"]
    assert paper_kb.reindex(vectors=False) == 2
    assert [h.id for h in paper_kb.search("tapir")] == ["p2"]

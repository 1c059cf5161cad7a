"""Schema evolution: each path, its errors, and that a refused step changes nothing."""

from __future__ import annotations

from typing import Any

import pytest

from nodespace_lab import KnowledgeBase
from nodespace_lab.errors import ValidationError


@pytest.fixture
def papers(kb: KnowledgeBase) -> KnowledgeBase:
    kb.define("paper", {"year": "text", "venue": "text"})
    kb.create("paper", "A", id="a", year="2024", venue="NeurIPS")
    kb.create("paper", "B", id="b", year="1999")
    kb.create("paper", "C", id="c")
    return kb


def _props(kb: KnowledgeBase) -> dict[str, dict[str, Any]]:
    return {i: kb.get(i).properties for i in ("a", "b", "c")}


def test_add_field_gives_existing_entities_the_default(papers: KnowledgeBase) -> None:
    schema = papers.add_field(
        "paper", "stage", {"type": "enum", "choices": ["x", "y"], "default": "x"}
    )
    assert schema.names() == ["year", "venue", "stage"] and schema.version == 2
    assert all(p["stage"] == "x" for p in _props(papers).values())
    assert papers.create("paper", "D", stage="y").properties["stage"] == "y"


def test_add_field_without_default_leaves_values_unset(papers: KnowledgeBase) -> None:
    papers.add_field("paper", "pages", "integer")
    assert "pages" not in papers.get("a").properties


def test_add_required_field_needs_a_default_when_entities_exist(papers: KnowledgeBase) -> None:
    before = _props(papers)
    with pytest.raises(ValidationError, match="has 3 entities, so the required field 'pages'"):
        papers.add_field("paper", "pages", {"type": "integer", "required": True})
    papers.add_field("paper", "pages", {"type": "integer", "required": True, "default": 1})
    assert all(p["pages"] == 1 for p in _props(papers).values())
    assert before["a"]["venue"] == "NeurIPS"


def test_add_existing_field_is_refused(papers: KnowledgeBase) -> None:
    with pytest.raises(ValidationError, match="already has a field 'venue'"):
        papers.add_field("paper", "venue", "text")


def test_rename_field_moves_values(papers: KnowledgeBase) -> None:
    papers.rename_field("paper", "venue", "where")
    assert papers.get("a").properties == {"year": "2024", "where": "NeurIPS"}
    assert papers.schema("paper").names() == ["year", "where"]
    with pytest.raises(ValidationError, match="has no field 'venue'"):
        papers.update("a", venue="x")


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("nope", "x", "has no field 'nope'"),
        ("venue", "year", "already has a field 'year'"),
        ("venue", "Title", "field name 'Title' is invalid"),
        ("venue", "content", "is reserved"),
    ],
)
def test_rename_errors(papers: KnowledgeBase, old: str, new: str, message: str) -> None:
    seq = papers.seq
    with pytest.raises(ValidationError, match=message):
        papers.rename_field("paper", old, new)
    assert papers.seq == seq


def test_change_type_converts_losslessly(papers: KnowledgeBase) -> None:
    papers.change_field("paper", "year", "integer")
    assert _props(papers)["a"]["year"] == 2024 and _props(papers)["b"]["year"] == 1999
    papers.change_field("paper", "year", "number")
    assert papers.get("a").properties["year"] == 2024.0
    assert isinstance(papers.get("a").properties["year"], float)
    papers.change_field("paper", "year", {"type": "list", "of": "integer"})
    assert papers.get("a").properties["year"] == [2024]
    papers.change_field("paper", "year", "text")
    assert papers.get("a").properties["year"] == "2024"


def test_change_type_lists_blockers_and_changes_nothing(papers: KnowledgeBase) -> None:
    papers.update("b", year="late 90s")
    before, seq = _props(papers), papers.seq
    with pytest.raises(ValidationError) as err:
        papers.change_field("paper", "year", "integer")
    message = str(err.value)
    assert "from text to integer: 1 entities block it" in message
    assert "'b' ('B')" in message and "'late 90s'" in message and "Nothing was changed" in message
    assert _props(papers) == before and papers.seq == seq
    assert papers.schema("paper").field("year").type == "text"


@pytest.mark.parametrize(
    ("start", "value", "target", "expected"),
    [
        ("date", "2024-01-02", "datetime", "2024-01-02T00:00:00"),
        ("datetime", "2024-01-02T00:00:00", "date", "2024-01-02"),
        ("datetime", "2024-01-02T10:00:00", "date", None),
        ("number", 3.5, "integer", None),
        ("number", 3.0, "integer", 3),
        ("text", "03", "integer", None),
        ("text", "true", "bool", True),
        ("text", "True", "bool", None),
        ("bool", False, "text", "false"),
        ("text", "b", {"type": "enum", "choices": ["a", "b"]}, "b"),
        ("text", "z", {"type": "enum", "choices": ["a", "b"]}, None),
        ({"type": "list", "of": "text"}, ["x", "y"], "text", None),
        ({"type": "list", "of": "text"}, ["x"], "text", "x"),
    ],
)
def test_conversions(kb: KnowledgeBase, start: Any, value: Any, target: Any, expected: Any) -> None:
    kb.define("thing", {"f": start})
    kb.create("thing", "T", id="t", f=value)
    if expected is None:
        with pytest.raises(ValidationError, match="1 entities block it"):
            kb.change_field("thing", "f", target)
        assert kb.get("t").properties["f"] == value
    else:
        kb.change_field("thing", "f", target)
        assert kb.get("t").properties["f"] == expected


def test_change_to_reference_checks_targets(kb: KnowledgeBase) -> None:
    kb.define("person", {})
    kb.define("paper", {"author": "text"})
    ada = kb.create("person", "Ada")
    kb.create("paper", "P", id="p", author=ada.id)
    kb.create("paper", "Q", id="q", author="nobody")
    with pytest.raises(ValidationError, match="refers to 'nobody', which does not exist"):
        kb.change_field("paper", "author", {"type": "ref", "to": "person"})
    kb.update("q", author=None)
    kb.change_field("paper", "author", {"type": "ref", "to": "person"})
    assert kb.schema("paper").field("author").to == "person"


def test_making_a_field_required_needs_values_or_default(papers: KnowledgeBase) -> None:
    with pytest.raises(ValidationError, match="no value, and the field becomes required"):
        papers.change_field("paper", "venue", {"type": "text", "required": True})
    papers.change_field("paper", "venue", {"type": "text", "required": True, "default": "?"})
    assert _props(papers)["c"]["venue"] == "?" and _props(papers)["a"]["venue"] == "NeurIPS"


def test_remove_field(papers: KnowledgeBase) -> None:
    papers.remove_field("paper", "venue")
    assert papers.get("a").properties == {"year": "2024"}
    with pytest.raises(ValidationError, match="has no field 'venue'"):
        papers.remove_field("paper", "venue")


def test_evolution_is_one_undoable_change_set(papers: KnowledgeBase) -> None:
    before = _props(papers)
    papers.rename_field("paper", "venue", "where")
    papers.undo()
    assert _props(papers) == before
    assert papers.schema("paper").names() == ["year", "venue"]


def test_deleted_entities_are_migrated_too(papers: KnowledgeBase) -> None:
    papers.delete("a")
    papers.rename_field("paper", "venue", "where")
    papers.restore("a")
    assert papers.get("a").properties["where"] == "NeurIPS"


def test_delete_kind_refused_while_entities_exist(papers: KnowledgeBase) -> None:
    with pytest.raises(ValidationError, match=r"still has 3 entities .*cascade=True"):
        papers.delete_kind("paper")
    assert papers.schema("paper")


def test_delete_kind_cascade_purges_entities_and_subtrees(papers: KnowledgeBase) -> None:
    note = papers.create("text", "note on A", parent="a")
    purged = papers.delete_kind("paper", cascade=True)
    assert set(purged) == {"a", "b", "c", note.id}
    assert papers.schemas() == [] and not papers.exists(note.id)
    papers.undo()
    assert papers.exists("a") and papers.exists(note.id)
    assert papers.schema("paper").names() == ["year", "venue"]


def test_delete_empty_kind(kb: KnowledgeBase) -> None:
    kb.define("paper", {"year": "integer"})
    assert kb.delete_kind("paper") == []
    with pytest.raises(Exception, match="not defined"):
        kb.create("paper", "P")

"""Defining entity kinds and validating entity writes against them (issue 6, part 1)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from nodespace_lab import KnowledgeBase
from nodespace_lab.errors import NotFound, ValidationError
from tests.conftest import KBFactory

FIELDS: dict[str, Any] = {
    "year": {"type": "integer", "required": True, "description": "Publication year"},
    "venue": "text",
    "score": "number",
    "open_access": "bool",
    "published": "date",
    "reviewed_at": "datetime",
    "stage": {"type": "enum", "choices": ["draft", "submitted", "published"], "default": "draft"},
    "first_author": {"type": "ref", "to": "person"},
    "authors": {"type": "ref", "to": "person", "many": True},
    "keywords": {"type": "list", "of": "text", "indexed": True},
    "seen_on": {"type": "list", "of": "date"},
}


@pytest.fixture
def paper_kb(kb: KnowledgeBase) -> KnowledgeBase:
    kb.define("person", {"name": "text"})
    kb.define("paper", FIELDS, description="A published paper")
    return kb


def _count(kb: KnowledgeBase, kind: str) -> int:
    return int(kb.cypher("MATCH (n:Node) WHERE n.kind = $k RETURN count(n)", {"k": kind})[0, 0])


def test_define_and_create_with_every_type(paper_kb: KnowledgeBase) -> None:
    kb = paper_kb
    ada = kb.create("person", "Ada", name="Ada Lovelace")
    node = kb.create(
        "paper", "Graphs", year=2024, venue="NeurIPS", score=4, open_access=True,
        published=dt.date(2024, 12, 1), reviewed_at="2024-11-02T10:30:00+01:00",
        first_author=ada.id, authors=[ada.id], keywords=["graphs", "kb"],
        seen_on=["2024-12-02"],
    )  # fmt: skip
    assert node.properties == {
        "year": 2024, "venue": "NeurIPS", "score": 4.0, "open_access": True,
        "published": "2024-12-01", "reviewed_at": "2024-11-02T09:30:00", "stage": "draft",
        "first_author": ada.id, "authors": [ada.id], "keywords": ["graphs", "kb"],
        "seen_on": ["2024-12-02"],
    }  # fmt: skip
    values = kb.entity_values(node.id)
    assert values["published"] == dt.date(2024, 12, 1)
    assert values["reviewed_at"] == dt.datetime(2024, 11, 2, 9, 30)
    assert values["seen_on"] == [dt.date(2024, 12, 2)]
    assert list(values) == list(FIELDS)


def test_brief_example(paper_kb: KnowledgeBase) -> None:
    node = paper_kb.create("paper", "Title", year=2024, venue="NeurIPS")
    assert node.kind == "paper" and node.properties["venue"] == "NeurIPS"
    with pytest.raises(ValidationError) as err:
        paper_kb.create("paper", "T", year="soon")
    message = str(err.value)
    assert "'T'" in message and "'year'" in message and "'soon'" in message
    assert "an integer" in message


BAD_VALUES = [
    ("year", "soon", "an integer"),
    ("year", 2024.0, "an integer"),
    ("year", True, "an integer"),
    ("year", 2**63, "an integer"),
    ("score", "high", "a number"),
    ("score", float("nan"), "a number"),
    ("score", False, "a number"),
    ("open_access", 1, "true or false"),
    ("published", "31/12/2024", "a date YYYY-MM-DD"),
    ("published", dt.datetime(2024, 1, 1), "a date YYYY-MM-DD"),
    ("reviewed_at", "yesterday", "a date and time"),
    ("stage", "rejected", "one of 'draft', 'submitted', 'published'"),
    ("venue", 3, "text"),
    ("venue", "a\x00b", "text"),
    ("venue", "\ud800", "text"),
    ("first_author", 7, "the id of a person node"),
    ("first_author", "", "the id of a person node"),
    ("authors", "not-a-list", "a list of ids of person nodes"),
    ("keywords", ["ok", 3], "text"),
    ("seen_on", ["nope"], "a date YYYY-MM-DD"),
]


@pytest.mark.parametrize(("name", "value", "allowed"), BAD_VALUES)
def test_bad_value_is_refused_naming_everything(
    paper_kb: KnowledgeBase, name: str, value: object, allowed: str
) -> None:
    with pytest.raises(ValidationError) as err:
        paper_kb.create("paper", "Bad one", **({"year": 2020} | {name: value}))
    message = str(err.value)
    assert "New paper 'Bad one'" in message and repr(name) in message
    assert allowed in message
    assert _count(paper_kb, "paper") == 0


def test_update_is_validated_and_writes_nothing_when_bad(paper_kb: KnowledgeBase) -> None:
    node = paper_kb.create("paper", "Good", year=2020)
    with pytest.raises(ValidationError, match=rf"Paper '{node.id}' \('Good'\) field 'year'"):
        paper_kb.update(node.id, year="later", venue="ICML")
    again = paper_kb.get(node.id)
    assert again.version == node.version and "venue" not in again.properties
    updated = paper_kb.update(node.id, venue="ICML")
    assert updated.properties == {"year": 2020, "venue": "ICML", "stage": "draft"}
    cleared = paper_kb.update(node.id, venue=None)
    assert "venue" not in cleared.properties


def test_required_field(paper_kb: KnowledgeBase) -> None:
    with pytest.raises(ValidationError, match="field 'year' is required: give an integer"):
        paper_kb.create("paper", "No year")
    node = paper_kb.create("paper", "Year", year=1999)
    with pytest.raises(ValidationError, match="'year' is required"):
        paper_kb.update(node.id, year=None)
    assert _count(paper_kb, "paper") == 1


def test_unknown_field(paper_kb: KnowledgeBase) -> None:
    with pytest.raises(ValidationError, match="has no field 'colour'; fields of paper are year"):
        paper_kb.create("paper", "X", year=1, colour="red")
    with pytest.raises(ValidationError, match="has no field 'colour'"):
        paper_kb.create("paper", "X", year=1, properties={"colour": "red"})


def test_properties_dict_is_checked_like_fields(paper_kb: KnowledgeBase) -> None:
    node = paper_kb.create("paper", "P", properties={"year": 2001, "venue": "X"})
    assert node.properties["year"] == 2001
    with pytest.raises(ValidationError, match="field 'year' must be an integer"):
        paper_kb.update(node.id, properties={"year": "x"})


def test_references_must_exist_be_live_and_of_the_kind(paper_kb: KnowledgeBase) -> None:
    kb = paper_kb
    note = kb.create("text", "A note")
    ada = kb.create("person", "Ada")
    with pytest.raises(ValidationError, match="refers to 'nope', which does not exist"):
        kb.create("paper", "P", year=1, first_author="nope")
    with pytest.raises(
        ValidationError, match=r"refers to '.*', a text node; give the id of a person"
    ):
        kb.create("paper", "P", year=1, authors=[ada.id, note.id])
    kb.delete(ada.id)
    with pytest.raises(ValidationError, match="which is deleted"):
        kb.create("paper", "P", year=1, first_author=ada.id)
    assert _count(kb, "paper") == 0


def test_reference_to_any_kind(kb: KnowledgeBase) -> None:
    kb.define("bookmark", {"target": {"type": "ref"}})
    note = kb.create("text", "Anything")
    assert kb.create("bookmark", "B", target=note.id).properties["target"] == note.id


def test_defaults_apply_on_create_only(paper_kb: KnowledgeBase) -> None:
    node = paper_kb.create("paper", "P", year=1)
    assert node.properties["stage"] == "draft"
    node = paper_kb.update(node.id, stage="submitted")
    assert paper_kb.update(node.id, venue="V").properties["stage"] == "submitted"


def test_entity_can_live_in_the_tree_and_be_undone(paper_kb: KnowledgeBase) -> None:
    parent = paper_kb.create("text", "Reading list")
    node = paper_kb.create("paper", "P", year=1, parent=parent.id)
    assert [c.id for c in paper_kb.children(parent.id)] == [node.id]
    paper_kb.update(node.id, year=2)
    paper_kb.undo()
    assert paper_kb.get(node.id).properties["year"] == 1


# -- defining kinds: errors -------------------------------------------------------


BAD_DEFINITIONS: list[tuple[str, Any, str]] = [
    ("Paper", {}, "Kind name 'Paper' is invalid"),
    ("paper", {"Year": "integer"}, "field name 'Year' is invalid"),
    ("paper", {"title": "text"}, "field name 'title' is reserved"),
    ("paper", {"parent": "text"}, "field name 'parent' is reserved"),
    ("paper", {"year": "int"}, "has type 'int'; use one of text, number"),
    ("paper", {"year": 3}, "is not a type name or a table"),
    ("paper", {"year": {"type": "integer", "colour": 1}}, "unknown option 'colour'"),
    ("paper", {"year": {"type": "integer", "default": "x"}}, "default must be an integer"),
    ("paper", {"year": {"type": "integer", "required": "yes"}}, "required must be true or false"),
    ("paper", {"s": {"type": "enum"}}, "give choices"),
    ("paper", {"s": {"type": "enum", "choices": ["a", "a"]}}, "distinct"),
    ("paper", {"s": {"type": "text", "choices": ["a"]}}, "choices only apply to enum"),
    ("paper", {"s": {"type": "list"}}, "is a list: set of to one of"),
    ("paper", {"s": {"type": "list", "of": "ref"}}, "is a list: set of to one of"),
    ("paper", {"s": {"type": "text", "of": "text"}}, "'of' only applies to lists"),
    ("paper", {"s": {"type": "text", "to": "person"}}, "only apply to references"),
    ("paper", {"s": {"type": "ref", "to": "Person"}}, "Kind name 'Person' is invalid"),
    (
        "paper",
        {"s": {"type": "ref", "expression": "1 + 1"}},
        "is calculated, so its type is one of",
    ),
    ("paper", ["year"], "fields must be a mapping"),
    ("task", {"x": "text"}, "is a built-in or plugin kind"),
    ("text", {}, "is a built-in or plugin kind"),
]


@pytest.mark.parametrize(("name", "fields", "message"), BAD_DEFINITIONS)
def test_bad_definition_is_refused(kb: KnowledgeBase, name: str, fields: Any, message: str) -> None:
    with pytest.raises(ValidationError, match=message.replace("(", r"\(")):
        kb.define(name, fields)
    assert kb.schemas() == []


def test_redefining_same_is_a_no_op_and_different_is_refused(kb: KnowledgeBase) -> None:
    first = kb.define("paper", {"year": "integer"})
    seq = kb.seq
    assert kb.define("paper", {"year": "integer"}) == first
    assert kb.seq == seq
    with pytest.raises(ValidationError, match="already defined with other fields"):
        kb.define("paper", {"year": "text"})


def test_schema_of_unknown_kind(kb: KnowledgeBase) -> None:
    with pytest.raises(NotFound, match="Entity kind 'paper' is not defined"):
        kb.schema("paper")


def test_schemas_persist_across_reopen(kb_factory: KBFactory) -> None:
    kb = kb_factory()
    kb.define("paper", FIELDS | {"first_author": "text", "authors": "text"}, description="Papers")
    node = kb.create("paper", "P", year=2000)
    kb.close()
    kb = kb_factory()
    schema = kb.schema("paper")
    assert schema.description == "Papers" and schema.names() == list(FIELDS)
    assert schema.field("stage").choices == ("draft", "submitted", "published")
    assert schema.field("keywords").indexed
    with pytest.raises(ValidationError, match="must be an integer"):
        kb.update(node.id, year="x")


def test_schema_change_is_in_the_change_log_and_undoable(kb: KnowledgeBase) -> None:
    kb.define("paper", {"year": "integer"})
    change = kb.changes()[-1]
    assert [op.op for op in change.ops] == ["schema"]
    assert json.loads(change.ops[0].after["spec"])["name"] == "paper"  # type: ignore[index]
    kb.undo()
    assert kb.schemas() == []


def test_two_knowledge_bases_in_one_process_keep_their_own_schemas(
    kb_factory: KBFactory, tmp_path: Any
) -> None:
    one = kb_factory(tmp_path / "one")
    two = kb_factory(tmp_path / "two")
    one.define("paper", {"year": "integer"})
    two.define("paper", {"year": "text"})
    assert one.create("paper", "A", year=1).properties == {"year": 1}
    assert two.create("paper", "B", year="one").properties == {"year": "one"}
    with pytest.raises(ValidationError, match="must be an integer"):
        one.create("paper", "C", year="one")
    three = kb_factory(tmp_path / "three")
    with pytest.raises(NotFound, match="not defined in this knowledge base"):
        three.create("paper", "D")

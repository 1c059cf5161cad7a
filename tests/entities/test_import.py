"""`kb.import_nodes(frame)` with entity rows: checked against the schema exactly like create()."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import polars as pl
import pytest

from nodespace_lab import KnowledgeBase, NodespaceError
from nodespace_lab.errors import NotFound, ValidationError
from tests.conftest import KBFactory

FIELDS: dict[str, Any] = {
    "year": {"type": "integer", "required": True},
    "venue": "text",
    "score": "number",
    "open_access": "bool",
    "published": "date",
    "reviewed_at": "datetime",
    "stage": {"type": "enum", "choices": ["draft", "done"], "default": "draft"},
    "first_author": {"type": "ref", "to": "person"},
    "authors": {"type": "ref", "to": "person", "many": True},
    "keywords": {"type": "list", "of": "text"},
}


@pytest.fixture
def paper_kb(kb: KnowledgeBase) -> KnowledgeBase:
    kb.define("person", {"name": "text"})
    kb.define("paper", FIELDS)
    return kb


@pytest.fixture
def refused(paper_kb: KnowledgeBase, snapshot: Any) -> Callable[..., Any]:
    """`with refused(Error, *fragments):` raises it naming every fragment, and writes nothing."""

    @contextmanager
    def check(error: type[NodespaceError], *fragments: str) -> Iterator[None]:
        before = snapshot(paper_kb)
        with pytest.raises(error) as caught:
            yield
        for fragment in [*fragments, "nothing was imported"]:
            assert fragment in str(caught.value), f"{fragment!r} not in {caught.value}"
        assert snapshot(paper_kb) == before

    return check


def _papers(*values: dict[str, Any], ids: list[str] | None = None) -> pl.DataFrame:
    names = ids or [f"p{i}" for i in range(len(values))]
    return pl.DataFrame(
        {
            "id": names,
            "kind": ["paper"] * len(values),
            "title": [f"Paper {n}" for n in names],
            "properties": [json.dumps(v) for v in values],
        }
    )


def _raw_properties(kb: KnowledgeBase, node_id: str) -> str:
    found = kb.cypher("MATCH (n:Node {id: $id}) RETURN n.properties", {"id": node_id})
    return str(found[0, 0])


def test_imported_entities_are_stored_exactly_as_created(paper_kb: KnowledgeBase) -> None:
    kb = paper_kb
    ada = kb.create("person", "Ada")
    values = {
        "year": 2024, "venue": "Über VLDB", "score": 4, "open_access": True,
        "published": "2024-08-26", "reviewed_at": "2024-05-01T10:00:00+02:00",
        "first_author": ada.id, "authors": [ada.id], "keywords": ["graphs", "kb"],
    }  # fmt: skip
    created = kb.create("paper", "Created", **values)
    assert kb.import_nodes(_papers(values)) == 1
    imported = kb.get("p0")
    assert imported.properties == created.properties
    assert imported.properties["score"] == 4.0 and imported.properties["stage"] == "draft"
    assert imported.properties["reviewed_at"] == "2024-05-01T08:00:00"
    assert _raw_properties(kb, "p0") == _raw_properties(kb, created.id)


def test_defaults_fill_absent_fields_and_null_clears(paper_kb: KnowledgeBase) -> None:
    paper_kb.import_nodes(_papers({"year": 1}, {"year": 2, "stage": "done"}, {"year": 3}))
    assert [paper_kb.get(f"p{i}").properties.get("stage") for i in range(3)] == [
        "draft",
        "done",
        "draft",
    ]
    paper_kb.import_nodes(_papers({"year": 4, "stage": None, "venue": None}, ids=["q"]))
    assert paper_kb.get("q").properties == {"year": 4}
    assert paper_kb.create("paper", "Same", year=4, stage=None).properties == {"year": 4}


def test_references_to_rows_of_the_same_frame_and_to_existing_nodes(
    paper_kb: KnowledgeBase,
) -> None:
    ada = paper_kb.create("person", "Ada")
    frame = pl.DataFrame(
        {
            "id": ["paper-1", "bob"],
            "kind": ["paper", "person"],
            "title": ["Graphs", "Bob"],
            "properties": [
                json.dumps({"year": 2020, "first_author": "bob", "authors": ["bob", ada.id]}),
                json.dumps({"name": "Bob B."}),
            ],
        }
    )
    assert paper_kb.import_nodes(frame) == 2
    assert paper_kb.get("paper-1").properties["authors"] == ["bob", ada.id]
    assert paper_kb.find("paper").where("authors", "contains", "bob").ids() == ["paper-1"]


def test_properties_given_as_dicts(paper_kb: KnowledgeBase) -> None:
    frame = pl.DataFrame(
        {
            "id": ["a", "b"],
            "kind": ["paper", "paper"],
            "title": ["A", "B"],
            "properties": [{"year": 2001, "venue": "X"}, {"year": 2002}],
        }
    )
    assert isinstance(frame.schema["properties"], pl.Struct)
    paper_kb.import_nodes(frame)
    assert paper_kb.get("a").properties == {"year": 2001, "venue": "X", "stage": "draft"}
    # A struct column has every key in every row: a missing one is null, not given.
    assert paper_kb.get("b").properties == {"year": 2002, "stage": "draft"}


def test_mixed_frame_and_many_rows(paper_kb: KnowledgeBase) -> None:
    n = 5_000
    venues = ["VLDB", "SIGMOD", "CIDR"]
    frame = pl.DataFrame(
        {
            "id": [f"e{i}" for i in range(n)] + ["note"],
            "kind": ["paper"] * n + ["text"],
            "title": [f"Paper {i}" for i in range(n)] + ["A note"],
            "properties": [
                json.dumps({"year": 2000 + i % 25, "venue": venues[i % 3], "keywords": [str(i)]})
                for i in range(n)
            ]
            + ['{"doi": "10/x"}'],
        }
    )
    assert paper_kb.import_nodes(frame) == n + 1
    assert paper_kb.find("paper").where("year", "=", 2024).count() == n // 25
    assert paper_kb.get("e7").properties == {
        "year": 2007,
        "venue": "SIGMOD",
        "keywords": ["7"],
        "stage": "draft",
    }
    assert paper_kb.get("note").properties == {"doi": "10/x"}


def test_imported_entities_can_be_evolved(paper_kb: KnowledgeBase) -> None:
    paper_kb.import_nodes(_papers({"year": 2001}, {"year": 2002}))
    paper_kb.change_field("paper", "year", "number")
    assert paper_kb.get("p1").properties["year"] == 2002.0


BAD_ROWS: list[tuple[dict[str, Any], tuple[str, ...]]] = [
    ({"year": "soon"}, ("Import row 1 (paper 'p1') field 'year'", "an integer", "'soon'")),
    ({"year": 2024.0}, ("field 'year' must be an integer, not 2024.0 (number)",)),
    ({"year": True}, ("field 'year' must be an integer, not True (bool)",)),
    ({"year": 1, "score": "high"}, ("field 'score' must be a number, not 'high'",)),
    ({"year": 1, "open_access": 1}, ("field 'open_access' must be true or false, not 1",)),
    ({"year": 1, "published": "31/12/2024"}, ("'published'", "a date YYYY-MM-DD")),
    ({"year": 1, "stage": "rejected"}, ("'stage' must be one of 'draft', 'done'",)),
    ({"year": 1, "venue": "a\u0000b"}, ("field 'venue' must be text",)),
    ({"year": 1, "keywords": ["ok", 3]}, ("field 'keywords' item 1 must be text, not 3",)),
    ({"year": 1, "authors": "ada"}, ("'authors' must be a list of ids of person nodes",)),
    ({"venue": "no year"}, ("Import row 1 (paper 'p1') field 'year' is required",)),
    ({"year": None}, ("field 'year' is required: give an integer",)),
    ({"year": 1, "colour": "red"}, ("has no field 'colour'; fields of paper are year",)),
    ({"year": 1, "first_author": "nobody"}, ("refers to 'nobody', which does not exist",)),
    ({"year": 1, "authors": ["p0"]}, ("refers to 'p0', a paper node; give the id of a person",)),
]


@pytest.mark.parametrize(("values", "fragments"), BAD_ROWS)
def test_bad_entity_rows_are_refused_naming_row_field_value_and_rule(
    paper_kb: KnowledgeBase, refused: Any, values: dict[str, Any], fragments: tuple[str, ...]
) -> None:
    with refused(ValidationError, *fragments, "1 row(s) affected"):
        paper_kb.import_nodes(_papers({"year": 2000}, values))


def test_the_error_counts_every_affected_row(paper_kb: KnowledgeBase, refused: Any) -> None:
    frame = _papers({"year": "a"}, {"year": 2}, {"year": "b"}, {"venue": "x"})
    with refused(ValidationError, "Import row 0 (paper 'p0') field 'year'", "2 row(s) affected"):
        paper_kb.import_nodes(frame)


def test_a_deleted_reference_target_is_refused(paper_kb: KnowledgeBase, refused: Any) -> None:
    ada = paper_kb.create("person", "Ada")
    paper_kb.delete(ada.id)
    with refused(ValidationError, f"refers to '{ada.id}', which is deleted; restore it"):
        paper_kb.import_nodes(_papers({"year": 1, "first_author": ada.id}))


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("{year: 1}", "column 'properties' is not valid JSON"),
        ("[1, 2]", "column 'properties' must hold a JSON object of field values, not [1, 2]"),
    ],
)
def test_properties_that_are_not_a_json_object(
    paper_kb: KnowledgeBase, refused: Any, text: str, fragment: str
) -> None:
    frame = pl.DataFrame({"id": ["x"], "kind": ["paper"], "title": ["X"], "properties": [text]})
    with refused(ValidationError, "Import row 0 (paper 'x')", fragment):
        paper_kb.import_nodes(frame)
    notes = pl.DataFrame({"title": ["N"], "properties": [text]})
    with refused(ValidationError, "Import row 0 column 'properties'", "give a JSON object"):
        paper_kb.import_nodes(notes)


def test_a_kind_defined_only_in_another_knowledge_base(
    kb_factory: KBFactory, tmp_path: Any
) -> None:
    other = kb_factory(tmp_path / "other")
    other.define("gadget", {"size": "integer"})  # now a kind of this process
    kb = kb_factory(tmp_path / "this")
    frame = pl.DataFrame({"id": ["g"], "kind": ["gadget"], "title": ["G"]})
    with pytest.raises(
        NotFound, match=r"Import row 0 \('g'\): Entity kind 'gadget' is not defined"
    ):
        kb.import_nodes(frame)
    assert not kb.exists("g")

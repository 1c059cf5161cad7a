"""`kb.find()` on entity fields: every operator, order, paging, typed columns, live queries."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import polars as pl
import pytest

from nodespace_lab import KnowledgeBase
from nodespace_lab.errors import ValidationError
from nodespace_lab.live import Dependencies

FIELDS: dict[str, Any] = {
    "year": "integer",
    "venue": "text",
    "score": "number",
    "open_access": "bool",
    "published": "date",
    "reviewed_at": "datetime",
    "stage": {"type": "enum", "choices": ["draft", "submitted", "published"]},
    "first_author": {"type": "ref", "to": "person"},
    "authors": {"type": "ref", "to": "person", "many": True},
    "keywords": {"type": "list", "of": "text"},
}


@pytest.fixture
def papers(kb: KnowledgeBase) -> dict[str, str]:
    """Five papers (one without year), two persons and a note; returns title -> id."""
    kb.define("person", {"name": "text"})
    kb.define("paper", FIELDS)
    ada = kb.create("person", "Ada").id
    bob = kb.create("person", "Bob").id
    made = {"ada": ada, "bob": bob, "note": kb.create("text", "A note about 2024").id}
    for title, values in {
        "Graphs": dict(year=2024, venue="VLDB", score=4.5, open_access=True,
                       published="2024-08-26", reviewed_at="2024-05-01T10:00:00",
                       stage="published", first_author=ada, authors=[ada, bob],
                       keywords=["graphs", "kb"]),
        "Tables": dict(year=2019, venue="SIGMOD", score=3, open_access=False,
                       published="2019-06-30", stage="published", first_author=bob,
                       authors=[bob], keywords=["tables"]),
        "Streams": dict(year=2021, venue="vldb journal", stage="submitted", authors=[ada]),
        "Drafty": dict(year=2024, stage="draft"),
        "Undated": dict(venue="CIDR"),
    }.items():  # fmt: skip
        made[title] = kb.create("paper", title, **values).id
    return made


def _titles(query: Any) -> list[str]:
    return list(query.to_polars()["title"])


CASES: list[tuple[str, str, Any, set[str]]] = [
    ("year", "=", 2024, {"Graphs", "Drafty"}),
    ("year", "==", 2019, {"Tables"}),
    ("year", "!=", 2024, {"Tables", "Streams"}),
    ("year", "<", 2021, {"Tables"}),
    ("year", "<=", 2021, {"Tables", "Streams"}),
    ("year", ">", 2021, {"Graphs", "Drafty"}),
    ("year", ">=", 2021, {"Graphs", "Streams", "Drafty"}),
    ("year", "in", [2019, 2021], {"Tables", "Streams"}),
    ("year", "is_null", None, {"Undated"}),
    ("year", "not_null", None, {"Graphs", "Tables", "Streams", "Drafty"}),
    ("venue", "contains", "VLDB", {"Graphs", "Streams"}),
    ("venue", "startswith", "vldb", {"Streams"}),
    ("venue", "in", ["CIDR", "SIGMOD"], {"Tables", "Undated"}),
    ("score", ">", 3, {"Graphs"}),
    ("score", "=", 3.0, {"Tables"}),
    ("open_access", "=", True, {"Graphs"}),
    ("open_access", "!=", True, {"Tables"}),
    ("published", ">=", dt.date(2020, 1, 1), {"Graphs"}),
    ("published", "<", "2020-01-01", {"Tables"}),
    ("reviewed_at", ">", dt.datetime(2024, 1, 1), {"Graphs"}),
    ("stage", "=", "published", {"Graphs", "Tables"}),
    ("stage", "in", ["draft", "submitted"], {"Streams", "Drafty"}),
    ("keywords", "contains", "kb", {"Graphs"}),
    ("keywords", "is_null", None, {"Streams", "Drafty", "Undated"}),
]


@pytest.mark.parametrize(("name", "op", "value", "expected"), CASES)
def test_every_operator_on_entity_fields(
    kb: KnowledgeBase, papers: dict[str, str], name: str, op: str, value: Any, expected: set[str]
) -> None:
    query = kb.find("paper").where(name, op, value)
    assert set(_titles(query)) == expected
    assert query.count() == len(expected)
    assert set(query.ids()) == {papers[t] for t in expected}


def test_references_by_id(kb: KnowledgeBase, papers: dict[str, str]) -> None:
    ada = papers["ada"]
    assert set(_titles(kb.find("paper").where("authors", "contains", ada))) == {
        "Graphs",
        "Streams",
    }
    assert _titles(kb.find("paper").where(first_author=papers["bob"])) == ["Tables"]


def test_order_by_entity_field_with_nulls_where_the_engine_puts_them(
    kb: KnowledgeBase, papers: dict[str, str]
) -> None:
    ascending = kb.find("paper").order_by("year").order_by("title")
    assert _titles(ascending) == ["Tables", "Streams", "Drafty", "Graphs", "Undated"]
    descending = kb.find("paper").order_by("year", descending=True).order_by("title")
    assert _titles(descending) == ["Undated", "Drafty", "Graphs", "Streams", "Tables"]
    # The same null placement as a column sorted by the engine.
    tasks = [kb.create("task", f"t{p}", priority=p).id for p in (2, None, 1)]
    by_priority = kb.find("task").order_by("priority", descending=True).ids()
    assert by_priority == [tasks[1], tasks[0], tasks[2]]


def test_order_offset_and_limit_apply_after_entity_conditions(
    kb: KnowledgeBase, papers: dict[str, str]
) -> None:
    query = (
        kb.find("paper")
        .where("year", ">=", 2020)
        .order_by("year", descending=True)
        .order_by("title")
    )
    assert _titles(query) == ["Drafty", "Graphs", "Streams"]
    assert _titles(query.offset(1).limit(1)) == ["Graphs"]
    assert query.limit(2).count() == 3  # count ignores paging, as for columns
    assert [n.title for n in query.limit(2).all()] == ["Drafty", "Graphs"]


def test_entity_and_column_conditions_combine(kb: KnowledgeBase, papers: dict[str, str]) -> None:
    both = kb.find("paper").where("year", "=", 2024).contains("graph")
    assert _titles(both) == ["Graphs"]
    assert _titles(kb.find("paper").where("year", "=", 2024).where(title="Drafty")) == ["Drafty"]
    kb.delete(papers["Drafty"])
    assert _titles(kb.find("paper").where("year", "=", 2024)) == ["Graphs"]
    assert kb.find("paper").where("year", "=", 2024).include_deleted().count() == 2


def test_under_a_parent_with_entity_order(kb: KnowledgeBase, papers: dict[str, str]) -> None:
    shelf = kb.create("text", "Shelf")
    for title in ("Graphs", "Tables", "Streams"):
        kb.move(papers[title], shelf.id)
    assert _titles(kb.find("paper").under(shelf.id).where("year", ">", 2000)) == [
        "Graphs",
        "Tables",
        "Streams",
    ]
    by_year = kb.find("paper").under(shelf.id).order_by("year")
    assert _titles(by_year) == ["Tables", "Streams", "Graphs"]


def test_to_polars_has_typed_entity_columns(kb: KnowledgeBase, papers: dict[str, str]) -> None:
    frame = kb.find("paper").order_by("title").to_polars()
    assert frame.columns[-len(FIELDS) :] == list(FIELDS)
    assert frame.schema["year"] == pl.Int64
    assert frame.schema["score"] == pl.Float64
    assert frame.schema["open_access"] == pl.Boolean
    assert frame.schema["published"] == pl.Date
    assert frame.schema["reviewed_at"] == pl.Datetime("us")
    assert frame.schema["authors"] == pl.List(pl.String)
    graphs = frame.filter(pl.col("title") == "Graphs").row(0, named=True)
    assert graphs["published"] == dt.date(2024, 8, 26)
    assert graphs["reviewed_at"] == dt.datetime(2024, 5, 1, 10)
    assert graphs["keywords"] == ["graphs", "kb"]
    selected = kb.find("paper").where("year", "=", 2019).select("title", "year").to_polars()
    assert selected.columns == ["id", "title", "year"] and selected["year"].to_list() == [2019]
    # Not every kind an entity kind: node columns only.
    assert "year" not in kb.find(["paper", "text"]).to_polars().columns
    assert "year" not in kb.find().to_polars().columns


def test_several_entity_kinds_show_the_fields_they_agree_on(kb: KnowledgeBase) -> None:
    kb.define("book", {"year": "integer", "isbn": "text", "venue": "integer"})
    kb.define("paper", {"year": "integer", "venue": "text"})
    kb.create("book", "B", year=2001, isbn="978")
    kb.create("paper", "P", year=2002)
    frame = kb.find(["book", "paper"]).order_by("year").to_polars()
    assert frame["year"].to_list() == [2001, 2002]
    assert frame["isbn"].to_list() == ["978", None]
    assert "venue" not in frame.columns  # integer in one kind, text in the other
    with pytest.raises(ValidationError, match=r"'venue' has different types \(book: integer"):
        kb.find(["book", "paper"]).where("venue", "=", 1)


def test_values_travel_as_parameters_only(kb: KnowledgeBase, papers: dict[str, str]) -> None:
    sneaky = "x' OR 1=1 //"
    query = kb.find("paper").where("venue", "=", sneaky).contains(sneaky)
    text, params = query.compile()
    assert sneaky not in text and sneaky in params.values()
    assert query.count() == 0


ERRORS: list[tuple[Any, str]] = [
    (
        lambda kb: kb.find("paper").where("year", ">=", "2020"),
        "find('paper') condition 'year' >= must be an integer, not '2020' (text)",
    ),
    (
        lambda kb: kb.find("paper").where("published", ">", "31/12/2020"),
        "must be a date YYYY-MM-DD, not '31/12/2020'",
    ),
    (
        lambda kb: kb.find("paper").where("stage", "=", "rejected"),
        "must be one of 'draft', 'submitted', 'published', not 'rejected'",
    ),
    (
        lambda kb: kb.find("paper").where("year", "contains", 2),
        "operator 'contains' does not apply to field 'year' (integer); use one of =",
    ),
    (
        lambda kb: kb.find("paper").where("keywords", "=", ["kb"]),
        "operator '=' does not apply to field 'keywords' (list of text); use one of contains",
    ),
    (lambda kb: kb.find("paper").where("year", "in", 2020), "needs a list of values"),
    (
        lambda kb: kb.find(["paper", "person"]).where("year", ">", 1),
        "'year' is a field of paper but not of person; find() filters, sorts and selects an "
        "entity field only when every kind has it: use kb.find('paper')",
    ),
    (
        lambda kb: kb.find(["paper", "task"]).order_by("year"),
        "'year' is a field of paper but not of task",
    ),
    (lambda kb: kb.find().where("year", "=", 1), "'year' is a field of entity kind paper"),
    (lambda kb: kb.find("paper").where("colour", "=", 1), "Unknown field 'colour' in find()"),
    (lambda kb: kb.find("paper").where("colour", "=", 1), "Fields of paper: year, venue"),
    (lambda kb: kb.find("task").where("year", "=", 1), "Unknown field 'year' in find(); use"),
    (lambda kb: kb.find("paper").order_by("authors"), "cannot sort by 'authors': it holds a list"),
    (lambda kb: kb.find("paper").select("colour"), "Unknown field 'colour'"),
]


@pytest.mark.parametrize(("build", "message"), ERRORS)
def test_bad_entity_queries_say_the_fix(
    kb: KnowledgeBase, papers: dict[str, str], build: Any, message: str
) -> None:
    with pytest.raises(ValidationError) as err:
        build(kb)
    assert message in str(err.value)


def test_a_query_outlives_a_field_rename_with_a_clear_error(
    kb: KnowledgeBase, papers: dict[str, str]
) -> None:
    query = kb.find("paper").where("year", ">", 2020)
    kb.rename_field("paper", "year", "published_year")
    with pytest.raises(
        ValidationError, match=r"Unknown field 'year'.* Fields of paper: published_year"
    ):
        query.to_polars()
    assert kb.find("paper").where("published_year", ">", 2020).count() == 3


def test_dependencies_of_entity_conditions_name_properties(kb: KnowledgeBase, papers) -> None:
    query = kb.find("paper").where("year", "=", 2024).order_by("score").where(title="Graphs")
    depends = Dependencies.of_find(query)
    assert depends.fields is not None
    assert {"properties", "title"} <= depends.fields and "year" not in depends.fields
    assert depends.equals == (("title", "Graphs"),)


def test_live_query_follows_entity_values(kb: KnowledgeBase, papers: dict[str, str]) -> None:
    live = kb.live(kb.find("paper").where("year", ">=", 2021).order_by("year"))
    assert [r["title"] for r in live.rows] == ["Streams", "Graphs", "Drafty"]
    kb.update(papers["Tables"], year=2025)
    kb.update(papers["Streams"], year=2000)
    assert kb.live_registry.flush()
    assert [r["title"] for r in live.rows] == ["Graphs", "Drafty", "Tables"]
    assert live.rows[-1]["year"] == 2025
    kb.add_field("paper", "pages", "integer")  # no entity rewritten: the schema op re-runs it
    assert kb.live_registry.flush()
    assert "pages" in live.columns


def test_a_query_travels_as_data_and_is_checked_again(
    kb: KnowledgeBase, papers: dict[str, str]
) -> None:
    shelf = kb.create("text", "Shelf")
    kb.move(papers["Graphs"], shelf.id)
    query = (
        kb.find("paper")
        .where("published", ">=", dt.date(2020, 1, 1))
        .contains("graph")
        .under(shelf.id)
        .order_by("year", descending=True)
        .select("title", "year")
        .offset(0)
        .limit(5)
    )
    again = kb.find().with_parts(query.to_json())
    assert again.compile() == query.compile()
    assert kb.find_frame(query.to_json()).rows() == [(papers["Graphs"], "Graphs", 2024)]


@pytest.mark.parametrize(
    ("parts", "message"),
    [
        ({"conditions": [["title} RETURN n //", "=", 1]]}, "Unknown field 'title} RETURN n //'"),
        ({"conditions": [["title", "= 1 OR", 1]]}, "Unknown operator '= 1 OR'"),
        ({"order": [["title DESC //", False]]}, "Unknown field 'title DESC //'"),
        ({"limit": "5 //"}, "limit('5 //') needs a whole number"),
        ({"columns": ["n.content //"]}, "Unknown field 'n.content //'"),
        ({"kinds": "paper"}, "part 'kinds' must be a list of text"),
        ({"kinds": ["paper"], "conditions": [["year", ">", "soon"]]}, "must be an integer"),
    ],
)
def test_parts_from_elsewhere_meet_the_builder_checks(
    kb: KnowledgeBase, papers: dict[str, str], parts: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValidationError, match=re.escape(message)):
        kb.find_frame(parts)

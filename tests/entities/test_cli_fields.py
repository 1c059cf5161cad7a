"""Entity fields on the command line: `add --set`, `set`, `show`, `find --where`."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from nodespace_lab import KnowledgeBase
from tests.test_cli import Run, failed, ok

SCHEMA = """
[kinds.person.fields]
name = "text"

[kinds.paper.fields]
year = { type = "integer", required = true }
venue = "text"
score = "number"
open_access = "bool"
published = "date"
reviewed_at = "datetime"
stage = { type = "enum", choices = ["draft", "done"], default = "draft" }
first_author = { type = "ref", to = "person" }
authors = { type = "ref", to = "person", many = true }
keywords = { type = "list", of = "text" }
"""


@pytest.fixture
def people(run: Run, kb_path: Path, tmp_path: Path) -> dict[str, str]:
    """An initialised knowledge base with the kinds above and two persons; name -> id."""
    ok(run("init"))
    schema = tmp_path / "schema.toml"
    schema.write_text(SCHEMA, encoding="utf-8")
    ok(run("kind define --file", str(schema)))
    return {name: ok(run(f"add person {name}")).strip() for name in ("Ada", "Bob")}


def _stored(kb_path: Path, node_id: str) -> tuple[dict[str, object], int]:
    with KnowledgeBase(kb_path) as kb:
        node = kb.get(node_id)
        return node.properties, node.version


def _papers(kb_path: Path) -> int:
    with KnowledgeBase(kb_path) as kb:
        return kb.find("paper").count()


def test_add_reads_every_type_from_text(run: Run, kb_path: Path, people: dict[str, str]) -> None:
    ada, bob = people["Ada"], people["Bob"]
    sets = [
        "year=2024", "venue=VLDB", "score=4.5", "open_access=yes", "published=2024-08-26",
        "reviewed_at=2024-05-01T10:00:00+02:00", "stage=done", f"first_author={ada}",
        f"authors={ada}, {bob}", "keywords=graphs,kb",
    ]  # fmt: skip
    options = [part for value in sets for part in ("--set", value)]
    node_id = ok(run('add paper "Graph databases"', *options)).strip()
    properties, _ = _stored(kb_path, node_id)
    assert properties == {
        "year": 2024, "venue": "VLDB", "score": 4.5, "open_access": True,
        "published": "2024-08-26", "reviewed_at": "2024-05-01T08:00:00", "stage": "done",
        "first_author": ada, "authors": [ada, bob], "keywords": ["graphs", "kb"],
    }  # fmt: skip


def test_list_values_with_commas_as_json(run: Run, kb_path: Path, people: dict[str, str]) -> None:
    node_id = ok(run("add paper P --set year=1", "--set", 'keywords=["a, b", "c"]')).strip()
    assert _stored(kb_path, node_id)[0]["keywords"] == ["a, b", "c"]


@pytest.mark.parametrize(
    ("assignment", "message"),
    [
        ("year=soon", "New paper 'Bad' field 'year' must be an integer, not 'soon' (text)"),
        ("year=20.5", "field 'year' must be an integer, not '20.5'"),
        ("open_access=maybe", "field 'open_access' must be true or false, not 'maybe'"),
        ("published=31/12/2024", "field 'published' must be a date YYYY-MM-DD, not '31/12/2024'"),
        ("stage=rejected", "field 'stage' must be one of 'draft', 'done', not 'rejected'"),
        ("first_author=nobody", "field 'first_author' refers to 'nobody', which does not exist"),
        ("colour=red", "New paper 'Bad' has no field 'colour'; fields of paper are year"),
        ("year", "--set 'year' is not FIELD=VALUE; write e.g. --set year=2024"),
    ],
)
def test_a_bad_value_is_refused_like_the_api_and_nothing_is_written(
    run: Run, kb_path: Path, people: dict[str, str], assignment: str, message: str
) -> None:
    extra = [] if assignment.startswith("year") else ["--set", "year=2020"]
    stderr = failed(run("add paper Bad --set", assignment, *extra))
    assert message in stderr
    assert _papers(kb_path) == 0


def test_set_needs_an_entity_kind(run: Run, people: dict[str, str]) -> None:
    stderr = failed(run("add task T --set year=1"))
    assert "'task' is not one" in stderr and "defined: paper, person" in stderr


def test_set_changes_fields_in_one_write(run: Run, kb_path: Path, people: dict[str, str]) -> None:
    node_id = ok(run("add paper P --set year=2020 --set venue=VLDB")).strip()
    assert ok(run(f"set {node_id} year=2021 venue= title=Renamed stage=done")).strip() == node_id
    properties, version = _stored(kb_path, node_id)
    assert properties == {"year": 2021, "stage": "done"} and version == 2
    stderr = failed(run(f"set {node_id} venue=ICDE year=later"))
    assert f"Paper '{node_id}' ('Renamed') field 'year' must be an integer, not 'later'" in stderr
    assert _stored(kb_path, node_id) == (properties, version)
    assert "is required" in failed(run(f"set {node_id} year="))
    assert "given twice" in failed(run(f"set {node_id} year=1 year=2"))


def test_set_on_a_task_and_unknown_fields(run: Run, kb_path: Path, people: dict[str, str]) -> None:
    task = ok(run("add task Read")).strip()
    ok(run(f"set {task} priority=1 due=2026-12-01 task_status=doing"))
    with KnowledgeBase(kb_path) as kb:
        node = kb.get(task)
    assert (node.priority, node.due, node.task_status) == (1, dt.date(2026, 12, 1), "doing")
    assert "has no field 'colour'" in failed(run(f"set {task} colour=red"))
    assert "does not exist" in failed(run("set nope year=1"))


def test_show_lists_entity_fields_in_schema_order(run: Run, people: dict[str, str]) -> None:
    ada = people["Ada"]
    node_id = ok(
        run("add paper P --set year=2024 --set open_access=no", "--set", f"authors={ada}")
    ).strip()
    text = ok(run(f"show {node_id}"))
    lines = [line.split(":")[0].strip() for line in text.splitlines()]
    fields = ["year", "venue", "score", "open_access", "published", "reviewed_at", "stage"]
    assert [n for n in lines if n in fields] == fields
    assert "  year:        2024" in text and "  open_access: false" in text
    assert f"  authors:     Ada ({ada})" in text
    record = json.loads(ok(run(f"show {node_id} --format json")))
    assert record["fields"]["year"] == 2024 and record["fields"]["published"] is None
    assert record["fields"]["authors"] == [ada]


def test_find_where_on_entity_fields(run: Run, people: dict[str, str]) -> None:
    for year, keywords in ((2019, "tables"), (2024, "graphs,kb"), (2021, "graphs")):
        ok(run(f"add paper P{year} --set year={year} --set keywords={keywords}"))
    rows = json.loads(
        ok(run("find --kind paper --where year '>=' 2020 --order-by -year --format json"))
    )
    assert [r["title"] for r in rows] == ["P2024", "P2021"] and rows[0]["year"] == 2024
    listed = ok(run("find --kind paper --where keywords contains graphs --where year in 2021,1"))
    assert "P2021" in listed and "P2024" not in listed
    assert "year" in listed.splitlines()[0]  # the table shows entity fields
    stderr = failed(run("find --kind paper --where year '>' soon"))
    assert "condition 'year' > must be an integer, not 'soon'" in stderr

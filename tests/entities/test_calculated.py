"""Calculated fields against the real engine: stored, recomputed when inputs change, checked."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import polars as pl
import pytest

from nodespace_lab import KnowledgeBase
from nodespace_lab.errors import NotFound, ValidationError
from nodespace_lab.kb.doctor import doctor

PROGRESS = 'count(children where status = "done") / count(children)'


def props(kb: KnowledgeBase, node_id: str) -> dict[str, Any]:
    return kb.get(node_id).properties


def last_ops(kb: KnowledgeBase) -> list[tuple[str, str]]:
    return [(op.op, op.id) for op in kb.changes(kb.seq - 1)[-1].ops]


@pytest.fixture
def projects(kb: KnowledgeBase) -> KnowledgeBase:
    kb.define(
        "project",
        {
            "budget": "number",
            "progress": {"type": "number", "expression": PROGRESS},
            "percent": {"expression": "round(coalesce(progress, 0) * 100)"},
        },
    )
    kb.create("project", "Graphs", id="p", budget=10)
    for name in "abcd":
        kb.create("task", f"Task {name}", parent="p", id=name)
    return kb


# -- values follow their inputs ------------------------------------------------------


def test_a_new_entity_gets_its_values_when_created(kb: KnowledgeBase) -> None:
    kb.define("item", {"price": "number", "qty": "integer", "total": {"expression": "price * qty"}})
    node = kb.create("item", "Pens", price=1.5, qty=4)
    assert node.properties["total"] == 6.0
    assert kb.schema("item").field("total").type == "number"  # inferred and stored


def test_progress_follows_children_done_moved_deleted_and_restored(projects: KnowledgeBase) -> None:
    kb = projects
    assert props(kb, "p")["progress"] == 0.0 and props(kb, "p")["percent"] == 0
    kb.update("a", task_status="done")
    assert props(kb, "p")["progress"] == 0.25 and props(kb, "p")["percent"] == 25
    kb.create("task", "Task e", parent="p", id="e", task_status="done")
    assert props(kb, "p")["progress"] == 0.4
    kb.move("e", None)
    assert props(kb, "p")["progress"] == 0.25
    kb.delete("b")
    assert props(kb, "p")["progress"] == pytest.approx(1 / 3)
    kb.restore("b")
    assert props(kb, "p")["progress"] == 0.25
    kb.delete("b")
    kb.purge("b")
    assert props(kb, "p")["progress"] == pytest.approx(1 / 3)


def test_no_children_gives_null_not_an_error(kb: KnowledgeBase) -> None:
    kb.define("project", {"progress": {"type": "number", "expression": PROGRESS}})
    node = kb.create("project", "Empty")
    assert "progress" not in node.properties  # 0 / 0 is empty, like a blank cell
    assert kb.entity_values(node.id)["progress"] is None


def test_only_the_dependent_node_is_rewritten(projects: KnowledgeBase) -> None:
    kb = projects
    kb.create("project", "Other", id="q")
    kb.update("a", task_status="done")
    assert last_ops(kb) == [("update", "a"), ("calc", "p")]
    kb.update("a", title="Renamed")  # nothing reads titles
    assert last_ops(kb) == [("update", "a")]


def test_a_calculated_write_keeps_the_version_and_updated_at(projects: KnowledgeBase) -> None:
    before = projects.get("p")
    projects.update("a", task_status="done")
    after = projects.get("p")
    assert after.properties["progress"] == 0.25
    assert (after.version, after.updated_at) == (before.version, before.updated_at)
    projects.update("p", expected_version=before.version, budget=12)  # no conflict


def test_rollups_climb_the_hierarchy(kb: KnowledgeBase) -> None:
    kb.define(
        "work",
        {"hours": "number", "total": {"expression": "coalesce(hours, 0) + sum(children.total)"}},
    )
    kb.create("work", "Root", id="r", hours=1)
    kb.create("work", "Mid", id="m", parent="r", hours=2)
    kb.create("work", "Leaf", id="l", parent="m", hours=3)
    kb.create("text", "a note", parent="m")
    assert [props(kb, i)["total"] for i in "rml"] == [6.0, 5.0, 3.0]
    kb.update("l", hours=10)
    assert [props(kb, i)["total"] for i in "rml"] == [13.0, 12.0, 10.0]
    kb.move("l", "r")
    assert [props(kb, i)["total"] for i in "rml"] == [13.0, 2.0, 10.0]


def test_calculated_fields_read_each_other_in_order(kb: KnowledgeBase) -> None:
    kb.define(
        "deal",
        {
            "net": {"expression": "gross - cost"},  # defined before what it reads
            "gross": "number",
            "cost": "number",
            "margin": {"expression": "if(gross > 0, net / gross, null)", "type": "number"},
        },
    )
    node = kb.create("deal", "D", gross=200, cost=150)
    assert node.properties["net"] == 50 and node.properties["margin"] == 0.25


def test_references_feed_values_and_follow_the_referenced_node(kb: KnowledgeBase) -> None:
    kb.define("venue", {"rank": "integer"})
    kb.define("dataset", {"size_gb": "number"})
    kb.define(
        "paper",
        {
            "venue": {"type": "ref", "to": "venue"},
            "datasets": {"type": "ref", "to": "dataset", "many": True},
            "venue_rank": {"expression": "venue.rank", "type": "integer"},
            "data_gb": {"expression": "sum(datasets.size_gb)"},
        },
    )
    kb.create("venue", "VLDB", id="vldb", rank=1)
    kb.create("venue", "Workshop", id="ws", rank=3)
    kb.create("dataset", "Big", id="big", size_gb=100)
    kb.create("dataset", "Small", id="small", size_gb=2.5)
    kb.create("paper", "P", id="p", venue="vldb", datasets=["big", "small"])
    assert props(kb, "p")["venue_rank"] == 1 and props(kb, "p")["data_gb"] == 102.5
    kb.update("vldb", rank=2)
    assert props(kb, "p")["venue_rank"] == 2
    kb.update("small", size_gb=5)
    assert props(kb, "p")["data_gb"] == 105.0
    kb.update("p", venue="ws", datasets=["small"])
    assert props(kb, "p")["venue_rank"] == 3 and props(kb, "p")["data_gb"] == 5.0
    kb.delete("small")  # a deleted node is not counted
    assert props(kb, "p")["data_gb"] == 0.0


def test_links_and_backlinks_are_counted_and_followed(kb: KnowledgeBase) -> None:
    kb.define("topic", {"mentions": {"expression": "count(backlinks)"}})
    kb.define("summary", {"papers": {"expression": 'count(links where kind = "topic")'}})
    kb.create("topic", "Graphs", id="t1")
    kb.create("summary", "S", id="s", content="See [[Graphs]] and [[Vectors]].")
    assert props(kb, "t1")["mentions"] == 1 and props(kb, "s")["papers"] == 1
    kb.create("topic", "Vectors", id="t2")  # the dangling link now resolves
    assert props(kb, "s")["papers"] == 2 and props(kb, "t2")["mentions"] == 1
    note = kb.create("text", "n", content="[[graphs]] again")
    assert props(kb, "t1")["mentions"] == 2
    kb.update(note.id, content="nothing")
    assert props(kb, "t1")["mentions"] == 1
    kb.update("t2", title="Embeddings")  # the link by title no longer points here
    assert props(kb, "s")["papers"] == 1 and props(kb, "t2")["mentions"] == 0


def test_parent_deadline_minus_own_date(kb: KnowledgeBase) -> None:
    kb.define("goal", {"deadline": "date"})
    kb.define(
        "step", {"start": "date", "slack": {"expression": "days_between(start, parent.deadline)"}}
    )
    kb.create("goal", "G", id="g", deadline="2026-12-31")
    kb.create("goal", "H", id="h", deadline="2026-12-11")
    kb.create("step", "S", id="s", parent="g")
    assert "slack" not in props(kb, "s")  # no start date: null
    kb.update("s", start="2026-12-01")
    assert props(kb, "s")["slack"] == 30
    kb.update("g", deadline="2027-01-10")
    assert props(kb, "s")["slack"] == 40
    kb.move("s", "h")
    assert props(kb, "s")["slack"] == 10


# -- definitions refused ---------------------------------------------------------


def test_a_cycle_between_fields_is_refused_naming_it(kb: KnowledgeBase) -> None:
    with pytest.raises(ValidationError, match=r"a -> b -> a|b -> a -> b"):
        kb.define("loop", {"a": {"expression": "b + 1"}, "b": {"expression": "a * 2"}})
    assert kb.schemas() == []


def test_a_cycle_through_links_is_refused_but_a_rollup_is_allowed(kb: KnowledgeBase) -> None:
    with pytest.raises(ValidationError, match=r"cycle: .*links.*rank"):
        kb.define("page", {"rank": {"expression": "1 + sum(links.rank)"}})
    kb.define("box", {"weight": {"expression": "1 + sum(children.weight)"}})
    with pytest.raises(ValidationError, match="cycle"):
        mixed = {"type": "number", "expression": "sum(children.x) + coalesce(parent.x, 0)"}
        kb.define("mixed", {"x": mixed})


def test_a_cycle_across_kinds_is_refused(kb: KnowledgeBase) -> None:
    kb.define("author", {"score": "number"})
    kb.define(
        "paper", {"author": {"type": "ref", "to": "author"}, "s": {"expression": "author.score"}}
    )
    with pytest.raises(ValidationError, match=r"paper\.s .*author\.score|author\.score .*paper\.s"):
        kb.change_field(
            "author", "score",
            {"type": "number", "expression": 'sum(backlinks.s where kind = "paper")'},
        )  # fmt: skip
    assert kb.schema("author").field("score").expression is None


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"expression": "hourz * 2"}, "hourz"),
        ({"expression": "hours +"}, "hours +"),
        ({"expression": "hours", "type": "text"}, "declared text"),
        ({"expression": "hours", "required": True}, "'required' does not apply"),
        ({"expression": "hours", "type": "enum", "choices": ["a"]}, "calculated"),
        ({"expression": "children"}, "children"),
    ],
)
def test_bad_calculated_fields_are_refused(
    kb: KnowledgeBase, spec: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValidationError, match=message) as info:
        kb.define("job", {"hours": "number", "x": spec})
    assert "'x'" in str(info.value)
    assert kb.schemas() == []


def test_a_calculated_field_cannot_be_set(projects: KnowledgeBase) -> None:
    with pytest.raises(ValidationError, match=r"'progress' is calculated .* cannot be set"):
        projects.update("p", progress=1.0)
    with pytest.raises(ValidationError, match="calculated"):
        projects.create("project", "X", percent=3)


def test_renaming_an_input_that_an_expression_reads_is_refused(kb: KnowledgeBase) -> None:
    kb.define("item", {"price": "number", "doubled": {"expression": "price * 2"}})
    kb.create("item", "I", id="i", price=2)
    with pytest.raises(ValidationError, match=r"would break a calculated field.*price"):
        kb.rename_field("item", "price", "cost")
    with pytest.raises(ValidationError, match="would break a calculated field"):
        kb.remove_field("item", "price")
    assert kb.schema("item").names() == ["price", "doubled"] and props(kb, "i")["doubled"] == 4


# -- schema changes recompute -----------------------------------------------------


def test_adding_changing_and_removing_a_calculated_field(projects: KnowledgeBase) -> None:
    kb = projects
    kb.update("a", task_status="done")
    kb.add_field("project", "open_tasks", {"expression": "count(children where not done)"})
    assert props(kb, "p")["open_tasks"] == 3
    kb.change_field("project", "open_tasks", {"expression": "count(children where done)"})
    assert props(kb, "p")["open_tasks"] == 1
    kb.rename_field("project", "open_tasks", "finished")
    assert props(kb, "p")["finished"] == 1 and "open_tasks" not in props(kb, "p")
    kb.remove_field("project", "finished")
    assert "finished" not in props(kb, "p")


def test_undo_reverts_values_with_their_inputs(projects: KnowledgeBase) -> None:
    kb = projects
    kb.update("a", task_status="done")
    kb.undo()
    assert props(kb, "p")["progress"] == 0.0
    kb.add_field("project", "n", {"expression": "count(children)"})
    assert props(kb, "p")["n"] == 4
    kb.undo()
    assert "n" not in props(kb, "p") and "n" not in kb.schema("project").names()


def test_a_failing_transaction_leaves_values_as_they_were(projects: KnowledgeBase) -> None:
    with pytest.raises(ValidationError), projects.transaction():
        projects.update("a", task_status="done")
        projects.update("b", task_status="nonsense")
    assert props(projects, "p")["progress"] == 0.0


def test_bulk_import_computes_values(projects: KnowledgeBase) -> None:
    frame = pl.DataFrame(
        {
            "id": ["x", "y"],
            "kind": ["task", "task"],
            "title": ["X", "Y"],
            "parent_id": ["p", "p"],
            "task_status": ["done", "done"],
        }
    )
    projects.import_nodes(frame)
    assert props(projects, "p")["progress"] == pytest.approx(2 / 6)


# -- today(): values that age -------------------------------------------------------


@pytest.mark.embedded  # sets the engine's clock, which lives in the service's process
def test_values_using_today_refresh_on_the_next_day(kb: KnowledgeBase) -> None:
    engine = kb._entities.calc
    clock = [dt.datetime(2026, 11, 25, 9, 0)]
    engine.clock = lambda: clock[0]
    kb.define("deadline", {"on": "date", "left": {"expression": "days_until(on)"}})
    kb.create("deadline", "D", id="d", on="2026-12-01")
    assert props(kb, "d")["left"] == 6
    clock[0] = dt.datetime(2026, 11, 26, 9, 0)
    kb.create("text", "any write on the new day")
    assert props(kb, "d")["left"] == 5


# -- integrity: the check on open and the doctor ---------------------------------------


def _tamper(kb: KnowledgeBase, node_id: str, **values: Any) -> None:
    """Change stored values behind the engine's back (as a crash or an old version might)."""
    current = props(kb, node_id)
    kb.store._writer.execute(
        "MATCH (n:Node {id: $id}) SET n.properties = $p",
        {"id": node_id, "p": json.dumps({**current, **values}, sort_keys=True)},
    )


def test_check_and_recalculate_find_and_fix_nothing_when_all_is_right(
    projects: KnowledgeBase,
) -> None:
    assert projects.check_calculated() == [] and projects.recalculate() == 0


@pytest.mark.embedded
def test_doctor_reports_and_repairs_a_wrong_stored_value(projects: KnowledgeBase) -> None:
    _tamper(projects, "p", progress=0.9)
    mismatch = projects.check_calculated()[0]
    assert (mismatch.node_id, mismatch.field, mismatch.stored, mismatch.computed) == (
        "p",
        "progress",
        0.9,
        0.0,
    )
    report = doctor(projects)
    assert [(p.check, p.node_id) for p in report.problems] == [("calculated", "p")]
    assert "0.9" in report.problems[0].message
    report = doctor(projects, repair=True)
    assert report.ok and props(projects, "p")["progress"] == 0.0
    assert projects.check_calculated() == []


@pytest.mark.embedded
def test_opening_recomputes_when_the_definitions_changed(kb_factory: Any) -> None:
    kb = kb_factory()
    kb.define("item", {"price": "number", "doubled": {"expression": "price * 2"}})
    kb.create("item", "I", id="i", price=2)
    _tamper(kb, "i", doubled=99)
    kb.store._writer.execute("MATCH (s:CalcState {key: 'fingerprint'}) SET s.value = 'old'")
    kb.close()
    kb = kb_factory()
    assert props(kb, "i")["doubled"] == 4


@pytest.mark.embedded
def test_opening_samples_and_warns_about_wrong_values(
    kb_factory: Any, caplog: pytest.LogCaptureFixture
) -> None:
    kb = kb_factory()
    kb.define("item", {"price": "number", "doubled": {"expression": "price * 2"}})
    kb.create("item", "I", id="i", price=2)
    _tamper(kb, "i", doubled=99)
    kb.close()
    kb = kb_factory()
    assert "doctor --repair" in caplog.text
    assert [m.node_id for m in kb._entities.calc.suspects] == ["i"]
    assert props(kb, "i")["doubled"] == 99  # reported, not silently changed


def test_bulk_import_of_entities_computes_values_and_refuses_calculated_ones(
    kb: KnowledgeBase,
) -> None:
    kb.define("item", {"price": "number", "qty": "integer", "total": {"expression": "price * qty"}})
    rows = {"id": ["a", "b"], "kind": ["item", "item"], "title": ["A", "B"]}
    props_ok = ['{"price": 2, "qty": 3}', '{"price": 1.5, "qty": 2}']
    kb.import_nodes(pl.DataFrame({**rows, "properties": props_ok}))
    assert props(kb, "a")["total"] == 6.0 and props(kb, "b")["total"] == 3.0
    bad = pl.DataFrame(
        {"id": ["c"], "kind": ["item"], "title": ["C"], "properties": ['{"total": 9}']}
    )
    with pytest.raises(ValidationError, match=r"'total' is calculated .* cannot be imported"):
        kb.import_nodes(bad)
    assert not kb.exists("c")


def test_an_inferred_type_is_integer_when_only_whole_numbers_can_come_out(
    kb: KnowledgeBase,
) -> None:
    kb.define(
        "p",
        {
            "n": {"expression": "count(children)"},
            "x": {"expression": "n * 2 + len(title)"},
            "half": {"expression": "n / 2"},
        },
    )
    types = {f.name: f.type for f in kb.schema("p").fields}
    assert types == {"n": "integer", "x": "integer", "half": "number"}
    assert kb.create("p", "abc").properties == {"n": 0, "x": 3, "half": 0.0}


@pytest.mark.parametrize(
    "expression", ["1 + coalesce(sum(children.level), 0)", "1 + coalesce(parent.level, 0)"]
)
def test_rollups_over_a_deep_outline_recompute_without_recursing_too_far(
    kb: KnowledgeBase, expression: str
) -> None:
    depth = 400  # each level of recursion takes several frames: past Python's limit
    kb.define("level", {"level": {"type": "integer", "expression": expression}})
    kb.import_nodes(
        pl.DataFrame({"id": ["top"], "kind": ["level"], "title": ["top"], "parent_id": [None]})
    )
    chain = ["top", *(f"l{i}" for i in range(depth))]
    kb.import_nodes(
        pl.DataFrame(
            {
                "id": chain[1:],
                "kind": ["level"] * depth,
                "title": chain[1:],
                "parent_id": chain[:-1],
            }
        )
    )
    top, bottom = props(kb, "top")["level"], props(kb, chain[-1])["level"]
    assert sorted([top, bottom]) == [1, depth + 1]
    assert kb.check_calculated() == []


@pytest.mark.embedded  # settings of the service's own knowledge base decide cypher writes
def test_a_cypher_write_recomputes_every_value(kb_factory: Any) -> None:
    kb = kb_factory(security={"allow_cypher_writes": True})
    kb.define("item", {"price": "number", "doubled": {"expression": "price * 2"}})
    kb.create("item", "I", id="i", price=2)
    kb.cypher(
        "MATCH (n:Node {id: $id}) SET n.properties = $p",
        {"id": "i", "p": json.dumps({"doubled": 4.0, "price": 5.0})},
        write=True,
    )
    assert props(kb, "i")["doubled"] == 10.0
    assert last_ops(kb)[-1][0] == "recalc"


def test_referrers_are_found_after_imports_rollbacks_and_within_one_transaction(
    kb: KnowledgeBase,
) -> None:
    kb.define("venue", {"rank": "integer"})
    kb.define(
        "paper",
        {
            "venue": {"type": "ref", "to": "venue"},
            "rank": {"type": "integer", "expression": "venue.rank"},
        },
    )
    kb.create("venue", "A", id="va", rank=1)
    kb.create("venue", "B", id="vb", rank=2)
    kb.create("paper", "P", id="p", venue="va")
    kb.update("va", rank=5)  # builds the index of who refers to whom
    frame = pl.DataFrame(
        {"id": ["q"], "kind": ["paper"], "title": ["Q"], "properties": ['{"venue": "vb"}']}
    )
    kb.import_nodes(frame)  # a batch: the index is rebuilt
    kb.update("vb", rank=7)
    assert props(kb, "q")["rank"] == 7
    with pytest.raises(NotFound), kb.transaction():
        kb.update("p", venue="vb")
        kb.update("missing", rank=1)
    kb.update("va", rank=6)  # p still refers to va: the rolled-back edit is forgotten
    assert props(kb, "p")["rank"] == 6
    with kb.transaction():
        kb.create("paper", "R", id="r", venue="vb")
        kb.update("vb", rank=8)  # r is not committed yet, and still follows
    assert props(kb, "r")["rank"] == 8 and props(kb, "q")["rank"] == 8
    assert kb.check_calculated() == []

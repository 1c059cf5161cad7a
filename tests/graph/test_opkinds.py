"""The declared change-log op kinds against what the writes really record."""

from __future__ import annotations

import json
from typing import Any

import polars as pl
import pytest

from nodespace_lab import KnowledgeBase
from nodespace_lab.graph import Op, opkinds
from nodespace_lab.graph.opkinds import CATEGORIES, KINDS, UndeclaredOpKind
from nodespace_lab.kb.doctor import doctor


def _every_write(kb: KnowledgeBase) -> None:
    """One of each public write, plus the undo of each kind of change."""
    page = kb.create("text", "Page", id="page")
    kb.create("task", "Task", parent="page", id="t1")
    kb.update("t1", title="Task one")
    kb.move("t1", None)
    kb.delete("t1")
    kb.restore("t1")
    kb.delete("t1")
    kb.purge("t1")
    kb.undo()  # the purge: recreates the row
    kb.tag(page.id, "idea")
    kb.untag(page.id, "idea")
    kb.undo()  # the untag: a membership edge back
    coll = kb.create("collection", "Reading", id="reading")
    kb.add_to(page.id, coll.id)
    kb.remove_from(page.id, coll.id)
    kb.journal("2026-01-02")
    kb.import_nodes(pl.DataFrame({"id": ["i1", "i2"], "kind": ["text"] * 2, "title": ["A", "B"]}))
    kb.undo()  # the import: unimport
    kb.define("item", {"price": "number", "doubled": {"expression": "price * 2"}})
    kb.create("item", "Pen", id="pen", price=2)  # the calculated value: calc
    kb.update("pen", price=3)
    kb.add_field("item", "note", "text")
    kb.rename_field("item", "note", "remark")
    kb.change_field("item", "remark", {"type": "text", "indexed": True})
    kb.remove_field("item", "remark")
    kb.cypher(  # a raw write: cypher, and every calculated value recomputed: recalc
        "MATCH (n:Node {id: $id}) SET n.properties = $p",
        {"id": "pen", "p": json.dumps({"price": 5.0, "doubled": 1.0})},
        write=True,
    )
    kb.recalculate()
    kb.cypher("MATCH (:Node {id: 'page'})-[e:LINKS_TO]->() DELETE e", write=True)
    kb.update("page", content="See [[Reading]]")
    kb.cypher("MATCH (:Node {id: 'page'})-[e:LINKS_TO]->() DELETE e", write=True)
    doctor(kb, repair=True)  # relinks the page: repair
    kb.reindex()
    kb.define("scratch", {"n": "number"})
    kb.delete_kind("scratch")


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> list[Op]:
    """Every op the scripted session recorded, oldest first."""
    from tests.conftest import isolated_settings

    folder = tmp_path_factory.mktemp("opkinds")
    settings = isolated_settings(
        folder / "kb", folder / "user.toml", security={"allow_cypher_writes": True}
    )
    kb = KnowledgeBase(folder / "kb", settings=settings)
    try:
        _every_write(kb)
        return [op for change in kb.changes(0) for op in change.ops]
    finally:
        kb.close()


def test_every_recorded_kind_is_declared(recorded: list[Op]) -> None:
    undeclared = sorted({op.op for op in recorded} - set(KINDS))
    assert undeclared == []


def test_every_declared_kind_is_produced_by_some_write(recorded: list[Op]) -> None:
    assert sorted(set(KINDS) - {op.op for op in recorded}) == []


def test_each_category_has_a_kind_and_each_kind_a_doc() -> None:
    assert {kind.category for kind in KINDS.values()} == set(CATEGORIES)
    assert all(kind.doc.endswith(".") and kind.name == name for name, kind in KINDS.items())


def test_bulk_kinds_name_no_node(recorded: list[Op]) -> None:
    # What readers rely on: a bulk op's id is a batch, a row op's id is a node.
    for op in recorded:
        if op.bulk:
            assert op.before is None and op.after is None, op
        elif op.category in {"row", "derived"}:
            assert (op.before or op.after or {}).get("id") == op.id, op


def test_recording_an_undeclared_kind_raises_and_writes_nothing(kb: Any) -> None:
    seq = kb.seq
    with (
        pytest.raises(UndeclaredOpKind, match="'bogus' is not declared"),
        kb.store.write("bogus") as tx,
    ):
        tx.record(Op("bogus", "x"))
    assert kb.seq == seq


def test_constants_and_categories_agree() -> None:
    assert opkinds.category(opkinds.MEMBER_ADD) == "edge"
    assert opkinds.of_category("schema") == {opkinds.SCHEMA}
    assert {"import", "unimport", "repair", "cypher", "recalc"} == opkinds.BULK
    with pytest.raises(UndeclaredOpKind):
        opkinds.category("nope")

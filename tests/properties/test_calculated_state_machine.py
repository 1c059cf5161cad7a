"""Random entity edits, moves, deletes and undos keep every calculated value right.

A Hypothesis state machine drives one knowledge base whose schema uses every
way a value can depend on other nodes: its own fields, a calculated field
reading another, children (a rollup that climbs the hierarchy), a parent, a
reference, and backlinks. After every step, each stored calculated value must
equal its recomputation from scratch (`check_calculated`, the doctor's full
recompute), and two of them are also checked against this test's own count
of the graph, so the full recompute is not only compared with itself.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from nodespace_lab.errors import HierarchyError, NotFound, NothingToUndo, ValidationError
from nodespace_lab.nodes.undo import undoable

from .scratch import scratch_kb

SCHEMA: dict[str, dict[str, Any]] = {
    "person": {"rate": "number"},
    "item": {
        "est": "number",
        "owner": {"type": "ref", "to": "person"},
        "cost": {"expression": "coalesce(est, 0) * coalesce(owner.rate, 1)"},
        "budget_left": {"type": "number", "expression": "parent.budget - cost"},
    },
    "project": {
        "budget": "number",
        "cost": {"type": "number", "expression": "sum(children.cost)"},
        "items": {"expression": 'count(children where kind = "item")'},
        "over": {"type": "bool", "expression": "cost > coalesce(budget, 0)"},
        "mentions": {"expression": "count(backlinks)"},
    },
}
NUMBER = st.one_of(st.none(), st.integers(-5, 50).map(float))


class CalcMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.folder, self.kb = scratch_kb("ns-calc-")
        for name, fields in SCHEMA.items():
            self.kb.define(name, fields)
        self.setup_seq = self.kb.seq  # undo stops here: the schema stays
        self.counter = 0

    def teardown(self) -> None:
        try:
            self.kb.close()
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)

    def live(self, kind: str | None = None) -> list[str]:
        return sorted(self.kb.find(kind).ids()) if kind else sorted(self.kb.find().ids())

    def pick(self, kind: str | None, i: int) -> str | None:
        ids = self.live(kind)
        return ids[i % len(ids)] if ids else None

    def new_id(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    # -- rules -----------------------------------------------------------------------

    @initialize(rate=NUMBER, budget=NUMBER)
    def start(self, rate: float | None, budget: float | None) -> None:
        # Something of each kind from the first step, so every dependency is reachable.
        self.add_person(rate)
        self.add_project(budget, 0, top=True)

    @rule(rate=NUMBER)
    def add_person(self, rate: float | None) -> None:
        self.kb.create("person", "someone", id=self.new_id("u"), rate=rate)

    @rule(budget=NUMBER, parent=st.integers(0, 50), top=st.booleans())
    def add_project(self, budget: float | None, parent: int, top: bool) -> None:
        under = None if top else self.pick("project", parent)
        node_id = self.new_id("p")
        self.kb.create("project", node_id.upper(), id=node_id, budget=budget, parent=under)

    @rule(est=NUMBER, parent=st.integers(0, 50), owner=st.integers(-1, 50))
    def add_item(self, est: float | None, parent: int, owner: int) -> None:
        who = self.pick("person", owner) if owner >= 0 else None
        self.kb.create(
            "item", "thing", id=self.new_id("i"), parent=self.pick("project", parent),
            est=est, owner=who,
        )  # fmt: skip

    @rule(i=st.integers(0, 50), est=NUMBER)
    def edit_item(self, i: int, est: float | None) -> None:
        node = self.pick("item", i)
        if node is not None:
            self.kb.update(node, est=est)

    @rule(i=st.integers(0, 50), owner=st.integers(-1, 50))
    def change_owner(self, i: int, owner: int) -> None:
        node = self.pick("item", i)
        if node is not None:
            self.kb.update(node, owner=self.pick("person", owner) if owner >= 0 else None)

    @rule(i=st.integers(0, 50), value=NUMBER, field=st.sampled_from(["rate", "budget"]))
    def edit_input(self, i: int, value: float | None, field: str) -> None:
        node = self.pick("person" if field == "rate" else "project", i)
        if node is not None:
            fields: dict[str, Any] = {field: value}
            self.kb.update(node, **fields)

    @rule(i=st.integers(0, 50), rate=NUMBER)
    def edit_rate(self, i: int, rate: float | None) -> None:
        # A referenced node's field: the items whose owner it is must follow.
        person = self.pick("person", i)
        if person is not None:
            self.kb.update(person, rate=rate)

    @rule(i=st.integers(0, 100), parent=st.integers(-1, 50))
    def move(self, i: int, parent: int) -> None:
        node = self.pick(None, i)
        target = self.pick("project", parent) if parent >= 0 else None
        if node is None:
            return
        # Refused: a move into its own subtree, or of a node that is not in the tree.
        with contextlib.suppress(HierarchyError):
            self.kb.move(node, target)

    @rule(i=st.integers(0, 100))
    def delete(self, i: int) -> None:
        node = self.pick(None, i)
        if node is not None:
            self.kb.delete(node)

    @rule(i=st.integers(0, 100))
    def restore(self, i: int) -> None:
        deleted = sorted(set(self.kb.find().include_deleted().ids()) - set(self.live()))
        if deleted:
            self.kb.restore(deleted[i % len(deleted)])

    @rule(linked=st.lists(st.integers(0, 50), max_size=3), parent=st.integers(-1, 50))
    def write_note(self, linked: list[int], parent: int) -> None:
        titles = [t for t in (self.pick("project", i) for i in linked) if t is not None]
        content = " ".join(f"[[{t.upper()}]]" for t in titles)
        under = self.pick("project", parent) if parent >= 0 else None
        self.kb.create("text", "note", content=content, parent=under)

    @rule(i=st.integers(0, 100))
    def rename_project(self, i: int) -> None:
        node = self.pick("project", i)
        if node is not None:
            self.kb.update(node, title=self.new_id("P").upper())

    @rule()
    def undo(self) -> None:
        target = undoable(self.kb.store)
        if target is None or target.seq <= self.setup_seq:
            return
        with contextlib.suppress(NothingToUndo, ValidationError, HierarchyError):
            self.kb.undo()  # an undo the current state refuses is fine

    @precondition(lambda self: self.counter > 0)
    @rule()
    def failing_transaction(self) -> None:
        node = self.pick("item", 0)
        with pytest.raises(NotFound), self.kb.transaction():
            if node is not None:
                self.kb.update(node, est=999.0)
            self.kb.update("missing-node", est=1.0)

    # -- invariants -----------------------------------------------------------------------

    @invariant()
    def stored_values_equal_a_recomputation(self) -> None:
        assert self.kb.check_calculated() == []

    @invariant()
    def counts_agree_with_the_graph(self) -> None:
        for project in self.live("project"):
            node = self.kb.get(project)
            children = self.kb.children(project)
            items = sum(1 for c in children if c.kind == "item")
            assert node.properties.get("items") == items
            mentions = len(self.kb.backlinks(project))
            assert node.properties.get("mentions") == mentions


CalcMachine.TestCase.settings = settings(
    max_examples=int(os.environ.get("NODESPACE_PROPERTY_EXAMPLES", "25")),
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_random_entity_edits_keep_calculated_values_right = CalcMachine.TestCase

"""The operation table: one declaration per operation, both transports held to it.

Issue 13, part 1. The table is read from the facet protocols; these tests fail
when a transport's signature drifts from the protocol, when a public method is
added without being declared, when the service's routes or the lab extension's
generated list differ from the table, and when the gate misses an operation.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from nodespace_lab.errors import NotFound
from nodespace_lab.kb import KnowledgeBase
from nodespace_lab.kb.facets import FACETS, OPERATIONS, KnowledgeBaseAPI
from nodespace_lab.kb.gate import OperationCall, Proceed
from nodespace_lab.kb.typescript import TARGET, render
from nodespace_lab.service.api import METHODS, PROPERTIES, READS, WRITES
from nodespace_lab.service.client import RemoteKnowledgeBase

ROOT = Path(__file__).resolve().parents[2]
#: Public members that are not operations: lifecycle, and the embedded side's
#: own handles on its parts (a remote client has no store or index to hand out).
NOT_OPERATIONS = {"close", "path", "settings", "gate", "info"}
EMBEDDED_ONLY = {"ai", "fulltext", "store", "vectors", "vector_status", "add_component"}


def _function(cls: type, name: str) -> Any:
    member = inspect.getattr_static(cls, name)
    return member.fget if isinstance(member, property) else member


def _parameters(function: Any) -> list[tuple[str, Any, Any, str]]:
    """Name, kind, default and annotation text of each parameter after self."""
    signature = inspect.signature(inspect.unwrap(function))
    return [
        (p.name, p.kind, p.default, str(p.annotation))
        for p in list(signature.parameters.values())[1:]
    ]


def test_every_operation_is_declared_once_with_what_it_needs() -> None:
    assert len(OPERATIONS) >= 55
    facets = {op.facet for op in OPERATIONS.values()}
    assert facets == {facet.__name__ for facet in FACETS}
    for op in OPERATIONS.values():
        assert op.summary and not op.summary.startswith(op.name), op
        assert op.capability in {"read", "write", "ai", "files"}
        assert op.writes == (op.access == "write")
    assert OPERATIONS["cypher"].access == "read"  # writes need write=True and a setting
    assert OPERATIONS["ask"].capability == "ai"
    assert OPERATIONS["define_file"].capability == "files"


@pytest.mark.parametrize("implementation", [KnowledgeBase, RemoteKnowledgeBase])
def test_each_transport_implements_every_operation_with_the_protocols_signature(
    implementation: type,
) -> None:
    differences = []
    for name, op in OPERATIONS.items():
        declared = _function(KnowledgeBaseAPI, name)
        implemented = _function(implementation, name)
        assert implemented is not None, f"{implementation.__name__} lacks {name}"
        if _parameters(declared) != _parameters(implemented):
            differences.append((name, _parameters(declared), _parameters(implemented)))
        if name != "transaction":  # a generator under @contextmanager, typed as such
            want = inspect.signature(declared).return_annotation
            got = inspect.signature(inspect.unwrap(implemented)).return_annotation
            if want != got:
                differences.append((name, want, got))
        assert isinstance(inspect.getattr_static(implementation, name), property) == (
            op.is_property
        ), name
    assert differences == []


@pytest.mark.parametrize("implementation", [KnowledgeBase, RemoteKnowledgeBase])
def test_a_public_method_that_is_not_in_the_table_fails_here(implementation: type) -> None:
    public = {n for n in dir(implementation) if not n.startswith("_")}
    undeclared = public - set(OPERATIONS) - NOT_OPERATIONS - EMBEDDED_ONLY
    assert undeclared == set(), "declare these on a facet protocol in nodespace_lab/kb/facets.py"
    assert {n for n in dir(KnowledgeBase)} >= EMBEDDED_ONLY


def test_the_service_routes_come_from_the_table() -> None:
    calls = {n for n, op in OPERATIONS.items() if op.transport == "call"}
    assert set(METHODS) == calls
    assert {n for n in READS} == {n for n in calls if not OPERATIONS[n].writes}
    assert {n for n in WRITES} == {n for n in calls if OPERATIONS[n].writes}
    assert {n for n in calls if OPERATIONS[n].is_property} == PROPERTIES


def test_the_lab_extensions_operation_list_is_generated_from_the_table() -> None:
    committed = (ROOT / TARGET).read_text(encoding="utf-8")
    assert committed == render(), "run `python -m nodespace_lab.kb.typescript`"
    for name in OPERATIONS:
        assert f"  | '{name}'" in committed


# -- the gate ------------------------------------------------------------------


@pytest.fixture
def seen(kb: KnowledgeBase) -> Iterator[list[OperationCall]]:
    calls: list[OperationCall] = []

    def record(call: OperationCall, proceed: Proceed) -> Any:
        calls.append(call)
        return proceed()

    remove = kb.gate.add(record)
    yield calls
    remove()


def test_every_operation_passes_the_gate_once(kb: KnowledgeBase, seen: list[OperationCall]) -> None:
    note = kb.create("text", "Gate", "links to [[Other]]")
    kb.get(note.id)
    kb.children(None)
    kb.open_tasks()  # runs a find inside: still one operation
    _ = kb.seq
    kb.search("gate")
    assert [c.operation.name for c in seen] == [
        "create", "get", "children", "open_tasks", "seq", "search",
    ]  # fmt: skip
    assert seen[0].args == ("text", "Gate", "links to [[Other]]")
    assert seen[1].args == (note.id,) and seen[0].transport in {"embedded", "remote"}


def test_a_hook_can_answer_without_running_the_operation(kb: KnowledgeBase) -> None:
    note = kb.create("text", "Cached")

    def cached(call: OperationCall, proceed: Proceed) -> Any:
        if call.operation.name == "exists":
            return "from the cache"
        return proceed()

    remove = kb.gate.add(cached)
    try:
        assert kb.exists(note.id) == "from the cache"  # type: ignore[comparison-overlap]
        assert kb.get(note.id).title == "Cached"
    finally:
        remove()
    assert kb.exists(note.id) is True


def test_a_hook_can_refuse_and_nothing_is_written(kb: KnowledgeBase) -> None:
    before = kb.seq

    def read_only(call: OperationCall, proceed: Proceed) -> Any:
        if call.operation.writes:
            raise PermissionError(f"{call.operation.name} needs {call.operation.capability}")
        return proceed()

    remove = kb.gate.add(read_only)
    try:
        with pytest.raises(PermissionError, match="create needs write"):
            kb.create("text", "Refused")
        with pytest.raises(NotFound):
            kb.get("missing")  # reads still run, errors pass through the hooks
    finally:
        remove()
    assert kb.seq == before and kb.find().all() == []


def test_hooks_run_outermost_first_and_each_once(kb: KnowledgeBase) -> None:
    order: list[str] = []

    def hook(label: str) -> Any:
        def around(call: OperationCall, proceed: Proceed) -> Any:
            order.append(f"{label}>")
            try:
                return proceed()
            finally:
                order.append(f"<{label}")

        return around

    removers = [kb.gate.add(hook("a")), kb.gate.add(hook("b"))]
    kb.children(None)
    for remove in removers:
        remove()
    kb.children(None)
    assert order == ["a>", "b>", "<b", "<a"]

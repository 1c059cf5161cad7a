"""`watch()`: coalesced, filtered change callbacks on the knowledge base's one live thread."""

from __future__ import annotations

import ast
import threading
from pathlib import Path

import polars as pl
import pytest

from nodespace_lab import KnowledgeBase
from nodespace_lab.live import Changes, watch

PACKAGE = Path(__file__).resolve().parents[2] / "nodespace_lab"


class Calls:
    """Collects the `Changes` a watcher gets and the threads it gets them on."""

    def __init__(self) -> None:
        self.changes: list[Changes] = []
        self.threads: list[str] = []

    def __call__(self, changes: Changes) -> None:
        self.changes.append(changes)
        self.threads.append(threading.current_thread().name)

    @property
    def ids(self) -> set[str]:
        return {i for c in self.changes for i in c.ids}


def test_a_burst_of_commits_is_one_call_with_their_union(kb: KnowledgeBase) -> None:
    release, entered = threading.Event(), threading.Event()
    calls = Calls()

    def slow(changes: Changes) -> None:
        calls(changes)
        entered.set()
        release.wait(10)

    stop = watch(kb, slow)
    kb.create("text", "A", id="a")
    assert entered.wait(10)
    for name in "bcd":  # committed while the first call is still running
        kb.create("text", name.upper(), id=name)
    release.set()
    assert stop.flush(10)
    assert len(calls.changes) == 2
    assert calls.changes[1].ids == {"b", "c", "d"}
    assert calls.changes[1].seq == kb.seq and len(calls.changes[1].changes) == 3
    stop()


def test_callbacks_run_on_the_one_live_thread_not_the_writers(kb: KnowledgeBase) -> None:
    first, second = Calls(), Calls()
    stops = [watch(kb, first), watch(kb, second)]
    kb.create("text", "A", id="a")
    assert all(stop.flush(10) for stop in stops)
    assert first.threads == second.threads == ["nodespace-live"]
    assert threading.current_thread().name not in first.threads


def test_unsubscribing_stops_the_calls(kb: KnowledgeBase) -> None:
    calls = Calls()
    stop = watch(kb, calls)
    kb.create("text", "A", id="a")
    assert stop.flush(10)
    stop()
    stop()  # twice is harmless
    kb.create("text", "B", id="b")
    kb.live_registry.flush()
    assert calls.ids == {"a"}


def test_filters_by_ids_parents_keys_and_kinds(kb: KnowledgeBase) -> None:
    kb.create("text", "Page", id="page")
    kb.create("text", "Other", id="other")
    by_id, by_parent, by_key, by_kind = Calls(), Calls(), Calls(), Calls()
    stops = [
        watch(kb, by_id, ids={"page"}),
        watch(kb, by_parent, parents={"page"}),
        watch(kb, by_key, keys={"target"}),
        watch(kb, by_kind, kinds={"task"}),
    ]
    kb.update("other", title="Other two")  # matches none
    kb.create("task", "Child", parent="page", id="child")  # parent, kind
    kb.update("page", content="x")  # id
    kb.create("text", "Linker", id="linker", content="See [[Target]]")  # key
    for stop in stops:
        assert stop.flush(10)
    assert by_id.ids == {"page"}
    assert by_parent.ids == {"child"}
    assert by_key.ids == {"linker"}
    assert by_kind.ids == {"child"} and all(c.kinds == {"task"} for c in by_kind.changes)


def test_a_filter_can_be_a_function_asked_at_delivery(kb: KnowledgeBase) -> None:
    shown = {"a"}
    calls = Calls()
    stop = watch(kb, calls, ids=lambda: shown)
    kb.create("text", "A", id="a")
    assert stop.flush(10)
    shown = {"b"}
    kb.update("a", title="A2")
    kb.create("text", "B", id="b")
    assert stop.flush(10)
    assert [c.ids for c in calls.changes] == [{"a"}, {"b"}]


def test_a_bulk_change_matches_every_filter(kb: KnowledgeBase) -> None:
    calls = Calls()
    stop = watch(kb, calls, ids={"nothing-here"})
    kb.import_nodes(pl.DataFrame({"id": ["i1"], "kind": ["text"], "title": ["I"]}))
    assert stop.flush(10)
    assert len(calls.changes) == 1 and calls.changes[0].everything


def test_parents_and_membership_in_the_union(kb: KnowledgeBase) -> None:
    kb.create("text", "P", id="p")
    kb.create("text", "Q", id="q")
    kb.create("text", "C", id="c", parent="p")
    calls = Calls()
    stop = watch(kb, calls)
    kb.move("c", "q")
    kb.tag("c", "idea")
    assert stop.flush(10)
    union = calls.changes
    assert {"p", "q"} <= {p for c in union for p in c.parents}
    assert {"c", "tag:idea"} <= calls.ids  # both ends of the membership


def test_pull_takes_what_is_pending_and_it_is_not_delivered_again(kb: KnowledgeBase) -> None:
    release, entered = threading.Event(), threading.Event()
    calls = Calls()
    holder = Calls()

    def block(changes: Changes) -> None:
        holder(changes)
        entered.set()
        release.wait(10)

    blocker = watch(kb, block)  # keeps the live thread busy
    stop = watch(kb, calls)
    kb.create("text", "A", id="a")
    assert entered.wait(10)
    kb.create("text", "B", id="b")
    pulled = stop.pull()
    release.set()
    assert pulled is not None and {"a", "b"} <= pulled.ids
    assert blocker.flush(10) and stop.flush(10)
    assert "b" not in calls.ids  # "a" may come twice (it was in flight), "b" never
    assert stop.pull() is None


def test_widgets_do_not_import_the_graph_layer_and_live_does_not_import_widgets() -> None:
    def imports(path: Path) -> set[str]:
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                found.add("." * node.level + (node.module or ""))
            elif isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
        return found

    def offenders(folder: str, banned: tuple[str, ...]) -> list[str]:
        return [
            f"{path.name}: {name}"
            for path in sorted((PACKAGE / folder).glob("*.py"))
            for name in imports(path)
            if name.startswith(banned)
        ]

    assert offenders("widgets", ("..graph", "nodespace_lab.graph")) == []
    assert offenders("live", ("..widgets", "nodespace_lab.widgets")) == []


@pytest.mark.parametrize("module", ["outline.py", "graph.py"])
def test_the_views_start_no_threads_of_their_own(module: str) -> None:
    assert "threading.Thread(" not in (PACKAGE / "widgets" / module).read_text()

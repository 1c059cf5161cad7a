"""The change feed and dependency tracking, against the real engine."""

from __future__ import annotations

import pytest

from nodespace_lab import KnowledgeBase
from nodespace_lab.errors import ValidationError


def test_follow_replays_from_a_sequence_number_then_continues_in_order(kb: KnowledgeBase) -> None:
    for i in range(3):
        kb.create("text", title=f"n{i}")
    seen: list[int] = []
    stop = kb.follow(lambda change: seen.append(change.seq), since=1)
    kb.create("text", title="later")
    stop()
    kb.create("text", title="after stop")
    assert seen == [2, 3, 4]


def test_a_rolled_back_transaction_emits_nothing(kb: KnowledgeBase) -> None:
    seen: list[int] = []
    kb.follow(lambda change: seen.append(change.seq))
    with pytest.raises(ValidationError), kb.transaction():
        kb.create("text", title="kept only if the transaction commits")
        kb.create("task", title="bad", priority=9)
    assert seen == []
    kb.create("text", title="committed")
    assert seen == [kb.seq]


def test_change_events_name_nodes_kinds_fields_and_edges(kb: KnowledgeBase) -> None:
    events = []
    kb.follow(events.append)
    page = kb.create("text", title="Page")
    task = kb.create("task", title="T", parent=page.id)
    kb.update(task.id, task_status="done")
    created, child, updated = events
    assert created.node_ids == [page.id] and created.kinds == ["text"]
    assert child.edges == ["CHILD_OF", "LINKS_TO"]
    assert updated.node_ids == [task.id]
    assert {"task_status", "completed_at", "version"} <= set(updated.fields)


def test_a_write_reruns_only_the_live_queries_it_can_affect(kb: KnowledgeBase) -> None:
    for i in range(1000):
        kb.create("task", title=f"t{i}")
    queries = [kb.live(kb.find("task").where(title=f"t{i}")) for i in range(1000)]
    other = kb.live(kb.find("text"))
    assert all(len(q.rows) == 1 for q in queries)
    before = [q.reruns for q in queries]
    target = queries[7].rows[0]["id"]
    kb.update(target, priority=1)
    kb.create("task", title="t42")
    kb.create("collection", title="not a task")
    assert kb.live_registry.flush()
    rerun = [i for i, q in enumerate(queries) if q.reruns != before[i]]
    assert rerun == [7, 42]
    assert len(queries[42].rows) == 2
    assert queries[7].rows[0]["priority"] == 1
    assert other.reruns == 1


def test_a_burst_of_writes_coalesces_into_few_reruns(kb: KnowledgeBase) -> None:
    live = kb.live(kb.find("task"))
    with kb.transaction():
        for i in range(50):
            kb.create("task", title=f"burst {i}")
    assert kb.live_registry.flush()
    assert live.reruns == 2  # the first run and one for the whole transaction
    assert len(live.rows) == 50


def test_cypher_live_query_without_dependencies_reruns_on_any_write(kb: KnowledgeBase) -> None:
    live = kb.live("MATCH (n:Node) RETURN n.id AS id, n.title AS title")
    kb.create("collection", title="anything")
    assert kb.live_registry.flush()
    assert live.reruns == 2 and [r["title"] for r in live.rows] == ["anything"]


def test_unreferenced_live_queries_are_released(kb: KnowledgeBase) -> None:
    import gc

    kept = kb.live(kb.find("task"))
    dropped = kb.live(kb.find("text"))
    assert len(kb.live_registry) == 2
    del dropped
    gc.collect()
    assert len(kb.live_registry) == 1
    kept.close()
    assert len(kb.live_registry) == 0


def test_a_hidden_row_changing_a_returned_column_does_not_rerun(kb: KnowledgeBase) -> None:
    done = kb.create("task", title="finished", task_status="done")
    live = kb.live(kb.find("task").where(task_status="todo"))
    kb.update(done.id, content="edited, still done")
    assert kb.live_registry.flush()
    assert live.reruns == 1
    kb.update(done.id, task_status="todo")
    assert kb.live_registry.flush()
    assert live.reruns == 2 and [row["id"] for row in live.rows] == [done.id]

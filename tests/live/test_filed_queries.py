"""Queries filed under an equality are still re-run by every change that matters.

The registry looks up queries with an equality condition by the values a
change's rows had (see live/registry.py); a miss there would leave a live
query silently stale. Random writes against many query shapes check that
every live result equals a fresh run after each write.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nodespace_lab import KnowledgeBase

_ops = st.lists(
    st.tuples(
        st.sampled_from(["create", "status", "priority", "retitle", "move", "delete", "tag"]),
        st.integers(0, 11),
    ),
    min_size=1,
    max_size=14,
)


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ops=_ops)
def test_every_live_query_equals_a_fresh_run_after_each_write(
    kb_factory, tmp_path_factory, ops
) -> None:
    kb: KnowledgeBase = kb_factory(tmp_path_factory.mktemp("kb"))
    parents = [kb.create("text", title=f"parent {i}").id for i in range(3)]
    for i in range(4):
        kb.create("task", title=f"seed {i}", parent=parents[i % 3], priority=1 + i % 4)
    queries = [
        *(kb.find().under(p) for p in parents),
        *(kb.find("task").where(task_status=s).order_by("title") for s in ("todo", "done")),
        *(kb.find("task").where(priority=p) for p in (1, 2)),
        kb.find("task").where(task_status="todo").under(parents[0]),
        kb.find("task").tagged("urgent"),
        kb.find("text").order_by("title"),
    ]
    lives = [kb.live(q) for q in queries]
    for op, n in ops:
        tasks = kb.find("task").ids()
        if op == "create" or not tasks:
            kb.create("task", title=f"new {n}", parent=parents[n % 3], priority=1 + n % 4)
        else:
            target = tasks[n % len(tasks)]
            if op == "status":
                kb.update(target, task_status=("todo", "doing", "done")[n % 3])
            elif op == "priority":
                kb.update(target, priority=1 + n % 4)
            elif op == "retitle":
                kb.update(target, title=f"renamed {n}")
            elif op == "move":
                kb.move(target, parents[n % 3], index=n % 2)
            elif op == "delete":
                kb.delete(target)
            else:
                kb.tag(target, "urgent")
        assert kb.live_registry.flush()
        for query, live in zip(queries, lives, strict=True):
            assert live.rows == query.to_polars().to_dicts(), (op, n, query)
    kb.close()

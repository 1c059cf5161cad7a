"""Row diffs: applying every diff to the first result equals re-running the query."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nodespace_lab import KnowledgeBase
from nodespace_lab.live import RowDiff, apply_diff, diff_rows

_rows = st.lists(
    st.fixed_dictionaries({"id": st.sampled_from("abcdefgh"), "v": st.integers(0, 3)}),
    max_size=8,
    unique_by=lambda row: row["id"],
)


@given(old=_rows, new=_rows)
def test_apply_diff_of_two_results_gives_the_second(old: list[dict], new: list[dict]) -> None:
    diff = diff_rows(1, old, new)
    assert apply_diff(old, diff) == new
    assert diff.empty == (old == new)


_ops = st.lists(
    st.tuples(st.sampled_from(["create", "done", "retitle", "delete", "move"]), st.integers(0, 9)),
    min_size=1,
    max_size=12,
)


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ops=_ops)
def test_streamed_diffs_equal_a_fresh_run(kb_factory, tmp_path_factory, ops) -> None:
    kb: KnowledgeBase = kb_factory(tmp_path_factory.mktemp("kb"))
    page = kb.create("text", title="page")
    live = kb.live(kb.find("task").where(task_status="todo").order_by("title").order_by("id"))
    shown = list(live.rows)
    diffs: list[RowDiff] = []
    live.observe(diffs.append)
    for op, n in ops:
        tasks = kb.find("task").ids()
        if op == "create" or not tasks:
            kb.create("task", title=f"task {n}", parent=page.id if n % 2 else None)
            continue
        target = tasks[n % len(tasks)]
        if op == "done":
            kb.update(target, task_status="done")
        elif op == "retitle":
            kb.update(target, title=f"renamed {n}")
        elif op == "delete":
            kb.delete(target)
        else:
            kb.move(target, page.id, index=0)
    assert kb.live_registry.flush()
    for diff in diffs:
        shown = apply_diff(shown, diff)
    fresh = (
        kb.find("task")
        .where(task_status="todo")
        .order_by("title")
        .order_by("id")
        .to_polars()
        .to_dicts()
    )
    assert shown == fresh == live.rows
    kb.close()

"""Live-query parameters bound to `param` parameters and `param.rx` values."""

from __future__ import annotations

import gc

import param

from nodespace_lab import KnowledgeBase


class Filters(param.Parameterized):
    priority = param.Integer(default=1, bounds=(1, 4))


def _tasks(kb: KnowledgeBase) -> None:
    for priority in (1, 1, 2, 3):
        kb.create("task", title=f"p{priority}", priority=priority)


def test_cypher_parameter_bound_to_a_param_parameter_reruns_on_change(kb: KnowledgeBase) -> None:
    _tasks(kb)
    filters = Filters()
    live = kb.live(
        "MATCH (t:Node {kind: 'task'}) WHERE t.priority = $priority RETURN t.id AS id",
        priority=filters.param.priority,
    )
    assert len(live.rows) == 2
    filters.priority = 3
    assert kb.live_registry.flush()
    assert len(live.rows) == 1
    assert live.values() == {"priority": 3}


def test_find_query_built_from_a_param_rx_value(kb: KnowledgeBase) -> None:
    _tasks(kb)
    wanted = param.rx(2)
    live = kb.live(lambda priority: kb.find("task").where(priority=priority), priority=wanted)
    assert [row["title"] for row in live.rows] == ["p2"]
    wanted.rx.value = 1
    assert kb.live_registry.flush()
    assert sorted(row["title"] for row in live.rows) == ["p1", "p1"]
    kb.create("task", title="late p1", priority=1)
    assert kb.live_registry.flush()
    assert len(live.rows) == 3


def test_a_parameter_watch_does_not_keep_a_dropped_query_alive(kb: KnowledgeBase) -> None:
    filters = Filters()
    live = kb.live(
        "MATCH (t:Node) WHERE t.priority = $priority RETURN t.id AS id",
        priority=filters.param.priority,
    )
    assert len(kb.live_registry) == 1
    del live
    gc.collect()
    assert len(kb.live_registry) == 0
    filters.priority = 2  # the watcher finds no query and does nothing
    assert kb.live_registry.flush()


def test_a_callable_builder_query_derives_its_dependencies(kb: KnowledgeBase) -> None:
    _tasks(kb)
    wanted = param.rx(2)
    live = kb.live(lambda priority: kb.find("task").where(priority=priority), priority=wanted)
    assert not live.depends.everything
    assert live.depends.equals == (("priority", 2),)
    reruns = live.reruns
    kb.create("text", "a note")  # another kind: cannot change a task query
    assert kb.live_registry.flush()
    assert live.reruns == reruns
    wanted.rx.value = 3
    assert kb.live_registry.flush()
    assert live.depends.equals == (("priority", 3),)
    assert [row["title"] for row in live.rows] == ["p3"]


def test_an_ipywidgets_slider_drives_a_parameter(kb: KnowledgeBase) -> None:
    import ipywidgets

    _tasks(kb)
    slider = ipywidgets.IntSlider(value=1, min=1, max=4)
    live = kb.live(
        "MATCH (t:Node {kind: 'task'}) WHERE t.priority <= $top RETURN t.id AS id",
        top=slider,
    )
    assert len(live.rows) == 2
    slider.value = 2
    assert kb.live_registry.flush()
    assert len(live.rows) == 3
    live.close()
    slider.value = 4  # released: the slider no longer re-runs it
    assert kb.live_registry.flush()
    assert len(live.rows) == 3

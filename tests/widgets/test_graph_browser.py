"""GraphView's canvas, layout loop and interactions in headless Chromium."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from nodespace_lab import KnowledgeBase
from nodespace_lab.widgets import GraphView

from .graph_bench import build_graph, measure_frames
from .host import WidgetHost

XSS = '<img src=x onerror="window.__pwned=1">'


@pytest.fixture
def graphs() -> Iterator[list[GraphView]]:
    """GraphViews made by a test; closed (unsubscribed) at teardown."""
    made: list[GraphView] = []
    yield made
    for graph in made:
        graph.close()


def show(host: WidgetHost, graphs: list[GraphView], graph: GraphView) -> Any:
    graphs.append(graph)
    return host.show(graph)


def handle(el: Any, expression: str) -> Any:
    """Evaluate `expression` with `g` bound to the element's `__nsGraph` handle."""
    return el.evaluate(f"(el) => {{ const g = el.__nsGraph; return {expression}; }}")


def wait_frames(host: WidgetHost, graph: GraphView, n: int) -> None:
    host.page.wait_for_function(
        "([id, n]) => document.getElementById(id).__nsGraph.layoutFrames >= n",
        arg=[graph.model_id, n],
        polling=100,
        timeout=30_000,
    )


def small(kb: KnowledgeBase) -> dict[str, str]:
    top = kb.create("text", "Top")
    a = kb.create("text", "Alpha", "[[Beta]] and [[Missing]]", parent=top.id, tags=["green"])
    b = kb.create("text", "Beta")
    c = kb.create("task", "Gamma", "back to [[Alpha]]")
    return {"top": top.id, "a": a.id, "b": b.id, "c": c.id}


def test_draws_on_a_canvas_with_a_legend(kb: KnowledgeBase, host: WidgetHost, graphs: Any) -> None:
    n = small(kb)
    graph = GraphView(kb, n["a"])
    el = show(host, graphs, graph)
    assert el.locator("canvas").count() == 1
    assert el.locator(".ns-graph-summary").inner_text() == "6 nodes · 5 edges"
    kinds = el.locator(".ns-graph-key[data-kind]").evaluate_all(
        "(els) => els.map((e) => e.dataset.kind)"
    )
    assert set(kinds) == {"text", "task", "tag", "ref"}
    types = el.locator(".ns-graph-key[data-edge]").evaluate_all(
        "(els) => els.map((e) => e.dataset.edge)"
    )
    assert set(types) == {"CHILD_OF", "LINKS_TO", "MEMBER_OF", "REFERS"}
    assert el.get_attribute("data-nodes") == "6"
    wait_frames(host, graph, 5)
    # Something was drawn: the canvas is not blank.
    painted = el.evaluate(
        "(el) => { const c = el.querySelector('canvas');"
        " const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
        " let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i]) n++; return n; }"
    )
    assert painted > 100
    assert host.page_errors() == []


def test_two_thousand_nodes_render_and_the_layout_runs(
    kb: KnowledgeBase, host: WidgetHost, graphs: Any
) -> None:
    center = build_graph(kb, 2000)
    graph = GraphView(kb, center, depth=2, limit=2000)
    el = show(host, graphs, graph)
    assert el.get_attribute("data-nodes") == "2000"
    wait_frames(host, graph, 30)
    stats = handle(el, "g.stats()")
    assert stats["nodes"] == 2000 and stats["edges"] == len(graph.edges) > 3000
    assert stats["ticks"] >= 30 and stats["work"]["count"] >= 30
    # Positions are finite and spread out (the layout did not blow up or collapse).
    spread = handle(
        el,
        "(() => { const ids = ["
        + ",".join(f"'{node['id']}'" for node in graph.nodes[::200])
        + "]; return ids.map((id) => g.positionOf(id)); })()",
    )
    assert all(p is not None and abs(p["x"]) < 1e6 and abs(p["y"]) < 1e6 for p in spread)
    assert len({(round(p["x"]), round(p["y"])) for p in spread}) == len(spread)
    assert host.page_errors() == []


def test_the_layout_cools_and_the_loop_stops(
    kb: KnowledgeBase, host: WidgetHost, graphs: Any
) -> None:
    n = small(kb)
    graph = GraphView(kb, n["a"])
    el = show(host, graphs, graph)
    # Skip most of the ~300 ticks; the animation loop runs the rest and stops itself.
    handle(el, "g.coolNow(250)")
    assert handle(el, "g.running")
    ticks = handle(el, "g.ticks")
    host.page.wait_for_function(
        "(id) => !document.getElementById(id).__nsGraph.running",
        arg=graph.model_id,
        timeout=30_000,
    )
    assert handle(el, "g.ticks") > ticks
    assert el.get_attribute("data-layout") == "cooled"
    frames = handle(el, "g.stats().frames")
    host.page.wait_for_timeout(200)
    assert handle(el, "g.stats().frames") == frames  # no frames while nothing changes


def test_clicking_a_node_selects_it_in_python(
    kb: KnowledgeBase, host: WidgetHost, graphs: Any
) -> None:
    n = small(kb)
    graph = GraphView(kb, n["a"])
    el = show(host, graphs, graph)
    handle(el, "g.coolNow()")
    point = handle(el, f"g.positionOf('{n['b']}')")
    host.page.mouse.click(point["x"], point["y"])
    host.settle()
    assert graph.selected == n["b"]
    # Clicking the background clears the selection.
    box = el.locator("canvas").bounding_box()
    host.page.mouse.click(box["x"] + 3, box["y"] + 3)
    host.settle()
    assert graph.selected == ""


def test_double_click_recentres(kb: KnowledgeBase, host: WidgetHost, graphs: Any) -> None:
    n = small(kb)
    graph = GraphView(kb, n["a"])
    el = show(host, graphs, graph)
    handle(el, "g.coolNow()")
    point = handle(el, f"g.positionOf('{n['top']}')")
    host.page.mouse.dblclick(point["x"], point["y"])
    host.settle()
    assert graph.center == n["top"]
    assert graph.nodes[0]["id"] == n["top"]
    assert el.locator(".ns-graph-centre").inner_text() == "Top"
    assert el.get_attribute("data-nodes") == "2"  # Top and its child Alpha


def test_pan_zoom_and_dragging_a_node(kb: KnowledgeBase, host: WidgetHost, graphs: Any) -> None:
    n = small(kb)
    graph = GraphView(kb, n["a"])
    el = show(host, graphs, graph)
    handle(el, "g.coolNow()")
    page = host.page
    a0 = handle(el, f"g.positionOf('{n['a']}')")
    b0 = handle(el, f"g.positionOf('{n['b']}')")
    # Pan: drag the background by (40, 30).
    box = el.locator("canvas").bounding_box()
    page.mouse.move(box["x"] + 5, box["y"] + 5)
    page.mouse.down()
    page.mouse.move(box["x"] + 45, box["y"] + 35, steps=5)
    page.mouse.up()
    a1 = handle(el, f"g.positionOf('{n['a']}')")
    assert (round(a1["x"] - a0["x"]), round(a1["y"] - a0["y"])) == (40, 30)
    # Zoom in about the centre node: the distance to another node grows.
    page.mouse.move(a1["x"], a1["y"])
    page.mouse.wheel(0, -300)
    page.wait_for_timeout(50)
    a2 = handle(el, f"g.positionOf('{n['a']}')")
    b2 = handle(el, f"g.positionOf('{n['b']}')")
    before = ((b0["x"] - a0["x"]) ** 2 + (b0["y"] - a0["y"]) ** 2) ** 0.5
    after = ((b2["x"] - a2["x"]) ** 2 + (b2["y"] - a2["y"]) ** 2) ** 0.5
    assert after > 1.5 * before
    assert abs(a2["x"] - a1["x"]) < 2 and abs(a2["y"] - a1["y"]) < 2
    # Drag node Beta somewhere else: it follows the pointer while held.
    target = (b2["x"] + 60, b2["y"] - 50)
    page.mouse.move(b2["x"], b2["y"])
    page.mouse.down()
    page.mouse.move(*target, steps=8)
    page.wait_for_timeout(50)
    held = handle(el, f"g.positionOf('{n['b']}')")
    page.mouse.up()
    assert abs(held["x"] - target[0]) < 2 and abs(held["y"] - target[1]) < 2
    host.settle()
    assert graph.selected == ""  # a drag is not a click
    assert host.page_errors() == []


def test_hover_shows_the_title_as_text(kb: KnowledgeBase, host: WidgetHost, graphs: Any) -> None:
    a = kb.create("text", "Plain")
    evil = kb.create("text", XSS, "[[Plain]]", tags=[XSS])
    graph = GraphView(kb, a.id, depth=2)
    el = show(host, graphs, graph)
    handle(el, "g.coolNow()")
    point = handle(el, f"g.positionOf('{evil.id}')")
    host.page.mouse.move(point["x"], point["y"])
    tip = el.locator(".ns-graph-tip")
    tip.wait_for(state="visible")
    assert tip.text_content() == f"{XSS} · text"
    assert el.locator("img").count() == 0
    host.page.wait_for_timeout(100)
    assert host.page.evaluate("() => window.__pwned") is None
    # Centring on it puts the title in the toolbar, still as text.
    host.page.mouse.dblclick(point["x"], point["y"])
    host.settle()
    assert el.locator(".ns-graph-centre").text_content() == XSS
    assert el.locator("img").count() == 0
    assert host.page.evaluate("() => window.__pwned") is None
    assert host.page_errors() == []


def test_a_live_change_arrives(kb: KnowledgeBase, host: WidgetHost, graphs: Any) -> None:
    n = small(kb)
    graph = GraphView(kb, n["a"])
    el = show(host, graphs, graph)
    handle(el, "g.coolNow()")
    kept = handle(el, f"g.positionOf('{n['b']}')")
    kb.create("text", "Fan", "I like [[Alpha]]")
    host.settle()
    assert el.get_attribute("data-nodes") == "7"
    assert el.locator(".ns-graph-summary").inner_text() == "7 nodes · 6 edges"
    # Known nodes keep their place: a small change nudges, it does not start over.
    moved = handle(el, f"g.positionOf('{n['b']}')")
    assert abs(moved["x"] - kept["x"]) < 50 and abs(moved["y"] - kept["y"]) < 50


def test_depth_from_the_toolbar(kb: KnowledgeBase, host: WidgetHost, graphs: Any) -> None:
    n = small(kb)
    sibling = kb.create("text", "Sibling", parent=n["top"])
    graph = GraphView(kb, n["a"])
    el = show(host, graphs, graph)
    el.get_by_label("Depth").select_option("2")
    host.settle()
    assert graph.depth == 2
    assert sibling.id in {node["id"] for node in graph.nodes}
    assert el.get_attribute("data-nodes") == str(len(graph.nodes))


def test_removing_the_view_stops_the_loop(kb: KnowledgeBase, host: WidgetHost, graphs: Any) -> None:
    center = build_graph(kb, 300, sections=10)
    graph = GraphView(kb, center, depth=2)
    el = show(host, graphs, graph)
    wait_frames(host, graph, 3)
    stats = el.evaluate("(el) => { window.__graphStats = el.__nsGraph.stats; return 0; }")
    assert stats == 0
    host.hide(graph)
    frames = host.page.evaluate("() => window.__graphStats().frames")
    host.page.wait_for_timeout(200)
    assert host.page.evaluate("() => window.__graphStats().frames") == frames
    assert graph._paused  # Python knows no view is left
    assert host.page_errors() == []


def test_device_pixel_ratio_sharpens_the_canvas(
    kb: KnowledgeBase, chromium: Any, graphs: Any
) -> None:
    n = small(kb)
    context = chromium.new_context(viewport={"width": 800, "height": 600}, device_scale_factor=2)
    try:
        host = WidgetHost(context.new_page())
        el = show(host, graphs, GraphView(kb, n["a"]))
        size = el.evaluate(
            "(el) => { const c = el.querySelector('canvas');"
            " return [c.width, c.height, c.clientWidth, c.clientHeight]; }"
        )
        assert size[0] == 2 * size[2] and size[1] == 2 * size[3] and size[2] > 100
    finally:
        context.close()


def test_measure_frames_reports_percentiles(kb: KnowledgeBase, host: WidgetHost) -> None:
    # The benchmark helper, on a small graph: it reports numbers, it asserts no time.
    result = measure_frames(host, kb, n_nodes=200, frames=10)
    assert result["nodes"] == 200 and result["layout_frames"] >= 10
    assert 0 < result["work_p50_ms"] <= result["work_p95_ms"] <= result["work_max_ms"]
    assert result["page_errors"] == []

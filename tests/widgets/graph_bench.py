"""Frame times of GraphView's layout loop at 2,000 nodes, in headless Chromium.

Not a test (nothing here asserts a time): the benchmark suite calls
`measure_frames(host, kb)` and reports the numbers. Standalone:

    .venv/bin/python -m tests.widgets.graph_bench [n_nodes] [frames]

prints the summary as JSON (a scratch knowledge base, Chromium via playwright).
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from typing import Any

import polars as pl

from nodespace_lab import KnowledgeBase
from nodespace_lab.widgets import GraphView

from .host import CHROMIUM_FLAGS, WidgetHost, find_chromium

HUB = "graph-hub"


def build_graph(kb: KnowledgeBase, n_nodes: int = 2000, sections: int = 40) -> str:
    """Import a hub with `sections` children holding the other nodes, plus cross links.

    Depth 2 from the returned hub id reaches exactly `n_nodes` nodes: the hub,
    its sections and their leaves. Every leaf also links (`[[id]]`) to another
    leaf, so there are about two edges per node, as in a real neighbourhood.
    """
    leaves = n_nodes - 1 - sections
    if leaves < 1:
        raise ValueError(f"n_nodes {n_nodes} is too small for {sections} sections")
    section_ids = [f"graph-s{i:03d}" for i in range(sections)]
    leaf_ids = [f"graph-l{i:05d}" for i in range(leaves)]
    rows: dict[str, list[Any]] = {"id": [], "title": [], "content": [], "parent_id": []}

    def add(node_id: str, title: str, content: str, parent: str | None) -> None:
        rows["id"].append(node_id)
        rows["title"].append(title)
        rows["content"].append(content)
        rows["parent_id"].append(parent)

    add(HUB, "Graph hub", "", None)
    for i, section in enumerate(section_ids):
        add(section, f"Section {i}", "", HUB)
    for i, leaf in enumerate(leaf_ids):
        other = leaf_ids[(i * 7 + 3) % leaves]
        add(leaf, f"Leaf {i}", f"see [[{other}]]", section_ids[i % sections])
    kb.import_nodes(pl.DataFrame(rows, schema_overrides={"parent_id": pl.String}))
    return HUB


def _summary(stats: dict[str, Any]) -> dict[str, Any]:
    work, interval = stats["work"], stats["interval"]
    return {
        "nodes": stats["nodes"],
        "edges": stats["edges"],
        "layout_frames": stats["layoutFrames"],
        "work_p50_ms": round(work["p50"], 2),
        "work_p95_ms": round(work["p95"], 2),
        "work_mean_ms": round(work["mean"], 2),
        "work_max_ms": round(work["max"], 2),
        "interval_p50_ms": round(interval["p50"], 2),
        "interval_p95_ms": round(interval["p95"], 2),
    }


def measure_frames(
    host: WidgetHost, kb: KnowledgeBase, n_nodes: int = 2000, frames: int = 120
) -> dict[str, Any]:
    """Show a `n_nodes` neighbourhood and time `frames` frames of its running layout.

    Returns p50/p95/mean/max of `work` (ms of one layout tick plus one full
    canvas draw, measured in the page) and of `interval` (ms between frames,
    which shows dropped frames), the Python neighbourhood time, and the bytes
    the widget state took on the wire.
    """
    center = build_graph(kb, n_nodes)
    started = time.perf_counter()
    graph = GraphView(kb, center, depth=2, limit=n_nodes)
    python_ms = (time.perf_counter() - started) * 1000
    state_bytes = len(json.dumps({"nodes": graph.nodes, "edges": graph.edges}))
    try:
        el = host.show(graph)
        el.evaluate("(el) => { el.__nsGraph.resetStats(); el.__nsGraph.reheat(1); }")
        # Poll slowly and cheaply, so the waiting does not cost the page frames.
        host.page.wait_for_function(
            "([id, n]) => { const g = document.getElementById(id).__nsGraph;"
            " return g.layoutFrames >= n || !g.running; }",
            arg=[graph.model_id, frames],
            polling=250,
            timeout=120_000,
        )
        stats = el.evaluate("(el) => el.__nsGraph.stats()")
        errors = host.page_errors()
    finally:
        graph.close()
    return {
        **_summary(stats),
        "neighbourhood_ms": round(python_ms, 1),
        "state_bytes": state_bytes,
        "page_errors": errors,
    }


def measure_in_scratch(n_nodes: int = 2000, frames: int = 120) -> dict[str, Any]:
    """`measure_frames` in a scratch knowledge base and a fresh headless Chromium."""
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as folder, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=find_chromium(), args=CHROMIUM_FLAGS)
        try:
            page = browser.new_context(viewport={"width": 1000, "height": 700}).new_page()
            with KnowledgeBase(folder) as kb:
                return measure_frames(WidgetHost(page), kb, n_nodes, frames)
        finally:
            browser.close()


def main(argv: list[str]) -> None:
    """Measure in a scratch knowledge base and print the summary as JSON."""
    n_nodes = int(argv[0]) if argv else 2000
    frames = int(argv[1]) if len(argv) > 1 else 120
    print(json.dumps(measure_in_scratch(n_nodes, frames), indent=2))


if __name__ == "__main__":
    main(sys.argv[1:])

"""Every benchmark once, at a small size, so the harness cannot rot.

This checks that each operation ran on both sides and produced sane numbers;
it asserts nothing about speed (timings on a shared test machine are noise).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.benchmarks import run
from tests.benchmarks.data import FANOUT, generate
from tests.benchmarks.suite import COMPARABLE_OPS, LATENCY_OPS, SEARCH_OPS

pytestmark = pytest.mark.bench

ENGINE = os.environ.get("NODESPACE_TEST_ENGINE", "ladybug")
SIZE = 2_000
ALL_OPS = {
    "get",
    "children",
    "find",
    "backlinks",
    "create",
    "create_logged",
    "update",
    "update_logged",
    "search_rare",
    "search_common",
    "search_after_write",
    "open",
}


def test_dataset_shape() -> None:
    data = generate(SIZE)
    frame = data.frame
    assert frame.height == SIZE and frame["id"].is_unique().all()
    assert frame["parent_id"].null_count() == SIZE // 1000
    counts = frame["parent_id"].drop_nulls().value_counts()
    assert counts["count"].max() == FANOUT
    assert set(data.parents) <= set(frame["parent_id"].drop_nulls().to_list())
    tasks = frame.filter(frame["kind"] == "task")
    assert 0.05 * SIZE < tasks.height < 0.15 * SIZE
    assert tasks["priority"].is_between(1, 4).all() and tasks["due"].null_count() == 0
    assert data.links.height > 0 and set(data.link_targets) == set(data.links["to"])
    for source, target in data.links.iter_rows():
        content = frame.filter(frame["id"] == source)["content"][0]
        assert f"[[{target}]]" in content
    assert data.common_terms[0] != data.rare_terms[0]
    assert data.rare_docs >= 1
    assert generate(SIZE).frame.equals(frame), "generation must be deterministic"


def test_every_benchmark_runs_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "results.json"
    argv = [
        "--sizes",
        str(SIZE),
        "--engine",
        ENGINE,
        "--reads",
        "15",
        "--writes",
        "6",
        "--searches",
        "6",
        "--raw-searches",
        "3",
        "--warmup",
        "2",
        "--opens",
        "2",
        "--buffer-pool-mb",
        "64",
        "--max-db-size-gb",
        "4",
        "--graph-nodes",
        "150",
        "--out",
        str(out),
        "--workdir",
        str(tmp_path / "work"),
    ]
    assert run.main(argv) == 0
    printed = capsys.readouterr().out

    report = json.loads(out.read_text())
    assert report["versions"][ENGINE] != "not installed"
    (result,) = report["results"]
    assert result["size"] == SIZE and result["engine"] == ENGINE
    assert not (tmp_path / "work" / f"n{SIZE}").exists(), "scratch databases are removed"

    imp = result["import"]
    assert imp["nodes"] == SIZE
    for key in ("ours_s", "raw_s", "ours_nodes_per_s", "raw_nodes_per_s", "ratio"):
        assert imp[key] > 0, key
    assert imp["search_index_docs"] == SIZE

    ops = result["ops"]
    assert set(ops) == ALL_OPS
    for name, op in ops.items():
        ours = op["ours"]
        assert ours["calls"] > 0, name
        assert 0 < ours["p50_ms"] <= ours["p95_ms"] <= ours["max_ms"], name
        if name == "search_after_write":
            assert op["raw"] is None
            continue
        raw = op["raw"]
        assert raw["calls"] > 0, name
        assert 0 < raw["p50_ms"] <= raw["p95_ms"] <= raw["max_ms"], name
        assert op["ratio_p50"] == pytest.approx(ours["p50_ms"] / raw["p50_ms"]), name
        assert op["ratio_p95"] > 0, name

    checks = result["checks"]
    checked = {c["op"] for c in checks}
    assert {"import", *LATENCY_OPS, *SEARCH_OPS, *COMPARABLE_OPS} <= checked
    assert all(isinstance(c["ok"], bool) for c in checks)

    for title in run.OP_TITLES.values():
        assert title in printed, title
    live = result["live"]
    latency = live["widget_latency"]
    assert 0 < latency["ours"]["p50_ms"] <= latency["ours"]["p95_ms"]
    assert latency["raw"]["p50_ms"] > 0 and latency["diff_bytes"] > 0
    many = live["many_queries"]
    assert many["reruns_per_write"] == [1], "one write re-runs exactly the query it affects"
    assert many["rerun_all"]["p50_ms"] > many["single_rerun"]["p50_ms"] > 0
    sent = live["diff_bytes"]
    assert sent["one_row_change_bytes"] < sent["first_display_bytes"] < sent["whole_result_bytes"]
    assert {"live_widget_latency", "live_one_of_many"} <= checked
    assert "Live queries" in printed

    graph = report["graph_view"]
    assert graph["nodes"] == 150 and graph["edges"] > 0 and graph["page_errors"] == []
    assert 0 < graph["work_p50_ms"] <= graph["work_p95_ms"] <= graph["work_max_ms"]
    assert "### GraphView" in printed
    service = report["service"]
    for name in ("get", "create"):
        assert service[name]["service"]["p50_ms"] > 0 and service[name]["ratio_p50"] > 0
    live = service["live_across_clients"]["latency"]
    assert 0 < live["p50_ms"] <= live["p95_ms"]
    assert "### Service" in printed

    assert "PASS" in printed or "MISS" in printed
    assert str(out) in printed

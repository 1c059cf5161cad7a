"""The calculated-field benchmark once, tiny, so its harness cannot rot (speed is not asserted)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.benchmarks import calc

pytestmark = pytest.mark.bench

PROJECTS, ITEMS, RUNS, WARMUP = 20, 5, 5, 2


def _sane(summary: dict[str, float]) -> None:
    assert summary["calls"] > 0
    assert 0 < summary["p50_ms"] <= summary["p95_ms"] <= summary["max_ms"]


def test_the_calc_benchmark_runs_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "calc.json"
    argv = [
        *("--projects", str(PROJECTS), "--items", str(ITEMS), "--notes", "20"),
        *("--papers", "200", "--venues", "2", "--runs", str(RUNS), "--ref-runs", str(RUNS)),
        *("--warmup", str(WARMUP), "--recompute-runs", "1"),
        *("--buffer-pool-mb", "64", "--max-db-size-gb", "4"),
        *("--out", str(out), "--workdir", str(tmp_path / "work")),
    ]  # fmt: skip
    assert calc.main(argv) == 0
    printed = capsys.readouterr().out
    report = json.loads(out.read_text())
    result = report["result"]

    build = result["build"]
    portfolios = PROJECTS // 2 // calc.Shape.per_portfolio
    assert build["entities"] == PROJECTS * ITEMS + PROJECTS + portfolios
    assert build["nodes"] == build["entities"] + 20
    for key in ("import_s", "import_recompute_s", "foundation_import_s", "import_ratio"):
        assert build[key] > 0, key

    # Every edit was checked against the harness's own sums (a wrong value raises).
    edited = (WARMUP + RUNS) * 2
    assert report["checks"]["edits"] == edited
    for key in ("edit_one_level", "edit_two_levels"):
        _sane(result[key]["end_to_end"])
        _sane(result[key]["hook"])
        assert result[key]["end_to_end"]["calls"] == RUNS
        assert isinstance(result[key]["ok"], bool)
    # An edit writes the item, its project and (two levels) the portfolio.
    assert result["edit_one_level"]["ops_of_last_write"] == ["update", "calc"]
    assert result["edit_two_levels"]["ops_of_last_write"] == ["update", "calc", "calc"]

    for key in ("note", "item_title"):
        paired = result["no_dependents"][key]
        _sane(paired["entity_kb"])
        _sane(paired["foundation"])
        assert paired["ratio_p50"] > 0 and paired["ratio_p95"] > 0

    recompute = result["recompute"]
    for key in (
        "recalculate_unchanged", "check_calculated", "project_cost_changed",
        "item_field_added", "recalculate_unchanged_all", "item_field_changed",
    ):  # fmt: skip
        assert recompute[key]["median_s"] > 0 and recompute[key]["entities_per_s"] > 0, key
    assert recompute["project_cost_changed"]["written"] == [PROJECTS + portfolios]
    assert recompute["item_field_changed"]["written"] == [PROJECTS * ITEMS]
    # Projects and portfolios after the import and both recomputes, items after the last.
    assert report["checks"]["values"] == 3 * (PROJECTS + portfolios) + PROJECTS * ITEMS

    refs = result["references"]
    assert refs["calc_ops_of_last_write"] == 100 and refs["checked"] == WARMUP + RUNS
    for key in ("end_to_end", "hook", "referrer_scan"):
        _sane(refs[key])

    assert "### Calculated fields" in printed and str(out) in printed

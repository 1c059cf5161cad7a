"""The MLX benchmark once, on the tiny random Gemma 3, so its harness cannot rot.

It checks that both sides ran and produced sane numbers; it asserts nothing
about speed (timings on a shared test machine are noise).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.benchmarks import ai_mlx

pytestmark = pytest.mark.bench
pytest_plugins = ["tests.models.mlx_fixtures"]  # the tiny random Gemma 3


def test_the_mlx_benchmark_runs_once(
    tiny_folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "mlx.json"
    argv = ["--model", str(tiny_folder), "--runs", "2", "--tokens", "6", "--warmup", "1"]
    assert ai_mlx.main([*argv, "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["model"] == str(tiny_folder) and report["runs"] == 2
    assert report["same_text"] is True  # both sides decode the same greedy tokens
    for side in ("ours", "raw"):
        numbers = report[side]
        assert numbers["tokens"] == [6, 6]
        assert 0 < numbers["first_token_p50_s"] <= numbers["first_token_p95_s"] < 60
        assert 0 < numbers["tokens_per_s_p95"] <= numbers["tokens_per_s_p50"]
        assert numbers["load_s"] > 0
    assert all(value > 0 for value in report["ratios"].values())
    assert {check["measure"] for check in report["checks"]} == {
        "tokens_per_s_p50",
        "first_token_p50",
    }
    printed = capsys.readouterr().out
    assert "generation tokens/s" in printed and "time to first text" in printed

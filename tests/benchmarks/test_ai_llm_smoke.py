"""The llama.cpp generation benchmark once, tiny, so the harness cannot rot.

It checks that both sides ran and produced sane numbers (and the same greedy
text); it asserts nothing about speed (timings on a shared machine are noise).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.benchmarks import ai_llm

pytestmark = pytest.mark.bench


def test_the_benchmark_runs_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "ai_llm.json"
    argv = ["--runs", "1", "--tokens", "6", "--prompt-tokens", "40", "--context", "512"]
    assert ai_llm.main([*argv, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    report = json.loads(out.read_text())
    assert report["runs"] == 1 and report["max_tokens"] == 6
    assert 40 <= report["prompt_tokens"] < 60
    for side in ("ours", "raw"):
        numbers = report[side]
        assert 0 < numbers["first_piece_p50_s"] <= numbers["first_piece_p95_s"] < 30, side
        assert 0 < numbers["tokens_per_s_p95"] <= numbers["tokens_per_s_p50"], side
        assert numbers["tokens_p50"] == 6, side
    assert report["speed_ratio_p50"] > 0 and report["first_piece_ratio_p50"] > 0
    assert report["same_text"] is True, "the same greedy computation gives the same text"
    assert report["machine"]["llama_cpp_python"]
    assert "| tokens/s p50 |" in printed and str(out) in printed

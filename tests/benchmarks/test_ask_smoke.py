"""The ask() benchmark once, tiny, so its harness cannot rot (speed is not asserted)."""

from __future__ import annotations

import pytest

from tests.benchmarks import ask

pytestmark = pytest.mark.bench


def test_the_ask_benchmark_runs_once() -> None:
    result = ask.run(notes=0, questions=2, tokens=16)
    stages = result["stages"]
    assert set(stages) == {"retrieve", "first_piece", "generate", "finish", "ask", "raw_generate"}
    for name, values in stages.items():
        assert 0 < values["p50"] <= values["p95"], name
    assert stages["ask"]["p50"] >= stages["generate"]["p50"]
    assert result["overhead_ratio_p50"] > 0
    assert "| ask |" in ask.report(result)

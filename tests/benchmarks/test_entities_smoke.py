"""The entity benchmark once, tiny, so it cannot rot (asserts nothing about speed)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.benchmarks import entities

pytestmark = pytest.mark.bench


def test_entity_benchmark_runs(tmp_path: Path) -> None:
    engine = os.environ.get("NODESPACE_TEST_ENGINE", "ladybug")
    results = entities.run(300, 1, tmp_path, engine)
    assert len(results) == 9
    assert all(ms > 0 for ms in results.values())

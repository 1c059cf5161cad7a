"""The vector benchmark once at a tiny size, so it cannot rot (numbers sane, not fast)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.benchmarks import vectors

pytestmark = pytest.mark.bench


def test_vector_benchmark_runs_and_reports_sane_numbers(tmp_path: Path) -> None:
    out = tmp_path / "vectors.json"
    argv = ["--sizes", "3000", "--queries", "30", "--embed-texts", "16", "--force-ann"]
    assert vectors.main([*argv, "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    embedding = report["embedding"]
    assert embedding["nodespace_chunks_per_s"] > 0 and embedding["raw_onnxruntime_chunks_per_s"] > 0
    # Same model, same pooling: the vectors agree whatever the batching.
    assert embedding["max_abs_difference"] < 1e-4
    [search] = report["search"]
    assert search["n"] == 3000 and search["hnsw_build_s"] > 0
    for side in ("nodespace", "raw_usearch_no_rerank", "raw_numpy_exact"):
        assert 0 < search[side]["p50_ms"] <= search[side]["p95_ms"]
    assert search["raw_numpy_exact"]["recall_at_10"] == 1.0
    assert search["nodespace"]["recall_at_10"] >= 0.9
    assert search["nodespace_filtered_10pct"]["all_hits_allowed"]
    assert search["nodespace_filtered_10pct"]["hits"] == 30 * 10


def test_clustered_vectors_look_like_sentence_embeddings() -> None:
    data = vectors.clustered_vectors(2000, seed=3)
    assert data.shape == (2000, vectors.DIM)
    scores = data[:20] @ data.T
    scores[range(20), range(20)] = -1.0  # not itself
    nearest = scores.max(axis=1)
    assert 0.4 < float(nearest.mean()) < 0.95
    assert abs(float(scores.mean())) < 0.1
    truth = vectors.exact_top(data, data[:5], k=3)
    assert truth[:, 0].tolist() == [0, 1, 2, 3, 4]

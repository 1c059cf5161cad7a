"""Entity benchmarks: `python -m tests.benchmarks.entities --size 100000`.

Times, on one knowledge base of SIZE papers (plus SIZE plain notes):
- bulk import of the papers (checked against their schema) against the same
  rows imported as plain text nodes (unchecked), each into an empty knowledge base;
- `find("paper")` with a condition and order on an entity field (decoded and
  filtered in polars) against the same question on a node column (Cypher);
- `to_polars()` with typed entity columns, `count()`, a full-text search for
  an indexed field value, and the same find through the service transport.
Prints medians in ms and ratios; not a test (no pass/fail).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl

from nodespace_lab import KnowledgeBase

from .suite import _settings

VENUES = ("VLDB", "SIGMOD", "ICDE", "CIDR", "EDBT")
SCHEMA: dict[str, Any] = {
    "year": {"type": "integer", "required": True},
    "venue": {"type": "text", "indexed": True},
    "score": "number",
    "published": "date",
    "stage": {"type": "enum", "choices": ["draft", "done"]},
    "keywords": {"type": "list", "of": "text", "indexed": True},
}


def _papers(size: int, kind: str) -> pl.DataFrame:
    properties = [
        json.dumps(
            {
                "year": 1990 + i % 35,
                "venue": VENUES[i % len(VENUES)],
                "score": (i % 50) / 10,
                "published": f"{1990 + i % 35}-{1 + i % 12:02d}-{1 + i % 28:02d}",
                "stage": ("draft", "done")[i % 2],
                "keywords": [f"topic{i % 100}", "graphs"],
            }
        )
        for i in range(size)
    ]
    return pl.DataFrame(
        {
            "id": [f"{kind}{i:07d}" for i in range(size)],
            "kind": [kind] * size,
            "title": [f"Paper number {i}" for i in range(size)],
            "content": [f"Abstract of paper {i} about graph storage." for i in range(size)],
            "properties": properties,
        }
    )


def _median_ms(action: Callable[[], Any], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def run(size: int, repeats: int, folder: Path, engine: str = "ladybug") -> dict[str, float]:
    """Every measurement, in ms, for one size."""
    settings = _settings(engine, buffer_pool_mb=1024, max_db_size_gb=64)
    out: dict[str, float] = {}
    with KnowledgeBase(folder / "plain", settings=settings) as plain:
        start = time.perf_counter()
        plain.import_nodes(_papers(size, "text").with_columns(properties=pl.lit("{}")))
        out["import plain text rows"] = (time.perf_counter() - start) * 1000
    with KnowledgeBase(folder / "kb", settings=settings) as kb:
        kb.define("paper", SCHEMA)
        start = time.perf_counter()
        kb.import_nodes(_papers(size, "paper"))
        out["import entity rows (checked)"] = (time.perf_counter() - start) * 1000
        kb.import_nodes(_papers(size, "text").with_columns(properties=pl.lit("{}")))
        kb.sync_search()
        query = kb.find("paper").where("year", ">=", 2020).order_by("year", descending=True)
        out["find entity field >= + order, limit 50"] = _median_ms(
            lambda: query.limit(50).ids(), repeats
        )
        column = kb.find("text").where("title", ">=", "Paper number 5").order_by("title")
        out["find column >= + order, limit 50 (Cypher)"] = _median_ms(
            lambda: column.limit(50).ids(), repeats
        )
        out["count entity field ="] = _median_ms(
            lambda: kb.find("paper").where("venue", "=", "VLDB").count(), repeats
        )
        out["to_polars all papers, typed columns"] = _median_ms(
            lambda: kb.find("paper").to_polars(), repeats
        )
        out["to_polars all notes (no entity fields)"] = _median_ms(
            lambda: kb.find("text").to_polars(), repeats
        )
        out["search indexed field value"] = _median_ms(
            lambda: kb.search("topic42", kind="paper"), repeats
        )
        out |= _through_service(kb, repeats)
    return out


def _through_service(kb: KnowledgeBase, repeats: int) -> dict[str, float]:
    from nodespace_lab.service.client import RemoteKnowledgeBase
    from nodespace_lab.service.server import ServiceThread

    service = ServiceThread(kb)
    try:
        with RemoteKnowledgeBase(service.info) as remote:
            query = remote.find("paper").where("year", ">=", 2020).order_by("year", descending=True)
            return {
                "service: find entity field + order, limit 50": _median_ms(
                    lambda: query.limit(50).ids(), repeats
                )
            }
    finally:
        service.stop()


def main() -> None:
    """Parse the arguments, run, print a table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--engine", choices=["ladybug", "kuzu"], default="ladybug")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        results = run(args.size, args.repeats, Path(tmp), args.engine)
    print(f"entities on {args.engine}, {args.size:,} papers + {args.size:,} notes (median ms)")
    for name, ms in results.items():
        print(f"  {name:<48} {ms:10.1f}")
    ratio = results["import entity rows (checked)"] / results["import plain text rows"]
    print(f"  checked / plain import: {ratio:.2f}")


if __name__ == "__main__":
    main()

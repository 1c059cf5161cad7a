"""`nodespace bench`: a quick self-check of this installation's speed.

It builds a throwaway knowledge base and times the everyday operations. The
real benchmark suite (large sizes, side by side with the raw engine) lives in
tests/benchmarks and runs with `make bench`.
"""

from __future__ import annotations

import random
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click
import polars as pl

from . import output

if TYPE_CHECKING:
    from ..kb import KnowledgeBase

_WORDS = (
    "graph",
    "notebook",
    "analysis",
    "dataset",
    "experiment",
    "model",
    "paper",
    "result",
    "figure",
    "method",
    "sample",
    "survey",
    "coral",
    "reef",
    "sonar",
    "cleaning",
    "plot",
    "draft",
    "review",
    "meeting",
    "idea",
    "question",
    "answer",
)
_RARE = "zeolite"
_FANOUT = 10


def sample_frame(size: int, seed: int = 0) -> pl.DataFrame:
    """`size` nodes in a tree of fan-out 10; every 5th a task, every 20th links to another."""
    rng = random.Random(seed)
    ids = [f"b{i:08d}" for i in range(size)]
    contents = [" ".join(rng.choices(_WORDS, k=12)) for _ in range(size)]
    for i in range(0, size, 20):
        contents[i] += f" see [[{ids[rng.randrange(size)]}]]"
    for i in range(0, size, 1000):
        contents[i] += f" {_RARE}"
    kinds = ["task" if i % 5 == 0 else "text" for i in range(size)]
    return pl.DataFrame(
        {
            "id": ids,
            "kind": kinds,
            "title": [f"Node {i} {rng.choice(_WORDS)}" for i in range(size)],
            "content": contents,
            "parent_id": [None, *(ids[(i - 1) // _FANOUT] for i in range(1, size))],
            "priority": [(i % 4) + 1 if kinds[i] == "task" else None for i in range(size)],
        }
    )


def percentiles(seconds: list[float]) -> tuple[float, float]:
    """(p50, p95) in milliseconds."""
    ordered = sorted(seconds)

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    return at(0.50), at(0.95)


def _time(call: Callable[[int], object], repeat: int) -> list[float]:
    call(repeat)  # warm-up: the first call of each kind pays for cold caches
    times = []
    for i in range(repeat):
        start = time.perf_counter()
        call(i)
        times.append(time.perf_counter() - start)
    return times


def _operations(kb: KnowledgeBase, size: int) -> dict[str, Callable[[int], object]]:
    rng = random.Random(1)
    nodes = [f"b{rng.randrange(size):08d}" for _ in range(997)]
    parents = [f"b{rng.randrange(max(1, size // _FANOUT)):08d}" for _ in range(997)]
    return {
        "get by id": lambda i: kb.get(nodes[i % 997]),
        "children in order": lambda i: kb.children(parents[i % 997]),
        "backlinks": lambda i: kb.backlinks(nodes[i % 997]),
        "find task by priority": lambda i: (
            kb.find("task").where(priority=1 + i % 4).limit(10).ids()
        ),
        "search (common word)": lambda i: kb.search(_WORDS[i % len(_WORDS)], limit=10),
        "search (rare word)": lambda i: kb.search(_RARE, limit=10),
    }


def _timed_once(name: str, size: int, call: Callable[[], object]) -> output.Record:
    start = time.perf_counter()
    call()
    elapsed = time.perf_counter() - start
    return {
        "operation": f"{name} {size:,} nodes",
        "p50 ms": "",
        "p95 ms": "",
        "note": f"{elapsed:.2f} s once: {size / elapsed:,.0f} nodes/s",
    }


def run_bench(folder: Path, size: int, repeat: int) -> list[output.Record]:
    """Build a knowledge base of `size` nodes in `folder` and time each operation."""
    from ..kb import KnowledgeBase

    with KnowledgeBase(folder) as kb:
        frame = sample_frame(size)
        rows = [
            _timed_once("import", size, lambda: kb.import_nodes(frame)),
            _timed_once("index", size, kb.sync_search),
        ]
        for name, call in _operations(kb, size).items():
            p50, p95 = percentiles(_time(call, repeat))
            rows.append(
                {
                    "operation": name,
                    "p50 ms": f"{p50:.2f}",
                    "p95 ms": f"{p95:.2f}",
                    "note": f"{repeat} calls",
                }
            )
    return rows


@click.command()
@click.option(
    "--size",
    type=click.IntRange(min=100, max=2_000_000),
    default=10_000,
    show_default=True,
    metavar="N",
    help="Nodes in the temporary knowledge base.",
)
@click.option(
    "--repeat",
    type=click.IntRange(min=5),
    default=200,
    show_default=True,
    metavar="N",
    help="Timed calls per operation.",
)
def bench(size: int, repeat: int) -> None:
    """Time common operations on a temporary knowledge base.

    A quick check of this installation (p50/p95 in milliseconds); the full
    benchmark suite, against the raw engine, runs with `make bench`.
    """
    with tempfile.TemporaryDirectory(prefix="nodespace-bench-") as folder:
        rows = run_bench(Path(folder) / "kb", size, repeat)
    click.echo(output.table(rows, ["operation", "p50 ms", "p95 ms", "note"]))

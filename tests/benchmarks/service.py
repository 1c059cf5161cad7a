"""Service benchmarks (issue 4): what the transport costs, and cross-client live latency.

- **calls**: `get` and `create` through a running `nodespace serve`, against
  the same calls on an embedded knowledge base holding the same nodes, in
  the same run (calls alternate between the two).
- **live across clients**: client A follows a live query; client B renames a
  task in it; the clock runs from B's call until A's live result shows the
  new title (the path a widget in one kernel takes for another kernel's write).
"""

from __future__ import annotations

import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import polars as pl

from .suite import Timing

LIVE_TARGET_MS = 200.0


def run_service_bench(nodes: int = 1000, calls: int = 200, warmup: int = 20) -> dict[str, Any]:
    """Start a service on a scratch knowledge base of `nodes` nodes and time it."""
    from nodespace_lab.kb import KnowledgeBase
    from tests.service.running import service_env, start_service

    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        frame = pl.DataFrame(
            {
                "id": [f"n{i:06d}" for i in range(nodes)],
                "kind": ["task" if i % 10 == 0 else "text" for i in range(nodes)],
                "title": [f"node {i}" for i in range(nodes)],
            }
        )
        running = start_service(tmp)
        reference = KnowledgeBase(tmp / "reference", settings=_settings(service_env(tmp)))
        one, two = running.client(), running.client()
        try:
            one.import_nodes(frame)
            reference.import_nodes(frame)
            result = {
                "nodes": nodes,
                "get": _side_by_side(
                    lambda k: one.get(f"n{k % nodes:06d}"),
                    lambda k: reference.get(f"n{k % nodes:06d}"),
                    calls,
                    warmup,
                ),
                "create": _side_by_side(
                    lambda k: one.create("text", f"created {k}"),
                    lambda k: reference.create("text", f"created {k}"),
                    calls,
                    warmup,
                ),
                "live_across_clients": _live_across_clients(one, two, calls, warmup),
            }
        finally:
            one.close()
            two.close()
            reference.close()
            running.stop()
    return result


def _settings(env: dict[str, str]) -> Any:
    from nodespace_lab.config import load_settings

    return load_settings(None, env=env, user_file=Path(env["NODESPACE_CONFIG"]))


def _side_by_side(remote: Any, embedded: Any, calls: int, warmup: int) -> dict[str, Any]:
    ours, ref = Timing(), Timing()
    for k in range(warmup + calls):
        for side, timing in ((remote, ours), (embedded, ref))[:: 1 if k % 2 else -1]:
            start = time.perf_counter()
            side(k)
            if k >= warmup:
                timing.samples.append((time.perf_counter() - start) * 1000)
    a, b = ours.summary(), ref.summary()
    return {"service": a, "embedded": b, "ratio_p50": a["p50_ms"] / b["p50_ms"]}


def _live_across_clients(reader: Any, writer: Any, calls: int, warmup: int) -> dict[str, Any]:
    tasks = reader.find("task").limit(20).ids()
    live = reader.live(reader.find("task").order_by("id"))
    arrived = threading.Event()
    wanted: list[str] = [""]

    def observe(_diff: Any) -> None:
        if any(row["title"] == wanted[0] for row in live.rows):
            arrived.set()

    live.observe(observe)
    timing = Timing()
    for k in range(warmup + calls):
        wanted[0] = f"renamed {k}"
        arrived.clear()
        start = time.perf_counter()
        writer.update(tasks[k % len(tasks)], title=wanted[0])
        if not arrived.wait(10):
            raise AssertionError("client A never saw client B's write")
        if k >= warmup:
            timing.samples.append((time.perf_counter() - start) * 1000)
    live.close()
    summary = timing.summary()
    return {
        "latency": summary,
        "target_ms": LIVE_TARGET_MS,
        "ok": summary["p95_ms"] <= LIVE_TARGET_MS,
    }


if __name__ == "__main__":
    import sys

    from .run import service_table

    print(service_table(run_service_bench(calls=int(sys.argv[1]) if len(sys.argv) > 1 else 300)))

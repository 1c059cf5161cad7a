"""Live-query benchmarks (issue 3), run on the knowledge base `run_size` built.

- **widget latency**: a `LiveTable` over an indexed live query (the children
  of one node, through the CHILD_OF index): time from the call that writes
  one of its rows to the moment the widget has sent the browser its diff.
  Reference, same loop: the raw engine doing the same update and the same
  query by hand.
- **1,000 live queries**: the work one write causes (finding the queries it
  affects among 1,000, plus re-running that one with its diff), from the
  registry's own counters, against one plain re-run of a query and against
  re-running all 1,000 (what a Dataview-style refresh does); and the latency
  a write sees until its re-run is done, against the same write with no live
  query registered.
- **bytes per change**: what reaches the browser when one row of a
  100,000-row result changes, against the whole result as JSON.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Callable
from typing import Any

from . import raw as rawq
from .data import Dataset
from .suite import Repetitions, Timing

LIVE_P95_MS = 20.0
ONE_OF_MANY_MAX_RATIO = 2.0
MANY = 1000
BIG_RESULT = 100_000


class Tap:
    """Stands in for the widget's comm: counts bytes; `diffs` is set at each diff sent."""

    def __init__(self, widget: Any) -> None:
        self.diffs = threading.Event()
        self.sizes: list[int] = []
        self.last_diff_bytes = 0
        widget.comm.send = self.send

    def send(self, data: Any = None, metadata: Any = None, buffers: Any = None) -> None:
        """Record one message as the kernel would send it (JSON)."""
        size = len(json.dumps(data, default=str))
        self.sizes.append(size)
        if data.get("method") == "custom" and data["content"].get("type") == "diff":
            self.last_diff_bytes = size
            self.diffs.set()


def run_live(
    kb: Any,
    raw: rawq.RawDatabase,
    data: Dataset,
    reps: Repetitions,
    rng: random.Random,
    log: Callable[[str], None],
) -> dict[str, Any]:
    """Every live-query benchmark at this size."""
    out = {"widget_latency": _widget_latency(kb, raw, data, reps, rng)}
    log(f"[{data.size:,}] live: widget latency done")
    out["many_queries"] = _many_queries(kb, data, reps, rng)
    log(f"[{data.size:,}] live: 1,000 live queries done")
    out["diff_bytes"] = _diff_bytes(kb, data, reps)
    log(f"[{data.size:,}] live: bytes per change done")
    return out


def _widget_latency(
    kb: Any, raw: rawq.RawDatabase, data: Dataset, reps: Repetitions, rng: random.Random
) -> dict[str, Any]:
    from nodespace_lab.widgets import LiveTable

    parent = rng.choice(data.parents)
    table = LiveTable(kb.live(kb.find().under(parent)), page_size=50)
    tap = Tap(table)
    children = [row["id"] for row in table.live.rows]
    ours, reference = Timing(), Timing()
    clock = time.perf_counter
    for k in range(reps.warmup + reps.writes):
        child = children[k % len(children)]
        tap.diffs.clear()
        start = clock()
        kb.update(child, title=f"live edit {k}")
        if not tap.diffs.wait(10):
            raise AssertionError("the widget sent no diff within 10 s")
        ours_ms = (clock() - start) * 1000
        start = clock()
        raw.write(rawq.UPDATE, {"id": child, "content": f"raw edit {k}", "now": _now()})
        raw.frame(rawq.CHILDREN, {"p": parent})
        raw_ms = (clock() - start) * 1000
        if k >= reps.warmup:
            ours.samples.append(ours_ms)
            reference.samples.append(raw_ms)
    table.close()
    summary, ref = ours.summary(), reference.summary()
    return {
        "query": f"kb.find().under(p): {len(children)} rows, LiveTable page_size=50",
        "ours": summary,
        "raw": ref,
        "ratio_p50": summary["p50_ms"] / ref["p50_ms"],
        "ratio_p95": summary["p95_ms"] / ref["p95_ms"],
        "diff_bytes": tap.last_diff_bytes,
        "target_p95_ms": LIVE_P95_MS,
        "ok": summary["p95_ms"] <= LIVE_P95_MS,
    }


def _many_queries(kb: Any, data: Dataset, reps: Repetitions, rng: random.Random) -> dict[str, Any]:
    parents = rng.sample(data.parents, min(MANY, len(data.parents)))
    clock = time.perf_counter
    registry = kb.live_registry
    writes = reps.warmup + reps.writes
    targets = [(rng.choice(parents), k) for k in range(writes)]
    child_of = {p: kb.find().under(p).ids() for p in parents}

    # The same writes before any query is registered: what the write itself costs.
    plain = Timing()
    for k, (parent, _) in enumerate(targets):
        start = clock()
        kb.update(child_of[parent][k % len(child_of[parent])], title=f"plain {k}")
        if k >= reps.warmup:
            plain.samples.append((clock() - start) * 1000)

    lives = [kb.live(kb.find().under(p)) for p in parents]
    by_parent = dict(zip(parents, lives, strict=True))
    single = Timing()
    for k, (parent, _) in enumerate(targets):
        start = clock()
        by_parent[parent].run()
        if k >= reps.warmup:
            single.samples.append((clock() - start) * 1000)

    naive = Timing()
    for _ in range(3):
        start = clock()
        for live in lives:
            live.run()
        naive.samples.append((clock() - start) * 1000)

    live_write, live_work, reran = Timing(), Timing(), []
    stats = registry.stats
    for k, (parent, _) in enumerate(targets):
        before = sum(live.reruns for live in lives)
        spent = stats.matching_s + stats.rerun_s
        start = clock()
        kb.update(child_of[parent][k % len(child_of[parent])], title=f"live {k}")
        registry.flush()
        elapsed = (clock() - start) * 1000
        reran.append(sum(live.reruns for live in lives) - before)
        if k >= reps.warmup:
            live_write.samples.append(elapsed)
            live_work.samples.append((stats.matching_s + stats.rerun_s - spent) * 1000)
    for live in lives:
        live.close()

    w, s, n, p = live_write.summary(), single.summary(), naive.summary(), plain.summary()
    work = live_work.summary()
    return {
        "queries": len(lives),
        "write_with_live": w,
        "write_alone": p,
        "live_work": work,
        "single_rerun": s,
        "rerun_all": n,
        "added_latency_p50_ms": max(w["p50_ms"] - p["p50_ms"], 0.0),
        "ratio_vs_single_rerun": work["p50_ms"] / s["p50_ms"],
        "ratio_vs_rerun_all": work["p50_ms"] / n["p50_ms"],
        "reruns_per_write": sorted(set(reran)),
        "target_ratio": ONE_OF_MANY_MAX_RATIO,
        "ok": work["p50_ms"] / s["p50_ms"] <= ONE_OF_MANY_MAX_RATIO,
    }


def _diff_bytes(kb: Any, data: Dataset, reps: Repetitions) -> dict[str, Any]:
    from nodespace_lab.widgets import LiveTable

    size = min(BIG_RESULT, data.size)
    live = kb.live(kb.find().order_by("id").limit(size))
    table = LiveTable(live, page_size=50)
    tap = Tap(table)
    state_bytes = len(json.dumps(table.get_state(), default=str))
    whole_bytes = len(json.dumps(live.rows, default=str))
    visible = table.rows[3]["id"]
    diff_bytes, latency = [], Timing()
    for k in range(max(3, reps.writes // 50)):
        tap.diffs.clear()
        start = time.perf_counter()
        kb.update(visible, title=f"one row changed {k}")
        if not tap.diffs.wait(30):
            raise AssertionError("the widget sent no diff within 30 s")
        latency.samples.append((time.perf_counter() - start) * 1000)
        diff_bytes.append(tap.last_diff_bytes)
    table.close()
    live.close()
    return {
        "rows": len(live.rows),
        "first_display_bytes": state_bytes,
        "one_row_change_bytes": max(diff_bytes),
        "whole_result_bytes": whole_bytes,
        "write_to_diff": latency.summary(),
    }


def _now() -> Any:
    import datetime as dt

    return dt.datetime.now(dt.UTC).replace(tzinfo=None)

"""Run the benchmarks: `python -m tests.benchmarks.run --sizes 100000,1000000`.

For each size, builds a knowledge base and a raw engine database from the same
generated data, times every operation on both, prints p50/p95, the ratio
ours/raw and PASS/MISS against the targets, and writes the results as JSON.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import sys
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any

from .suite import COMPARABLE_OPS, LATENCY_OPS, SEARCH_OPS, Repetitions, run_size

# Targets (issue 2, point 8). Absolute ones are defined at 1M nodes.
IMPORT_MIN_NODES_PER_S = 100_000
LATENCY_P95_MS = 10.0
SEARCH_P95_MS = 50.0
MAX_RATIO = 1.3
TARGET_SIZE = 1_000_000

INFO_OPS = ("search_after_write",)

OP_TITLES = {
    "import": "bulk import (nodes/s)",
    "get": "get by id",
    "children": "children in order (50)",
    "create": "create + commit",
    "update": "update + commit",
    "find": "find task priority=p limit 50",
    "backlinks": "backlinks (~3)",
    "search_rare": "full-text top 10, rare terms",
    "search_common": "full-text top 10, common terms",
    "create_logged": "create + commit vs raw with change log",
    "update_logged": "update + commit vs raw with change log",
    "search_after_write": "full-text top 10 right after a write",
    "open": "open knowledge base + first get",
}


def evaluate(result: dict[str, Any]) -> list[dict[str, Any]]:
    """Every target check of one size: {op, target, value, ok}."""
    checks: list[dict[str, Any]] = []
    imp = result["import"]
    checks.append(
        {
            "op": "import",
            "target": f">= {IMPORT_MIN_NODES_PER_S:,} nodes/s",
            "value": imp["ours_nodes_per_s"],
            "ok": imp["ours_nodes_per_s"] >= IMPORT_MIN_NODES_PER_S,
        }
    )
    checks.append(
        {
            "op": "import",
            "target": f"ratio <= {MAX_RATIO}x",
            "value": imp["ratio"],
            "ok": imp["ratio"] <= MAX_RATIO,
        }
    )
    for name, op in result["ops"].items():
        p95 = op["ours"]["p95_ms"]
        if name in LATENCY_OPS:
            checks.append(
                {
                    "op": name,
                    "target": f"p95 <= {LATENCY_P95_MS:g} ms",
                    "value": p95,
                    "ok": p95 <= LATENCY_P95_MS,
                }
            )
        if name in SEARCH_OPS or name in INFO_OPS:
            checks.append(
                {
                    "op": name,
                    "target": f"p95 <= {SEARCH_P95_MS:g} ms",
                    "value": p95,
                    "ok": p95 <= SEARCH_P95_MS,
                    "info": name in INFO_OPS,
                }
            )
        if name in COMPARABLE_OPS:
            checks.append(
                {
                    "op": name,
                    "target": f"ratio p50 <= {MAX_RATIO}x",
                    "value": op["ratio_p50"],
                    "ok": op["ratio_p50"] <= MAX_RATIO,
                }
            )
    live = result.get("live")
    if live:
        lat, many = live["widget_latency"], live["many_queries"]
        checks.append(
            {
                "op": "live_widget_latency",
                "target": f"p95 <= {lat['target_p95_ms']:g} ms",
                "value": lat["ours"]["p95_ms"],
                "ok": lat["ok"],
            }
        )
        checks.append(
            {
                "op": "live_one_of_many",
                "target": f"<= {many['target_ratio']:g}x a single re-run",
                "value": many["ratio_vs_single_rerun"],
                "ok": many["ok"],
            }
        )
    return checks


def table(result: dict[str, Any]) -> str:
    """A Markdown table of one size."""
    checks = evaluate(result)
    n = result["size"]
    lines = [
        f"### {n:,} nodes ({result['engine']})",
        "",
        "| operation | ours p50 | ours p95 | raw p50 | raw p95 | ratio p50 | ratio p95 "
        "| target | result |",
        "|---|---:|---:|---:|---:|---:|---:|---|---|",
    ]

    def verdict(op: str) -> tuple[str, str]:
        mine = [c for c in checks if c["op"] == op]
        targets = "; ".join(c["target"] for c in mine) or "-"
        results = "; ".join(
            ("(info) " if c.get("info") else "") + ("PASS" if c["ok"] else "MISS") for c in mine
        )
        return targets, results or "-"

    imp = result["import"]
    targets, results = verdict("import")
    lines.append(
        f"| {OP_TITLES['import']} | {imp['ours_nodes_per_s']:,.0f}/s ({imp['ours_s']:.1f} s) | | "
        f"{imp['raw_nodes_per_s']:,.0f}/s ({imp['raw_s']:.1f} s) | | {imp['ratio']:.2f}x | | "
        f"{targets} | {results} |"
    )
    for name, op in result["ops"].items():
        ours, raw = op["ours"], op["raw"]
        targets, results = verdict(name)
        note = "" if op["comparable"] else " (ref.)"
        if raw is None:
            raws = "| - | - | - | - "
        else:
            raws = (
                f"| {raw['p50_ms']:.3f} ms | {raw['p95_ms']:.3f} ms | {op['ratio_p50']:.2f}x{note} "
                f"| {op['ratio_p95']:.2f}x{note} "
            )
        lines.append(
            f"| {OP_TITLES.get(name, name)} | {ours['p50_ms']:.3f} ms | {ours['p95_ms']:.3f} ms "
            f"{raws}| {targets} | {results} |"
        )
    lines.append("")
    lines.append(
        f"Full-text index build after the import: {imp['search_index_build_s']:.1f} s "
        f"({imp['search_index_docs']:,} documents). Data generation: "
        f"{result['generate_s']:.1f} s. Raw frame preparation (not timed in raw import): "
        f"{imp['raw_frame_prepare_s']:.1f} s."
    )
    if n != TARGET_SIZE:
        lines.append(
            f"Absolute targets are defined at {TARGET_SIZE:,} nodes; shown here for orientation."
        )
    return "\n".join(lines)


def live_table(result: dict[str, Any]) -> str:
    """A Markdown table of the live-query benchmarks of one size."""
    live = result["live"]
    lat, many, sent = live["widget_latency"], live["many_queries"], live["diff_bytes"]
    verdict = {True: "PASS", False: "MISS"}
    w, s, n, p, work = (
        many[k]
        for k in ("write_with_live", "single_rerun", "rerun_all", "write_alone", "live_work")
    )
    return "\n".join(
        [
            f"### Live queries, {result['size']:,} nodes ({result['engine']})",
            "",
            "| measurement | p50 | p95 | reference | ratio | target | result |",
            "|---|---:|---:|---|---:|---|---|",
            f"| write -> widget diff sent ({lat['query']}) | {lat['ours']['p50_ms']:.2f} ms "
            f"| {lat['ours']['p95_ms']:.2f} ms | raw update + raw query {lat['raw']['p50_ms']:.2f}"
            f" / {lat['raw']['p95_ms']:.2f} ms | {lat['ratio_p50']:.2f}x / {lat['ratio_p95']:.2f}x "
            f"| p95 <= {lat['target_p95_ms']:g} ms | {verdict[lat['ok']]} |",
            f"| live work of one write among {many['queries']:,} live queries (match + "
            f"re-run + diff) | {work['p50_ms']:.2f} ms | {work['p95_ms']:.2f} ms | one query "
            f"re-run {s['p50_ms']:.2f} / {s['p95_ms']:.2f} ms | "
            f"{many['ratio_vs_single_rerun']:.2f}x | <= {many['target_ratio']:g}x | "
            f"{verdict[many['ok']]} |",
            f"| re-running all {many['queries']:,} queries (naive) | {n['p50_ms']:.1f} ms "
            f"| {n['p95_ms']:.1f} ms | | ours {many['ratio_vs_rerun_all']:.4f}x of naive | "
            "(reported) | - |",
            f"| write until its live re-run is done, {many['queries']:,} registered "
            f"| {w['p50_ms']:.2f} ms | {w['p95_ms']:.2f} ms | the write with none registered "
            f"{p['p50_ms']:.2f} / {p['p95_ms']:.2f} ms | +{many['added_latency_p50_ms']:.2f} ms "
            "| (reported) | - |",
            f"| one-row change in a {sent['rows']:,}-row result | "
            f"{sent['write_to_diff']['p50_ms']:.1f} ms | {sent['write_to_diff']['p95_ms']:.1f} ms "
            f"| | {sent['one_row_change_bytes']:,} bytes sent (first display "
            f"{sent['first_display_bytes']:,}; whole result {sent['whole_result_bytes']:,}) "
            "| (reported) | - |",
            "",
            f"Queries re-run per write with {many['queries']:,} registered: "
            f"{many['reruns_per_write']}.",
        ]
    )


def graph_frames(n_nodes: int) -> dict[str, Any]:
    """GraphView's layout frame times at `n_nodes` nodes in headless Chromium."""
    from tests.widgets.graph_bench import measure_in_scratch

    return measure_in_scratch(n_nodes, frames=120)


def graph_table(graph: dict[str, Any]) -> str:
    """A Markdown table of the GraphView frame times."""
    return "\n".join(
        [
            f"### GraphView, {graph['nodes']:,} nodes and {graph['edges']:,} edges "
            "(headless Chromium)",
            "",
            "| measurement | p50 | p95 | mean | max |",
            "|---|---:|---:|---:|---:|",
            f"| layout tick + canvas draw, per frame ({graph['layout_frames']} frames) "
            f"| {graph['work_p50_ms']:.2f} ms | {graph['work_p95_ms']:.2f} ms "
            f"| {graph['work_mean_ms']:.2f} ms | {graph['work_max_ms']:.2f} ms |",
            f"| time between frames | {graph['interval_p50_ms']:.1f} ms "
            f"| {graph['interval_p95_ms']:.1f} ms | | |",
            "",
            f"Neighbourhood computed in Python in {graph['neighbourhood_ms']:.0f} ms; "
            f"widget state {graph['state_bytes']:,} bytes; page errors: "
            f"{len(graph['page_errors'])}.",
        ]
    )


def service_calls(calls: int, warmup: int) -> dict[str, Any]:
    """The service benchmarks (a `nodespace serve` process on a scratch knowledge base)."""
    from .service import run_service_bench

    return run_service_bench(calls=calls, warmup=warmup)


def service_table(service: dict[str, Any]) -> str:
    """A Markdown table of the service benchmarks."""
    lines = [
        f"### Service ({service['nodes']:,} nodes)",
        "",
        "| measurement | p50 | p95 | reference p50 / p95 | ratio p50 |",
        "|---|---:|---:|---|---:|",
    ]
    for name in ("get", "create"):
        op = service[name]
        ours, ref = op["service"], op["embedded"]
        lines.append(
            f"| {name} through the service | {ours['p50_ms']:.2f} ms | {ours['p95_ms']:.2f} ms "
            f"| embedded {ref['p50_ms']:.2f} / {ref['p95_ms']:.2f} ms | {op['ratio_p50']:.2f}x |"
        )
    live = service["live_across_clients"]
    verdict = "PASS" if live["ok"] else "MISS"
    lines.append(
        f"| client B writes -> client A's live query shows it | {live['latency']['p50_ms']:.1f} ms "
        f"| {live['latency']['p95_ms']:.1f} ms | target p95 <= {live['target_ms']:g} ms "
        f"| {verdict} |"
    )
    return "\n".join(lines)


def labels(result: dict[str, Any]) -> str:
    """What each side of each operation runs."""
    out = ["| operation | ours | raw engine |", "|---|---|---|"]
    out.append(
        "| bulk import | `kb.import_nodes(frame)` (one transaction, incl. validation, "
        "order keys, links, change log) | `COPY Node`, `COPY CHILD_OF`, "
        "`COPY LINKS_TO` from prepared frames |"
    )
    for name, op in result["ops"].items():
        out.append(f"| {OP_TITLES.get(name, name)} | `{op['ours_label']}` | {op['raw_label']} |")
    return "\n".join(out)


def _versions(engine: str) -> dict[str, str]:
    out = {"python": platform.python_version()}
    for package in (engine, "tantivy", "polars", "nodespace-lab"):
        try:
            out[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            out[package] = "not installed"
    return out


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, run every size, print the tables and write the JSON."""
    parser = argparse.ArgumentParser(prog="python -m tests.benchmarks.run", description=__doc__)
    parser.add_argument(
        "--sizes",
        default="100000,1000000",
        help="comma-separated node counts (default: 100000,1000000)",
    )
    parser.add_argument("--engine", choices=["ladybug", "kuzu"], default="ladybug")
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="JSON results file (default: bench-results/bench-<engine>-<time>.json)",
    )
    parser.add_argument(
        "--workdir",
        type=Path,
        default=None,
        help="scratch folder for the databases (default: a temporary folder)",
    )
    parser.add_argument(
        "--reads", type=int, default=Repetitions.reads, help="timed calls per read operation"
    )
    parser.add_argument(
        "--writes", type=int, default=Repetitions.writes, help="timed calls per write operation"
    )
    parser.add_argument(
        "--searches", type=int, default=Repetitions.search, help="timed calls per search operation"
    )
    parser.add_argument(
        "--opens", type=int, default=Repetitions.opens, help="timed opens of each database"
    )
    parser.add_argument(
        "--warmup", type=int, default=Repetitions.warmup, help="untimed calls before each operation"
    )
    parser.add_argument(
        "--raw-searches",
        type=int,
        default=Repetitions.raw_search,
        help="timed calls of the (slow) raw search reference",
    )
    parser.add_argument(
        "--max-db-size-gb",
        type=int,
        default=64,
        help="engine max_db_size of both databases in GiB (default: 64)",
    )
    parser.add_argument(
        "--buffer-pool-mb",
        type=int,
        default=1024,
        help="engine buffer pool of both databases in MiB (default: 1024; the "
        "256 MiB storage default cannot checkpoint a 1M-node import)",
    )
    parser.add_argument(
        "--graph-nodes",
        type=int,
        default=2000,
        help="nodes in the GraphView frame-time benchmark (headless Chromium; default 2000)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the databases afterwards")
    args = parser.parse_args(argv)
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    reps = Repetitions(
        reads=args.reads,
        writes=args.writes,
        search=args.searches,
        raw_search=args.raw_searches,
        warmup=args.warmup,
        opens=args.opens,
    )
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    out = args.out or Path("bench-results") / f"bench-{args.engine}-{stamp}.json"
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="nodespace-bench-"))
    report: dict[str, Any] = {
        "command": " ".join(["python -m tests.benchmarks.run", *(argv or sys.argv[1:])]),
        "started": dt.datetime.now().isoformat(timespec="seconds"),
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
        "versions": _versions(args.engine),
        "repetitions": reps.__dict__,
        "targets": {
            "import_nodes_per_s": IMPORT_MIN_NODES_PER_S,
            "p95_ms": LATENCY_P95_MS,
            "search_p95_ms": SEARCH_P95_MS,
            "max_ratio": MAX_RATIO,
            "defined_at": TARGET_SIZE,
        },
        "results": [],
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    misses = 0
    try:
        for n in sizes:
            result = run_size(
                n,
                workdir,
                engine=args.engine,
                reps=reps,
                buffer_pool_mb=args.buffer_pool_mb,
                max_db_size_gb=args.max_db_size_gb,
                keep=args.keep,
                log=lambda m: print(m, flush=True),
            )
            result["checks"] = evaluate(result)
            report["results"].append(result)
            out.write_text(json.dumps(report, indent=2, default=str))
            print()
            print(table(result))
            print()
            print(live_table(result))
            print()
            if n >= TARGET_SIZE:
                misses += sum(not c["ok"] and not c.get("info") for c in result["checks"])
        if report["results"]:
            print(labels(report["results"][-1]))
        report["graph_view"] = graph_frames(args.graph_nodes)
        print()
        print(graph_table(report["graph_view"]))
        report["service"] = service_calls(args.writes, args.warmup)
        print()
        print(service_table(report["service"]))
    finally:
        if args.workdir is None and not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    report["finished"] = dt.datetime.now().isoformat(timespec="seconds")
    out.write_text(json.dumps(report, indent=2, default=str))
    print(f"\nResults written to {out}" + (f" ({misses} target(s) missed at 1M)" if misses else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())

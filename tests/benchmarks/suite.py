"""The benchmarks: each NodeSpace Lab operation next to hand-written Cypher.

`run_size()` builds one knowledge base and one raw engine database from the
same generated data in a scratch folder, then times every operation on both
sides. Calls interleave the sides and rotate which goes first, so load from
other processes on a shared machine hits both alike. Warm-up calls are not
counted.
"""

from __future__ import annotations

import datetime as dt
import gc
import random
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from . import raw as rawq
from .data import Dataset, generate, vocabulary

#: Operations whose p95 at 1M nodes must stay at or under 10 ms.
LATENCY_OPS = ("get", "children", "find", "backlinks")
#: Operations compared with an equivalent raw query (the 1.3x overhead target).
COMPARABLE_OPS = ("import", "get", "children", "create", "update", "find", "backlinks")
SEARCH_OPS = ("search_rare", "search_common")


@dataclass(frozen=True)
class Repetitions:
    """How many timed calls each kind of operation gets."""

    reads: int = 1000
    writes: int = 300
    search: int = 300
    raw_search: int = 60
    warmup: int = 20
    opens: int = 10


@dataclass
class Timing:
    """Latencies of one side of one operation, in milliseconds."""

    samples: list[float] = field(default_factory=list)

    def summary(self) -> dict[str, float | int]:
        """p50, p95, mean and max over the samples."""
        xs = sorted(self.samples)
        return {
            "calls": len(xs),
            "p50_ms": percentile(xs, 50),
            "p95_ms": percentile(xs, 95),
            "mean_ms": sum(xs) / len(xs),
            "max_ms": xs[-1],
        }


def percentile(sorted_xs: Sequence[float], q: float) -> float:
    """The q-th percentile of sorted values (linear interpolation)."""
    if not sorted_xs:
        raise ValueError("percentile of no samples")
    pos = (len(sorted_xs) - 1) * q / 100
    low = int(pos)
    high = min(low + 1, len(sorted_xs) - 1)
    return sorted_xs[low] + (sorted_xs[high] - sorted_xs[low]) * (pos - low)


@dataclass
class OpResult:
    """Both sides of one benchmarked operation (`raw` is None: no reference)."""

    name: str
    ours_label: str
    raw_label: str
    ours: dict[str, float | int]
    raw: dict[str, float | int] | None
    comparable: bool
    ratio_p50: float | None = None
    ratio_p95: float | None = None

    def __post_init__(self) -> None:
        if self.raw is not None:
            self.ratio_p50 = float(self.ours["p50_ms"]) / float(self.raw["p50_ms"])
            self.ratio_p95 = float(self.ours["p95_ms"]) / float(self.raw["p95_ms"])


def _interleaved(
    ours: Callable[[Any], object],
    refs: Sequence[Callable[[Any], object]],
    args: Sequence[Any],
    warmup: int,
    *,
    ref_calls: int | None = None,
    before: Callable[[Any], object] | None = None,
) -> tuple[Timing, list[Timing]]:
    """Time `ours(arg)` and each reference `ref(arg)` for every arg.

    The side that goes first rotates from call to call. `before(arg)`, if
    given, runs untimed before `ours(arg)`. References stop after `ref_calls`
    counted calls (for slow scans).
    """
    sides: list[Callable[[Any], object]] = [ours, *refs]
    timings = [Timing() for _ in sides]
    clock = time.perf_counter
    gc_was_enabled = gc.isenabled()
    gc.disable()  # a collection inside one timed call is noise, not overhead
    try:
        for k, arg in enumerate(args):
            counted = k >= warmup
            shift = k % len(sides)
            for index in [*range(shift, len(sides)), *range(shift)]:
                if index and ref_calls is not None and k >= warmup + ref_calls:
                    continue
                if index == 0 and before is not None:
                    before(arg)
                start = clock()
                sides[index](arg)
                elapsed = (clock() - start) * 1000
                if counted:
                    timings[index].samples.append(elapsed)
            if k % 200 == 199:
                gc.collect()
    finally:
        if gc_was_enabled:
            gc.enable()
    return timings[0], timings[1:]


def _settings(engine: str, buffer_pool_mb: int, max_db_size_gb: int) -> Any:
    from nodespace_lab.config import Settings

    settings = Settings()
    settings.sources.append("benchmark")
    settings.storage.engine = engine
    settings.storage.buffer_pool_mb = buffer_pool_mb
    settings.storage.max_db_size_gb = max_db_size_gb
    return settings


def run_size(
    n: int,
    workdir: Path,
    *,
    engine: str = "ladybug",
    reps: Repetitions | None = None,
    buffer_pool_mb: int = 256,
    max_db_size_gb: int = 64,
    seed: int = 7,
    log: Callable[[str], None] = print,
    keep: bool = False,
) -> dict[str, Any]:
    """Build both databases of `n` nodes under `workdir` and time every operation."""
    from nodespace_lab.kb import KnowledgeBase
    from nodespace_lab.nodes.ids import new_id

    from .live import run_live  # live.py imports this module

    reps = reps or Repetitions()
    rng = random.Random(seed)
    folder = workdir / f"n{n}"
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    result: dict[str, Any] = {"size": n, "engine": engine, "ops": {}}

    started = time.perf_counter()
    data = generate(n, seed)
    result["generate_s"] = time.perf_counter() - started
    result["dataset"] = _describe(data)
    log(f"[{n:,}] generated in {result['generate_s']:.1f} s: {result['dataset']}")

    settings = _settings(engine, buffer_pool_mb, max_db_size_gb)
    kb = KnowledgeBase(folder / "kb", settings=settings)
    raw = rawq.RawDatabase(folder / "raw.db", engine, buffer_pool_mb, max_db_size_gb)
    try:
        result["import"] = _bulk_import(kb, raw, data, log)
        ops: dict[str, OpResult] = {}
        ops.update(_reads(kb, raw, data, reps, rng))
        log(f"[{n:,}] reads done")
        ops.update(_writes(kb, raw, data, reps, rng, new_id))
        log(f"[{n:,}] writes done")
        ops.update(_searches(kb, raw, data, reps, result, log, rng))
        result["live"] = run_live(kb, raw, data, reps, rng, log)
        kb.close()
        raw.close()
        ops["open"] = _opens(
            folder, settings, engine, reps, rng.choice(data.parents), buffer_pool_mb, max_db_size_gb
        )
        log(f"[{n:,}] searches and opens done")
        result["ops"] = {name: asdict(op) for name, op in ops.items()}
    finally:
        kb.close()
        raw.close()
        if not keep:
            shutil.rmtree(folder, ignore_errors=True)
    result["total_s"] = time.perf_counter() - started
    return result


def _describe(data: Dataset) -> dict[str, Any]:
    frame = data.frame
    return {
        "nodes": frame.height,
        "roots": int(frame["parent_id"].null_count()),
        "tasks": int((frame["kind"] == "task").sum()),
        "links": data.links.height,
        "full_parents": len(data.parents),
        "rare_terms": data.rare_terms[:3],
        "rare_term_docs": data.rare_docs,
        "common_terms": data.common_terms[:3],
    }


def _bulk_import(
    kb: Any, raw: rawq.RawDatabase, data: Dataset, log: Callable[[str], None]
) -> dict[str, Any]:
    n = data.size
    gc.collect()
    started = time.perf_counter()
    imported = kb.import_nodes(data.frame)
    ours_s = time.perf_counter() - started
    assert imported == n, (imported, n)
    log(f"[{n:,}] ours: kb.import_nodes {ours_s:.2f} s ({n / ours_s:,.0f} nodes/s)")

    prepare_started = time.perf_counter()
    nodes = rawq.node_frame(data.frame)
    prepare_s = time.perf_counter() - prepare_started
    gc.collect()
    started = time.perf_counter()
    raw.copy(nodes, data.links)
    raw_s = time.perf_counter() - started
    log(f"[{n:,}] raw: COPY Node + CHILD_OF + LINKS_TO {raw_s:.2f} s ({n / raw_s:,.0f} nodes/s)")
    del nodes

    started = time.perf_counter()
    indexed = kb.sync_search()
    index_s = time.perf_counter() - started
    log(f"[{n:,}] ours: full-text index build {index_s:.2f} s ({indexed:,} documents)")
    count = kb.cypher("MATCH (n:Node) RETURN count(n) AS c")["c"][0]
    raw_count = raw.rows("MATCH (n:Node) RETURN count(n)")[0][0]
    assert count == raw_count == n, (count, raw_count, n)
    return {
        "nodes": n,
        "ours_s": ours_s,
        "raw_s": raw_s,
        "ours_nodes_per_s": n / ours_s,
        "raw_nodes_per_s": n / raw_s,
        "ratio": ours_s / raw_s,
        "raw_frame_prepare_s": prepare_s,
        "search_index_build_s": index_s,
        "search_index_docs": indexed,
    }


def _reads(
    kb: Any, raw: rawq.RawDatabase, data: Dataset, reps: Repetitions, rng: random.Random
) -> dict[str, OpResult]:
    ids = data.frame["id"].to_list()
    calls = reps.warmup + reps.reads
    out: dict[str, OpResult] = {}

    sample = [rng.choice(ids) for _ in range(calls)]
    first = kb.get(sample[0])
    raw_first = raw.rows(rawq.GET, {"id": sample[0]})[0]
    same = (0, 1, 2, 3, 7, 8, 9, 11, 12, 13)  # not the timestamps or order keys
    assert [list(first.to_dict().values())[i] for i in same] == [raw_first[i] for i in same]
    ours, refs = _interleaved(
        kb.get, [lambda i: raw.rows(rawq.GET, {"id": i})], sample, reps.warmup
    )
    out["get"] = _result(
        "get",
        "kb.get(id)",
        "MATCH (n:Node {id: $id}) RETURN n.id, n.kind, ... (16 columns)",
        ours,
        refs[0],
    )

    parents = [rng.choice(data.parents) for _ in range(calls)]
    kids = kb.children(parents[0])
    assert len(kids) == 50
    assert [c.id for c in kids] == [r[0] for r in raw.rows(rawq.CHILDREN, {"p": parents[0]})]
    ours, refs = _interleaved(
        kb.children, [lambda p: raw.rows(rawq.CHILDREN, {"p": p})], parents, reps.warmup
    )
    out["children"] = _result(
        "children",
        "kb.children(id) (50 children)",
        "MATCH (n)-[:CHILD_OF]->({id: $p}) ... ORDER BY n.position, n.id",
        ours,
        refs[0],
    )

    prios = [rng.randint(1, 4) for _ in range(calls)]

    def ours_find(p: int) -> pl.DataFrame:
        frame: pl.DataFrame = kb.find("task").where(priority=p).limit(50).to_polars()
        return frame

    tasks = data.frame.filter((pl.col("kind") == "task") & (pl.col("priority") == 1)).height
    assert ours_find(1).height == raw.frame(rawq.FIND, {"p": 1}).height == min(50, tasks)
    ours, refs = _interleaved(
        ours_find, [lambda p: raw.frame(rawq.FIND, {"p": p})], prios, reps.warmup
    )
    out["find"] = _result(
        "find",
        'kb.find("task").where(priority=p).limit(50).to_polars()',
        "MATCH (n:Node) WHERE n.kind = 'task' AND n.priority = $p ... LIMIT 50 (get_as_pl)",
        ours,
        refs[0],
    )

    targets = [rng.choice(data.link_targets) for _ in range(calls)]
    linked = kb.backlinks(targets[0])
    assert len(linked) >= 1
    assert [b.id for b in linked] == [r[0] for r in raw.rows(rawq.BACKLINKS, {"id": targets[0]})]
    ours, refs = _interleaved(
        kb.backlinks, [lambda t: raw.rows(rawq.BACKLINKS, {"id": t})], targets, reps.warmup
    )
    out["backlinks"] = _result(
        "backlinks",
        "kb.backlinks(id) (~3 backlinks)",
        "MATCH (n)-[:LINKS_TO]->({id: $id}) ... ORDER BY n.id",
        ours,
        refs[0],
    )
    return out


def _writes(
    kb: Any,
    raw: rawq.RawDatabase,
    data: Dataset,
    reps: Repetitions,
    rng: random.Random,
    new_id: Callable[[], str],
) -> dict[str, OpResult]:
    vocab = vocabulary()[:2000]
    calls = reps.warmup + reps.writes
    out: dict[str, OpResult] = {}

    def words(k: int) -> str:
        return " ".join(rng.choice(vocab) for _ in range(k))

    creates = [(rng.choice(data.parents), words(4), words(16)) for _ in range(calls)]
    counter = iter(range(10**9))

    def ours_create(arg: tuple[str, str, str]) -> None:
        parent, title, content = arg
        kb.create("text", title, content, parent=parent)

    def raw_params(arg: tuple[str, str, str]) -> dict[str, Any]:
        parent, title, content = arg
        now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        return {
            "parent": parent,
            "id": new_id(),
            "title": title,
            "title_key": title,
            "content": content,
            "now": now,
            "position": f"z{next(counter):08d}",
        }

    def raw_create(arg: tuple[str, str, str]) -> None:
        raw.write(rawq.CREATE, raw_params(arg))

    def raw_create_logged(arg: tuple[str, str, str]) -> None:
        params = raw_params(arg)
        raw.logged(rawq.CREATE, params, "create", {"op": "create", "after": params})

    ours, refs = _interleaved(ours_create, [raw_create, raw_create_logged], creates, reps.warmup)
    out["create"] = _result(
        "create",
        'kb.create("text", title, content, parent=p)',
        "one auto-committed MATCH (p) CREATE (n:Node {...})-[:CHILD_OF]->(p)",
        ours,
        refs[0],
    )
    out["create_logged"] = _result(
        "create_logged",
        'kb.create("text", title, content, parent=p) (same calls)',
        "BEGIN; the CREATE above; CREATE (:ChangeSet {...}); COMMIT (design floor)",
        ours,
        refs[1],
        comparable=False,
    )

    # Updates go to nodes without [[links]], so neither side maintains links.
    plain = data.frame.filter(~pl.col("content").str.contains("[[", literal=True))["id"]
    plain_ids = plain.to_list()
    updates = [(rng.choice(plain_ids), words(16)) for _ in range(calls)]

    def ours_update(arg: tuple[str, str]) -> None:
        kb.update(arg[0], content=arg[1])

    def raw_update(arg: tuple[str, str]) -> None:
        now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        raw.write(rawq.UPDATE, {"id": arg[0], "content": arg[1], "now": now})

    def raw_update_logged(arg: tuple[str, str]) -> None:
        now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        before = raw.rows(rawq.GET, {"id": arg[0]})[0]
        params = {"id": arg[0], "content": arg[1], "now": now}
        raw.logged(
            rawq.UPDATE, params, "update", {"op": "update", "before": before, "after": params}
        )

    ours, refs = _interleaved(ours_update, [raw_update, raw_update_logged], updates, reps.warmup)
    out["update"] = _result(
        "update",
        "kb.update(id, content=...)",
        "one auto-committed MATCH (n {id: $id}) SET n.content, n.updated_at, n.version",
        ours,
        refs[0],
    )
    out["update_logged"] = _result(
        "update_logged",
        "kb.update(id, content=...) (same calls)",
        "read the row; BEGIN; the SET above; CREATE (:ChangeSet {...}); COMMIT (design floor)",
        ours,
        refs[1],
        comparable=False,
    )
    check = updates[-1]
    assert kb.get(check[0]).content in {u[1] for u in updates if u[0] == check[0]}
    return out


def _searches(
    kb: Any,
    raw: rawq.RawDatabase,
    data: Dataset,
    reps: Repetitions,
    result: dict[str, Any],
    log: Callable[[str], None],
    rng: random.Random,
) -> dict[str, OpResult]:
    out: dict[str, OpResult] = {}
    if raw.engine == "kuzu":
        started = time.perf_counter()
        raw.build_fts()
        result["raw_fts_build_s"] = time.perf_counter() - started
        log(f"[{data.size:,}] raw: Kùzu FTS index build {result['raw_fts_build_s']:.1f} s")
        query, label = rawq.FTS_QUERY, "Kùzu FTS extension QUERY_FTS_INDEX top 10 (BM25)"
    else:
        query = rawq.CONTAINS_SCAN
        label = "reference only: unranked CONTAINS scan LIMIT 10 (no FTS offline on LadybugDB)"
    kb.sync_search()  # apply the benchmark's own writes before timing
    calls = reps.warmup + reps.search

    def raw_search(term: str) -> list[list[Any]]:
        return raw.rows(query, {"t": term})

    for name, terms in (("search_rare", data.rare_terms), ("search_common", data.common_terms)):
        args = [terms[k % len(terms)] for k in range(calls)]
        hits = kb.search(args[0])
        assert hits and hits[0].id, f"no hits for {args[0]!r}"
        ours, refs = _interleaved(
            lambda t: kb.search(t, limit=10),
            [raw_search],
            args,
            reps.warmup,
            ref_calls=reps.raw_search,
        )
        which = "rare" if name == "search_rare" else "common"
        out[name] = _result(
            name, f"kb.search(term) top 10, {which} terms", label, ours, refs[0], comparable=False
        )

    # Freshness: every search first applies one new write to the index.
    plain = data.frame.filter(~pl.col("content").str.contains("[[", literal=True))["id"]
    plain_ids = plain.to_list()
    fresh_calls = reps.warmup + max(1, reps.writes // 2)
    fresh = [(rng.choice(plain_ids), f"fresh{k}word") for k in range(fresh_calls)]

    def edit(arg: tuple[str, str]) -> None:
        kb.update(arg[0], content=f"{data.common_terms[0]} {arg[1]}")

    def fresh_search(arg: tuple[str, str]) -> None:
        hits = kb.search(arg[1], limit=10)
        assert [hit.id for hit in hits] == [arg[0]], "the edit must be searchable at once"

    ours, _ = _interleaved(fresh_search, [], fresh, reps.warmup, before=edit)
    out["search_after_write"] = OpResult(
        "search_after_write",
        "kb.update(...) untimed, then kb.search(term) top 10 (timed)",
        "-",
        ours.summary(),
        None,
        comparable=False,
    )
    return out


def _opens(
    folder: Path,
    settings: Any,
    engine: str,
    reps: Repetitions,
    node_id: str,
    buffer_pool_mb: int,
    max_db_size_gb: int,
) -> OpResult:
    """Open the database and read one node; closing is not timed."""
    from nodespace_lab.kb import KnowledgeBase

    ours, theirs = Timing(), Timing()
    clock = time.perf_counter
    for k in range(1 + reps.opens):
        for side in (0, 1) if k % 2 == 0 else (1, 0):
            start = clock()
            if side == 0:
                kb = KnowledgeBase(folder / "kb", settings=settings, create=False)
                kb.get(node_id)
                elapsed = clock() - start
                kb.close()
            else:
                raw = rawq.RawDatabase(
                    folder / "raw.db", engine, buffer_pool_mb, max_db_size_gb, schema=False
                )
                raw.rows(rawq.GET, {"id": node_id})
                elapsed = clock() - start
                raw.close()
            if k:  # the first round warms the page cache
                (ours if side == 0 else theirs).samples.append(elapsed * 1000)
    return _result(
        "open",
        "KnowledgeBase(path) + kb.get(id) (close not timed)",
        f"{engine}.Database(path) + Connection + the get query",
        ours,
        theirs,
    )


def _result(
    name: str,
    ours_label: str,
    raw_label: str,
    ours: Timing,
    theirs: Timing,
    *,
    comparable: bool = True,
) -> OpResult:
    return OpResult(name, ours_label, raw_label, ours.summary(), theirs.summary(), comparable)

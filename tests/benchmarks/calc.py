"""Calculated fields at 100k entities: `python -m tests.benchmarks.calc`.

One knowledge base of `project` entities with `item` children (default 1,000 x
100; items `est: number`; projects `cost = sum(children.est)`, `big = count
(children where est > 5)`, `share = big / count(children)`). Half of the
projects sit under `portfolio` entities (`cost = sum(children.cost)`), so an
edit there climbs two levels. A second knowledge base holds the same nodes as
plain text nodes and no entity schema: the foundation. Measured in one run:

1. **edit -> parent aggregate**: `kb.update(item, est=v)` end to end (write,
   commit hook, commit, read-back), one and two levels of rollup; after every
   run the stored `cost`, `big`, `share` (and the portfolio's `cost`) are
   checked against sums kept by this harness from the values it wrote. The
   commit hook is timed apart. Also the import (one full recompute) against
   the foundation's import of the same rows.
2. **full recompute**: `kb.recalculate()` with nothing to change,
   `kb.check_calculated()`, `change_field` of the projects' `cost` (1,000
   values change), and an item field `double = est * k` added and changed
   (100,000 values change); every value is checked afterwards.
3. **writes nothing reads**: a note's title and content, and an item's title,
   in the entity knowledge base against the same write in the foundation,
   calls alternating between the two (`suite._interleaved`).
4. **a reference field**: 100,000 `paper`s whose `venue_rank = venue.rank`,
   100 per venue; `kb.update(venue, rank=r)` and, apart, the `properties
   CONTAINS` scan the engine's first version used to find the papers (it now
   keeps an index in memory), to show what the index saves.

Results go to bench-results/calc-<time>.json (or `--out`) and stdout.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import math
import os
import platform
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from .run import _versions
from .suite import Timing, _interleaved, _settings

#: The issue's target for an edit that updates its parent's aggregates.
EDIT_P95_MS = 10.0
#: The issue asks for "near 1.0"; this harness reads near as within 10 %.
NEAR_ONE = 1.10

ITEM_FIELDS: dict[str, Any] = {"est": "number"}
PROJECT_FIELDS: dict[str, Any] = {
    "cost": {"expression": "sum(children.est)"},
    # `done` is a reserved name (the task column), hence `big`.
    "big": {"expression": "count(children where est > 5)"},
    "share": {"expression": "if(count(children) > 0, big / count(children), null)"},
}
PORTFOLIO_FIELDS: dict[str, Any] = {"cost": {"expression": "sum(children.cost)"}}
VENUE_FIELDS: dict[str, Any] = {"rank": "integer"}
PAPER_FIELDS: dict[str, Any] = {
    "venue": {"type": "ref", "to": "venue"},
    "venue_rank": {"expression": "venue.rank", "type": "integer"},
}
# The scan the first engine version ran to find a venue's papers (timed on its own,
# for comparison: calc/references.py now keeps an index in memory instead).
REFERRER_SCAN = (
    "MATCH (n:Node) WHERE n.kind IN $kinds AND n.status <> 'deleted' "
    "AND n.properties CONTAINS $needle RETURN n.id, n.kind, n.properties"
)


@dataclass(frozen=True)
class Shape:
    """Sizes and repetitions of one run."""

    projects: int = 1000
    items: int = 100  # per project
    per_portfolio: int = 10  # projects per portfolio (for the second half of projects)
    notes: int = 1000
    papers: int = 100_000
    venues: int = 1000
    runs: int = 200
    ref_runs: int = 50
    recompute_runs: int = 3
    warmup: int = 20
    seed: int = 7


# -- data -------------------------------------------------------------------------


@dataclass
class Projects:
    """The project data set and the truth this harness keeps about it."""

    frame: pl.DataFrame
    est: dict[str, float]  # item -> the est value last written
    items_of: dict[str, list[str]]  # project -> its items
    project_of: dict[str, str]  # item -> its project
    projects_of: dict[str, list[str]]  # portfolio -> its projects
    portfolio_of: dict[str, str]  # project -> its portfolio (half of them have none)
    notes: list[str]

    def cost(self, project: str) -> float:
        """What the project's `cost` must be."""
        return sum(self.est[i] for i in self.items_of[project])

    def big(self, project: str) -> int:
        """What the project's `big` must be."""
        return sum(1 for i in self.items_of[project] if self.est[i] > 5)

    def portfolio_cost(self, portfolio: str) -> float:
        """What the portfolio's `cost` must be."""
        return sum(self.cost(p) for p in self.projects_of[portfolio])

    @property
    def entities(self) -> int:
        """Entities of calculated or input kinds (items, projects, portfolios)."""
        return len(self.est) + len(self.items_of) + len(self.projects_of)

    def items_under(self, *, portfolio: bool) -> list[str]:
        """Items whose project is (or is not) under a portfolio."""
        return [i for i, p in self.project_of.items() if (p in self.portfolio_of) == portfolio]


def projects_data(shape: Shape) -> Projects:
    """Portfolios, projects, items and top-level notes as an import frame."""
    rng = random.Random(shape.seed)
    ids: list[str] = []
    kinds: list[str] = []
    titles: list[str] = []
    parents: list[str | None] = []
    props: list[str] = []

    def add(node_id: str, kind: str, parent: str | None, properties: str = "{}") -> None:
        ids.append(node_id)
        kinds.append(kind)
        titles.append(f"{kind} {node_id}")
        parents.append(parent)
        props.append(properties)

    est: dict[str, float] = {}
    items_of: dict[str, list[str]] = {}
    project_of: dict[str, str] = {}
    projects_of: dict[str, list[str]] = {}
    portfolio_of: dict[str, str] = {}
    alone = shape.projects // 2
    for p in range(shape.projects):
        project = f"p{p:06d}"
        portfolio = None
        if p >= alone:
            portfolio = f"f{(p - alone) // shape.per_portfolio:05d}"
            if portfolio not in projects_of:
                projects_of[portfolio] = []
                add(portfolio, "portfolio", None)
            projects_of[portfolio].append(project)
            portfolio_of[project] = portfolio
        add(project, "project", portfolio)
        items_of[project] = []
        for i in range(shape.items):
            item = f"i{p:06d}{i:04d}"
            # Whole numbers: every sum is exact in floating point, whatever its order;
            # none is 0, so changing `double = est * k` changes every value.
            est[item] = float(rng.randint(1, 10))
            items_of[project].append(item)
            project_of[item] = project
            add(item, "item", project, json.dumps({"est": est[item]}))
    notes = [f"n{k:07d}" for k in range(shape.notes)]
    for note in notes:  # top level: a child of a project would count in count(children)
        add(note, "text", None)
    frame = pl.DataFrame(
        {"id": ids, "kind": kinds, "title": titles, "parent_id": parents, "properties": props},
        schema={n: pl.String for n in ("id", "kind", "title", "parent_id", "properties")},
    ).with_columns(content=pl.lit("a note nothing reads"))
    return Projects(frame, est, items_of, project_of, projects_of, portfolio_of, notes)


def foundation_frame(frame: pl.DataFrame) -> pl.DataFrame:
    """The same nodes, ids and hierarchy as plain text nodes without entity fields."""
    return frame.with_columns(kind=pl.lit("text"), properties=pl.lit("{}"))


# -- measuring ---------------------------------------------------------------------


class HookTimer:
    """Times the store's before-commit hooks (the calculation engine) per write."""

    def __init__(self, store: Any) -> None:
        self.pending_ms = 0.0
        # Private, but the only way to time the hook apart from the write around it.
        hooks = store._commit_hooks
        hooks[:] = [self._wrap(hook) for hook in hooks]

    def _wrap(self, hook: Callable[[Any], None]) -> Callable[[Any], None]:
        def timed(tx: Any) -> None:
            start = time.perf_counter()
            try:
                hook(tx)
            finally:
                self.pending_ms += (time.perf_counter() - start) * 1000

        return timed

    def take(self) -> float:
        """Hook time since the last take, in ms."""
        spent, self.pending_ms = self.pending_ms, 0.0
        return spent


@contextmanager
def quiet_gc() -> Iterator[None]:
    """No garbage collection inside timed calls (as `suite._interleaved`)."""
    was = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _seconds(timer: Callable[[], object]) -> tuple[float, object]:
    start = time.perf_counter()
    out = timer()
    return time.perf_counter() - start, out


def _last_ops(kb: Any) -> list[Any]:
    return list(kb.changes(kb.seq - 1)[-1].ops)


def _props(kb: Any, node_id: str) -> dict[str, Any]:
    return dict(kb.get(node_id).properties)


# -- 1. edit -> parent aggregate ---------------------------------------------------


def check_project(kb: Any, data: Projects, project: str) -> None:
    """The project's stored values (and its portfolio's cost) equal the harness's sums."""
    got = _props(kb, project)
    want_cost, want_big = data.cost(project), data.big(project)
    assert got.get("cost") == want_cost, (project, got, want_cost)
    assert got.get("big") == want_big, (project, got, want_big)
    want_share = want_big / len(data.items_of[project])
    assert math.isclose(got["share"], want_share, rel_tol=1e-12), (project, got, want_share)
    portfolio = data.portfolio_of.get(project)
    if portfolio is not None:
        got_cost = _props(kb, portfolio).get("cost")
        want = data.portfolio_cost(portfolio)
        assert got_cost == want, (portfolio, got_cost, want)


def edit_items(
    kb: Any,
    data: Projects,
    items: list[str],
    shape: Shape,
    rng: random.Random,
    hooks: HookTimer,
) -> dict[str, Any]:
    """Time `kb.update(item, est=v)` for random items; check the rollups after each."""
    total, hook = Timing(), Timing()
    checked = 0
    with quiet_gc():
        for k in range(shape.warmup + shape.runs):
            item = rng.choice(items)
            old = data.est[item]
            new = float(rng.choice([v for v in range(1, 11) if v != old]))  # always a change
            hooks.take()
            start = time.perf_counter()
            kb.update(item, est=new)
            elapsed = (time.perf_counter() - start) * 1000
            spent = hooks.take()
            data.est[item] = new
            check_project(kb, data, data.project_of[item])
            checked += 1
            if k >= shape.warmup:
                total.samples.append(elapsed)
                hook.samples.append(spent)
            if k % 200 == 199:
                gc.collect()
    ops = [op.op for op in _last_ops(kb)]
    return {
        "end_to_end": total.summary(),
        "hook": hook.summary(),
        "hook_share_p50": hook.summary()["p50_ms"] / total.summary()["p50_ms"],
        "checked": checked,
        "ops_of_last_write": ops,
        "target_p95_ms": EDIT_P95_MS,
        "ok": total.summary()["p95_ms"] <= EDIT_P95_MS,
    }


# -- 2. full recompute ------------------------------------------------------------


def check_all_values(kb: Any, data: Projects, factor: int, double: int | None) -> int:
    """Every project's, portfolio's (and item's `double`) values against the truth; how many
    entities were checked."""
    frame = kb.store.frame(
        "MATCH (n:Node) WHERE n.kind IN ['project', 'portfolio', 'item'] "
        "RETURN n.id AS id, n.kind AS kind, n.properties AS properties"
    )
    stored = {i: json.loads(p) for i, p in zip(frame["id"], frame["properties"], strict=True)}
    count = 0
    for project, items in data.items_of.items():
        got = stored[project]
        big = data.big(project)
        assert got["cost"] == factor * data.cost(project), (project, got)
        assert got["big"] == big and math.isclose(got["share"], big / len(items)), (project, got)
        count += 1
    for portfolio, projects in data.projects_of.items():
        want = sum(factor * data.cost(p) for p in projects)
        assert stored[portfolio]["cost"] == want, portfolio
        count += 1
    if double is not None:
        for item, est in data.est.items():
            assert stored[item]["double"] == double * est, item
            count += 1
    return count


def _change(kb: Any, kind: str, name: str, expression: str) -> Callable[[], object]:
    """A call that changes a calculated field's expression."""
    return lambda: kb.change_field(kind, name, {"expression": expression})


def _recalc_count(kb: Any) -> int:
    """Values rows the newest change set's full recompute wrote (its `recalc` op)."""
    return sum(op.count for op in _last_ops(kb) if op.op == "recalc")


def recompute(kb: Any, data: Projects, shape: Shape, log: Callable[[str], None]) -> dict[str, Any]:
    """Full recomputes: nothing changed, 1,000 project values, 100,000 item values."""
    runs = max(1, shape.recompute_runs)
    calc_projects = len(data.items_of) + len(data.projects_of)
    out: dict[str, Any] = {}

    def measure(name: str, calc_entities: int, steps: list[Callable[[], object]]) -> None:
        seconds, written = [], []
        for step in steps:
            with quiet_gc():
                spent, returned = _seconds(step)
            seconds.append(spent)
            written.append(returned if isinstance(returned, int) else _recalc_count(kb))
        median = sorted(seconds)[len(seconds) // 2]
        out[name] = {
            "runs_s": seconds,
            "median_s": median,
            "entities": data.entities,  # every one is read: items are the inputs
            "calc_entities": calc_entities,
            "nodes_loaded": data.frame.height,
            "entities_per_s": data.entities / median,
            "calc_entities_per_s": calc_entities / median,
            "written": written,
        }
        log(f"recompute {name}: {median:.2f} s, {data.entities / median:,.0f} entities/s")

    measure("recalculate_unchanged", calc_projects, [kb.recalculate] * runs)
    assert out["recalculate_unchanged"]["written"] == [0] * runs
    measure("check_calculated", calc_projects, [lambda: len(kb.check_calculated())] * runs)
    assert out["check_calculated"]["written"] == [0] * runs  # no mismatch

    factors = list(range(2, 2 + runs))
    measure(
        "project_cost_changed",
        calc_projects,
        [_change(kb, "project", "cost", f"sum(children.est) * {k}") for k in factors],
    )
    checked = check_all_values(kb, data, factors[-1], None)

    calc_all = calc_projects + len(data.est)
    measure(
        "item_field_added",
        calc_all,
        [lambda: kb.add_field("item", "double", {"expression": "est * 2"})],
    )
    measure("recalculate_unchanged_all", calc_all, [kb.recalculate] * runs)
    assert out["recalculate_unchanged_all"]["written"] == [0] * runs
    doubles = list(range(3, 3 + runs))
    measure(
        "item_field_changed",
        calc_all,
        [_change(kb, "item", "double", f"est * {k}") for k in doubles],
    )
    checked += check_all_values(kb, data, factors[-1], doubles[-1])
    out["checked_values"] = checked
    return out


# -- 3. writes nothing reads -----------------------------------------------------


Fields = Callable[[str, int], dict[str, str]]


def plain_writes(
    kb: Any,
    base: Any,
    data: Projects,
    shape: Shape,
    rng: random.Random,
    hooks: HookTimer,
    base_hooks: HookTimer,
) -> dict[str, Any]:
    """A note's title + content and an item's title: entity KB vs foundation, interleaved."""
    cases: dict[str, tuple[list[str], Fields]] = {
        "note": (data.notes, lambda _, k: {"title": f"note {k}", "content": f"edited {k}"}),
        "item_title": (list(data.est), lambda node, k: {"title": f"item {node} edit {k}"}),
    }
    return {
        name: _paired(kb, base, ids, fields, shape, rng, (hooks, base_hooks))
        for name, (ids, fields) in cases.items()
    }


def _paired(
    kb: Any,
    base: Any,
    ids: list[str],
    fields: Fields,
    shape: Shape,
    rng: random.Random,
    timers: tuple[HookTimer, HookTimer],
) -> dict[str, Any]:
    """The same update of the same node ids in both knowledge bases, calls alternating."""
    args = [(rng.choice(ids), k) for k in range(shape.warmup + shape.runs)]
    spent: tuple[list[float], list[float]] = ([], [])

    def ours(arg: tuple[str, int]) -> None:
        kb.update(arg[0], **fields(*arg))
        spent[0].append(timers[0].take())

    def ref(arg: tuple[str, int]) -> None:
        base.update(arg[0], **fields(*arg))
        spent[1].append(timers[1].take())

    for timer in timers:
        timer.take()
    mine, [theirs] = _interleaved(ours, [ref], args, shape.warmup)
    last = args[-1]
    for side in (kb, base):  # the last write landed, and wrote nothing else
        assert side.get(last[0]).title == fields(*last)["title"]
        assert [op.op for op in _last_ops(side)] == ["update"], _last_ops(side)
    m, t = mine.summary(), theirs.summary()
    return {
        "entity_kb": m,
        "foundation": t,
        "ratio_p50": m["p50_ms"] / t["p50_ms"],
        "ratio_p95": m["p95_ms"] / t["p95_ms"],
        "hook": Timing(spent[0][shape.warmup :]).summary(),
        "foundation_hook": Timing(spent[1][shape.warmup :]).summary(),
        "target_ratio": NEAR_ONE,
        "ok": m["p50_ms"] / t["p50_ms"] <= NEAR_ONE,
    }


# -- 4. a reference field ----------------------------------------------------------


@dataclass
class Papers:
    """Venues and the papers that refer to them."""

    frame: pl.DataFrame
    rank: dict[str, int]
    papers_of: dict[str, list[str]] = field(default_factory=dict)


def papers_data(shape: Shape) -> Papers:
    """`venues` venues and `papers` papers, paper k referring to venue k mod venues."""
    rng = random.Random(shape.seed + 1)
    venues = [f"v{v:05d}" for v in range(shape.venues)]
    rank = {v: rng.randint(1, 5) for v in venues}
    papers = [f"a{k:07d}" for k in range(shape.papers)]
    refers = [venues[k % len(venues)] for k in range(shape.papers)]
    frame = pl.DataFrame(
        {
            "id": venues + papers,
            "kind": ["venue"] * len(venues) + ["paper"] * len(papers),
            "title": [f"venue {v}" for v in venues] + [f"paper {p}" for p in papers],
            "properties": [json.dumps({"rank": rank[v]}) for v in venues]
            + [json.dumps({"venue": v}) for v in refers],
        }
    )
    data = Papers(frame, rank)
    for paper, venue in zip(papers, refers, strict=True):
        data.papers_of.setdefault(venue, []).append(paper)
    return data


def check_papers(kb: Any, data: Papers, venue: str) -> None:
    """Every paper of `venue` holds the venue's current rank."""
    rows = kb.store.rows(
        "MATCH (n:Node) WHERE n.id IN $ids RETURN n.id, n.properties",
        {"ids": data.papers_of[venue]},
    )
    assert len(rows) == len(data.papers_of[venue]), venue
    for paper, text in rows:
        got = json.loads(text).get("venue_rank")
        assert got == data.rank[venue], (paper, got, data.rank[venue])


def references(
    folder: Path, settings: Any, shape: Shape, log: Callable[[str], None]
) -> dict[str, Any]:
    """Edit a venue that 100 papers refer to; and the referrer scan on its own."""
    from nodespace_lab.kb import KnowledgeBase

    rng = random.Random(shape.seed + 2)
    data = papers_data(shape)
    kb = KnowledgeBase(folder, settings=settings)
    try:
        kb.define("venue", VENUE_FIELDS)
        kb.define("paper", PAPER_FIELDS)
        hooks = HookTimer(kb.store)
        with quiet_gc():
            import_s, _ = _seconds(lambda: kb.import_nodes(data.frame))
        import_hook_s = hooks.take() / 1000
        log(f"papers: imported {data.frame.height:,} nodes in {import_s:.1f} s")
        venues = list(data.rank)
        check_papers(kb, data, venues[0])
        total, hook, scan = Timing(), Timing(), Timing()
        checked = 0
        with quiet_gc():
            for k in range(shape.warmup + shape.ref_runs):
                venue = rng.choice(venues)
                new = rng.choice([r for r in range(1, 6) if r != data.rank[venue]])
                hooks.take()
                start = time.perf_counter()
                kb.update(venue, rank=new)
                elapsed = (time.perf_counter() - start) * 1000
                spent = hooks.take()
                data.rank[venue] = new
                check_papers(kb, data, venue)
                checked += 1
                params = {"kinds": ["paper"], "needle": json.dumps(venue)}
                start = time.perf_counter()
                found = kb.store.rows(REFERRER_SCAN, params)
                scanned = (time.perf_counter() - start) * 1000
                assert len(found) == len(data.papers_of[venue])
                if k >= shape.warmup:
                    total.samples.append(elapsed)
                    hook.samples.append(spent)
                    scan.samples.append(scanned)
        calc_ops = sum(op.op == "calc" for op in _last_ops(kb))
    finally:
        kb.close()
    return {
        "papers": shape.papers,
        "venues": shape.venues,
        "papers_per_venue": shape.papers // max(1, shape.venues),
        "import_s": import_s,
        "import_recompute_s": import_hook_s,
        "end_to_end": total.summary(),
        "hook": hook.summary(),
        "referrer_scan": scan.summary(),
        "calc_ops_of_last_write": calc_ops,
        "checked": checked,
    }


# -- the run -----------------------------------------------------------------------


def build(
    kb: Any, base: Any, data: Projects, log: Callable[[str], None]
) -> tuple[dict[str, Any], HookTimer, HookTimer]:
    """Define the kinds and import the data into both knowledge bases (timed)."""
    kb.define("item", ITEM_FIELDS)
    kb.define("project", PROJECT_FIELDS)
    kb.define("portfolio", PORTFOLIO_FIELDS)
    hooks, base_hooks = HookTimer(kb.store), HookTimer(base.store)
    plain = foundation_frame(data.frame)
    with quiet_gc():
        import_s, count = _seconds(lambda: kb.import_nodes(data.frame))
    recompute_s = hooks.take() / 1000
    with quiet_gc():
        base_s, base_count = _seconds(lambda: base.import_nodes(plain))
    base_hooks.take()
    assert count == base_count == data.frame.height, (count, base_count)
    checked = check_all_values(kb, data, 1, None)
    log(
        f"imported {count:,} nodes: {import_s:.2f} s (full recompute {recompute_s:.2f} s); "
        f"foundation {base_s:.2f} s"
    )
    result = {
        "nodes": count,
        "entities": data.entities,
        "items": len(data.est),
        "projects": len(data.items_of),
        "portfolios": len(data.projects_of),
        "notes": len(data.notes),
        "import_s": import_s,
        "import_recompute_s": recompute_s,
        "foundation_import_s": base_s,
        "import_ratio": import_s / base_s,
        "checked_values": checked,
    }
    return result, hooks, base_hooks


def run(
    shape: Shape,
    workdir: Path,
    *,
    engine: str = "ladybug",
    buffer_pool_mb: int = 1024,
    max_db_size_gb: int = 64,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Every calculated-field benchmark; the result (see the module doc)."""
    from nodespace_lab.kb import KnowledgeBase

    settings = _settings(engine, buffer_pool_mb, max_db_size_gb)
    rng = random.Random(shape.seed)
    started = time.perf_counter()
    data = projects_data(shape)
    result: dict[str, Any] = {"engine": engine, "generate_s": time.perf_counter() - started}
    kb = KnowledgeBase(workdir / "kb", settings=settings)
    base = KnowledgeBase(workdir / "foundation", settings=settings)
    try:
        result["build"], hooks, base_hooks = build(kb, base, data, log)
        # First, while both databases have seen the same writes (an import each):
        # the edits below grow the entity KB's write-ahead log, not the foundation's.
        result["no_dependents"] = plain_writes(kb, base, data, shape, rng, hooks, base_hooks)
        log("writes nothing reads: done")
        base.close()
        alone, deep = data.items_under(portfolio=False), data.items_under(portfolio=True)
        result["edit_one_level"] = edit_items(kb, data, alone, shape, rng, hooks)
        log(f"edits, one level: p95 {result['edit_one_level']['end_to_end']['p95_ms']:.2f} ms")
        result["edit_two_levels"] = edit_items(kb, data, deep, shape, rng, hooks)
        log(f"edits, two levels: p95 {result['edit_two_levels']['end_to_end']['p95_ms']:.2f} ms")
        result["recompute"] = recompute(kb, data, shape, log)
    finally:
        kb.close()
        base.close()
    if shape.papers and shape.venues:
        result["references"] = references(workdir / "papers", settings, shape, log)
    result["total_s"] = time.perf_counter() - started
    return result


# -- output -------------------------------------------------------------------------


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def table(report: dict[str, Any]) -> str:
    """The results as Markdown tables."""
    r = report["result"]
    b = r["build"]
    lines = [
        f"### Calculated fields: {b['entities']:,} entities ({b['projects']:,} projects x "
        f"{b['items'] // max(1, b['projects'])} items, {b['portfolios']:,} portfolios), "
        f"{b['nodes']:,} nodes ({r['engine']})",
        "",
        "| measurement | p50 | p95 | max | commit hook p50 / p95 | target | result |",
        "|---|---:|---:|---:|---|---|---|",
    ]
    for key, label in (
        ("edit_one_level", "`kb.update(item, est=v)`: project cost/big/share"),
        ("edit_two_levels", "the same, project under a portfolio (two levels)"),
    ):
        e = r[key]
        t, h = e["end_to_end"], e["hook"]
        lines.append(
            f"| {label} | {t['p50_ms']:.2f} ms | {t['p95_ms']:.2f} ms | {t['max_ms']:.2f} ms "
            f"| {h['p50_ms']:.2f} / {h['p95_ms']:.2f} ms | p95 <= {EDIT_P95_MS:g} ms "
            f"| {_verdict(e['ok'])} |"
        )
    lines += [
        "",
        f"Import of {b['nodes']:,} nodes: {b['import_s']:.2f} s, of which the full recompute "
        f"(commit hook) {b['import_recompute_s']:.2f} s; the foundation's import of the same "
        f"rows {b['foundation_import_s']:.2f} s ({b['import_ratio']:.2f}x).",
        "",
        "| write nothing reads | entity KB p50 / p95 | foundation p50 / p95 | ratio p50 "
        "| ratio p95 | hook p50 / p95 | target | result |",
        "|---|---|---|---:|---:|---|---|---|",
    ]
    for key, label in (("note", "note title + content"), ("item_title", "item title")):
        w = r["no_dependents"][key]
        m, f, h = w["entity_kb"], w["foundation"], w["hook"]
        lines.append(
            f"| {label} | {m['p50_ms']:.2f} / {m['p95_ms']:.2f} ms | {f['p50_ms']:.2f} / "
            f"{f['p95_ms']:.2f} ms | {w['ratio_p50']:.2f}x | {w['ratio_p95']:.2f}x "
            f"| {h['p50_ms']:.3f} / {h['p95_ms']:.3f} ms | p50 ratio <= {NEAR_ONE:g}x "
            f"| {_verdict(w['ok'])} |"
        )
    titles = {
        "recalculate_unchanged": "`kb.recalculate()`, nothing differs",
        "check_calculated": "`kb.check_calculated()`",
        "project_cost_changed": "`change_field` project cost: every project value changes",
        "item_field_added": "`add_field` item `double = est * 2`: every item value written",
        "recalculate_unchanged_all": "`kb.recalculate()`, nothing differs (items calculated too)",
        "item_field_changed": "`change_field` item `double`: every item value changes",
    }
    lines += [
        "",
        "| full recompute | entities | with calculated fields | median s | entities/s "
        "| nodes written |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for key, label in titles.items():
        c = r["recompute"][key]
        lines.append(
            f"| {label} | {c['entities']:,} | {c['calc_entities']:,} | {c['median_s']:.2f} | "
            f"{c['entities_per_s']:,.0f} | {c['written'][-1]:,} |"
        )
    ref = r.get("references")
    if ref:
        t, h, s = ref["end_to_end"], ref["hook"], ref["referrer_scan"]
        lines += [
            "",
            f"Reference field, {ref['papers']:,} papers, {ref['papers_per_venue']} per venue "
            f"(import {ref['import_s']:.1f} s):",
            "",
            "| measurement | p50 | p95 | max |",
            "|---|---:|---:|---:|",
            f"| `kb.update(venue, rank=r)`: {ref['calc_ops_of_last_write']} papers recomputed "
            f"| {t['p50_ms']:.1f} ms | {t['p95_ms']:.1f} ms | {t['max_ms']:.1f} ms |",
            f"| of which the commit hook | {h['p50_ms']:.1f} ms | {h['p95_ms']:.1f} ms "
            f"| {h['max_ms']:.1f} ms |",
            f"| a `properties CONTAINS` scan (the first version's lookup) | {s['p50_ms']:.1f} ms "
            f"| {s['p95_ms']:.1f} ms | {s['max_ms']:.1f} ms |",
        ]
    c = report["checks"]
    lines += [
        "",
        f"Checked against the harness's own sums: {c['edits']:,} edits, "
        f"{c['values']:,} entities after the import and recomputes, {c['reference_edits']:,} "
        "venue edits.",
    ]
    return "\n".join(lines)


def checks(result: dict[str, Any]) -> dict[str, int]:
    """How many of the harness's own correctness checks ran (each one asserts)."""
    ref = result.get("references") or {}
    return {
        "edits": result["edit_one_level"]["checked"] + result["edit_two_levels"]["checked"],
        "values": result["build"]["checked_values"] + result["recompute"]["checked_values"],
        "reference_edits": ref.get("checked", 0),
    }


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, run, print the tables and write the JSON."""
    parser = argparse.ArgumentParser(prog="python -m tests.benchmarks.calc", description=__doc__)
    defaults = Shape()
    for name in (
        "projects", "items", "per_portfolio", "notes", "papers", "venues", "runs", "ref_runs",
        "recompute_runs", "warmup", "seed",
    ):  # fmt: skip
        parser.add_argument(
            "--" + name.replace("_", "-"), type=int, default=getattr(defaults, name),
            help=f"default {getattr(defaults, name)}",
        )  # fmt: skip
    parser.add_argument("--engine", choices=["ladybug", "kuzu"], default="ladybug")
    parser.add_argument("--buffer-pool-mb", type=int, default=1024)
    parser.add_argument("--max-db-size-gb", type=int, default=64)
    parser.add_argument("--out", type=Path, help="default bench-results/calc-<time>.json")
    parser.add_argument("--workdir", type=Path, help="scratch folder (default: a temporary one)")
    args = parser.parse_args(argv)
    shape = Shape(**{k: getattr(args, k) for k in asdict(defaults)})
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    out = args.out or Path("bench-results") / f"calc-{stamp}.json"
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="nodespace-calc-"))
    report: dict[str, Any] = {
        "command": " ".join(["python -m tests.benchmarks.calc", *(argv or sys.argv[1:])]),
        "started": dt.datetime.now().isoformat(timespec="seconds"),
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
        "versions": _versions(args.engine),
        "shape": asdict(shape),
        "targets": {"edit_p95_ms": EDIT_P95_MS, "no_dependents_ratio_p50": NEAR_ONE},
    }
    try:
        report["result"] = run(
            shape,
            workdir,
            engine=args.engine,
            buffer_pool_mb=args.buffer_pool_mb,
            max_db_size_gb=args.max_db_size_gb,
            log=lambda m: print(m, flush=True),
        )
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    report["checks"] = checks(report["result"])
    report["finished"] = dt.datetime.now().isoformat(timespec="seconds")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2, default=str))
    print()
    print(table(report))
    print(f"\nResults written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

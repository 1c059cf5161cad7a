"""`nodespace doctor`: check (and repair) the invariants of a knowledge base.

Checks: the hierarchy is a forest (no cycles, parent column equals the one
CHILD_OF edge, no parent that does not exist), ordering keys are valid and
unique per parent, references and links equal what the content says,
memberships point at tags or collections, the full-text index holds
exactly the nodes of the graph, every stored calculated value equals its
recomputation from scratch, and no file or folder of the knowledge base is
open to other users of the machine (the repair makes them 0600/0700). Plugins
add their own checks (`nodespace_doctor_checks`), reported as `plugin:<name>`.

It lives in `kb/` because it checks the composed knowledge base (graph, writer,
full-text index, calculated fields, files), not one layer of it.
"""

from __future__ import annotations

import os
import shlex
import stat
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from .._registry import run_doctor_checks
from ..config.private import describe, keep_private, loose_entries, tighten
from ..errors import ValidationError
from ..graph import Op, WriteTx, opkinds
from ..nodes import links, tree
from ..nodes.model import encode_row
from ..nodes.ordering import is_valid_key, key_between, keys_after
from ..nodes.tree import last_position, require_row

if TYPE_CHECKING:
    from .embedded import KnowledgeBase


_BAD_MEMBERS = (
    "MATCH (a:Node)-[:MEMBER_OF]->(b:Node) WHERE NOT b.kind IN ['tag', 'collection'] "
    "RETURN a.id, b.id"
)
_DROP_BAD_MEMBERS = (
    "MATCH (a:Node)-[e:MEMBER_OF]->(b:Node) WHERE NOT b.kind IN ['tag', 'collection'] DELETE e"
)


@dataclass(frozen=True)
class Problem:
    """One broken invariant, on one node."""

    check: str
    node_id: str
    message: str

    def __str__(self) -> str:
        return f"[{self.check}] {self.node_id}: {self.message}"


@dataclass
class Report:
    """What `doctor` found, and what is left after a repair."""

    problems: list[Problem]
    repaired: bool = False
    remaining: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when nothing is (or remains) wrong."""
        return not (self.remaining if self.repaired else self.problems)


@dataclass
class _Graph:
    nodes: pl.DataFrame
    child_of: dict[str, list[str]]
    refers: dict[str, set[str]]
    links_to: dict[str, set[str]]
    titled: dict[str, set[str]]
    members: list[tuple[str, str]]


def _load(kb: KnowledgeBase) -> _Graph:
    store = kb.store
    nodes = store.frame(
        "MATCH (n:Node) RETURN n.id AS id, n.kind AS kind, n.parent_id AS parent_id, "
        "n.position AS position, n.title_key AS title_key, n.content AS content"
    )

    def pairs(query: str) -> dict[str, set[str]]:
        out: dict[str, set[str]] = defaultdict(set)
        for a, b in store.rows(query):
            out[a].add(b)
        return out

    child_of: dict[str, list[str]] = defaultdict(list)
    for child, parent in store.rows("MATCH (c:Node)-[:CHILD_OF]->(p:Node) RETURN c.id, p.id"):
        child_of[child].append(parent)
    return _Graph(
        nodes=nodes,
        child_of=child_of,
        refers=pairs("MATCH (n:Node)-[:REFERS]->(r:Ref) RETURN n.id, r.key"),
        links_to=pairs("MATCH (a:Node)-[:LINKS_TO]->(b:Node) RETURN a.id, b.id"),
        titled=pairs("MATCH (n:Node)-[:TITLED]->(r:Ref) RETURN r.key, n.id"),
        members=[(a, b) for a, b in store.rows(_BAD_MEMBERS)],
    )


def find_problems(kb: KnowledgeBase) -> list[Problem]:
    """Every broken invariant of `kb`, without changing anything but pending index updates."""
    kb.sync_search()
    graph = _load(kb)
    problems = _hierarchy(graph) + _ordering(graph) + _links(graph)
    problems += [
        Problem("membership", a, f"is a member of {b!r}, which is not a tag or collection")
        for a, b in graph.members
    ]
    problems += _fulltext(kb, set(graph.nodes["id"].to_list())) + _calculated(kb)
    return problems + permission_problems(kb.path) + plugin_problems(kb)


def plugin_problems(kb: KnowledgeBase) -> list[Problem]:
    """What the plugins' doctor checks find (`plugin:<check>`; doctor does not repair them)."""
    return [Problem(check, node_id, message) for check, node_id, message in run_doctor_checks(kb)]


def permission_problems(root: Path) -> list[Problem]:
    """Files and folders of the knowledge base at `root` that other users may use.

    Inside a private (0700) folder, files the engine made with the umask are
    made 0600 first, as on open and close; what remains is reported.
    """
    keep_private(root)
    return [_loose(path, st) for path, st in loose_entries(root)]


def _loose(path: Path, st: os.stat_result) -> Problem:
    if st.st_uid != os.getuid():
        fix = "it is not yours: ask its owner, or copy the knowledge base into a folder of yours"
    else:
        kind = "folder" if stat.S_ISDIR(st.st_mode) else "file"
        mode = "700" if kind == "folder" else "600"
        fix = (
            f"other users may use this {kind}; run chmod {mode} {shlex.quote(str(path))} "
            "(or nodespace doctor --repair)"
        )
    return Problem("permissions", str(path), f"{describe(st)}: {fix}")


def _calculated(kb: KnowledgeBase) -> list[Problem]:
    """Stored calculated values that differ from a recomputation from scratch."""
    try:
        mismatches = kb.check_calculated()
    except ValidationError as exc:
        return [Problem("calculated", "-", f"the definitions do not compile: {exc}")]
    return [
        Problem("calculated", m.node_id, f"field {m.field!r} stores {m.stored!r}, computes to "
                f"{m.computed!r}")
        for m in mismatches
    ]  # fmt: skip


def _hierarchy(graph: _Graph) -> list[Problem]:
    problems = []
    ids = set(graph.nodes["id"].to_list())
    parent_of = dict(
        zip(graph.nodes["id"].to_list(), graph.nodes["parent_id"].to_list(), strict=True)
    )
    for node_id, parent in parent_of.items():
        edges = graph.child_of.get(node_id, [])
        if parent is not None and parent not in ids:
            problems.append(Problem("dangling", node_id, f"parent {parent!r} does not exist"))
        elif edges != ([parent] if parent is not None else []):
            problems.append(
                Problem("parent", node_id, f"parent column {parent!r} but CHILD_OF edges {edges}")
            )
    problems += [Problem("cycle", n, "is its own ancestor") for n in tree.cycle_members(parent_of)]
    return problems


def _ordering(graph: _Graph) -> list[Problem]:
    problems = []
    in_tree = graph.nodes.filter(pl.col("kind") != "tag")
    for node_id, position in in_tree.select("id", "position").iter_rows():
        if not position or not is_valid_key(position):
            problems.append(Problem("order", node_id, f"invalid ordering key {position!r}"))
    duplicates = in_tree.filter(pl.struct("parent_id", "position").is_duplicated())
    for node_id, parent, position in duplicates.select("id", "parent_id", "position").iter_rows():
        problems.append(
            Problem("order", node_id, f"ordering key {position!r} repeated under {parent!r}")
        )
    return problems


def _links(graph: _Graph) -> list[Problem]:
    problems = []
    by_title: dict[str, set[str]] = defaultdict(set)
    ids = set()
    for node_id, title_key in graph.nodes.select("id", "title_key").iter_rows():
        by_title[title_key].add(node_id)
        ids.add(node_id)
    for key, sources in graph.titled.items():
        if sources != by_title.get(key, set()):
            problems.append(Problem("titled", key, "TITLED edges do not match the titles"))
    for node_id, content in graph.nodes.select("id", "content").iter_rows():
        keys = links.references(content or "")
        if keys != graph.refers.get(node_id, set()):
            problems.append(Problem("links", node_id, "references differ from the content"))
        wanted = (
            set().union(*(by_title.get(k, set()) | ({k} & ids) for k in keys)) if keys else set()
        )
        if wanted != graph.links_to.get(node_id, set()):
            problems.append(Problem("links", node_id, "LINKS_TO edges differ from the content"))
    return problems


def _fulltext(kb: KnowledgeBase, ids: set[str]) -> list[Problem]:
    index = kb.fulltext
    problems = []
    if index.applied_seq != kb.seq:
        problems.append(
            Problem("fulltext", "-", f"index at seq {index.applied_seq}, graph at {kb.seq}")
        )
    indexed = index.doc_ids()
    problems += [
        Problem("fulltext", i, "missing from the search index") for i in sorted(ids - indexed)[:100]
    ]
    problems += [
        Problem("fulltext", i, "in the search index but not the graph")
        for i in sorted(indexed - ids)[:100]
    ]
    return problems


def doctor(kb: KnowledgeBase, *, repair: bool = False) -> Report:
    """Check `kb`; with `repair`, fix what can be fixed and check again."""
    problems = find_problems(kb)
    if not repair or not problems:
        return Report(problems)
    graph_problems = [
        p
        for p in problems
        if p.check not in {"fulltext", "calculated", "permissions"}
        and not p.check.startswith("plugin:")  # a plugin's finding is for the user to fix
    ]
    if graph_problems:
        # Its "repair" operation makes the commit recompute every calculated value too.
        with kb.store.write("doctor --repair") as tx:
            _repair(kb, tx, graph_problems)
    elif any(p.check == "calculated" for p in problems):
        kb.recalculate()
    kb.reindex()
    if any(p.check == "permissions" for p in problems):
        tighten(kb.path)
    return Report(problems, repaired=True, remaining=find_problems(kb))


def _repair(kb: KnowledgeBase, tx: WriteTx, problems: list[Problem]) -> None:
    by_check: dict[str, set[str]] = defaultdict(set)
    for problem in problems:
        by_check[problem.check].add(problem.node_id)
    for node_id in sorted(by_check["dangling"] | by_check["cycle"] | by_check["parent"]):
        _reparent(kb, tx, node_id)
    for node_id in sorted(by_check["order"]):
        _renumber(kb, tx, require_row(tx.execute, node_id)["parent_id"])
    for key in sorted(by_check["titled"]):
        _retitle_key(tx, key)
    for node_id in sorted(by_check["links"]):
        content = require_row(tx.execute, node_id)["content"] or ""
        links.sync_references(tx, node_id, links.references(content))
        links.relink_source(tx, node_id)
    if by_check["membership"]:
        tx.execute(_DROP_BAD_MEMBERS)
    tx.record(Op(opkinds.REPAIR, "doctor", ""))


def _reparent(kb: KnowledgeBase, tx: WriteTx, node_id: str) -> None:
    """Make the CHILD_OF edge follow the parent column, or lift the node to the top level."""
    old = require_row(tx.execute, node_id)
    parent = old["parent_id"]
    keep = parent is not None and kb.exists(parent) and node_id not in _ancestor_ids(tx, parent)
    tx.execute("MATCH (:Node {id: $id})-[e:CHILD_OF]->() DELETE e", {"id": node_id})
    if keep:
        tx.execute(
            "MATCH (c:Node {id: $c}), (p:Node {id: $p}) CREATE (c)-[:CHILD_OF]->(p)",
            {"c": node_id, "p": parent},
        )
        return
    position = key_between(last_position(tx.execute, None), None)
    new = kb._writer.write_row(tx, {**old, "parent_id": None}, {"position": position})
    tx.execute("MATCH (n:Node {id: $id}) SET n.parent_id = NULL", {"id": node_id})
    tx.record(Op(opkinds.UPDATE, node_id, old["kind"], encode_row(old), encode_row(new)))


def _ancestor_ids(tx: WriteTx, node_id: str) -> set[str]:
    seen: set[str] = set()
    current: str | None = node_id
    while current is not None and current not in seen:
        seen.add(current)
        rows = tx.execute("MATCH (n:Node {id: $id}) RETURN n.parent_id", {"id": current})
        current = rows[0][0] if rows else None
    return seen


def _renumber(kb: KnowledgeBase, tx: WriteTx, parent: str | None) -> None:
    if parent is None:
        rows = tx.execute(
            "MATCH (c:Node) WHERE c.parent_id IS NULL AND c.kind <> 'tag' "
            "RETURN c.id ORDER BY c.position, c.id"
        )
    else:
        rows = tx.execute(
            "MATCH (c:Node)-[:CHILD_OF]->(:Node {id: $p}) RETURN c.id ORDER BY c.position, c.id",
            {"p": parent},
        )
    ids = [r[0] for r in rows]
    keys = keys_after(None, pl.Series(range(len(ids)))).to_list()
    for node_id, key in zip(ids, keys, strict=True):
        old = require_row(tx.execute, node_id)
        if old["position"] != key:
            new = kb._writer.write_row(tx, old, {"position": key})
            tx.record(Op(opkinds.UPDATE, node_id, old["kind"], encode_row(old), encode_row(new)))


def _retitle_key(tx: WriteTx, key: str) -> None:
    """Make the TITLED edges of Ref `key` come from exactly the nodes titled `key`."""
    tx.execute("MATCH (:Node)-[e:TITLED]->(:Ref {key: $k}) DELETE e", {"k": key})
    tx.execute(
        "MATCH (n:Node) WHERE n.title_key = $k MATCH (r:Ref {key: $k}) CREATE (n)-[:TITLED]->(r)",
        {"k": key},
    )
    for source in tx.values("MATCH (s:Node)-[:REFERS]->(:Ref {key: $k}) RETURN s.id", {"k": key}):
        links.relink_source(tx, source)

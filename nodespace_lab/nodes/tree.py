"""Reading the hierarchy: rows, siblings, subtrees and ancestors.

The engine bounds variable-length paths, so subtrees and ancestor chains are
walked level by level with one query per level instead.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..errors import NotFound
from .model import COLUMNS, Row

Run = Callable[[str, dict[str, Any]], list[list[Any]]]
MAX_DEPTH = 10_000


# Named columns, not `RETURN n`: building the whole node value costs the
# engine about twice as much (p50 ~110 vs ~55 µs per lookup).
_ROW = "MATCH (n:Node {id: $id}) RETURN " + ", ".join(f"n.{c}" for c in COLUMNS)


def node_row(run: Run, node_id: str) -> Row | None:
    """The stored row of `node_id` (every column), or None."""
    rows = run(_ROW, {"id": node_id})
    if not rows:
        return None
    return dict(zip(COLUMNS, rows[0], strict=True))


def require_row(run: Run, node_id: object, role: str = "Node") -> Row:
    """The row of `node_id`, or NotFound naming it."""
    row = node_row(run, node_id) if isinstance(node_id, str) else None
    if row is None:
        raise NotFound(f"{role} {node_id!r} does not exist; check the id (kb.find() lists nodes).")
    return row


def siblings(run: Run, parent_id: str | None) -> list[tuple[str, str, str]]:
    """(id, position, status) of every child of `parent_id` (None: the roots), in order."""
    if parent_id is None:
        rows = run(
            "MATCH (c:Node) WHERE c.parent_id IS NULL AND c.kind <> 'tag' "
            "RETURN c.id, c.position, c.status ORDER BY c.position, c.id",
            {},
        )
    else:
        rows = run(
            "MATCH (c:Node)-[:CHILD_OF]->(:Node {id: $p}) "
            "RETURN c.id, c.position, c.status ORDER BY c.position, c.id",
            {"p": parent_id},
        )
    return [(r[0], r[1], r[2]) for r in rows]


def last_position(run: Run, parent_id: str | None) -> str | None:
    """The greatest ordering key under `parent_id`, or None when it has no children."""
    if parent_id is None:
        rows = run(
            "MATCH (c:Node) WHERE c.parent_id IS NULL AND c.kind <> 'tag' RETURN max(c.position)",
            {},
        )
    else:
        rows = run(
            "MATCH (c:Node)-[:CHILD_OF]->(:Node {id: $p}) RETURN max(c.position)", {"p": parent_id}
        )
    return rows[0][0] if rows and rows[0][0] else None


def descendants(run: Run, node_id: str) -> list[str]:
    """Ids of every descendant of `node_id`, breadth first (not including it)."""
    found: list[str] = []
    frontier = [node_id]
    for _ in range(MAX_DEPTH):
        if not frontier:
            break
        rows = run(
            "UNWIND $ids AS i MATCH (c:Node)-[:CHILD_OF]->(:Node {id: i}) RETURN c.id",
            {"ids": frontier},
        )
        frontier = [r[0] for r in rows]
        found.extend(frontier)
    return found


def ancestors(run: Run, node_id: str) -> list[str]:
    """Ids from the parent of `node_id` up to its root."""
    chain: list[str] = []
    current: str | None = node_id
    for _ in range(MAX_DEPTH):
        rows = run("MATCH (n:Node {id: $id}) RETURN n.parent_id", {"id": current})
        current = rows[0][0] if rows else None
        if current is None or current in chain:
            break
        chain.append(current)
    return chain


def ancestors_of_many(run: Run, ids: list[str]) -> dict[str, list[str]]:
    """Ancestor chains of many nodes, one query per tree level."""
    parent_of: dict[str, str | None] = {}
    frontier = list(dict.fromkeys(ids))
    for _ in range(MAX_DEPTH):
        if not frontier:
            break
        rows = run(
            "UNWIND $ids AS i MATCH (n:Node {id: i}) RETURN n.id, n.parent_id", {"ids": frontier}
        )
        parent_of.update({r[0]: r[1] for r in rows})
        frontier = [p for p in {r[1] for r in rows} if p is not None and p not in parent_of]
    return {node_id: chain_of(parent_of, node_id) for node_id in ids}


def chain_of(parent_of: dict[str, str | None], node_id: str) -> list[str]:
    """Ancestors of `node_id` by a parent map, parent first (stops at a cycle)."""
    chain: list[str] = []
    current = parent_of.get(node_id)
    while current is not None and current not in chain:
        chain.append(current)
        current = parent_of.get(current)
    return chain


def cycle_members(parent_of: dict[str, str | None]) -> list[str]:
    """Ids on a parent cycle of a child -> parent map, sorted (empty: a forest)."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = known to reach a root
    found: list[str] = []
    for start in parent_of:
        path: list[str] = []
        current: str | None = start
        while current is not None and current in parent_of and state.get(current) != 2:
            if state.get(current) == 1:
                found.extend(path[path.index(current) :])
                break
            state[current] = 1
            path.append(current)
            current = parent_of[current]
        for node_id in path:
            state[node_id] = 2
    return sorted(set(found))

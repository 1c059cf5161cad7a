"""`[[Title]]` and `[[id]]` references and the LINKS_TO edges they become.

A reference is stored as a REFERS edge to a `Ref` node keyed by the
normalised text. A node answers to the keys of its id and its title; nodes
whose title matches an existing Ref carry a TITLED edge to it, so resolving a
reference is an index lookup, not a scan. LINKS_TO edges are derived:
a -> b exactly when a refers to a key that b answers to.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import polars as pl

from ..graph import WriteTx

# [[target]] or [[target|alias]]; no brackets or newlines inside.
_REFERENCE = re.compile(r"\[\[([^\[\]\n|]+?)(?:\|[^\[\]\n]*)?\]\]")
_REFERENCED_KEYS = "MATCH (:Node {id: $id})-[:REFERS]->(r:Ref) RETURN r.key"


def normalise(text: str) -> str:
    """The key a title or reference text is matched by (case and spacing folded)."""
    return " ".join(text.split()).casefold()


def references(content: str) -> set[str]:
    """Normalised keys of every `[[...]]` reference in `content`."""
    if "[[" not in content:
        return set()
    keys = {normalise(match) for match in _REFERENCE.findall(content)}
    keys.discard("")
    return keys


def sync_references(tx: WriteTx, node_id: str, keys: set[str]) -> None:
    """Make node `node_id` refer to exactly `keys`, then recompute its links."""
    old = set(tx.values(_REFERENCED_KEYS, {"id": node_id}))
    removed, added = old - keys, keys - old
    if removed:
        tx.execute(
            "MATCH (:Node {id: $id})-[e:REFERS]->(r:Ref) WHERE r.key IN $keys DELETE e",
            {"id": node_id, "keys": sorted(removed)},
        )
        drop_unreferenced(tx, removed)
    for key in sorted(added):
        _ensure_ref(tx, key)
    if added:
        tx.execute(
            "MATCH (n:Node {id: $id}) UNWIND $keys AS k MATCH (r:Ref {key: k}) "
            "CREATE (n)-[:REFERS]->(r)",
            {"id": node_id, "keys": sorted(added)},
        )
    if removed or added:
        relink_source(tx, node_id)


def _ensure_ref(tx: WriteTx, key: str) -> None:
    if tx.values("MATCH (r:Ref {key: $k}) RETURN r.key", {"k": key}):
        return
    tx.execute("CREATE (:Ref {key: $k})", {"k": key})
    # A new key may already name nodes: one scan, only when a key is first referenced.
    tx.execute(
        "MATCH (n:Node) WHERE n.title_key = $k MATCH (r:Ref {key: $k}) CREATE (n)-[:TITLED]->(r)",
        {"k": key},
    )


def drop_unreferenced(tx: WriteTx, keys: Iterable[str]) -> None:
    """Delete the Refs among `keys` that nothing refers to any more."""
    tx.execute(
        "MATCH (r:Ref) WHERE r.key IN $keys AND NOT EXISTS { MATCH (r)<-[:REFERS]-(:Node) } "
        "DETACH DELETE r",
        {"keys": sorted(keys)},
    )


def resolve(tx: WriteTx, keys: Iterable[str]) -> set[str]:
    """Ids of every node answering to any of `keys`."""
    keys = sorted(keys)
    if not keys:
        return set()
    # UNWIND + key lookup, not `WHERE r.key IN $keys`: after a reopen, Kùzu 0.11.3 returns
    # wrong neighbours for the IN form when the transaction has created Refs or edges.
    by_title = _by_key(
        tx,
        "MATCH (:Ref {key: $k})<-[:TITLED]-(t:Node) RETURN DISTINCT t.id",
        "UNWIND $keys AS k MATCH (:Ref {key: k})<-[:TITLED]-(t:Node) RETURN DISTINCT t.id",
        keys,
    )
    by_id = _by_key(
        tx,
        "MATCH (t:Node {id: $k}) RETURN t.id",
        "UNWIND $keys AS k MATCH (t:Node {id: k}) RETURN t.id",
        keys,
    )
    return set(by_title) | set(by_id)


# Up to this many keys, one primary-key lookup per key: the engine runs
# `UNWIND $keys AS k MATCH (:T {key: k})` as a hash join over a scan of the
# whole table (p50 ~10 ms at 1M nodes, against ~0.1 ms for two lookups).
_FEW_KEYS = 16


def _by_key(tx: WriteTx, one: str, many: str, keys: list[str]) -> list[Any]:
    """First column of `one` (with `$k`) for each key, or of `many` (with `$keys`)."""
    if len(keys) > _FEW_KEYS:
        return tx.values(many, {"keys": keys})
    found: list[Any] = []
    for key in keys:
        found += tx.values(one, {"k": key})
    return found


def relink_source(tx: WriteTx, node_id: str) -> None:
    """Recompute the LINKS_TO edges leaving `node_id` from its references."""
    wanted = resolve(tx, tx.values(_REFERENCED_KEYS, {"id": node_id}))
    current = set(
        tx.values("MATCH (:Node {id: $id})-[:LINKS_TO]->(t:Node) RETURN t.id", {"id": node_id})
    )
    if current - wanted:
        tx.execute(
            "MATCH (:Node {id: $id})-[e:LINKS_TO]->(t:Node) WHERE t.id IN $ids DELETE e",
            {"id": node_id, "ids": sorted(current - wanted)},
        )
    if wanted - current:
        tx.execute(
            "MATCH (s:Node {id: $id}) UNWIND $ids AS t MATCH (d:Node {id: t}) "
            "CREATE (s)-[:LINKS_TO]->(d)",
            {"id": node_id, "ids": sorted(wanted - current)},
        )


def relink_sources(tx: WriteTx, node_ids: Iterable[str]) -> None:
    """`relink_source` for many nodes at once, in a fixed number of statements."""
    ids = sorted(set(node_ids))
    if not ids:
        return
    refers: dict[str, set[str]] = {node_id: set() for node_id in ids}
    for source, key in tx.execute(
        "UNWIND $ids AS i MATCH (:Node {id: i})-[:REFERS]->(r:Ref) RETURN i, r.key", {"ids": ids}
    ):
        refers[source].add(key)
    keys = sorted(set().union(*refers.values()))
    answers: dict[str, set[str]] = {}
    if keys:
        for key, target in tx.execute(
            "UNWIND $keys AS k MATCH (:Ref {key: k})<-[:TITLED]-(t:Node) RETURN k, t.id",
            {"keys": keys},
        ):
            answers.setdefault(key, set()).add(target)
        for target in tx.values(
            "UNWIND $keys AS k MATCH (t:Node {id: k}) RETURN t.id", {"keys": keys}
        ):
            answers.setdefault(target, set()).add(target)
    current: dict[str, set[str]] = {node_id: set() for node_id in ids}
    for source, target in tx.execute(
        "UNWIND $ids AS i MATCH (:Node {id: i})-[:LINKS_TO]->(t:Node) RETURN i, t.id",
        {"ids": ids},
    ):
        current[source].add(target)
    added: list[tuple[str, str]] = []
    for source in ids:
        wanted = set().union(*(answers.get(key, set()) for key in refers[source]))
        if current[source] - wanted:
            tx.execute(
                "MATCH (:Node {id: $id})-[e:LINKS_TO]->(t:Node) WHERE t.id IN $ids DELETE e",
                {"id": source, "ids": sorted(current[source] - wanted)},
            )
        added += [(source, target) for target in sorted(wanted - current[source])]
    if added:
        frame = pl.DataFrame(added, schema=["from", "to"], orient="row")
        tx.execute("COPY LINKS_TO FROM $frame", {"frame": frame})


def _existing_refs(tx: WriteTx, keys: list[str]) -> list[str]:
    """Those of (exactly two) `keys` that name an existing Ref, with key lookups only."""
    ((first, second),) = tx.execute(
        "OPTIONAL MATCH (a:Ref {key: $a}) OPTIONAL MATCH (b:Ref {key: $b}) RETURN a.key, b.key",
        {"a": keys[0], "b": keys[1]},
    )
    return [key for key in (first, second) if key is not None]


def retitle(tx: WriteTx, node_id: str, old_key: str | None, new_key: str) -> None:
    """Move node `node_id` from answering to `old_key` to `new_key` (None: new node)."""
    if old_key == new_key:
        return
    touched_keys = [new_key, node_id] if old_key is None else [old_key, new_key]
    if old_key is None:
        # Most new nodes answer to no existing reference: one lookup settles it.
        touched_keys = _existing_refs(tx, touched_keys)
        if not touched_keys:
            return
    if old_key is not None:
        tx.execute(
            "MATCH (:Node {id: $id})-[e:TITLED]->(r:Ref {key: $k}) DELETE e",
            {"id": node_id, "k": old_key},
        )
    tx.execute(
        "MATCH (n:Node {id: $id}), (r:Ref {key: $k}) CREATE (n)-[:TITLED]->(r)",
        {"id": node_id, "k": new_key},
    )
    sources = dict.fromkeys(  # no IN form: see resolve()
        _by_key(
            tx,
            "MATCH (s:Node)-[:REFERS]->(:Ref {key: $k}) RETURN DISTINCT s.id",
            "UNWIND $keys AS k MATCH (s:Node)-[:REFERS]->(:Ref {key: k}) RETURN DISTINCT s.id",
            touched_keys,
        )
    )
    for source in sources:
        relink_source(tx, source)

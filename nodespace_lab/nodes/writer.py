"""Writing nodes: every change runs in a write transaction and is recorded.

Each public method validates everything first, then writes, so bad input
raises before any statement runs and the transaction leaves nothing behind.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from ..config import Settings
from ..errors import ConflictError, HierarchyError, StorageError, ValidationError
from ..graph import GraphStore, Op, WriteTx, opkinds
from . import links, tree
from .ids import new_id
from .kinds import kind_spec
from .model import COLUMNS, TASK_FIELDS, Row, encode_row
from .ordering import key_between
from .validate import (
    check_fields_allowed,
    check_properties,
    check_status,
    check_task_fields,
    check_text,
    check_title,
)

_NODE_FIELDS = ", ".join(f"{c}: ${c}" for c in COLUMNS)
_INSERT = f"CREATE (:Node {{{_NODE_FIELDS}}})"
_INSERT_CHILD = (
    f"MATCH (p:Node {{id: $parent_id}}) CREATE (:Node {{{_NODE_FIELDS}}})-[:CHILD_OF]->(p)"
)
EDITABLE = frozenset({"title", "content", "properties", "status", *TASK_FIELDS})


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class NodeWriter:
    """Create, change, move, delete and tag nodes of one store."""

    def __init__(self, store: GraphStore, settings: Settings) -> None:
        self.store = store
        self.settings = settings

    # -- validation ------------------------------------------------------

    def _clean(self, obj: str, kind: str, values: dict[str, Any], old: Row | None) -> Row:
        spec = kind_spec(kind)
        unknown = sorted(set(values) - EDITABLE)
        if unknown and not spec.open_fields:
            raise ValidationError(
                f"{obj} has no field {unknown[0]!r}; editable fields are "
                f"{', '.join(sorted(EDITABLE))} (use move() to change the parent)."
            )
        check_fields_allowed(obj, kind, set(values), spec.fields)
        storage = self.settings.storage
        if "title" in values:
            values["title"] = check_title(obj, values["title"], storage)
        if "content" in values:
            values["content"] = check_text(
                obj, "content", values["content"], limit_bytes=storage.max_content_bytes
            )
        if "properties" in values:
            values["properties"] = json.dumps(
                check_properties(obj, values["properties"]), ensure_ascii=False, sort_keys=True
            )
        if "status" in values:
            values["status"] = check_status(obj, values["status"])
        values = check_task_fields(obj, values)
        if spec.prepare is not None:
            values = spec.prepare(values, old)
        if "title" in values:
            values["title_key"] = links.normalise(values["title"])
        return values

    def _writable(self, tx: WriteTx, node_id: object, role: str = "Node") -> Row:
        row = tree.require_row(tx.execute, node_id, role)
        if row["status"] == "deleted":
            raise ValidationError(
                f"{role} {row['id']!r} is deleted; restore it with kb.restore({row['id']!r}) first."
            )
        return row

    # -- positions -------------------------------------------------------

    def _position(self, tx: WriteTx, parent: str | None, index: int | None, moving: str) -> str:
        if index is None:
            return key_between(tree.last_position(tx.execute, parent), None)
        if isinstance(index, bool) or not isinstance(index, int) or index < 0:
            raise ValidationError(
                f"Position index {index!r} is invalid; use an integer >= 0 or None for the end."
            )
        everyone = [s for s in tree.siblings(tx.execute, parent) if s[0] != moving]
        visible = [s for s in everyone if s[2] != "deleted"]
        if index >= len(visible):
            return key_between(everyone[-1][1] if everyone else None, None)
        target = visible[index]
        at = everyone.index(target)
        before = everyone[at - 1][1] if at > 0 else None
        try:
            return key_between(before, target[1])
        except ValueError:
            raise StorageError(
                f"Ordering keys under {parent!r} are damaged (duplicates); "
                "run `nodespace doctor --repair`."
            ) from None

    def _check_parent(self, tx: WriteTx, parent: object, moving: str | None) -> str | None:
        if parent is None:
            return None
        row = tree.node_row(tx.execute, parent) if isinstance(parent, str) else None
        if row is None or not isinstance(parent, str):
            raise HierarchyError(
                f"Parent {parent!r} does not exist; create it first or pass parent=None."
            )
        if row["status"] == "deleted":  # a hierarchy error, as in bulk import
            raise HierarchyError(
                f"Parent {parent!r} is deleted; restore it with kb.restore({parent!r}) first "
                "or pick another parent."
            )
        if not kind_spec(row["kind"]).in_tree:
            raise HierarchyError(f"Parent {parent!r} is a {row['kind']} and cannot have children.")
        if moving is not None and (
            parent == moving or moving in tree.ancestors(tx.execute, parent)
        ):
            raise HierarchyError(
                f"Cannot move node {moving!r} under {parent!r}: {parent!r} is inside its own "
                "subtree, which would make a cycle. Move it elsewhere."
            )
        return parent

    # -- create / update -------------------------------------------------

    def create(
        self,
        kind: str,
        title: str = "",
        content: str = "",
        *,
        parent: str | None = None,
        index: int | None = None,
        node_id: str | None = None,
        **fields: Any,
    ) -> Row:
        """Create a node; returns its stored row."""
        spec = kind_spec(kind)
        if spec.id_from_title:
            node_id = node_id or title
            if node_id != title:
                raise ValidationError(f"A {kind} node's id must equal its title {title!r}.")
        # A generated id is unique by construction: only a caller's id can be taken.
        given = node_id is not None
        node_id = _check_id(node_id) if node_id is not None else new_id()
        obj = f"New {kind} {node_id!r}"
        values = self._clean(obj, kind, {"title": title, "content": content, **fields}, None)
        with self.store.write(f"create {kind}") as tx:
            if given and tree.node_row(tx.execute, node_id) is not None:
                raise ValidationError(f"Node id {node_id!r} already exists; pick another id.")
            if not spec.in_tree and parent is not None:
                raise HierarchyError(f"A {kind} node cannot have a parent; pass parent=None.")
            parent = self._check_parent(tx, parent, None)
            now = _now()
            row: Row = dict.fromkeys(COLUMNS)
            row.update(
                id=node_id, kind=kind, properties="{}", created_at=now, updated_at=now,
                version=1, status="active", parent_id=parent, created_seq=tx.seq,
            )  # fmt: skip
            row.update(values)
            row["position"] = self._position(tx, parent, index, node_id) if spec.in_tree else ""
            self._insert(tx, row)
            links.retitle(tx, node_id, None, row["title_key"])
            # A new node refers to nothing yet: with no [[references]] there is nothing
            # to sync (saves a round trip per create).
            keys = links.references(row["content"]) if row["content"] else set()
            if keys:
                links.sync_references(tx, node_id, keys)
            tx.record(Op(opkinds.CREATE, node_id, kind, None, encode_row(row)))
        return row

    def _insert(self, tx: WriteTx, row: Row) -> None:
        """Insert a row, and its CHILD_OF edge in the same statement."""
        if row["parent_id"] is None:
            tx.execute(_INSERT, row)
        else:
            tx.execute(_INSERT_CHILD, row)

    def update(self, node_id: str, expected_version: int | None = None, **fields: Any) -> Row:
        """Change fields of a node; with `expected_version`, refuse if it moved on."""
        with self.store.write("update") as tx:
            old = self._writable(tx, node_id)
            if expected_version is not None and expected_version != old["version"]:
                raise ConflictError(
                    f"Node {node_id!r} is at version {old['version']}, not {expected_version}: "
                    "someone changed it since you read it. Reload it, reapply your edit, retry."
                )
            values = self._clean(
                f"{old['kind'].capitalize()} {node_id!r}", old["kind"], fields, old
            )
            new = self.write_row(tx, old, values)
            tx.record(Op(opkinds.UPDATE, node_id, old["kind"], encode_row(old), encode_row(new)))
        return new

    def write_row(self, tx: WriteTx, old: Row, values: Row) -> Row:
        """Write `values` over row `old` (bumping version); keep links and parent in sync."""
        new = {**old, **values}
        new["version"] = old["version"] + 1
        new["updated_at"] = _now()
        changed = [c for c in COLUMNS if c != "id" and new[c] != old[c]]
        sets = ", ".join(f"n.{c} = ${c}" for c in changed)
        params = {"id": old["id"]} | {c: new[c] for c in changed}
        tx.execute(f"MATCH (n:Node {{id: $id}}) SET {sets}", params)
        if new["parent_id"] != old["parent_id"]:
            tx.execute("MATCH (:Node {id: $id})-[e:CHILD_OF]->() DELETE e", {"id": old["id"]})
            if new["parent_id"] is not None:
                tx.execute(
                    "MATCH (c:Node {id: $c}), (p:Node {id: $p}) CREATE (c)-[:CHILD_OF]->(p)",
                    {"c": old["id"], "p": new["parent_id"]},
                )
        if new["title_key"] != old["title_key"]:
            links.retitle(tx, old["id"], old["title_key"], new["title_key"])
        if new["content"] != old["content"]:
            links.sync_references(tx, old["id"], links.references(new["content"] or ""))
        return new

    # -- hierarchy -------------------------------------------------------

    def move(self, node_id: str, parent: str | None, index: int | None = None) -> Row:
        """Put a node under `parent` at `index` among its visible siblings (None: last)."""
        with self.store.write("move") as tx:
            old = self._writable(tx, node_id)
            if not kind_spec(old["kind"]).in_tree:
                raise HierarchyError(
                    f"A {old['kind']} node is not part of the tree; it cannot move."
                )
            parent = self._check_parent(tx, parent, node_id)
            position = self._position(tx, parent, index, node_id)
            new = self.write_row(tx, old, {"parent_id": parent, "position": position})
            tx.record(Op(opkinds.MOVE, node_id, old["kind"], encode_row(old), encode_row(new)))
        return new

    def delete(self, node_id: str) -> list[str]:
        """Soft-delete a node and its subtree; returns the ids marked deleted."""
        with self.store.write("delete") as tx:
            self._writable(tx, node_id)
            ids = [node_id, *tree.descendants(tx.execute, node_id)]
            return self._set_status(tx, ids, "deleted", opkinds.DELETE)

    def restore(self, node_id: str) -> list[str]:
        """Undelete a node, its deleted subtree and any deleted ancestors."""
        with self.store.write("restore") as tx:
            row = tree.require_row(tx.execute, node_id)
            ids = [*reversed(tree.ancestors(tx.execute, node_id)), row["id"]]
            ids += tree.descendants(tx.execute, node_id)
            return self._set_status(tx, ids, "active", opkinds.RESTORE)

    def _set_status(self, tx: WriteTx, ids: list[str], status: str, op: str) -> list[str]:
        changed = []
        for node_id in ids:
            old = tree.require_row(tx.execute, node_id)
            wanted = status if op == opkinds.DELETE or old["status"] == "deleted" else old["status"]
            if old["status"] == wanted:
                continue
            new = self.write_row(tx, old, {"status": wanted})
            tx.record(Op(op, node_id, old["kind"], encode_row(old), encode_row(new)))
            changed.append(node_id)
        return changed

    def purge(self, node_id: str) -> list[str]:
        """Remove a deleted node and its subtree for good (undo can still bring it back)."""
        with self.store.write("purge") as tx:
            row = tree.require_row(tx.execute, node_id)
            if row["status"] != "deleted":
                raise ValidationError(
                    f"Node {node_id!r} is {row['status']}, not deleted; delete it first "
                    f"(kb.delete({node_id!r})), then purge."
                )
            ids = [node_id, *tree.descendants(tx.execute, node_id)]
            for target in reversed(ids):  # leaves first: a row goes before its parent
                self.purge_row(tx, target)
        return ids

    def purge_row(self, tx: WriteTx, node_id: str) -> None:
        """Delete one row and its edges, recording enough to recreate it."""
        row = tree.require_row(tx.execute, node_id)
        before = encode_row(row)
        params = {"id": node_id}
        before["_member_of"] = tx.values(
            "MATCH (:Node {id: $id})-[:MEMBER_OF]->(t:Node) RETURN t.id", params
        )
        before["_members"] = tx.values(
            "MATCH (m:Node)-[:MEMBER_OF]->(:Node {id: $id}) RETURN m.id", params
        )
        keys = tx.values("MATCH (:Node {id: $id})-[:REFERS]->(r:Ref) RETURN r.key", params)
        sources = tx.values(
            "MATCH (s:Node)-[:LINKS_TO]->(:Node {id: $id}) WHERE s.id <> $id RETURN s.id", params
        )
        tx.execute("MATCH (n:Node {id: $id}) DETACH DELETE n", {"id": node_id})
        links.drop_unreferenced(tx, keys)
        for source in sources:
            links.relink_source(tx, source)
        tx.record(Op(opkinds.PURGE, node_id, row["kind"], before, None))

    # -- tags and collections ------------------------------------------

    def tag(self, node_id: str, names: tuple[str, ...]) -> list[str]:
        """Add tags (created on demand) to a node; returns the tag ids."""
        with self.store.write("tag") as tx:
            self._writable(tx, node_id)
            tag_ids = []
            for name in names:
                title = check_title(f"Tag {name!r}", name, self.settings.storage).strip()
                if not title:
                    raise ValidationError("A tag name cannot be empty; use a word such as 'ideas'.")
                tag_id = "tag:" + links.normalise(title)
                if tree.node_row(tx.execute, tag_id) is None:
                    self.create("tag", title, node_id=tag_id)
                self._member(tx, node_id, tag_id, add=True)
                tag_ids.append(tag_id)
        return tag_ids

    def untag(self, node_id: str, names: tuple[str, ...]) -> None:
        """Remove tags from a node (unknown tags are ignored)."""
        with self.store.write("untag") as tx:
            tree.require_row(tx.execute, node_id)
            for name in names:
                self._member(tx, node_id, "tag:" + links.normalise(name), add=False)

    def set_membership(self, node_id: str, collection_id: str, *, add: bool) -> None:
        """Add a node to, or remove it from, a collection."""
        with self.store.write("collect" if add else "uncollect") as tx:
            self._writable(tx, node_id)
            target = tree.require_row(tx.execute, collection_id, "Collection")
            if target["kind"] != "collection":
                raise ValidationError(
                    f"Node {collection_id!r} is a {target['kind']}, not a collection; create one "
                    "with kb.create('collection', title=...)."
                )
            self._member(tx, node_id, collection_id, add=add)

    def _member(self, tx: WriteTx, node_id: str, target: str, *, add: bool) -> None:
        (exists,) = tx.values(
            "MATCH (:Node {id: $a})-[e:MEMBER_OF]->(:Node {id: $b}) RETURN count(e) > 0",
            {"a": node_id, "b": target},
        )
        if exists == add:
            return
        self.set_member_edge(tx, node_id, target, add=add)
        kind = tree.require_row(tx.execute, node_id)["kind"]
        tx.record(
            Op(opkinds.MEMBER_ADD if add else opkinds.MEMBER_REMOVE, node_id, kind, target=target)
        )

    @staticmethod
    def set_member_edge(tx: WriteTx, node_id: str, target: str, *, add: bool) -> None:
        """Create or delete one MEMBER_OF edge (no bookkeeping)."""
        if add:
            tx.execute(
                "MATCH (a:Node {id: $a}), (b:Node {id: $b}) CREATE (a)-[:MEMBER_OF]->(b)",
                {"a": node_id, "b": target},
            )
        else:
            tx.execute(
                "MATCH (:Node {id: $a})-[e:MEMBER_OF]->(:Node {id: $b}) DELETE e",
                {"a": node_id, "b": target},
            )


def _check_id(node_id: object) -> str:
    if not isinstance(node_id, str) or not node_id:
        raise ValidationError(f"Node id {node_id!r} is invalid; use a non-empty string.")
    check_text("Node id", "id", node_id)
    if node_id != links.normalise(node_id) or len(node_id) > 200:
        raise ValidationError(
            f"Node id {node_id!r} is invalid; ids are lowercase, without repeated, leading "
            "or trailing spaces, at most 200 characters, e.g. 'paper-2026-graphs'."
        )
    return node_id

"""Undo: revert the newest change set that is not itself an undo or undone.

The inverse of each operation is applied in reverse order inside a new
write transaction, which is recorded like any other (with `undoes` set), so
subscribers and search indexes follow an undo exactly as they follow edits.
"""

from __future__ import annotations

from collections.abc import Callable

from ..errors import NothingToUndo
from ..graph import ChangeSet, GraphStore, Op, WriteTx, opkinds
from . import links, tree
from .model import decode_row, encode_row
from .writer import NodeWriter

_PAGE = 200
#: How to revert operations that other concepts record (e.g. "schema" from
#: entities/): op name -> function(tx, op) that puts `op.before` back.
REVERTERS: dict[str, Callable[[WriteTx, Op], None]] = {}


def undoable(store: GraphStore) -> ChangeSet | None:
    """The change set `undo()` would revert, or None."""
    undone: set[int] = set()
    before = store.seq + 1
    while True:
        page = store.recent_changes(before, _PAGE)
        for change in page:
            if change.undoes is not None:
                undone.add(change.undoes)
            elif change.seq not in undone and not _derived_only(change):
                return change
        if len(page) < _PAGE:
            return None
        before = page[-1].seq


def _derived_only(change: ChangeSet) -> bool:
    """A change set that only recomputed derived values (nothing a user did to undo)."""
    return all(op.category == "derived" for op in change.ops)


def undo(store: GraphStore, writer: NodeWriter) -> ChangeSet:
    """Revert the last change set; returns the change set being undone."""
    with store.engine.write_lock:
        target = undoable(store)
        if target is None:
            raise NothingToUndo("There is nothing to undo: every change set is already undone.")
        with store.write(f"undo {target.seq}") as tx:
            tx.undoes = target.seq
            for op in reversed(target.ops):
                _revert(tx, writer, op, target.seq)
    return target


def _revert(tx: WriteTx, writer: NodeWriter, op: Op, seq: int) -> None:
    if op.op == opkinds.REPAIR:
        return  # repairs only rebuilt derived edges; there is nothing to put back
    if op.op in REVERTERS:
        REVERTERS[op.op](tx, op)
        return
    if op.category == "edge":
        assert op.target is not None
        add = op.op == opkinds.MEMBER_REMOVE
        writer.set_member_edge(tx, op.id, op.target, add=add)
        kind = opkinds.MEMBER_ADD if add else opkinds.MEMBER_REMOVE
        tx.record(Op(kind, op.id, op.kind, target=op.target))
    elif op.op == opkinds.IMPORT:
        _revert_import(tx, seq, op)
    elif op.before is None:
        writer.purge_row(tx, op.id)
    elif op.after is None:
        _recreate(tx, writer, op)
    else:
        old = tree.require_row(tx.execute, op.id)
        wanted = decode_row(op.before)
        values = {k: v for k, v in wanted.items() if k not in {"id", "version", "updated_at"}}
        new = writer.write_row(tx, old, values)
        tx.record(Op(opkinds.UPDATE, op.id, op.kind, encode_row(old), encode_row(new)))


def _recreate(tx: WriteTx, writer: NodeWriter, op: Op) -> None:
    assert op.before is not None
    row = decode_row({k: v for k, v in op.before.items() if not k.startswith("_")})
    writer._insert(tx, row)
    links.retitle(tx, row["id"], None, row["title_key"])
    links.sync_references(tx, row["id"], links.references(row["content"] or ""))
    for target in op.before.get("_member_of", []):
        writer.set_member_edge(tx, row["id"], target, add=True)
    for member in op.before.get("_members", []):
        if tree.node_row(tx.execute, member) is not None:
            writer.set_member_edge(tx, member, row["id"], add=True)
    tx.record(Op(opkinds.CREATE, row["id"], row["kind"], None, encode_row(row)))


def _revert_import(tx: WriteTx, seq: int, op: Op) -> None:
    rows = tx.execute("MATCH (n:Node) WHERE n.created_seq = $s RETURN count(n)", {"s": seq})
    tx.execute("MATCH (n:Node) WHERE n.created_seq = $s DETACH DELETE n", {"s": seq})
    tx.execute("MATCH (r:Ref) WHERE NOT EXISTS { MATCH (r)<-[:REFERS]-(:Node) } DETACH DELETE r")
    tx.record(Op(opkinds.UNIMPORT, op.id, "", count=int(rows[0][0])))

"""The kinds of operation a change-log record holds, declared once.

Every `Op` recorded in a write transaction has one of these kinds; recording
any other raises (`WriteTx.record`). Code that reads the change log asks a
kind's category (or compares with the constants here) instead of keeping its
own set of names. `labextension/src/opkinds.ts` is generated from this table
(`nodespace_lab.kb.typescript`).

Categories:

- ``row``: one node's row changed; `before` / `after` are its row images
  (None where the row did not or no longer exists).
- ``edge``: one MEMBER_OF edge changed; `id` is the member, `target` the tag
  or collection.
- ``batch``: many nodes at once, recorded without per-node rows; `id` names
  the batch, not a node.
- ``derived``: values computed from others (calculated fields) changed;
  nothing a user did, so undo steps over change sets made only of these.
- ``schema``: an entity kind's schema changed; `id` is ``schema:<kind>``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from ..errors import NodespaceError

Category = Literal["row", "edge", "batch", "derived", "schema"]
CATEGORIES: Final[tuple[Category, ...]] = ("row", "edge", "batch", "derived", "schema")


class UndeclaredOpKind(NodespaceError, ValueError):
    """An operation of a kind `opkinds` does not declare was recorded (a bug)."""


@dataclass(frozen=True)
class OpKind:
    """One declared kind of change-log operation.

    `bulk`: the operation carries no per-node rows and its id names a batch
    (true for every ``batch`` kind and for ``recalc``): a reader cannot tell
    from it which nodes changed, so anything may have.
    """

    name: str
    category: Category
    doc: str
    bulk: bool = False


KINDS: dict[str, OpKind] = {}


def _declare(name: str, category: Category, doc: str, *, bulk: bool = False) -> str:
    KINDS[name] = OpKind(name, category, doc, bulk or category == "batch")
    return name


CREATE: Final = _declare("create", "row", "A node was created; `after` is its row.")
UPDATE: Final = _declare("update", "row", "A node's fields changed (not its place or status).")
MOVE: Final = _declare("move", "row", "A node got another parent or position.")
DELETE: Final = _declare("delete", "row", "A node was soft-deleted (status 'deleted').")
RESTORE: Final = _declare("restore", "row", "A soft-deleted node became active again.")
PURGE: Final = _declare("purge", "row", "A node was removed for good; `before` is its row.")
MEMBER_ADD: Final = _declare("member+", "edge", "A node was added to a tag or collection.")
MEMBER_REMOVE: Final = _declare("member-", "edge", "A node left a tag or collection.")
IMPORT: Final = _declare("import", "batch", "Nodes were bulk-imported; `count` says how many.")
UNIMPORT: Final = _declare("unimport", "batch", "An import was undone; `count` nodes removed.")
REPAIR: Final = _declare("repair", "batch", "`nodespace doctor` rebuilt derived edges.")
CYPHER: Final = _declare("cypher", "batch", "A raw Cypher write; `target` holds the query.")
CALC: Final = _declare("calc", "derived", "One node's calculated fields were recomputed.")
RECALC: Final = _declare(
    "recalc", "derived", "Calculated fields were recomputed for many nodes.", bulk=True
)
SCHEMA: Final = _declare("schema", "schema", "An entity kind's schema was defined or changed.")

#: Kinds whose operations name no node one by one (see `OpKind.bulk`).
BULK: Final = frozenset(name for name, kind in KINDS.items() if kind.bulk)


def declared(name: str) -> OpKind:
    """The declaration of the operation kind `name`; raises `UndeclaredOpKind` if none."""
    kind = KINDS.get(name)
    if kind is None:
        raise UndeclaredOpKind(
            f"Operation kind {name!r} is not declared in nodespace_lab/graph/opkinds.py; "
            f"declare it there (known: {', '.join(KINDS)})."
        )
    return kind


def category(name: str) -> Category:
    """The category of the operation kind `name`."""
    return declared(name).category


def of_category(*categories: Category) -> frozenset[str]:
    """The names of the kinds in any of `categories`."""
    return frozenset(name for name, kind in KINDS.items() if kind.category in categories)

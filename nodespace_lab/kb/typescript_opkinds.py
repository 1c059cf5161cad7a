"""The lab extension's change-log op kinds, generated from `graph/opkinds.py`.

`labextension/src/opkinds.ts` is this module's output, committed so the
extension builds without Python; `tests/kb/test_opkinds_ts.py` fails when it
is stale. Regenerate with `python -m nodespace_lab.kb.typescript_opkinds`.
"""

from __future__ import annotations

import sys
from pathlib import Path

from ..graph.opkinds import CATEGORIES, KINDS

TARGET = Path("labextension") / "src" / "opkinds.ts"

_HEADER = """\
/**
 * The kinds of change-log operation: GENERATED from nodespace_lab/graph/opkinds.py
 * by `python -m nodespace_lab.kb.typescript_opkinds`; do not edit by hand.
 */
"""


def _union(names: list[str]) -> str:
    return "\n".join(f"  | '{name}'" for name in names) + ";"


def render() -> str:
    """The TypeScript text of `opkinds.ts`."""
    rows = "\n".join(
        f"  /** {kind.doc} */\n"
        f"  '{kind.name}': {{ category: '{kind.category}', bulk: {str(kind.bulk).lower()} }},"
        for kind in KINDS.values()
    )
    return (
        f"{_HEADER}\n"
        "/** The name of any operation kind. */\n"
        f"export type OpKindName =\n{_union(list(KINDS))}\n\n"
        "/** What an operation of a kind is about (see graph/opkinds.py). */\n"
        f"export type OpCategory =\n{_union(list(CATEGORIES))}\n\n"
        "/** How each kind is declared; `bulk`: it names no node one by one. */\n"
        "export interface IOpKind {\n"
        "  category: OpCategory;\n"
        "  bulk: boolean;\n"
        "}\n\n"
        "/** Every declared kind. */\n"
        f"export const OP_KINDS: Record<OpKindName, IOpKind> = {{\n{rows}\n}};\n\n"
        "/** The category of the operation kind `name` (undefined for an unknown one). */\n"
        "export function opCategory(name: string): OpCategory | undefined {\n"
        "  return (OP_KINDS as Record<string, IOpKind | undefined>)[name]?.category;\n"
        "}\n\n"
        "/** True for a kind after which any node may have changed (import, Cypher write...). */\n"
        "export function isBulkOp(name: string): boolean {\n"
        "  return (OP_KINDS as Record<string, IOpKind | undefined>)[name]?.bulk ?? false;\n"
        "}\n"
    )


def main(root: str = ".") -> None:
    """Write `opkinds.ts` under the repository at `root`."""
    (Path(root) / TARGET).write_text(render(), encoding="utf-8")


if __name__ == "__main__":
    main(*sys.argv[1:])

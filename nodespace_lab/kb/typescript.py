"""The lab extension's list of operations, generated from the operation table.

`labextension/src/operations.ts` is this module's output, committed so the
extension builds without Python; `tests/kb/test_operations.py` fails when it
is stale. Regenerate with `python -m nodespace_lab.kb.typescript`.
"""

from __future__ import annotations

import sys
from pathlib import Path

from .facets import OPERATIONS

TARGET = Path("labextension") / "src" / "operations.ts"

_HEADER = """\
/**
 * Every knowledge-base operation: GENERATED from nodespace_lab/kb/facets.py by
 * `python -m nodespace_lab.kb.typescript`; do not edit by hand.
 */
"""


def _union(names: list[str]) -> str:
    return "\n".join(f"  | '{name}'" for name in names) + ";"


def render() -> str:
    """The TypeScript text of `operations.ts`."""
    names = list(OPERATIONS)
    calls = [n for n, op in OPERATIONS.items() if op.transport == "call"]
    rows = "\n".join(
        f"  {op.name}: {{ facet: '{op.facet}', access: '{op.access}', "
        f"capability: '{op.capability}', transport: '{op.transport}' }},"
        for op in OPERATIONS.values()
    )
    return (
        f"{_HEADER}\n"
        "/** The name of any operation. */\n"
        f"export type OperationName =\n{_union(names)}\n\n"
        "/** The operations a client calls as `POST kb/<name>`. */\n"
        f"export type CallOperation =\n{_union(calls)}\n\n"
        "/** How each operation is declared: facet, read or write, capability, transport. */\n"
        "export interface IOperation {\n"
        "  facet: string;\n"
        "  access: 'read' | 'write';\n"
        "  capability: 'read' | 'write' | 'ai' | 'files';\n"
        "  transport: 'call' | 'ai' | 'feed' | 'client';\n"
        "}\n\n"
        "/** The operation table. */\n"
        f"export const OPERATIONS: Record<OperationName, IOperation> = {{\n{rows}\n}};\n"
    )


def main(root: str = ".") -> None:
    """Write `operations.ts` under the repository at `root`."""
    (Path(root) / TARGET).write_text(render(), encoding="utf-8")


if __name__ == "__main__":
    main(*sys.argv[1:])

"""What `indexed` means: a field's values are words of the node's full-text document.

`kb.search("VLDB")` then finds the papers whose indexed `venue` is VLDB, and
the hit's snippet shows the value. Indexed are text, enum, integer, number,
date and datetime fields and lists of them, written as text (one line per
field; numbers without a trailing .0, dates ISO). `indexed` on bool and ref
fields adds nothing: "true" is not a word anyone searches, and an id is not
the referenced node's title (which would go stale when that title changes).

The values go to a field of their own in the index (`fields`), not into
`content`: snippets and highlights of the content stay as written, and the
vector index, which embeds title and content, is unaffected.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ..graph import GraphStore, Op
from .find import item_type
from .schema import Field, KindSchema, schema_from_json
from .store import OP, registry

_WORD_TYPES = frozenset({"text", "enum", "integer", "number", "date", "datetime"})
_KIND_IDS = "MATCH (n:Node) WHERE n.kind = $kind RETURN n.id"


def searchable(item: Field) -> bool:
    """True when `item` is indexed, not calculated, and of a type whose values are words.

    Calculated values stay out of search documents: they change with other
    nodes (a parent's progress with every task), and find() queries them.
    """
    return item.indexed and item.expression is None and item_type(item) in _WORD_TYPES


class IndexedFields:
    """The indexed entity fields of one store, as the search index reads them.

    Schemas are read once, on first use: one instance serves one catch-up.
    """

    def __init__(self, store: GraphStore) -> None:
        self.store = store
        self._fields: dict[str, list[Field]] | None = None

    def _of(self, kind: str) -> list[Field]:
        if self._fields is None:
            schemas = registry(self.store).all()
            self._fields = {
                name: [f for f in schema.fields if searchable(f)]
                for name, schema in schemas.items()
            }
        return self._fields.get(kind, [])

    def text(self, kind: str, properties: str | None) -> str:
        """The words the indexed fields of a node add to its document ('' for none)."""
        fields = self._of(kind)
        if not fields or not properties or properties == "{}":
            return ""
        values = json.loads(properties)
        lines = (_words(values.get(f.name)) for f in fields)
        return "\n".join(line for line in lines if line)

    def reindexed_ids(self, op: Op) -> set[str]:
        """The nodes whose document a schema change `op` alters (every one of the kind)."""
        if op.op != OP or _indexed(op.before) == _indexed(op.after):
            return set()
        kind = op.id.removeprefix("schema:")
        return set(self.store.values(_KIND_IDS, {"kind": kind}))


def _words(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return ", ".join(_words(v) for v in value if v is not None)
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return str(int(value))
    return str(value)


def _indexed(image: Mapping[str, Any] | None) -> list[tuple[str, str]]:
    """The searchable fields of a schema image of the change log (name, type)."""
    if image is None:
        return []
    schema: KindSchema = schema_from_json(json.loads(image["spec"]))
    return [(f.name, f.type_label()) for f in schema.fields if searchable(f)]

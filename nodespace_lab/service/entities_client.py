"""The entity methods of `RemoteKnowledgeBase`: define kinds, read and evolve schemas.

The same calls as `entities.methods.KnowledgeBaseEntities`, over the service's
method routes. `define_file` reads and checks the file here, in the client's
working directory (the service may run elsewhere), and defines its kinds in
one service transaction: all or none, as in-process.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from ..entities.calc.engine import Mismatch
from ..entities.files import load_schema_file
from ..entities.find import EntityFields, fields_lookup
from ..entities.schema import Field, KindSchema


class RemoteEntities:
    """Mixed into `RemoteKnowledgeBase` (which provides `_call` and `transaction`)."""

    _call: Callable[..., Any]
    transaction: Callable[[str], AbstractContextManager[Any]]

    def define(
        self,
        name: str,
        fields: Mapping[str, str | Mapping[str, Any] | Field] | None = None,
        *,
        description: str = "",
    ) -> KindSchema:
        """Define entity kind `name` with typed fields; stored in the graph."""
        schema: KindSchema = self._call("define", name, _plain(fields), description=description)
        return schema

    def define_file(self, path: str | Path) -> list[KindSchema]:
        """Define every kind of a TOML or YAML schema file (all or none)."""
        schemas = load_schema_file(Path(path))
        with self.transaction(f"define from {Path(path).name}"):
            return [
                self.define(s.name, {f.name: f for f in s.fields}, description=s.description)
                for s in schemas
            ]

    def schema(self, kind: str) -> KindSchema:
        """The schema of entity kind `kind` (NotFound if it is not defined)."""
        schema: KindSchema = self._call("schema", kind)
        return schema

    def schemas(self) -> list[KindSchema]:
        """Every entity kind of this knowledge base, by name."""
        return list(self._call("schemas"))

    def entity_values(self, node_id: str) -> dict[str, Any]:
        """The fields of entity `node_id` as Python values (dates as `date`), in schema order."""
        return dict(self._call("entity_values", node_id))

    def add_field(self, kind: str, name: str, spec: str | Mapping[str, Any] | Field) -> KindSchema:
        """Add a field; existing entities get its default (a required one needs a default)."""
        schema: KindSchema = self._call("add_field", kind, name, spec)
        return schema

    def rename_field(self, kind: str, old: str, new: str) -> KindSchema:
        """Rename a field; every entity's value moves to the new name."""
        schema: KindSchema = self._call("rename_field", kind, old, new)
        return schema

    def change_field(
        self, kind: str, name: str, spec: str | Mapping[str, Any] | Field
    ) -> KindSchema:
        """Change a field's type or options; values convert where lossless, else nothing changes."""
        schema: KindSchema = self._call("change_field", kind, name, spec)
        return schema

    def remove_field(self, kind: str, name: str) -> KindSchema:
        """Remove a field and its value from every entity of the kind."""
        schema: KindSchema = self._call("remove_field", kind, name)
        return schema

    def delete_kind(self, kind: str, *, cascade: bool = False) -> list[str]:
        """Delete an entity kind; refused while entities exist unless `cascade` deletes them."""
        return list(self._call("delete_kind", kind, cascade=cascade))

    def check_calculated(self) -> list[Mismatch]:
        """Recompute every calculated field from scratch; the stored values that differ."""
        return list(self._call("check_calculated"))

    def recalculate(self) -> int:
        """Recompute every calculated field and store what differs; returns the nodes changed."""
        count: int = self._call("recalculate")
        return count

    def _fields_of(self, kinds: tuple[str, ...]) -> EntityFields | None:
        """`Find.fields_of` of this client: the service's schemas, asked once per use."""
        return fields_lookup(lambda: {s.name: s for s in self.schemas()})(kinds)


def _plain(fields: Mapping[str, Any] | None) -> Any:
    """`fields` as the codec carries it: a dict (anything else goes as is, to be refused)."""
    return dict(fields) if isinstance(fields, Mapping) else fields

"""The entity methods of `RemoteKnowledgeBase`: define kinds, read and evolve schemas.

The plain calls come from the operation table (`remote`); `define` sends its
fields as a plain dict. `define_file` reads and checks the file here, in the client's
working directory (the service may run elsewhere), and defines its kinds in
one service transaction: all or none, as in-process.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from ..entities.files import load_schema_file
from ..entities.find import EntityFields, fields_lookup
from ..entities.schema import Field, KindSchema
from ..kb.facets import EntitiesAPI
from .remote import remote


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

    schema = remote(EntitiesAPI.schema)
    schemas = remote(EntitiesAPI.schemas)
    entity_values = remote(EntitiesAPI.entity_values)
    add_field = remote(EntitiesAPI.add_field)
    rename_field = remote(EntitiesAPI.rename_field)
    change_field = remote(EntitiesAPI.change_field)
    remove_field = remote(EntitiesAPI.remove_field)
    delete_kind = remote(EntitiesAPI.delete_kind)
    check_calculated = remote(EntitiesAPI.check_calculated)
    recalculate = remote(EntitiesAPI.recalculate)

    def _fields_of(self, kinds: tuple[str, ...]) -> EntityFields | None:
        """`Find.fields_of` of this client: the service's schemas, asked once per use."""
        return fields_lookup(lambda: {s.name: s for s in self.schemas()})(kinds)


def _plain(fields: Mapping[str, Any] | None) -> Any:
    """`fields` as the codec carries it: a dict (anything else goes as is, to be refused)."""
    return dict(fields) if isinstance(fields, Mapping) else fields

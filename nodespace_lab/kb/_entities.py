"""The entities part of the embedded facade: define kinds, read and evolve their schemas.

A mixin of `KnowledgeBase`, kept in `kb/` because it binds one knowledge
base's store and writer to the entity registry of `entities/`, which knows no
knowledge base.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..entities import evolve
from ..entities.calc.engine import Mismatch
from ..entities.files import load_schema_file
from ..entities.schema import Field, KindSchema, decode_value, make_schema
from ..entities.store import Registry, register_entity_kind, registry, write_schema
from ..errors import ValidationError
from ..graph import GraphStore
from ..nodes import tree
from ..nodes.kinds import KINDS
from ..nodes.writer import NodeWriter


class KnowledgeBaseEntities:
    """Mixed into `KnowledgeBase` (which provides `_store`)."""

    _store: GraphStore
    _writer: NodeWriter

    @property
    def _entities(self) -> Registry:
        return registry(self._store)

    def _open_entities(self) -> None:
        """Load the schemas (registering their kinds) and check calculated values cheaply."""
        self._entities.all()
        self._entities.calc.check_on_open()

    # -- calculated fields ------------------------------------------------------

    def _has_calculated(self, kind: str) -> bool:
        schema = self._entities.get(kind)
        return schema is not None and any(f.expression is not None for f in schema.fields)

    def check_calculated(self) -> list[Mismatch]:
        """Recompute every calculated field from scratch; the stored values that differ."""
        return self._entities.calc.mismatches()

    def recalculate(self) -> int:
        """Recompute every calculated field and store what differs; returns the nodes changed."""
        return self._entities.calc.repair()

    def define(
        self,
        name: str,
        fields: Mapping[str, str | Mapping[str, Any] | Field] | None = None,
        *,
        description: str = "",
    ) -> KindSchema:
        """Define entity kind `name` with typed fields; stored in the graph.

        `fields` maps a field name to a type name ('text', 'number', 'integer',
        'bool', 'date', 'datetime', 'enum', 'ref', 'list') or to options
        (type, required, default, description, indexed, choices, to, many, of).
        Defining a kind again with the same fields changes nothing; to change a
        kind use add_field, rename_field, change_field, remove_field.
        """
        return self._define(make_schema(name, fields, description))

    def _define(self, schema: KindSchema) -> KindSchema:
        existing = self._entities.get(schema.name)
        if existing is not None:
            if existing.to_json() == schema.to_json():
                return existing
            raise ValidationError(
                f"Kind {schema.name!r} is already defined with other fields "
                f"({existing!r}); change it with kb.add_field / rename_field / change_field / "
                "remove_field, or delete it with kb.delete_kind()."
            )
        known = schema.name in KINDS
        register_entity_kind(schema)  # refuses a built-in name before writing
        try:
            with self._store.write(f"define {schema.name}") as tx:
                write_schema(tx, None, schema)
        except BaseException:
            if not known:  # a refused definition leaves no kind behind in this process
                KINDS.pop(schema.name, None)
            raise
        return self.schema(schema.name)

    def define_file(self, path: str | Path) -> list[KindSchema]:
        """Define every kind of a TOML or YAML schema file (all or none)."""
        schemas = load_schema_file(Path(path))
        with self._store.write(f"define from {Path(path).name}"):
            return [self._define(schema) for schema in schemas]

    def schema(self, kind: str) -> KindSchema:
        """The schema of entity kind `kind` (NotFound if it is not defined)."""
        return self._entities.require(kind)

    def schemas(self) -> list[KindSchema]:
        """Every entity kind of this knowledge base, by name."""
        return list(self._entities.all().values())

    def entity_values(self, node_id: str) -> dict[str, Any]:
        """The fields of entity `node_id` as Python values (dates as `date`), in schema order."""
        row = tree.require_row(self._store.rows, node_id)
        schema = self.schema(row["kind"])
        stored = json.loads(row["properties"] or "{}")
        return {f.name: decode_value(f, stored.get(f.name)) for f in schema.fields}

    # -- evolution --------------------------------------------------------------

    def add_field(self, kind: str, name: str, spec: str | Mapping[str, Any] | Field) -> KindSchema:
        """Add a field; existing entities get its default (a required one needs a default)."""
        return self._evolve(evolve.add_field, kind, name, spec)

    def rename_field(self, kind: str, old: str, new: str) -> KindSchema:
        """Rename a field; every entity's value moves to the new name."""
        return self._evolve(evolve.rename_field, kind, old, new)

    def change_field(
        self, kind: str, name: str, spec: str | Mapping[str, Any] | Field
    ) -> KindSchema:
        """Change a field's type or options; values convert where lossless, else nothing changes."""
        return self._evolve(evolve.change_field, kind, name, spec)

    def remove_field(self, kind: str, name: str) -> KindSchema:
        """Remove a field and its value from every entity of the kind."""
        return self._evolve(evolve.remove_field, kind, name)

    def delete_kind(self, kind: str, *, cascade: bool = False) -> list[str]:
        """Delete an entity kind; refused while entities exist unless `cascade` deletes them."""
        schema = self.schema(kind)
        with self._store.write(f"delete kind {kind}") as tx:
            return evolve.delete_kind(tx, self._writer, schema, cascade=cascade)

    def _evolve(self, step: Any, kind: str, *args: Any) -> KindSchema:
        schema = self.schema(kind)
        with self._store.write(f"{step.__name__} {kind}") as tx:
            step(tx, self._writer, schema, *args)
        return self.schema(kind)

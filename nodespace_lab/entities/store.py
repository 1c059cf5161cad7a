"""Keeping entity schemas in the graph, and checking entity writes against them.

Where schemas live: one row per kind in an `EntityKind` table (migration
m002), its fields as JSON. Not as nodes of a `schema` kind: every reader of
the Node table (the outline's top level, search, `find()`, the doctor's
ordering checks) would then have to learn to hide them, in code other parts
own. Schema changes still go through the write transaction and the change log
(an Op "schema" with before/after images), so an evolution that also rewrites
entity values commits or rolls back as one, and `undo()` reverts both
(`nodes.undo.REVERTERS`).

Where values live: in the node's `properties` JSON (see `schema.py`), not in
typed columns. The engine cannot add a column inside a write transaction
together with data, every kind would widen the one Node table, and renaming
or retyping a field would be DDL; JSON keeps each evolution one transaction.
Fields marked `indexed` can later get typed sidecar columns.

Kinds are registered process-wide (`nodes.kinds`), schemas are per knowledge
base: an entity kind's `prepare` hook finds the schema through the store whose
write transaction the calling thread holds (every create and update runs
inside one), so two knowledge bases in one process may define a kind apiece.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import threading
from typing import Any

from ..errors import NotFound, ValidationError
from ..graph import GraphStore, Op, WriteTx, opkinds
from ..graph.changelog import ChangeSet
from ..nodes import undo
from ..nodes.kinds import KINDS, KindSpec, register_kind
from ..nodes.model import COLUMNS, Row
from .calc.engine import CalcEngine
from .calc.plan import compile_plan
from .schema import Field, KindSchema, check_value, schema_from_json, short

OP = opkinds.SCHEMA
_LOAD = "MATCH (k:EntityKind) RETURN k.name, k.spec, k.version ORDER BY k.name"
_PUT = (
    "MERGE (k:EntityKind {name: $name}) "
    "SET k.spec = $spec, k.version = $version, k.updated_at = $at"
)
_DROP = "MATCH (k:EntityKind {name: $name}) DELETE k"
_COLUMNS = frozenset(COLUMNS)


class Registry:
    """The entity schemas of one graph store, cached until a schema changes."""

    def __init__(self, store: GraphStore) -> None:
        self.store = store
        self._schemas: dict[str, KindSchema] | None = None
        self._lock = threading.Lock()
        store.subscribe(self._on_change)
        self.calc = CalcEngine(self)

    def _on_change(self, change: ChangeSet) -> None:
        if any(op.op == OP for op in change.ops):
            self.invalidate()

    def invalidate(self) -> None:
        """Forget the cache: the next read loads the schemas again."""
        self._schemas = None

    def all(self) -> dict[str, KindSchema]:
        """Every schema of this store by kind name.

        The cache only ever holds committed schemas: a transaction that changed
        one reads them fresh (a rollback cannot leave the cache ahead of the
        database), and each commit that changes one empties the cache.
        """
        tx = self.store.current_tx
        if tx is not None and any(op.op == OP for op in tx.ops):
            return _registered(self.store)
        schemas = self._schemas
        if schemas is None:
            with self._lock:
                schemas = self._schemas = _registered(self.store)
        return schemas

    def get(self, name: str) -> KindSchema | None:
        """The schema of kind `name`, or None."""
        return self.all().get(name)

    def require(self, name: object) -> KindSchema:
        """The schema of kind `name`, or NotFound listing the defined kinds."""
        schema = self.all().get(name) if isinstance(name, str) else None
        if schema is None:
            known = ", ".join(self.all()) or "none yet"
            raise NotFound(
                f"Entity kind {name!r} is not defined in this knowledge base (defined: {known}); "
                f"define it with kb.define({name!r}, fields={{...}})."
            )
        return schema


def _registered(store: GraphStore) -> dict[str, KindSchema]:
    """The stored schemas by name, each registered as a node kind of this process."""
    schemas = {s.name: s for s in _load(store)}
    for schema in schemas.values():
        register_entity_kind(schema)
    return schemas


def _load(store: GraphStore) -> list[KindSchema]:
    return [
        schema_from_json(json.loads(spec), int(version)) for _, spec, version in store.rows(_LOAD)
    ]


_registries: dict[int, Registry] = {}
_registries_lock = threading.Lock()


def registry(store: GraphStore) -> Registry:
    """The schema registry of `store` (one per open store in this process)."""
    with _registries_lock:
        for key in [k for k, r in _registries.items() if r.store.engine.closed]:
            del _registries[key]
        found = _registries.get(id(store))
        if found is None or found.store is not store:
            found = _registries[id(store)] = Registry(store)
        return found


def forget_registry(store: GraphStore) -> None:
    """Drop the registry of `store` (its folder is closing it)."""
    with _registries_lock:
        found = _registries.get(id(store))
        if found is not None and found.store is store:
            del _registries[id(store)]


def _active(name: str) -> Registry:
    """The registry of the store this thread is writing to (else the one knowing `name`)."""
    with _registries_lock:
        open_ones = [r for r in _registries.values() if not r.store.engine.closed]
    for reg in open_ones:
        if reg.store.in_transaction:
            return reg
    knowing = [r for r in open_ones if r.get(name) is not None]
    if len(knowing) == 1:
        return knowing[0]
    raise ValidationError(
        f"Cannot tell which knowledge base kind {name!r} belongs to; write entities "
        "through a KnowledgeBase (kb.create / kb.update)."
    )


# -- writing schemas ------------------------------------------------------------


def _image(schema: KindSchema | None) -> Row | None:
    if schema is None:
        return None
    return {"name": schema.name, "spec": json.dumps(schema.to_json()), "version": schema.version}


def write_schema(tx: WriteTx, before: KindSchema | None, after: KindSchema | None) -> None:
    """Store `after` over `before` (None: create / delete) and record it in the change log.

    Every calculated field of every kind is checked against the new schemas
    first, so a definition with a bad expression, or a change that would break
    another kind's expression, is refused here with its own message.
    """
    either = after or before
    assert either is not None
    name = either.name
    after = _checked(tx, name, before, after)
    if after is None:
        tx.execute(_DROP, {"name": name})
    else:
        register_entity_kind(after)
        _put(tx, _image(after) or {})
    tx.record(Op(OP, f"schema:{name}", OP, _image(before), _image(after)))


def _checked(
    tx: WriteTx, name: str, before: KindSchema | None, after: KindSchema | None
) -> KindSchema | None:
    """`after` with inferred types, once the plan of every kind compiles with it."""
    schemas = {s.name: s for s in _load(tx.store)}
    if after is None:
        schemas.pop(name, None)
    else:
        schemas[name] = after
    try:
        plan = compile_plan(schemas)
    except ValidationError as exc:
        if before is None:
            raise
        raise ValidationError(
            f"Changing kind {name!r} this way would break a calculated field, so nothing "
            f"changed: {exc}"
        ) from exc
    if after is None or name not in plan.kinds:
        return after
    return plan.kinds[name].schema


def _put(tx: WriteTx, image: Row) -> None:
    at = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    tx.execute(_PUT, {**image, "at": at})


def _revert(tx: WriteTx, op: Op) -> None:
    """Undo one schema operation: put the `before` image back (or drop the kind)."""
    if op.before is None:
        tx.execute(_DROP, {"name": op.id.removeprefix("schema:")})
    else:
        _put(tx, op.before)
    tx.record(Op(OP, op.id, OP, op.after, op.before))


undo.REVERTERS[OP] = _revert


# -- the kind registry hook -----------------------------------------------------


def register_entity_kind(schema: KindSchema) -> None:
    """Make `schema.name` a node kind of this process, validated by its schema."""
    spec = KINDS.get(schema.name)
    if spec is not None and not spec.extra.get("entity"):
        raise ValidationError(
            f"Kind {schema.name!r} is a built-in or plugin kind ({spec.description}); "
            "give the entity kind another name."
        )
    if spec is not None and spec.description == schema.description:
        return
    register_kind(
        KindSpec(
            schema.name,
            schema.description or f"Entity kind {schema.name!r} (see kb.schema()).",
            prepare=functools.partial(prepare_entity, schema.name),
            open_fields=True,
            extra={"entity": True},
        ),
        replace=True,
    )


def prepare_entity(name: str, values: Row, old: Row | None) -> Row:
    """The `KindSpec.prepare` of entity kind `name`: check fields, fold them into properties."""
    reg = _active(name)
    schema = reg.require(name)
    title = values.get("title", "") if old is None else old["title"]
    obj = (
        f"New {name} {title!r}" if old is None else f"{name.capitalize()} {old['id']!r} ({title!r})"
    )
    given = {k: values.pop(k) for k in [k for k in values if k not in _COLUMNS]}
    if "properties" in values:
        current = json.loads(values["properties"])
        given = {**current, **given}
    else:
        current = json.loads(old["properties"] or "{}") if old else {}
    merged = complete(obj, schema, current, given, new=old is None)
    check_references(reg.store, obj, schema, {k: merged.get(k) for k in given})
    values["properties"] = json.dumps(merged, ensure_ascii=False, sort_keys=True)
    return values


def complete(
    obj: str, schema: KindSchema, current: dict[str, Any], given: dict[str, Any], *, new: bool
) -> dict[str, Any]:
    """Stored values: `current` with `given` checked on top, defaults filled, required checked."""
    unknown = sorted(set(given) - set(schema.names()))
    if unknown:
        raise ValidationError(
            f"{obj} has no field {unknown[0]!r}; fields of {schema.name} are "
            f"{', '.join(schema.names()) or '(none)'} (kb.schema({schema.name!r}) shows them)."
        )
    merged = dict(current)
    for item in schema.fields:
        if item.expression is not None:
            if item.name in given:
                raise ValidationError(
                    f"{obj} field {item.name!r} is calculated ({item.expression}); it cannot be "
                    "set. Change the fields it is calculated from instead."
                )
            continue
        if item.name in given:
            merged[item.name] = check_value(obj, item, given[item.name])
        elif new and item.default is not None:
            merged[item.name] = item.default
        if merged.get(item.name) is None:
            merged.pop(item.name, None)
            if item.required:
                raise ValidationError(
                    f"{obj} field {item.name!r} is required: give {item.allowed()}."
                )
    return merged


def check_references(store: GraphStore, obj: str, schema: KindSchema, values: Row) -> None:
    """Refuse references to missing, deleted or wrong-kind nodes."""
    wanted: list[tuple[Field, str]] = []
    for item in schema.fields:
        value = values.get(item.name)
        if item.type == "ref" and value is not None:
            wanted += [(item, v) for v in (value if isinstance(value, list) else [value])]
    if not wanted:
        return
    rows = store.rows(
        "MATCH (n:Node) WHERE n.id IN $ids RETURN n.id, n.kind, n.status",
        {"ids": sorted({v for _, v in wanted})},
    )
    found = {node_id: (kind, status) for node_id, kind, status in rows}
    for item, target in wanted:
        _check_target(obj, item, target, found.get(target))


def _check_target(obj: str, item: Field, target: str, found: tuple[str, str] | None) -> None:
    where = f"{obj} field {item.name!r} refers to {short(target)}"
    one = f"the id of {'a ' + item.to if item.to else 'a'} node"
    if found is None:
        raise ValidationError(f"{where}, which does not exist; give {one}.")
    kind, status = found
    if status == "deleted":
        raise ValidationError(f"{where}, which is deleted; restore it or give {one}.")
    if item.to is not None and kind != item.to:
        raise ValidationError(f"{where}, a {kind} node; give {one}.")

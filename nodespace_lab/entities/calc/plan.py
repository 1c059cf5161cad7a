"""The calculated fields of a knowledge base: what each reads, and in which order they run.

A `Plan` is compiled from every schema at once, because a field may read
fields of other kinds (through children, links, backlinks, the parent or a
reference). Compiling checks each expression's names and types, orders the
calculated fields of a kind so a field runs after the fields it reads, and
refuses a cycle with an error naming it. The reverse maps (`readers`) tell
the engine which nodes a change can affect without asking the database.

Cycles: a field may read itself, or others in a loop, only through
`children` alone or `parent` alone (a rollup such as `total = hours +
sum(children.total)`): the hierarchy has no cycles, so the values settle. A
loop through links, backlinks, references, or a mix of directions could go
round for ever, and is refused.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from functools import cache, cached_property

from ...errors import ValidationError
from ..schema import Field, KindSchema
from .expression import BUILTIN_ATTRIBUTES, SOURCES, Expression, check_expression, parse_expression
from .syntax import Aggregate, Binary, Call, Constant, Name, Node, Unary

#: Bump when the meaning of an expression changes between releases: a stored
#: fingerprint that differs makes the next open recompute every value.
LANGUAGE_VERSION = 1
CALC_TYPES = ("text", "number", "integer", "bool", "date", "datetime")
#: Which declared types accept an inferred type (integer results are rounded).
_FITS = {
    "number": {"number", "integer"},
    "integer": {"number", "integer"},
    "text": {"text", "enum"},
    "bool": {"bool"},
    "date": {"date"},
    "datetime": {"datetime"},
}
#: Node columns each attribute reads, so a changed column maps to attributes.
COLUMN_ATTRIBUTES = {
    "title": ("title",),
    "content": ("content",),
    "kind": ("kind",),
    "created_at": ("created_at",),
    "updated_at": ("updated_at",),
    "task_status": ("status", "done"),
    "priority": ("priority",),
    "due": ("due",),
    "scheduled": ("scheduled",),
    "completed_at": ("completed_at",),
    "status": ("archived",),
}


@dataclass(frozen=True)
class CalcField:
    """One calculated field: its declaration and parsed expression."""

    kind: str
    field: Field
    expression: Expression

    @property
    def name(self) -> str:
        """The field's name."""
        return self.field.name

    @property
    def inputs(self) -> frozenset[str]:
        """Own attributes read: bare names, and reference fields used as sources."""
        own_refs = {s for s in self.expression.sources if s not in SOURCES}
        return self.expression.own_names | own_refs

    def label(self) -> str:
        """'project.progress'."""
        return f"{self.kind}.{self.name}"


@dataclass(frozen=True)
class KindPlan:
    """The calculated fields of one kind, in the order they must run."""

    schema: KindSchema
    fields: tuple[CalcField, ...]

    @property
    def kind(self) -> str:
        """The kind's name."""
        return self.schema.name

    @cached_property
    def names(self) -> frozenset[str]:
        """Names of the calculated fields."""
        return frozenset(f.name for f in self.fields)

    @cached_property
    def inputs(self) -> frozenset[str]:
        """Own attributes any calculated field reads, other than calculated ones."""
        return frozenset().union(*(f.inputs for f in self.fields)) - self.names

    @cached_property
    def reads(self) -> dict[str, frozenset[str]]:
        """Source name -> attributes read on its items, over every calculated field."""
        found: dict[str, frozenset[str]] = {}
        for item in self.fields:
            for source, attrs in item.expression.sources.items():
                found[source] = found.get(source, frozenset()) | attrs
        return found

    @property
    def volatile(self) -> bool:
        """True when a field uses today() or now(), so values age."""
        return any(f.expression.volatile for f in self.fields)


@dataclass(frozen=True)
class Plan:
    """Every calculated field of a knowledge base, checked and ordered."""

    kinds: Mapping[str, KindPlan]
    schemas: Mapping[str, KindSchema]

    @property
    def empty(self) -> bool:
        """True when no kind has calculated fields."""
        return not self.kinds

    @property
    def volatile(self) -> bool:
        """True when some field uses today() or now()."""
        return any(p.volatile for p in self.kinds.values())

    def readers(self, source: str) -> dict[str, frozenset[str]]:
        """Kinds that read `source` ('children', 'links', ...) -> attributes they read there."""
        return self._readers.get(source, {})

    @cached_property
    def _readers(self) -> dict[str, dict[str, frozenset[str]]]:
        # Asked for every operation of every write: computed once per plan.
        found: dict[str, dict[str, frozenset[str]]] = {}
        for kind, plan in self.kinds.items():
            for source, attrs in plan.reads.items():
                found.setdefault(source, {})[kind] = attrs
        return found

    def ref_readers(self) -> tuple[tuple[str, Field, frozenset[str]], ...]:
        """(kind, reference field, attributes read through it) for every field that derefs."""
        return self._ref_readers

    @cached_property
    def _ref_readers(self) -> tuple[tuple[str, Field, frozenset[str]], ...]:
        return tuple(
            (kind, plan.schema.field(source), attrs)
            for kind, plan in self.kinds.items()
            for source, attrs in plan.reads.items()
            if source not in SOURCES
        )

    def fields_of(self, kind: str) -> dict[str, Field]:
        """Every field of `kind` by name (empty for a kind without a schema)."""
        schema = self.schemas.get(kind)
        return {f.name: f for f in schema.fields} if schema else {}

    def fingerprint(self) -> str:
        """A hash of every definition and the language version (stored with the values)."""
        spec = {
            k: [(f.name, f.field.type, f.expression.text) for f in p.fields]
            for k, p in sorted(self.kinds.items())
        }
        text = json.dumps([LANGUAGE_VERSION, spec], sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def is_calculated(item: Field) -> bool:
    """True for a calculated field."""
    return item.expression is not None


def owner(kind: str, name: str) -> str:
    """How errors name a calculated field."""
    return f"Calculated field {name!r} of kind {kind!r}"


@cache
def parsed(kind: str, name: str, text: str) -> Expression:
    """The parsed expression (cached: plans are rebuilt on every schema change)."""
    return parse_expression(text, owner=owner(kind, name))


def compile_plan(schemas: Mapping[str, KindSchema]) -> Plan:
    """Check every calculated field of `schemas` and order them; ValidationError if broken."""
    schemas = dict(schemas)
    kinds: dict[str, KindPlan] = {}
    for name in sorted(schemas):
        schema = schemas[name]
        if any(is_calculated(f) for f in schema.fields):
            kinds[name] = _plan_kind(schema, schemas)
            schemas[name] = kinds[name].schema  # inferred types, for kinds read later
    plan = Plan(kinds, schemas)
    _refuse_cycles(plan)
    return plan


def _plan_kind(schema: KindSchema, schemas: Mapping[str, KindSchema]) -> KindPlan:
    calculated = {
        f.name: CalcField(schema.name, f, parsed(schema.name, f.name, f.expression or ""))
        for f in schema.fields
        if is_calculated(f)
    }
    ordered = _order(schema.name, calculated)
    types = {f.name: _type_name(f) for f in schema.fields}
    done: list[CalcField] = []
    for item in ordered:
        declared = _checked_type(item, types, _target_types(schema, schemas))
        types[item.name] = declared
        done.append(replace(item, field=replace(item.field, type=declared)))
    by_name = {f.name: f for f in done}
    fields = tuple(by_name[f.name].field if f.name in by_name else f for f in schema.fields)
    return KindPlan(replace(schema, fields=fields), tuple(done))


def _type_name(item: Field) -> str:
    if item.type == "ref":
        return "refs" if item.many else "ref"
    return item.type


def _target_types(
    schema: KindSchema, schemas: Mapping[str, KindSchema]
) -> Callable[[str], Mapping[str, str] | None]:
    def target(ref_name: str) -> Mapping[str, str] | None:
        item = next((f for f in schema.fields if f.name == ref_name), None)
        other = schemas.get(item.to) if item is not None and item.to else None
        if other is None:
            return None
        # An inferred ('auto') type of another kind is not known yet here.
        return {f.name: ("any" if f.type == "auto" else _type_name(f)) for f in other.fields}

    return target


def _checked_type(
    item: CalcField, types: Mapping[str, str], target: Callable[[str], Mapping[str, str] | None]
) -> str:
    found = check_expression(item.expression, types, target)
    declared = item.field.type
    where = owner(item.kind, item.name)
    if declared == "auto":
        if found == "number" and _whole(item.expression.syntax, types):
            return "integer"  # a count is stored as 3, not 3.0
        if found in CALC_TYPES:
            return found
        raise ValidationError(
            f"{where}: cannot tell the type of {item.expression.text!r} (it is {found}); "
            f"give the field a type, one of {', '.join(CALC_TYPES)}."
        )
    if declared not in CALC_TYPES:
        raise ValidationError(
            f"{where} has type {declared!r}; a calculated field is one of {', '.join(CALC_TYPES)}."
        )
    if found not in ("any", "null") and found not in _FITS[declared]:
        raise ValidationError(
            f"{where} is declared {declared} but {item.expression.text!r} gives {found}; "
            f"change the type to {found} or the expression."
        )
    return declared


#: Functions whose numeric result is always a whole number.
_WHOLE_CALLS = frozenset(
    {"len", "year", "month", "day", "weekday", "days_between", "days_until", "days_since",
     "age", "floor", "ceil"}
)  # fmt: skip


def _whole(node: Node, types: Mapping[str, str]) -> bool:
    """True when a numeric expression can only give whole numbers (to infer 'integer')."""
    if isinstance(node, Constant):
        return isinstance(node.value, int) and not isinstance(node.value, bool)
    if isinstance(node, Name):
        return types.get(node.name, BUILTIN_ATTRIBUTES.get(node.name)) == "integer"
    if isinstance(node, Aggregate):
        return node.name == "count"
    if isinstance(node, Call):
        if node.name == "round":
            return len(node.args) == 1
        if node.name in {"coalesce", "min", "max"}:
            return all(_whole(arg, types) for arg in node.args)
        return node.name in _WHOLE_CALLS
    if isinstance(node, Unary):
        return node.op == "-" and _whole(node.operand, types)
    if isinstance(node, Binary):
        return node.op in {"+", "-", "*"} and _whole(node.left, types) and _whole(node.right, types)
    return False


def _order(kind: str, calculated: Mapping[str, CalcField]) -> list[CalcField]:
    """Calculated fields of one kind, each after the ones it reads (cycle: error)."""
    ordered: list[CalcField] = []
    state: dict[str, str] = {}

    def visit(name: str, path: list[str]) -> None:
        if state.get(name) == "done":
            return
        if state.get(name) == "busy":
            loop = [*path[path.index(name) :], name]
            raise ValidationError(
                f"{owner(kind, name)}: the calculated fields {' -> '.join(loop)} read each "
                "other in a cycle; change one of these expressions so the loop is broken."
            )
        state[name] = "busy"
        for used in sorted(calculated[name].expression.own_names & calculated.keys()):
            visit(used, [*path, name])
        state[name] = "done"
        ordered.append(calculated[name])

    for name in calculated:
        visit(name, [])
    return ordered


# -- cycles across nodes ------------------------------------------------------

Edge = tuple[str, str, str]  # (from label, to label, via)


def _edges(plan: Plan) -> list[Edge]:
    """(kind.field) -> (kind.field) reads between nodes, each with the way it reads."""
    calculated_by_name: dict[str, list[str]] = {}
    for kind, kind_plan in plan.kinds.items():
        for item in kind_plan.fields:
            calculated_by_name.setdefault(item.name, []).append(kind)
    edges: list[Edge] = []
    for kind, kind_plan in plan.kinds.items():
        fields = plan.fields_of(kind)
        for item in kind_plan.fields:
            for source, attrs in item.expression.sources.items():
                kinds = None
                if source not in SOURCES:
                    to = fields[source].to if source in fields else None
                    kinds = {to} if to else None
                for attr in attrs:
                    for other in calculated_by_name.get(attr, []):
                        if kinds is None or other in kinds:
                            via = source if source in SOURCES else "reference"
                            edges.append((item.label(), f"{other}.{attr}", via))
    return edges


def _refuse_cycles(plan: Plan) -> None:
    graph: dict[str, list[Edge]] = {}
    for edge in _edges(plan):
        graph.setdefault(edge[0], []).append(edge)
    reach = {label: _reachable(graph, label) for label in graph}
    for loop_edges in _loops(graph, reach):
        ways = {via for _, _, via in loop_edges}
        if ways in ({"children"}, {"parent"}):
            continue  # follows the hierarchy one way: it ends at the leaves or the root
        odd = next(e for e in loop_edges if e[2] != "children")
        example = [odd, *(_path(graph, odd[1], odd[0]) or [])]
        shown = " -> ".join(f"{a} (via {via})" for a, _, via in example) + f" -> {odd[0]}"
        kind, name = odd[0].split(".", 1)
        raise ValidationError(
            f"{owner(kind, name)}: calculated fields read each other in a cycle: {shown}. "
            "Only loops that follow the hierarchy one way (children only, or parent only: a "
            "rollup) are allowed; change one of these expressions."
        )


def _reachable(graph: Mapping[str, list[Edge]], start: str) -> set[str]:
    seen: set[str] = set()
    todo = [start]
    while todo:
        for edge in graph.get(todo.pop(), []):
            if edge[1] not in seen:
                seen.add(edge[1])
                todo.append(edge[1])
    return seen


def _loops(graph: Mapping[str, list[Edge]], reach: Mapping[str, set[str]]) -> Iterator[list[Edge]]:
    """The edges inside each strongly connected group of fields (those on some cycle)."""
    placed: set[str] = set()
    for label in graph:
        if label in placed or label not in reach[label]:
            continue
        group = {label} | {m for m in reach[label] if label in reach.get(m, set())}
        placed |= group
        yield [e for m in group for e in graph.get(m, []) if e[1] in group]


def _path(graph: Mapping[str, list[Edge]], start: str, goal: str) -> list[Edge] | None:
    """Edges of a shortest path from `start` to `goal`, or None."""
    if start == goal:
        return []
    seen = {start}
    frontier: list[tuple[str, list[Edge]]] = [(start, [])]
    while frontier:
        following: list[tuple[str, list[Edge]]] = []
        for label, path in frontier:
            for edge in graph.get(label, []):
                if edge[1] == goal:
                    return [*path, edge]
                if edge[1] not in seen:
                    seen.add(edge[1])
                    following.append((edge[1], [*path, edge]))
        frontier = following
    return None

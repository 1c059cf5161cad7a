"""Node kinds, registered the same way built-ins and plugins are.

The built-in kinds (`BUILTIN_KINDS`) reach `KINDS` through the default
plugin's `nodespace_kinds` hook, like a third-party plugin's. A kind names the
task-style fields it accepts and may validate or complete a node's values
before they are written (entity kinds and plugin kinds plug in here).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .._registry import Registry
from ..errors import ValidationError
from .model import TASK_FIELDS, Row

Validator = Callable[[Row, Row | None], Row]


@dataclass(frozen=True)
class KindSpec:
    """How one kind of node behaves.

    `fields` are the extra columns it accepts; `prepare(values, old)` gets the
    values about to be written (and the stored row when updating) and returns
    them completed, or raises `ValidationError`. With `open_fields`, create and
    update pass it keyword fields beyond the node's columns too (entity kinds,
    whose fields a schema stored per knowledge base declares); `prepare` must
    fold them into `properties` and remove them.
    """

    name: str
    description: str
    fields: frozenset[str] = frozenset()
    prepare: Validator | None = None
    in_tree: bool = True
    id_from_title: bool = False
    open_fields: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


#: Every kind of this process: the built-ins and plugins' (filled on first read), entity kinds.
KINDS: Registry[KindSpec] = Registry("node kind")


def register_kind(spec: KindSpec, *, replace: bool = False) -> None:
    """Make a kind available to every knowledge base of this process."""
    if spec.name in KINDS and not replace:
        raise ValidationError(
            f"Kind {spec.name!r} is already registered; pass replace=True to override it."
        )
    if not spec.name.isidentifier() or spec.name != spec.name.lower():
        raise ValidationError(
            f"Kind name {spec.name!r} is invalid; use a lowercase identifier such as 'paper'."
        )
    KINDS[spec.name] = spec


def kind_spec(name: object) -> KindSpec:
    """The spec of kind `name`, or a ValidationError listing the known kinds."""
    spec = KINDS.get(name) if isinstance(name, str) else None
    if spec is None:
        raise ValidationError(
            f"Unknown node kind {name!r}; use one of {', '.join(sorted(KINDS))} "
            "or register a new kind with register_kind()."
        )
    return spec


def _prepare_task(values: Row, old: Row | None) -> Row:
    before = (old or {}).get("task_status")
    status = values.get("task_status", before) or "todo"
    values["task_status"] = status
    if "completed_at" not in values:
        if status == "done" and before != "done":
            values["completed_at"] = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        elif status != "done" and before == "done":
            values["completed_at"] = None
    return values


def _prepare_date(values: Row, old: Row | None) -> Row:
    if old is None:
        day = values.get("title", "")
        try:
            valid = dt.date.fromisoformat(day).isoformat() == day
        except (TypeError, ValueError):
            valid = False
        if not valid:
            raise ValidationError(
                f"Date node title {day!r} is not a day; use YYYY-MM-DD, or kb.journal(day)."
            )
    elif "title" in values and values["title"] != old["title"]:
        raise ValidationError(
            f"Date node {old['id']!r} cannot be renamed to {values['title']!r}; "
            "a journal page is named by its day."
        )
    return values


BUILTIN_KINDS: tuple[KindSpec, ...] = (
    KindSpec("text", "A note or outline block with Markdown content."),
    KindSpec(
        "task",
        "Something to do: status todo/doing/done/cancelled, priority, due and scheduled dates.",
        fields=frozenset(TASK_FIELDS),
        prepare=_prepare_task,
    ),
    KindSpec(
        "date",
        "A daily journal page; its id is the day YYYY-MM-DD.",
        prepare=_prepare_date,
        id_from_title=True,
    ),
    KindSpec("tag", "A tag; nodes join it with kb.tag(node, name)."),
    KindSpec("collection", "A named collection; a node may be in several."),
    KindSpec(
        "chat",
        "A conversation with the local model (kb.ask); links to the nodes its answers cite.",
    ),
)

"""Checks on user values before anything is written.

Every error names the node (or "new node"), the field, the bad value and the fix.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from typing import Any

from ..config.sections import StorageSettings
from ..errors import ValidationError
from .model import STATUSES, TASK_FIELDS

TASK_STATUSES = ("todo", "doing", "done", "cancelled")
PRIORITIES = (1, 2, 3, 4)


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def check_text(obj: str, name: str, value: object, *, limit_bytes: int | None = None) -> str:
    """A str that is valid Unicode, without NUL, within `limit_bytes` as UTF-8."""
    if not isinstance(value, str):
        raise ValidationError(f"{obj} field {name!r} must be text, not {type(value).__name__}.")
    try:
        encoded = value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValidationError(
            f"{obj} field {name!r} contains invalid Unicode (lone surrogate "
            f"{value[exc.start]!r} at position {exc.start}); decode the text correctly "
            "or replace the character."
        ) from None
    if "\x00" in value:
        raise ValidationError(f"{obj} field {name!r} contains a NUL character; remove it.")
    if limit_bytes is not None and len(encoded) > limit_bytes:
        raise ValidationError(
            f"{obj} field {name!r} is {len(encoded):,} bytes, over the limit of "
            f"{limit_bytes:,}; split it into several nodes or raise storage.max_content_bytes."
        )
    return value


def check_title(obj: str, value: object, settings: StorageSettings) -> str:
    """A single-line title within the configured length."""
    title = check_text(obj, "title", value)
    if "\n" in title or "\r" in title:
        raise ValidationError(
            f"{obj} title {_short(title)} spans several lines; put extra lines in the content."
        )
    if len(title) > settings.max_title_chars:
        raise ValidationError(
            f"{obj} title is {len(title):,} characters, over the limit of "
            f"{settings.max_title_chars:,}; shorten it or raise storage.max_title_chars."
        )
    return title


def check_date(obj: str, name: str, value: object) -> dt.date | None:
    """A date from a `date` or an ISO 'YYYY-MM-DD' string (None clears it)."""
    if value is None or (isinstance(value, dt.date) and not isinstance(value, dt.datetime)):
        return value
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    raise ValidationError(
        f"{obj} field {name!r} must be a date, not {_short(value)}; use YYYY-MM-DD."
    )


def check_datetime(obj: str, name: str, value: object) -> dt.datetime | None:
    """A naive UTC datetime from a datetime or ISO string (None clears it)."""
    if value is None:
        return None
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            value = dt.datetime.fromisoformat(value)
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return value
    raise ValidationError(
        f"{obj} field {name!r} must be a date and time, not {_short(value)}; "
        "use ISO 8601 such as 2026-11-25T14:30:00."
    )


def check_choice(obj: str, name: str, value: object, choices: tuple[Any, ...]) -> Any:
    """`value` if it is one of `choices`."""
    if value not in choices:
        allowed = ", ".join(repr(c) for c in choices)
        raise ValidationError(
            f"{obj} field {name!r} cannot be {_short(value)}; use one of {allowed}."
        )
    return value


def check_priority(obj: str, value: object) -> int | None:
    """None or an integer priority 1 (highest) to 4."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value not in PRIORITIES:
        raise ValidationError(
            f"{obj} field 'priority' cannot be {_short(value)}; use 1 (highest) to 4, or None."
        )
    return value


def check_status(obj: str, value: object) -> str:
    """A lifecycle status other than 'deleted' (use delete() for that)."""
    check_choice(obj, "status", value, STATUSES[:2])
    return str(value)


def check_task_fields(obj: str, values: dict[str, Any]) -> dict[str, Any]:
    """Normalise the task fields present in `values`."""
    if "task_status" in values and values["task_status"] is not None:
        check_choice(obj, "task_status", values["task_status"], TASK_STATUSES)
    if "priority" in values:
        values["priority"] = check_priority(obj, values["priority"])
    for name in ("due", "scheduled"):
        if name in values:
            values[name] = check_date(obj, name, values[name])
    if "completed_at" in values:
        values["completed_at"] = check_datetime(obj, "completed_at", values["completed_at"])
    return values


def check_properties(obj: str, value: object) -> dict[str, Any]:
    """A JSON-serialisable dict of extra properties."""
    if not isinstance(value, dict):
        raise ValidationError(
            f"{obj} field 'properties' must be a dict, not {type(value).__name__}."
        )
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except (TypeError, ValueError, UnicodeEncodeError) as exc:
        raise ValidationError(
            f"{obj} properties cannot be stored ({exc}); use JSON values: str, number, bool, "
            "None, list or dict."
        ) from None
    return value


def check_fields_allowed(obj: str, kind: str, names: set[str], allowed: frozenset[str]) -> None:
    """Refuse kind-specific fields on a kind that does not have them."""
    extra = sorted((names & set(TASK_FIELDS)) - allowed)
    if extra:
        raise ValidationError(
            f"{obj} of kind {kind!r} has no field {extra[0]!r}; only tasks have "
            f"{', '.join(TASK_FIELDS)}. Create it with kind='task'."
        )

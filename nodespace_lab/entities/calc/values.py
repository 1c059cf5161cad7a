"""Runtime values of the expression language and the operators on them.

Values are plain Python: None (null), bool, int, float, str, datetime.date,
datetime.datetime and list. Operators get non-null operands (the compiled
closures propagate null before calling them) and return None when the
operands do not fit or the result cannot be represented, so evaluating an
expression never raises for a data problem.
"""

from __future__ import annotations

import datetime as dt
import math
import operator
from collections.abc import Callable, Sequence
from typing import Any, Protocol


class Scope(Protocol):
    """What an expression reads: one node's attributes and the items of its sources."""

    today: dt.date
    now: dt.datetime

    def value(self, name: str) -> Any:
        """An attribute or field of this node as a Python value (None when unset)."""
        ...

    def items(self, source: str) -> Sequence[Scope]:
        """The items of a source (children, links, backlinks, parent or a reference field)."""
        ...


Operator = Callable[[Any, Any], Any]

# Exact types first (one dict lookup); bool is its own kind although it is an int,
# and datetime its own although it is a date.
_KINDS: dict[type, str] = {
    bool: "bool", int: "number", float: "number", str: "text",
    dt.date: "date", dt.datetime: "datetime", list: "list", tuple: "list",
}  # fmt: skip
_SUBCLASS_ORDER: tuple[tuple[type, str], ...] = (
    (bool, "bool"), (int, "number"), (float, "number"), (str, "text"),
    (dt.datetime, "datetime"), (dt.date, "date"), (list, "list"), (tuple, "list"),
)  # fmt: skip
_NUMBER_TYPES = frozenset({int, float})  # not bool: `true + 1` is null, not 2
_DAYS = frozenset({"date", "datetime"})
_ORDERED = frozenset({"number", "text", "bool", "date", "datetime"})


def kind(value: Any) -> str:
    """The language type of a value: number, text, bool, date, datetime, list, null or other."""
    found = _KINDS.get(type(value))
    if found is not None:
        return found
    if value is None:
        return "null"
    for cls, name in _SUBCLASS_ORDER:
        if isinstance(value, cls):
            return name
    return "other"


def is_number(value: Any) -> bool:
    """True for int and float values (never for bool)."""
    return type(value) in _NUMBER_TYPES or kind(value) == "number"


def whole(value: Any) -> int | None:
    """`value` as an int when it is a whole number (3 or 3.0), else None."""
    if type(value) is int:
        return value
    if is_number(value) and float(value).is_integer():
        return int(value)
    return None


def finite(value: Any) -> Any:
    """`value`, or None for an infinite or NaN float (overflowed arithmetic)."""
    if type(value) is float and not math.isfinite(value):
        return None
    return value


def day_of(value: Any) -> dt.date | None:
    """The calendar day of a date or datetime, else None."""
    found = kind(value)
    if found == "datetime":
        day: dt.date = value.date()
        return day
    return value if found == "date" else None


def _numeric(op: Operator, a: Any, b: Any) -> Any:
    if not (is_number(a) and is_number(b)):
        return None
    try:
        return finite(op(a, b))
    except (OverflowError, ZeroDivisionError):
        # A huge int meeting a float, or a division by zero: null, not an error.
        return None


def add(a: Any, b: Any) -> Any:
    """a + b: numbers add, texts join, a number of days moves a date."""
    if type(a) in _NUMBER_TYPES and type(b) in _NUMBER_TYPES:
        return _numeric(operator.add, a, b)
    ka, kb = kind(a), kind(b)
    if ka == kb == "text":
        return a + b
    if ka in _DAYS and kb == "number":
        return shift(a, b)
    if kb in _DAYS and ka == "number":
        return shift(b, a)
    return _numeric(operator.add, a, b)


def subtract(a: Any, b: Any) -> Any:
    """a - b: numbers, days back from a date, or the days between two dates."""
    if type(a) in _NUMBER_TYPES and type(b) in _NUMBER_TYPES:
        return _numeric(operator.sub, a, b)
    ka, kb = kind(a), kind(b)
    if ka in _DAYS and kb == "number":
        return shift(a, -b)
    if ka in _DAYS and kb in _DAYS:
        return _days_apart(a, b, ka, kb)
    return _numeric(operator.sub, a, b)


def _days_apart(a: Any, b: Any, ka: str, kb: str) -> Any:
    if ka == kb == "datetime":
        try:
            return finite((a - b).total_seconds() / 86400)
        except TypeError:
            # One datetime has a time zone and the other has none.
            return None
    first, second = day_of(a), day_of(b)
    if first is None or second is None:
        return None
    return (first - second).days


def shift(day: Any, days: Any) -> Any:
    """A date or datetime moved by a number of days (whole days for a date), or None."""
    count = whole(days) if kind(day) == "date" else days
    if count is None or not is_number(count):
        return None
    try:
        return day + dt.timedelta(days=count)
    except (OverflowError, ValueError):
        # Out of the calendar's range (year 1..9999), or an infinite count.
        return None


def multiply(a: Any, b: Any) -> Any:
    """a * b for numbers."""
    return _numeric(operator.mul, a, b)


def divide(a: Any, b: Any) -> Any:
    """a / b for numbers, always a float; null when b is 0."""
    return _numeric(operator.truediv, a, b)


def remainder(a: Any, b: Any) -> Any:
    """a % b for numbers (the sign of b, as in Python); null when b is 0."""
    return _numeric(operator.mod, a, b)


def negate(a: Any) -> Any:
    """-a for a number."""
    return -a if is_number(a) else None


def _comparable(a: Any, b: Any) -> tuple[Any, Any] | None:
    """a and b in a form that can be ordered, or None when they cannot be compared."""
    ka, kb = kind(a), kind(b)
    if ka == kb and ka in _ORDERED:
        return a, b
    if ka in _DAYS and kb in _DAYS:
        # A date against a datetime: compare the calendar days.
        return day_of(a), day_of(b)
    return None


def ordering(op: Operator) -> Operator:
    """A null-safe comparison (<, <=, >, >=) built from an operator function."""

    def compare(a: Any, b: Any) -> Any:
        if type(a) in _NUMBER_TYPES and type(b) in _NUMBER_TYPES:
            return op(a, b)
        pair = _comparable(a, b)
        if pair is None:
            return None
        try:
            return op(*pair)
        except TypeError:
            # A time-zone-aware datetime against a naive one.
            return None

    return compare


less = ordering(operator.lt)
greater = ordering(operator.gt)


def equal(a: Any, b: Any) -> bool | None:
    """a = b: null for a null operand, false between values of different types."""
    if a is None or b is None:
        return None
    pair = _comparable(a, b)
    if pair is not None:
        return bool(pair[0] == pair[1])
    ka, kb = kind(a), kind(b)
    if ka == kb == "list":
        return list(a) == list(b)
    return None if "other" in (ka, kb) else False


def not_equal(a: Any, b: Any) -> bool | None:
    """a != b, the negation of `equal` (null stays null)."""
    same = equal(a, b)
    return None if same is None else not same


def to_text(value: Any) -> str | None:
    """Any value as text: 3.0 as '3', true as 'true', dates in ISO form, lists joined."""
    found = kind(value)
    if found == "text":
        return str(value)
    if found == "bool":
        return "true" if value else "false"
    if found == "number":
        return _number_text(value)
    if found in _DAYS:
        return str(value.isoformat())
    if found == "list":
        return ", ".join(to_text(item) or "" for item in value)
    return None


def _number_text(value: Any) -> str | None:
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    try:
        return str(value) if isinstance(value, int) else repr(float(value))
    except ValueError:
        # An int with more digits than Python agrees to print.
        return None


def extreme(values: Sequence[Any], before: Operator) -> Any:
    """The first value in `before` order (min with `less`), nulls skipped; None if mixed types."""
    best: Any = None
    for value in values:
        if value is None:
            continue
        if best is None:
            best = value
            continue
        ahead = before(value, best)
        if ahead is None:
            return None
        if ahead:
            best = value
    return best


def truth(value: Any) -> bool | None:
    """A value as a three-valued truth: True, False, or None for anything else."""
    return value if value is True or value is False else None


#: Binary operators by the symbol the parser gives them.
OPERATORS: dict[str, Operator] = {
    "+": add, "-": subtract, "*": multiply, "/": divide, "%": remainder,
    "=": equal, "!=": not_equal, "<": less, "<=": ordering(operator.le),
    ">": greater, ">=": ordering(operator.ge),
}  # fmt: skip

"""The functions of the expression language: name, arity, static types, implementation.

Scalar functions receive their evaluated arguments as Python values and return
None when the values do not fit (text where a number is expected, a date out
of range...). Functions marked `volatile` read the clock from the scope, which
they receive as their first argument. Aggregates reduce the values read from
the items of a collection.

The scalar functions reach `FUNCTIONS` through the default plugin's
`nodespace_calc_functions` hook (`BUILTIN_FUNCTIONS`), like a plugin's.
"""

from __future__ import annotations

import calendar
import datetime as dt
import decimal
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from ..._registry import Registry
from ...errors import ValidationError
from .values import (
    Scope,
    day_of,
    equal,
    extreme,
    finite,
    greater,
    is_number,
    kind,
    less,
    shift,
    to_text,
    whole,
)

# Static type sets a parameter accepts ('any' and 'null' are accepted everywhere).
NUMBER = frozenset({"number"})
TEXT = frozenset({"text"})
BOOL = frozenset({"bool"})
DAY = frozenset({"date", "datetime"})
DAY_OR_TEXT = DAY | TEXT
TEXT_OR_LIST = frozenset({"text", "list"})
ORDERED = frozenset({"number", "text", "date", "datetime"})
VALUE = frozenset({"number", "text", "bool", "date", "datetime", "list"})


@dataclass(frozen=True)
class Function:
    """A scalar function.

    `params` are the static types each argument accepts (the last repeats for
    a variadic function). `result` is a type, or 'same' (the first argument's
    type), 'common' (the arguments' common type) or 'branches' (the common
    type of if's 2nd and 3rd arguments). `impl` None means the evaluator
    compiles the function itself (if and coalesce, which short-circuit).
    """

    name: str
    signature: str
    params: tuple[frozenset[str], ...]
    result: str
    impl: Callable[..., Any] | None
    min_args: int
    max_args: int | None
    strict: bool = True  # a null argument gives null without calling impl
    volatile: bool = False  # reads today/now: impl takes the scope first

    def param(self, index: int) -> frozenset[str]:
        """The types argument `index` (0-based) accepts."""
        return self.params[min(index, len(self.params) - 1)]


@dataclass(frozen=True)
class Aggregator:
    """An aggregate over a collection (`children`, `children.hours where done`...).

    `values` are the static types accepted for the attribute; `needs` is ''
    (a bare collection is fine), 'attr' (an attribute is required) or
    'attr_or_where'. `result` is a type or 'same' (the attribute's type).
    `reduce` gets the attribute values of the matching items; for a bare
    collection it gets True for a matching item and None for another.
    """

    name: str
    signature: str
    values: frozenset[str]
    needs: str
    result: str
    reduce: Callable[[Sequence[Any]], Any]


# -- math ----------------------------------------------------------------------

# Enough precision for any float and for ints of a few hundred digits.
_DECIMAL = decimal.Context(prec=400, rounding=decimal.ROUND_HALF_UP)


def round_half_away(number: Any, digits: Any = None) -> Any:
    """round(x[, n]): half away from zero; an int without digits, a float with them."""
    places = 0 if digits is None else whole(digits)
    if not is_number(number) or places is None:
        return None
    if digits is None and isinstance(number, int):
        return number
    try:
        exact = decimal.Decimal(repr(number) if isinstance(number, float) else number)
        rounded = exact.quantize(decimal.Decimal(1).scaleb(-places), context=_DECIMAL)
        return int(rounded) if digits is None else finite(float(rounded))
    except (decimal.DecimalException, OverflowError, ValueError):
        # inf/nan, or more digits than the context holds.
        return None


def _integral(rounder: Callable[[float], int]) -> Callable[[Any], Any]:
    def run(number: Any) -> Any:
        if not is_number(number):
            return None
        try:
            return rounder(number)
        except (OverflowError, ValueError):
            # floor(inf) or floor(nan).
            return None

    return run


def absolute(number: Any) -> Any:
    """abs(x)."""
    return abs(number) if is_number(number) else None


def smallest(*values: Any) -> Any:
    """min(a, b, ...): nulls ignored; null when the values cannot be compared."""
    return extreme(values, less)


def largest(*values: Any) -> Any:
    """max(a, b, ...): nulls ignored; null when the values cannot be compared."""
    return extreme(values, greater)


# -- text ----------------------------------------------------------------------


def _text_method(method: Callable[[str], Any]) -> Callable[[Any], Any]:
    def run(value: Any) -> Any:
        return method(value) if kind(value) == "text" else None

    return run


def _text_test(method: Callable[[str, str], bool]) -> Callable[[Any, Any], Any]:
    def run(value: Any, part: Any) -> Any:
        return method(value, part) if kind(value) == kind(part) == "text" else None

    return run


def length(value: Any) -> Any:
    """len(s): characters of a text or items of a list."""
    return len(value) if kind(value) in TEXT_OR_LIST else None


def contains(value: Any, part: Any) -> Any:
    """contains(s, part): a text contains a text, or a list holds an equal item."""
    found = kind(value)
    if found == "list":
        return any(equal(item, part) is True for item in value)
    if found == "text" and kind(part) == "text":
        return part in value
    return None


def replace(value: Any, old: Any, new: Any) -> Any:
    """replace(s, old, new): every occurrence; an empty `old` changes nothing."""
    if not kind(value) == kind(old) == kind(new) == "text":
        return None
    return value.replace(old, new) if old else value


def left(value: Any, count: Any) -> Any:
    """left(s, n): the first n characters ('' for n <= 0)."""
    n = whole(count)
    if kind(value) != "text" or n is None:
        return None
    return value[: max(n, 0)]


def right(value: Any, count: Any) -> Any:
    """right(s, n): the last n characters ('' for n <= 0)."""
    n = whole(count)
    if kind(value) != "text" or n is None:
        return None
    return value[-n:] if n > 0 else ""


def concat(*values: Any) -> str:
    """concat(a, b, ...): every value as text, nulls as ''."""
    return "".join(to_text(value) or "" for value in values)


# -- dates ---------------------------------------------------------------------


def today(scope: Scope) -> Any:
    """today(): the scope's date, so results are reproducible."""
    return scope.today


def now(scope: Scope) -> Any:
    """now(): the scope's date and time."""
    return scope.now


def to_date(value: Any) -> dt.date | None:
    """date(x): ISO text (a date or a date and time) or a datetime as a date."""
    if kind(value) != "text":
        return day_of(value)
    text = value.strip()
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        pass
    try:
        return dt.datetime.fromisoformat(text).date()
    except ValueError:
        return None


def days_between(start: Any, end: Any) -> int | None:
    """days_between(a, b): calendar days from a to b (negative when b is earlier)."""
    first, last = day_of(start), day_of(end)
    if first is None or last is None:
        return None
    return (last - first).days


def days_until(scope: Scope, day: Any) -> int | None:
    """days_until(d): calendar days from today to d."""
    return days_between(scope.today, day)


def days_since(scope: Scope, day: Any) -> int | None:
    """days_since(d): calendar days from d to today."""
    return days_between(day, scope.today)


def age(scope: Scope, day: Any) -> int | None:
    """age(d): whole years from d to today (one less before this year's anniversary)."""
    born, current = day_of(day), day_of(scope.today)
    if born is None or current is None:
        return None
    before_birthday = (current.month, current.day) < (born.month, born.day)
    return current.year - born.year - before_birthday


def _part(getter: Callable[[dt.date], int]) -> Callable[[Any], Any]:
    def run(value: Any) -> Any:
        day = day_of(value)
        return None if day is None else getter(day)

    return run


def add_days(day: Any, days: Any) -> Any:
    """add_days(d, n): d moved by n days (whole days for a date)."""
    return shift(day, days) if kind(day) in DAY else None


def add_months(day: Any, months: Any) -> Any:
    """add_months(d, n): the same day n months later, clamped to the month's end."""
    n = whole(months)
    if kind(day) not in DAY or n is None:
        return None
    year, month = divmod(day.year * 12 + day.month - 1 + n, 12)
    if not dt.MINYEAR <= year <= dt.MAXYEAR:
        return None
    last = calendar.monthrange(year, month + 1)[1]
    return day.replace(year=year, month=month + 1, day=min(day.day, last))


# -- aggregates ----------------------------------------------------------------


def count_values(values: Sequence[Any]) -> int:
    """count(...): the non-null values."""
    return sum(1 for value in values if value is not None)


def total(values: Sequence[Any]) -> Any:
    """sum(...): numbers added (others skipped), 0 when there are none."""
    numbers = [value for value in values if is_number(value)]
    try:
        result = sum(numbers)
    except OverflowError:
        # A huge int added to a float.
        return None
    return result if not isinstance(result, float) or math.isfinite(result) else None


def average(values: Sequence[Any]) -> Any:
    """avg(...): the mean of the numbers, null when there are none."""
    numbers = [value for value in values if is_number(value)]
    if not numbers:
        return None
    summed = total(numbers)
    try:
        return None if summed is None else summed / len(numbers)
    except OverflowError:
        return None


def _fn(
    signature: str,
    params: tuple[frozenset[str], ...],
    result: str,
    impl: Callable[..., Any] | None,
    *,
    optional: int = 0,
    variadic: bool = False,
    strict: bool = True,
    volatile: bool = False,
) -> Function:
    name = signature.split("(", 1)[0]
    return Function(
        name, signature, params, result, impl, min_args=len(params) - optional,
        max_args=None if variadic else len(params), strict=strict, volatile=volatile,
    )  # fmt: skip


BUILTIN_FUNCTIONS: tuple[Function, ...] = (
    _fn("if(condition, then, else)", (BOOL, VALUE, VALUE), "branches", None, strict=False),
    _fn("coalesce(a, b, ...)", (VALUE,), "common", None, variadic=True, strict=False),
    _fn("round(number[, digits])", (NUMBER, NUMBER), "number", round_half_away, optional=1),
    _fn("floor(number)", (NUMBER,), "number", _integral(math.floor)),
    _fn("ceil(number)", (NUMBER,), "number", _integral(math.ceil)),
    _fn("abs(number)", (NUMBER,), "number", absolute),
    _fn("min(a, b, ...)", (ORDERED, ORDERED), "common", smallest, variadic=True, strict=False),
    _fn("max(a, b, ...)", (ORDERED, ORDERED), "common", largest, variadic=True, strict=False),
    _fn("len(text)", (TEXT_OR_LIST,), "number", length),
    _fn("lower(text)", (TEXT,), "text", _text_method(str.lower)),
    _fn("upper(text)", (TEXT,), "text", _text_method(str.upper)),
    _fn("trim(text)", (TEXT,), "text", _text_method(str.strip)),
    _fn("contains(text, part)", (TEXT_OR_LIST, VALUE), "bool", contains),
    _fn("starts_with(text, prefix)", (TEXT, TEXT), "bool", _text_test(str.startswith)),
    _fn("ends_with(text, suffix)", (TEXT, TEXT), "bool", _text_test(str.endswith)),
    _fn("replace(text, old, new)", (TEXT, TEXT, TEXT), "text", replace),
    _fn("left(text, count)", (TEXT, NUMBER), "text", left),
    _fn("right(text, count)", (TEXT, NUMBER), "text", right),
    _fn("concat(a, b, ...)", (VALUE,), "text", concat, variadic=True, strict=False),
    _fn("text(value)", (VALUE,), "text", to_text),
    _fn("today()", (), "date", today, volatile=True),
    _fn("now()", (), "datetime", now, volatile=True),
    _fn("date(value)", (DAY_OR_TEXT,), "date", to_date),
    _fn("days_between(start, end)", (DAY, DAY), "number", days_between),
    _fn("days_until(date)", (DAY,), "number", days_until, volatile=True),
    _fn("days_since(date)", (DAY,), "number", days_since, volatile=True),
    _fn("age(date)", (DAY,), "number", age, volatile=True),
    _fn("year(date)", (DAY,), "number", _part(lambda day: day.year)),
    _fn("month(date)", (DAY,), "number", _part(lambda day: day.month)),
    _fn("day(date)", (DAY,), "number", _part(lambda day: day.day)),
    _fn("weekday(date)", (DAY,), "number", _part(dt.date.isoweekday)),
    _fn("add_days(date, days)", (DAY, NUMBER), "same", add_days),
    _fn("add_months(date, months)", (DAY, NUMBER), "same", add_months),
)

#: Scalar functions by lowercase name: the built-ins and plugins' (filled on first read).
FUNCTIONS: Registry[Function] = Registry("calculated-field function")


def register_function(function: Function, *, replace: bool = False) -> None:
    """Make a scalar function available to the expressions of every knowledge base."""
    name = function.name
    if not name.isidentifier() or name != name.lower():
        raise ValidationError(
            f"Function name {name!r} is invalid; use a lowercase identifier such as 'initials'."
        )
    if not replace and (name in FUNCTIONS or name in AGGREGATORS):
        raise ValidationError(
            f"Function {name!r} is already defined; choose another name "
            "(or pass replace=True to override it)."
        )
    FUNCTIONS[name] = function


_AGGREGATES = (
    Aggregator("count", "count(children [where ...]) or count(children.attr)", VALUE, "",
               "number", count_values),
    Aggregator("sum", "sum(children.attr [where ...])", NUMBER, "attr", "number", total),
    Aggregator("avg", "avg(children.attr [where ...])", NUMBER, "attr", "number", average),
    Aggregator("min", "min(children.attr [where ...])", ORDERED, "attr", "same",
               lambda values: extreme(values, less)),
    Aggregator("max", "max(children.attr [where ...])", ORDERED, "attr", "same",
               lambda values: extreme(values, greater)),
    Aggregator("any", "any(children where condition) or any(children.attr)", BOOL,
               "attr_or_where", "bool", lambda values: any(v is True for v in values)),
    Aggregator("all", "all(children where condition) or all(children.attr)", BOOL,
               "attr_or_where", "bool", lambda values: all(v is True for v in values)),
)  # fmt: skip

#: Aggregates by name; min and max are aggregates with one argument, scalars with more.
AGGREGATORS: Mapping[str, Aggregator] = MappingProxyType({a.name: a for a in _AGGREGATES})


def function_names() -> tuple[str, ...]:
    """Every function name (scalar and aggregate), for error messages."""
    return tuple(sorted({*FUNCTIONS, *AGGREGATORS}))

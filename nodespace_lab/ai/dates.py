"""Dates in plain language, resolved by rules relative to a given day.

The model never decides a date: "next Friday" means the same day on every run
and every backend. Conventions (weeks start on Monday):

- "today", "tonight", "tomorrow", "the day after tomorrow";
- "Friday", "on Friday", "this Friday", "by Friday": the next Friday after today;
- "next Friday": the Friday of next week;
- "next week" (its Monday), "next month" (its first day), "end of the week" (Sunday),
  "end of the month" (its last day), "in 3 days", "in two weeks", "in a month";
- "2026-12-03", "3 December", "December 3", "Dec 3rd", "3/12"-style dates are not
  guessed (day/month order differs by country) and are left in the text.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_MONTHS = {
    name: number
    for number in range(1, 13)
    for name in (calendar.month_name[number].lower(), calendar.month_abbr[number].lower())
}
_MONTHS["sept"] = 9
_NUMBERS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
    "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12,
}  # fmt: skip

_DAY = r"(?P<weekday>monday|tuesday|wednesday|thursday|friday|saturday|sunday)"
# Short names only after a word that makes them dates ("I sat down" is not a Saturday).
_SHORT_DAY = r"(?P<weekday>mon|tue|tues|wed|thu|thur|thurs|fri|sat|sun)\.?"
_SHORT_LEAD = r"(?:on|by|due|before|until|this)\s+"
_MONTH = r"(?P<month>" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
_ORDINAL = r"(?P<day>\d{1,2})(?:st|nd|rd|th)?"
_COUNT = r"(?P<count>\d+|" + "|".join(_NUMBERS) + r")"
_LEAD = r"(?:(?:on|by|due|before|until|for)\s+)?"

_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    (name, re.compile(r"\b" + pattern + r"\b", re.IGNORECASE))
    for name, pattern in [
        ("iso", _LEAD + r"(?P<iso>\d{4}-\d{2}-\d{2})"),
        ("day_month", _LEAD + _ORDINAL + r"\s+(?:of\s+)?" + _MONTH + r"(?:,?\s+(?P<year>\d{4}))?"),
        ("month_day", _LEAD + _MONTH + r"\s+" + _ORDINAL + r"(?:,?\s+(?P<year>\d{4}))?"),
        ("after_tomorrow", _LEAD + r"(?:the\s+)?day\s+after\s+tomorrow"),
        ("today", _LEAD + r"(?:today|tonight|this\s+evening)"),
        ("tomorrow", _LEAD + r"tomorrow"),
        ("next_weekday", _LEAD + r"next\s+" + _DAY),
        ("next_weekday", _LEAD + r"next\s+" + _SHORT_DAY),
        ("weekday", _LEAD + r"(?:this\s+(?:coming\s+)?)?" + _DAY),
        ("weekday", _SHORT_LEAD + _SHORT_DAY),
        ("end_week", _LEAD + r"(?:the\s+)?end\s+of\s+(?:the\s+|this\s+)?week"),
        ("end_month", _LEAD + r"(?:the\s+)?end\s+of\s+(?:the\s+|this\s+)?month"),
        ("next_week", _LEAD + r"next\s+week"),
        ("next_month", _LEAD + r"next\s+month"),
        ("in_days", r"in\s+" + _COUNT + r"\s+days?"),
        ("in_weeks", r"in\s+" + _COUNT + r"\s+weeks?"),
        ("in_months", r"in\s+" + _COUNT + r"\s+months?"),
    ]
]


@dataclass(frozen=True, slots=True)
class DateMention:
    """A date found in text: the day it means and where the words were."""

    date: dt.date
    start: int
    end: int
    text: str


def find_date(text: str, today: dt.date) -> DateMention | None:
    """The first date phrase in `text` (leftmost; the more specific wins a tie)."""
    found: list[tuple[int, int, DateMention]] = []
    for rank, (name, pattern) in enumerate(_PATTERNS):
        for match in pattern.finditer(text):
            day = _resolve(name, match, today)
            if day is not None:
                mention = DateMention(day, match.start(), match.end(), match.group(0))
                found.append((match.start(), rank, mention))
                break
    if not found:
        return None
    return min(found, key=lambda item: (item[0], item[1]))[2]


def _resolve(name: str, match: re.Match[str], today: dt.date) -> dt.date | None:
    groups = match.groupdict()
    if name == "iso":
        return _safe_date(*map(int, groups["iso"].split("-")))
    if name in ("day_month", "month_day"):
        return _calendar_day(groups, today)
    if name in ("weekday", "next_weekday"):
        return _weekday(groups["weekday"], today, next_week=name == "next_weekday")
    if name.startswith("in_"):
        return _shift(today, name, _count(groups["count"]))
    fixed: dt.date = _FIXED[name](today)
    return fixed


def _calendar_day(groups: dict[str, str | None], today: dt.date) -> dt.date | None:
    month = _MONTHS[str(groups["month"]).lower().rstrip(".")]
    day = int(str(groups["day"]))
    if groups.get("year"):
        return _safe_date(int(str(groups["year"])), month, day)
    this_year = _safe_date(today.year, month, day)
    if this_year is not None and this_year >= today:
        return this_year
    return _safe_date(today.year + 1, month, day)  # a day already past means next year's


def _weekday(word: str | None, today: dt.date, *, next_week: bool) -> dt.date:
    target = next(i for i, name in enumerate(WEEKDAYS) if name.startswith(str(word).lower()[:3]))
    if next_week:
        monday = today - dt.timedelta(days=today.weekday()) + dt.timedelta(weeks=1)
        return monday + dt.timedelta(days=target)
    ahead = (target - today.weekday()) % 7 or 7
    return today + dt.timedelta(days=ahead)


def _shift(today: dt.date, unit: str, count: int) -> dt.date:
    if unit == "in_days":
        return today + dt.timedelta(days=count)
    if unit == "in_weeks":
        return today + dt.timedelta(weeks=count)
    month_index = today.month - 1 + count
    year, month = today.year + month_index // 12, month_index % 12 + 1
    return dt.date(year, month, min(today.day, calendar.monthrange(year, month)[1]))


def _count(word: str | None) -> int:
    text = str(word).lower()
    return int(text) if text.isdigit() else _NUMBERS[text]


def _safe_date(year: int, month: int, day: int) -> dt.date | None:
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None  # "31 February" is not a date: leave the words alone


def _end_of_month(today: dt.date) -> dt.date:
    return today.replace(day=calendar.monthrange(today.year, today.month)[1])


def _next_month(today: dt.date) -> dt.date:
    return (_end_of_month(today) + dt.timedelta(days=1)).replace(day=1)


_FIXED = {
    "today": lambda today: today,
    "tomorrow": lambda today: today + dt.timedelta(days=1),
    "after_tomorrow": lambda today: today + dt.timedelta(days=2),
    "end_week": lambda today: today + dt.timedelta(days=6 - today.weekday()),
    "end_month": _end_of_month,
    "next_week": lambda today: today + dt.timedelta(days=7 - today.weekday()),
    "next_month": _next_month,
}

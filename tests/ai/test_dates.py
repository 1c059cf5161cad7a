"""Plain-language dates resolve by rules, the same on every run."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nodespace_lab.ai.dates import WEEKDAYS, find_date

THURSDAY = dt.date(2026, 11, 26)


@pytest.mark.parametrize(
    ("text", "day", "words"),
    [
        ("email Ana next Friday, high priority", "2026-12-04", "next Friday"),
        ("call Bob tomorrow", "2026-11-27", "tomorrow"),
        ("the day after tomorrow we ship", "2026-11-28", "the day after tomorrow"),
        ("Friday standup", "2026-11-27", "Friday"),
        ("on Thursday", "2026-12-03", "on Thursday"),  # today is Thursday: the next one
        ("pay rent by the end of the month", "2026-11-30", "by the end of the month"),
        ("finish by the end of the week", "2026-11-29", "by the end of the week"),
        ("submit on Dec 3rd", "2026-12-03", "on Dec 3rd"),
        ("party on 3 January", "2027-01-03", "on 3 January"),  # Jan 3 has passed this year
        ("meet on 3 December 2027", "2027-12-03", "on 3 December 2027"),
        ("wrap gifts on 2026-12-24", "2026-12-24", "on 2026-12-24"),
        ("review in two weeks", "2026-12-10", "in two weeks"),
        ("renew in 3 months", "2027-02-26", "in 3 months"),
        ("plan next week", "2026-11-30", "next week"),
        ("due wed", "2026-12-02", "due wed"),
        ("tonight: laundry", "2026-11-26", "tonight"),
    ],
)
def test_phrases_resolve_relative_to_today(text: str, day: str, words: str) -> None:
    mention = find_date(text, THURSDAY)
    assert mention is not None
    assert (mention.date.isoformat(), mention.text.strip()) == (day, words)
    assert text[mention.start : mention.end] == mention.text


@pytest.mark.parametrize(
    "text", ["I sat down with the team", "the sun deck", "31 February party", "3/12 maybe", ""]
)
def test_words_that_are_not_dates_are_left_alone(text: str) -> None:
    assert find_date(text, THURSDAY) is None


def test_month_end_shifts_clamp_to_the_last_day() -> None:
    mention = find_date("in a month", dt.date(2027, 1, 31))
    assert mention is not None and mention.date == dt.date(2027, 2, 28)


@given(
    st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2100, 1, 1)),
    st.sampled_from(WEEKDAYS),
)
def test_weekdays_land_on_that_day_within_two_weeks(today: dt.date, weekday: str) -> None:
    plain = find_date(f"on {weekday}", today)
    following = find_date(f"next {weekday}", today)
    assert plain is not None and following is not None
    assert plain.date.weekday() == following.date.weekday() == WEEKDAYS.index(weekday)
    assert 1 <= (plain.date - today).days <= 7
    assert 1 <= (following.date - today).days <= 13
    # "next X" is in next week (Monday start), never this week.
    assert following.date.isocalendar()[:2] != today.isocalendar()[:2]

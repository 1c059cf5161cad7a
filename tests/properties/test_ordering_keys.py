"""Properties of the fractional ordering keys that order siblings."""

from __future__ import annotations

import itertools

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nodespace_lab.nodes.ordering import DIGITS, FIRST_KEY, is_valid_key, key_between, keys_after

SMALLEST = "A" + "0" * 26

# Where the next key goes: an index into the current list, always-first, always-last,
# or always the same slot (which makes fractions grow fastest).
_SPOT = st.one_of(
    st.integers(0, 10_000).map(lambda i: ("at", i)),
    st.just(("first", 0)),
    st.just(("last", 0)),
    st.just(("same", 0)),
)


def _head_length(head: str) -> int:
    # Written from the documented format, not imported: a..z hold 2..27 chars, Z..A 2..27.
    return ord(head) - ord("a") + 2 if head.islower() else ord("Z") - ord(head) + 2


@st.composite
def valid_keys(draw: st.DrawFn) -> str:
    """Any well-formed key: head, integer digits of the head's length, fraction w/o a final 0."""
    head = draw(st.sampled_from("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"))
    digits = draw(
        st.text(
            st.sampled_from(DIGITS),
            min_size=_head_length(head) - 1,
            max_size=_head_length(head) - 1,
        )
    )
    fraction = draw(st.text(st.sampled_from(DIGITS), max_size=6))
    return head + digits + fraction.rstrip("0")


@settings(max_examples=60, deadline=None)
@given(spots=st.lists(_SPOT, min_size=1, max_size=250))
def test_random_inserts_keep_keys_sorted_unique_and_valid(spots: list[tuple[str, int]]) -> None:
    keys: list[str] = []
    for how, i in spots:
        at = {"first": 0, "last": len(keys), "same": len(keys) // 2}.get(how, i % (len(keys) + 1))
        before = keys[at - 1] if at > 0 else None
        after = keys[at] if at < len(keys) else None
        key = key_between(before, after)
        assert is_valid_key(key), key
        assert before is None or before < key
        assert after is None or key < after
        keys.insert(at, key)
    assert keys == sorted(keys)
    assert len(set(keys)) == len(keys)
    assert all(is_valid_key(k) for k in keys)


@settings(max_examples=200, deadline=None)
@given(a=valid_keys(), b=valid_keys())
def test_key_between_any_two_valid_keys(a: str, b: str) -> None:
    assert is_valid_key(a) and is_valid_key(b)
    if a == b:
        return
    low, high = min(a, b), max(a, b)
    middle = key_between(low, high)
    assert low < middle < high
    assert is_valid_key(middle)
    if low == SMALLEST:
        with pytest.raises(ValueError, match="smallest"):
            key_between(None, low)
    else:
        assert key_between(None, low) < low
        assert is_valid_key(key_between(None, low))
    assert key_between(high, None) > high
    assert is_valid_key(key_between(high, None))


@settings(max_examples=100, deadline=None)
@given(a=valid_keys(), b=valid_keys())
def test_key_between_refuses_reversed_or_equal_bounds(a: str, b: str) -> None:
    low, high = min(a, b), max(a, b)
    try:
        key_between(high, low)
    except ValueError:
        pass
    else:
        raise AssertionError(f"key_between({high!r}, {low!r}) accepted bounds out of order")


def test_long_runs_of_appends_and_prepends_stay_short() -> None:
    keys = [FIRST_KEY]
    for _ in range(5_000):
        keys.append(key_between(keys[-1], None))
        keys.insert(0, key_between(None, keys[0]))
    assert keys == sorted(keys) and len(set(keys)) == len(keys)
    assert max(len(k) for k in keys) <= 4


@settings(max_examples=80, deadline=None)
@given(
    base=st.one_of(st.none(), valid_keys()),
    count=st.one_of(st.integers(1, 70), st.sampled_from([61, 62, 63, 3843, 3844, 3845, 5000])),
)
def test_keys_after_sort_by_rank_and_follow_base(base: str | None, count: int) -> None:
    ranks = pl.Series("rank", range(count), dtype=pl.Int64)
    keys = keys_after(base, ranks).to_list()
    assert len(keys) == count
    assert keys == sorted(keys), "keys must sort by rank"
    assert len(set(keys)) == count
    assert all(is_valid_key(k) for k in keys)
    if base is not None:
        assert keys[0] > base
    # The next single append goes after every bulk key.
    following = key_between(keys[-1], None)
    assert following > keys[-1]
    # And a key can still be placed between any two neighbours.
    for left, right in itertools.pairwise(keys[:51]):
        assert left < key_between(left, right) < right


@settings(max_examples=50, deadline=None)
@given(
    base=st.one_of(st.none(), valid_keys()),
    ranks=st.lists(st.integers(0, 300_000), min_size=1, max_size=40, unique=True),
)
def test_keys_after_arbitrary_ranks_keep_rank_order(base: str | None, ranks: list[int]) -> None:
    keys = keys_after(base, pl.Series(ranks, dtype=pl.Int64)).to_list()
    by_rank = [k for _, k in sorted(zip(ranks, keys, strict=True))]
    assert by_rank == sorted(keys)
    assert len(set(keys)) == len(keys)
    assert all(is_valid_key(k) and (base is None or k > base) for k in keys)


def test_nothing_sorts_before_the_smallest_key() -> None:
    assert is_valid_key(SMALLEST)
    with pytest.raises(ValueError, match="smallest"):
        key_between(None, SMALLEST)
    assert key_between(SMALLEST, None) > SMALLEST
    largest = "z" + "z" * 26
    assert is_valid_key(largest)
    after = key_between(largest, None)
    assert after > largest and is_valid_key(after)

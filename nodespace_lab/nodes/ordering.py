"""Fractional ordering keys: a move or insert rewrites only the moved row.

A key is a head character giving the length of an integer part, the integer
digits, then an optional fraction with no trailing zero. Appending increments
the integer part, so keys stay short (O(log n)) for long runs of appends;
inserting between two keys extends the fraction.
"""

from __future__ import annotations

import polars as pl

DIGITS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
BASE = len(DIGITS)
_INDEX = {ch: i for i, ch in enumerate(DIGITS)}
FIRST_KEY = "a0"


def _int_length(head: str) -> int:
    if "a" <= head <= "z":
        return ord(head) - ord("a") + 2
    if "A" <= head <= "Z":
        return ord("Z") - ord(head) + 2
    raise ValueError(f"invalid ordering key head {head!r}")


def _split(key: str) -> tuple[str, str]:
    n = _int_length(key[0])
    if len(key) < n:
        raise ValueError(f"invalid ordering key {key!r}")
    return key[:n], key[n:]


def is_valid_key(key: str) -> bool:
    """True when `key` is a well-formed ordering key."""
    try:
        integer, fraction = _split(key)
    except (ValueError, IndexError):
        return False
    digits_ok = all(ch in _INDEX for ch in integer[1:] + fraction)
    return digits_ok and not fraction.endswith("0")


def _midpoint(a: str, b: str | None) -> str:
    """A fraction strictly between fractions `a` and `b` (None: no upper bound)."""
    if b is not None:
        n = 0
        while n < len(b) and (a[n] if n < len(a) else "0") == b[n]:
            n += 1
        if n > 0:
            return b[:n] + _midpoint(a[n:], b[n:])
    low = _INDEX[a[0]] if a else 0
    high = _INDEX[b[0]] if b is not None else BASE
    if high - low > 1:
        return DIGITS[(low + high) // 2]
    if b is not None and len(b) > 1:
        return b[:1]
    return DIGITS[low] + _midpoint(a[1:], None)


def _increment(integer: str) -> str | None:
    head, digits = integer[0], list(integer[1:])
    for i in range(len(digits) - 1, -1, -1):
        if digits[i] != DIGITS[-1]:
            digits[i] = DIGITS[_INDEX[digits[i]] + 1]
            return head + "".join(digits)
        digits[i] = "0"
    if head == "Z":
        return "a0"
    if head == "z":
        return None
    head = chr(ord(head) + 1)
    if head > "a":
        digits.append("0")
    else:
        digits.pop()
    return head + "".join(digits)


def _decrement(integer: str) -> str | None:
    head, digits = integer[0], list(integer[1:])
    for i in range(len(digits) - 1, -1, -1):
        if digits[i] != "0":
            digits[i] = DIGITS[_INDEX[digits[i]] - 1]
            return head + "".join(digits)
        digits[i] = DIGITS[-1]
    if head == "a":
        return "Z" + DIGITS[-1]
    if head == "A":
        return None
    head = chr(ord(head) - 1)
    if head < "Z":
        digits.append(DIGITS[-1])
    else:
        digits.pop()
    return head + "".join(digits)


def key_between(before: str | None, after: str | None) -> str:
    """A key strictly between `before` and `after` (None means open-ended)."""
    if before is not None and after is not None and before >= after:
        raise ValueError(f"ordering keys out of order: {before!r} >= {after!r}")
    if before is None and after is None:
        return FIRST_KEY
    if before is None:
        assert after is not None
        integer, fraction = _split(after)
        if fraction:
            return integer
        lower = _decrement(integer)
        if lower is None:
            # `after` is the smallest key there is ("A" + zeros): nothing sorts before it.
            raise ValueError(f"no ordering key sorts before the smallest key {after!r}")
        return lower
    integer, fraction = _split(before)
    if after is None:
        higher = _increment(integer)
        return higher if higher is not None else integer + _midpoint(fraction, None)
    after_integer, after_fraction = _split(after)
    if integer == after_integer:
        return integer + _midpoint(fraction, after_fraction)
    higher = _increment(integer)
    if higher is not None and higher < after:
        return higher
    return integer + _midpoint(fraction, None)


def keys_after(base: str | None, ranks: pl.Series) -> pl.Series:
    """Vectorised keys for bulk inserts: one key per 0-based rank, all after `base`.

    Key i is `base` + rank i in fixed-width digits + a final non-zero digit, so
    the keys sort by rank, stay after `base`, and are valid fractions.
    """
    prefix = base if base is not None else FIRST_KEY
    largest = int(ranks.max() or 0) if len(ranks) else 0  # type: ignore[arg-type]
    width = 1
    while BASE**width <= largest:
        width += 1
    lookup = pl.Series(list(DIGITS))
    parts = [
        lookup.gather((ranks // BASE**power % BASE).cast(pl.UInt32))
        for power in range(width - 1, -1, -1)
    ]
    frame = pl.DataFrame({f"d{i}": part for i, part in enumerate(parts)})
    joined = frame.select(pl.concat_str(pl.all()).alias("key"))["key"]
    return prefix + joined + "V"

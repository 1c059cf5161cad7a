"""Sortable unique node ids: 10 characters of time, 16 of randomness.

Lowercase Crockford base32, so ids sort by creation time and a `[[id]]`
reference is unchanged by the case-folding applied to reference keys.
"""

from __future__ import annotations

import os
import threading
import time

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
_lock = threading.Lock()
_last = (0, 0)


def _encode(value: int, width: int) -> str:
    chars = []
    for _ in range(width):
        value, digit = divmod(value, 32)
        chars.append(_ALPHABET[digit])
    return "".join(reversed(chars))


def new_id() -> str:
    """A new id, strictly greater than every earlier id from this process."""
    global _last
    with _lock:
        millis = time.time_ns() // 1_000_000
        last_millis, last_random = _last
        if millis <= last_millis:
            millis, random_part = last_millis, last_random + 1
        else:
            random_part = int.from_bytes(os.urandom(10)) >> 1
        _last = (millis, random_part)
    return _encode(millis, 10) + _encode(random_part, 16)

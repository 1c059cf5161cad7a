"""How much change-feed data a websocket client may leave unread.

A client that stops reading makes its server buffer every message written to
it (tornado's write buffer has no limit): measured before this bound, three
stalled feeds and 150 change sets of 0.9 MB took the service from 352 to
1,132 MB. The service, and the Jupyter server relaying the feed to a browser,
count the bytes and messages written but not yet taken by the socket; a client
past either limit is closed with `FEED_BEHIND` and the sequence number of the
last change set written to it, which it reads before the close frame. It then
reconnects with `since=<that number>` and gets the rest from the change log.
"""

from __future__ import annotations

import re
from asyncio import Future
from dataclasses import dataclass
from typing import Any

FEED_BEHIND = 4002  # websocket close code: the client fell behind; resume with since=N
MB = 1024 * 1024
_SEQ = re.compile(r'\{"\$type": "changeset", "value": \{"seq": (\d+)')


def behind_reason(seq: int) -> str:
    """The close reason of a client that fell behind (at most 123 bytes, as RFC 6455 allows)."""
    return f"fell behind; last seq sent {seq}; reconnect with since={seq}"


def seq_in_reason(reason: str | None) -> int | None:
    """The sequence number of a `behind_reason`, or None."""
    if not reason or "since=" not in reason:
        return None
    tail = reason.rsplit("since=", 1)[1]
    return int(tail) if tail.isdigit() else None


def changeset_seq(message: str | bytes) -> int | None:
    """The seq of a feed message (`json.dumps(encode(change))`) without parsing all of it.

    Relies on codec's `_changeset_json` putting `seq` first; None for anything else.
    """
    head = message[:80]
    match = _SEQ.match(head.decode("ascii", "replace") if isinstance(head, bytes) else head)
    return int(match.group(1)) if match else None


@dataclass
class Backlog:
    """Bytes and messages written to one websocket and not yet flushed to its socket."""

    max_bytes: int
    max_messages: int
    bytes: int = 0
    messages: int = 0

    @classmethod
    def from_settings(cls, service: Any) -> Backlog:
        """The limits of `service` settings (`feed_max_pending_mb`, `feed_max_pending_messages`)."""
        return cls(service.feed_max_pending_mb * MB, int(service.feed_max_pending_messages))

    def admits(self, size: int) -> bool:
        """True when a message of `size` bytes fits; one message always fits an empty backlog.

        (A single change set larger than the limit must still reach the client,
        or it would be disconnected on every reconnection.)
        """
        if self.messages == 0:
            return True
        return self.bytes + size <= self.max_bytes and self.messages < self.max_messages

    def track(self, size: int, written: Future[None]) -> None:
        """Count a message of `size` bytes until the future of its write resolves."""
        self.bytes += size
        self.messages += 1

        def flushed(future: Future[None]) -> None:
            self.bytes -= size
            self.messages -= 1
            if not future.cancelled():
                future.exception()  # retrieved: a closed socket is not an error here

        written.add_done_callback(flushed)

    def describe(self) -> str:
        """'N messages, X MB unread' for log lines."""
        return f"{self.messages} messages, {self.bytes / MB:.1f} MB unread"

"""A feed client that stops reading cannot make the service buffer without limit.

Issue 12, hole 6: three stalled websockets and 150 updates of 0.9 MB took the
service from 352 to 1,132 MB. Now each client may leave at most
`service.feed_max_pending_mb` (16 MB) unread; past it the service closes it
with code 4002 and the seq of the last change set written to it, and the
client resumes from the change log with `since=<that seq>`.

These tests use only the public protocol (no import of the new modules), so
they can also be run against an older service to show what they catch.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
from tornado.httpclient import HTTPRequest
from tornado.websocket import WebSocketClientConnection, websocket_connect

from nodespace_lab.graph import ChangeSet
from nodespace_lab.service.api import PREFIX

from ..processes import run_in_own_loop
from .running import PeakRSS, RunningService, start_service

MB = 1024 * 1024
FEED_BEHIND = 4002
SIZE = 900_000  # bytes of content per update, as in the issue
WORDS = ["levain", "starter", "flour", "water", "salt", "crumb", "crust", "proof", "bake", "fold"]


LIMIT_MB = 8  # service.feed_max_pending_mb of the test services (default 16)
SETTINGS = {
    "NODESPACE_STORAGE_BUFFER_POOL_MB": "512",  # 64 MB cannot hold these large notes
    "NODESPACE_SERVICE_FEED_MAX_PENDING_MB": str(LIMIT_MB),
}
UPDATES = 30
FEEDS = 6


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningService]:
    """A service with a small feed limit, and a buffer pool that holds these large notes."""
    running = _start(tmp_path_factory.mktemp("feed"))
    yield running
    if running.process.poll() is None:
        running.stop()


def _content(i: int) -> str:
    words = (WORDS[(i + k) % len(WORDS)] for k in range(SIZE // 6))
    return f"version {i} " + " ".join(words)[:SIZE]


def _log_text(service: RunningService) -> str:
    return (service.kb_path.parent / "service.log").read_text(errors="replace")


def _behind_count(service: RunningService) -> int:
    return _log_text(service).count("fell behind")


async def _connect(service: RunningService, since: int | None = None) -> WebSocketClientConnection:
    query = "" if since is None else f"?since={since}"
    url = service.info.url.replace("http", "ws", 1) + f"{PREFIX}/feed{query}"
    headers = {"Authorization": f"token {service.info.token}"}
    return await websocket_connect(HTTPRequest(url, headers=headers))


def _seq(message: str | bytes) -> int:
    return int(json.loads(message)["value"]["seq"])


async def _read_until_closed(socket: WebSocketClientConnection, timeout: float) -> list[int]:
    """The seqs of every message until the service closes the socket (fails on time-out)."""
    seqs: list[int] = []
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        assert left > 0, f"the socket was not closed within {timeout:.0f} s ({len(seqs)} read)"
        message = await asyncio.wait_for(socket.read_message(), left)
        if message is None:
            return seqs
        seqs.append(_seq(message))


async def _read_until(socket: WebSocketClientConnection, last: int, timeout: float) -> list[int]:
    seqs: list[int] = []
    while not seqs or seqs[-1] < last:
        message = await asyncio.wait_for(socket.read_message(), timeout)
        assert message is not None, f"closed after {seqs[-1:]} before seq {last}"
        seqs.append(_seq(message))
    return seqs


def _burst(service: RunningService, count: int) -> Callable[[], int]:
    """A function writing `count` updates of 0.9 MB to one node; returns the newest seq."""

    def run() -> int:
        writer = service.client()
        try:
            node = writer.create("text", "a large note")
            for i in range(count):
                writer.update(node.id, content=_content(i))
            return writer.seq
        finally:
            writer.close()

    return run


def _rss(service: RunningService) -> int:
    return int(psutil.Process(service.info.pid).memory_info().rss)


def _start(tmp: Path) -> RunningService:
    tmp.mkdir(parents=True, exist_ok=True)
    return start_service(tmp, settings=SETTINGS)


async def _drain(socket: WebSocketClientConnection) -> None:
    while await socket.read_message() is not None:
        pass


def _peak_growth(tmp: Path, stalled: bool) -> tuple[int, list[list[int]]]:
    """Peak RSS growth of a fresh service during a burst with FEEDS feeds; their seqs.

    `stalled`: the feeds never read (until after the burst); otherwise they read
    everything as it comes, so only the unread backlog differs between the two.
    """
    running = _start(tmp)

    async def scenario() -> tuple[int, list[list[int]]]:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, _burst(running, 2))  # warm-up: first-use caches
        sockets = [await _connect(running) for _ in range(FEEDS)]
        readers = [] if stalled else [asyncio.ensure_future(_drain(s)) for s in sockets]
        before = _rss(running)
        with PeakRSS(running.info.pid) as rss:
            await loop.run_in_executor(None, _burst(running, UPDATES))
        print(f"\n{'stalled' if stalled else 'reading'}: +{(rss.peak - before) / MB:.0f} MB")
        for reader in readers:
            reader.cancel()
        if not stalled:
            return rss.peak - before, []
        # Closed for falling behind (tornado drops a client that never answers the
        # close frame 5 s later); reading now gets what was queued, then the end.
        return rss.peak - before, [await _read_until_closed(s, timeout=60) for s in sockets]

    try:
        return run_in_own_loop(scenario())
    finally:
        running.stop()


def test_stalled_feed_clients_cost_bounded_memory(tmp_path: Path) -> None:
    reading, _ = _peak_growth(tmp_path / "reading", stalled=False)
    stalled, received = _peak_growth(tmp_path / "stalled", stalled=True)
    sent = FEEDS * UPDATES * 2 * SIZE / MB  # each change set holds the text before and after
    print(
        f"service RSS growth, {UPDATES} updates of 0.9 MB to {FEEDS} feeds ({sent:.0f} MB "
        f"sent): feeds reading +{reading / MB:.0f} MB, feeds stalled +{stalled / MB:.0f} MB "
        f"(limit {LIMIT_MB} MB per feed; the issue: 352 -> 1,132 MB with 3 feeds, 150 updates)"
    )
    assert stalled - reading < 150 * MB, f"stalled feeds cost {(stalled - reading) / MB:.0f} MB"
    for seqs in received:
        assert 0 < len(seqs) < UPDATES and seqs == sorted(seqs)  # cut off, not buffered


def test_a_stalled_replay_is_closed_with_its_seq(service: RunningService) -> None:
    """A client replaying the log that reads nothing is closed, not buffered for."""
    start = service.client().seq
    final = _burst(service, 12)()

    async def scenario() -> tuple[list[int], list[int], Any, Any]:
        behind = _behind_count(service)
        socket = await _connect(service, since=start)
        deadline = time.monotonic() + 30  # the replay waits 10 s for a reader
        while _behind_count(service) == behind:
            assert time.monotonic() < deadline, "the stalled replay was not closed"
            await asyncio.sleep(0.1)
        first = await _read_until_closed(socket, timeout=30)
        code, reason = socket.close_code, socket.close_reason
        resumed = await _connect(service, since=first[-1])
        rest = await _read_until(resumed, final, timeout=60)
        resumed.close()
        return first, rest, code, reason

    first, rest, code, reason = run_in_own_loop(scenario())
    assert code == FEED_BEHIND and str(first[-1]) in (reason or "")
    assert first + rest == list(range(start + 1, final + 1))


def test_a_client_that_fell_behind_gets_its_seq_and_resumes_exactly_once(
    service: RunningService,
) -> None:
    start = service.client().seq

    async def scenario() -> tuple[list[int], list[int], Any, Any, int]:
        behind_before = _behind_count(service)
        socket = await _connect(service, since=start)  # stalled from the start
        loop = asyncio.get_running_loop()
        burst = loop.run_in_executor(None, _burst(service, 20))
        while _behind_count(service) == behind_before:  # the service closes it now
            assert not burst.done(), "the burst ended and the client never fell behind"
            await asyncio.sleep(0.05)
        first = await _read_until_closed(socket, timeout=30)
        code, reason = socket.close_code, socket.close_reason
        resumed = await _connect(service, since=first[-1])
        # Read while the burst goes on: one create and 20 updates, one change set each.
        rest = await _read_until(resumed, start + 21, timeout=60)
        final = await burst
        resumed.close()
        return first, rest, code, reason, final

    first, rest, code, reason, final = run_in_own_loop(scenario())
    assert code == FEED_BEHIND
    numbers = [int(n) for n in re.findall(r"\d+", reason or "")]
    assert first[-1] in numbers, f"{reason!r} does not name the last seq read, {first[-1]}"
    assert first + rest == list(range(start + 1, final + 1))  # each once, in order


def test_the_python_client_resumes_after_falling_behind(service: RunningService) -> None:
    client = service.client()
    start = client.seq
    seen: list[int] = []

    def slow(change: ChangeSet) -> None:
        if len(seen) < 3:
            time.sleep(3)  # stops reading long enough for the service to close it
        seen.append(change.seq)

    behind_before = _behind_count(service)
    stop = client.follow(slow, since=start)
    try:
        final = _burst(service, 20)()
        deadline = time.monotonic() + 120
        while (not seen or seen[-1] < final) and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        stop()
        client.close()
    assert _behind_count(service) > behind_before, "the slow client never fell behind"
    assert seen == list(range(start + 1, final + 1))


@pytest.mark.parametrize("since", [None, 0])
def test_a_fresh_client_still_gets_the_feed(service: RunningService, since: int | None) -> None:
    async def scenario() -> list[int]:
        socket = await _connect(service, since=since)
        loop = asyncio.get_running_loop()
        final = await loop.run_in_executor(None, _burst(service, 2))
        seqs = await _read_until(socket, final, timeout=30)
        socket.close()
        return seqs

    seqs = run_in_own_loop(scenario())
    assert seqs == sorted(set(seqs)) and seqs[0] == (1 if since == 0 else seqs[0])

"""The Jupyter server's relay of the change feed cannot be made to buffer without limit.

Issue 12, hole 6, on the browser's side: the relay (`FeedHandler` in
nodespace_lab/jupyter/handlers.py) reads the service's feed at once and writes
it to the browser; a browser that stops reading would make the Jupyter server
hold everything. It is closed with 4002 and the last seq relayed to it once its
unread backlog passes `service.feed_max_pending_mb`; a 4002 of the service to
the relay is passed on. A real `jupyter server` with the extension and its real
service; writes go straight to the service, as a notebook's would.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
from tornado.httpclient import HTTPRequest
from tornado.websocket import WebSocketClientConnection, websocket_connect

from nodespace_lab.service.client import RemoteKnowledgeBase

from ..processes import free_port, jupyter_command, run_in_own_loop, wait_until_up
from ..service.running import PeakRSS, service_env
from .test_server_extension import Server

MB = 1024 * 1024
FEED_BEHIND = 4002
LIMIT_MB = 8  # service.feed_max_pending_mb of the relay (and of the service)
SIZE = 900_000  # bytes of content per update, as in the issue
WORDS = ["levain", "starter", "flour", "water", "salt", "crumb", "crust", "proof", "bake", "fold"]
SETTINGS = {
    "NODESPACE_STORAGE_BUFFER_POOL_MB": "512",  # 64 MB cannot hold these large notes
    "NODESPACE_SERVICE_FEED_MAX_PENDING_MB": str(LIMIT_MB),
}
RELAY_BEHIND = "a browser's change feed fell behind"  # the relay's log line
SERVICE_BEHIND = re.compile(r"feed client \S+ fell behind")  # the service's


def _start(base: Path) -> Server:
    """`jupyter server` with the extension on `base/kb`, the test feed limit in its settings."""
    token, port = secrets.token_hex(16), free_port()
    env = {
        **service_env(base),
        **SETTINGS,
        "NODESPACE_KB": str(base / "kb"),
        "JUPYTER_RUNTIME_DIR": str(base / "jupyter-runtime"),
    }
    log = (base / "server.log").open("wb")  # the service, its child, logs here too
    command = jupyter_command("jupyter_server", port, token, base)
    process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    log.close()
    running = Server(
        process, f"http://127.0.0.1:{port}", token, (base / "kb").resolve(), base / "runtime"
    )
    wait_until_up(f"{running.url}/api/status?token={token}", process)
    running.wait_running()
    return running


def _stop(server: Server) -> None:
    if server.process.poll() is None:
        server.process.send_signal(signal.SIGCONT)  # in case a test left it stopped
        server.process.send_signal(signal.SIGTERM)
        server.process.wait(30)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One Jupyter server (and service) for the tests that do not measure memory."""
    running = _start(tmp_path_factory.mktemp("relay"))
    yield running
    _stop(running)


def _log(server: Server) -> str:
    return (server.kb_path.parent / "server.log").read_text(errors="replace")


def _client(server: Server) -> RemoteKnowledgeBase:
    """A client of the service itself (writes do not go through the Jupyter server)."""
    return RemoteKnowledgeBase(server.service_info())


def _content(i: int) -> str:
    words = (WORDS[(i + k) % len(WORDS)] for k in range(SIZE // 6))
    return f"version {i} " + " ".join(words)[:SIZE]


def _burst(server: Server, count: int) -> int:
    """Create a note and update it `count` times with 0.9 MB; the newest seq."""
    writer = _client(server)
    try:
        node = writer.create("text", "a large note")
        for i in range(count):
            writer.update(node.id, content=_content(i))
        return writer.seq
    finally:
        writer.close()


async def _connect(server: Server, since: int) -> WebSocketClientConnection:
    """The browser's side: the relay's feed, with the Jupyter token."""
    url = server.url.replace("http", "ws", 1) + f"/nodespace/api/v1/feed?since={since}"
    request = HTTPRequest(url, headers={"Authorization": f"token {server.token}"})
    return await websocket_connect(request)


def _seq(message: str | bytes) -> int:
    return int(json.loads(message)["value"]["seq"])


async def _read_until_closed(socket: WebSocketClientConnection, timeout: float) -> list[int]:
    """The seqs of every message until the relay closes the socket (fails on time-out)."""
    seqs: list[int] = []
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        assert left > 0, f"the relay did not close the feed within {timeout:.0f} s"
        message = await asyncio.wait_for(socket.read_message(), left)
        if message is None:
            return seqs
        seqs.append(_seq(message))


async def _read_until(socket: WebSocketClientConnection, last: int, timeout: float) -> list[int]:
    seqs: list[int] = []
    while not seqs or seqs[-1] < last:
        message = await asyncio.wait_for(socket.read_message(), timeout)
        assert message is not None, f"closed ({socket.close_code}) after {seqs[-1:]}"
        seqs.append(_seq(message))
    return seqs


async def _wait_for_log(server: Server, found: Any, before: int, timeout: float) -> None:
    """Wait until `found(log text)` counts more than `before` lines."""
    deadline = time.monotonic() + timeout
    while found(_log(server)) <= before:
        assert time.monotonic() < deadline, "the expected 'fell behind' line was not logged"
        await asyncio.sleep(0.02)


def _relay_behind(text: str) -> int:
    return text.count(RELAY_BEHIND)


def _service_behind(text: str) -> int:
    return len(SERVICE_BEHIND.findall(text))


def test_a_browser_that_stops_reading_is_closed_with_its_last_seq(server: Server) -> None:
    start = _client(server).seq

    async def scenario() -> tuple[list[int], list[int], Any, Any, int]:
        before = _relay_behind(_log(server))
        socket = await _connect(server, since=start)  # reads nothing during the burst
        loop = asyncio.get_running_loop()
        final = await loop.run_in_executor(None, _burst, server, 20)  # 20 x 1.8 MB sent
        await _wait_for_log(server, _relay_behind, before, timeout=30)
        first = await _read_until_closed(socket, timeout=30)
        code, reason = socket.close_code, socket.close_reason
        resumed = await _connect(server, since=first[-1])
        rest = await _read_until(resumed, final, timeout=60)
        resumed.close()
        return first, rest, code, reason, final

    first, rest, code, reason, final = run_in_own_loop(scenario())
    assert code == FEED_BEHIND, f"closed with {code} ({reason!r})"
    assert f"last seq sent {first[-1]}" in (reason or ""), (reason, first[-1])
    assert 0 < len(first) < 21, f"{len(first)} change sets buffered for a stalled browser"
    assert first + rest == list(range(start + 1, final + 1))  # each once, in order


def test_a_browser_that_reads_keeps_up_and_gets_every_seq(server: Server) -> None:
    start = _client(server).seq

    async def scenario() -> tuple[list[int], int]:
        before = _relay_behind(_log(server))
        socket = await _connect(server, since=start)
        reader = asyncio.ensure_future(_read_until(socket, start + 21, timeout=60))
        final = await asyncio.get_running_loop().run_in_executor(None, _burst, server, 20)
        seqs = await reader
        socket.close()
        assert _relay_behind(_log(server)) == before, "a reading browser was closed"
        return seqs, final

    seqs, final = run_in_own_loop(scenario())
    assert seqs == list(range(start + 1, final + 1))


def test_a_4002_of_the_service_is_passed_on_to_the_browser(server: Server) -> None:
    """The Jupyter server itself stops reading (SIGSTOP): the service closes it with 4002."""
    start = _client(server).seq
    jupyter = server.process.pid

    async def scenario() -> tuple[list[int], Any, Any, int, str]:
        log_before = _log(server)
        socket = await _connect(server, since=start)
        reader = asyncio.ensure_future(_read_until_closed(socket, timeout=120))
        await asyncio.sleep(0.5)  # the relay's upstream is open
        os.kill(jupyter, signal.SIGSTOP)
        try:
            loop = asyncio.get_running_loop()
            burst = loop.run_in_executor(None, _burst, server, 30)
            # Resumed as soon as the service closed the relay: it drops a peer that
            # does not answer the close frame within 5 s.
            await _wait_for_log(server, _service_behind, _service_behind(log_before), 60)
        finally:
            os.kill(jupyter, signal.SIGCONT)
        final = await burst
        seqs = await reader
        return seqs, socket.close_code, socket.close_reason, final, _log(server)[len(log_before) :]

    seqs, code, reason, final, log = run_in_own_loop(scenario())
    assert RELAY_BEHIND not in log, "the relay fell behind itself: not the case under test"
    assert code == FEED_BEHIND, f"closed with {code} ({reason!r})"
    assert seqs and f"last seq sent {seqs[-1]}" in (reason or ""), (reason, seqs[-1:])
    assert seqs == list(range(start + 1, seqs[-1] + 1)) and seqs[-1] < final


def _rss(pid: int) -> int:
    return int(psutil.Process(pid).memory_info().rss)


FEEDS = 4
UPDATES = 30


def test_stalled_browsers_cost_the_jupyter_server_bounded_memory(tmp_path: Path) -> None:
    running = _start(tmp_path)
    sent = FEEDS * UPDATES * 2 * SIZE / MB  # each change set holds the text before and after

    async def scenario() -> list[list[int]]:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, _burst, running, 2)  # warm-up: first-use caches
        start = _client(running).seq
        sockets = [await _connect(running, since=start) for _ in range(FEEDS)]
        before = _rss(running.process.pid)
        with PeakRSS(running.process.pid) as rss:
            await loop.run_in_executor(None, _burst, running, UPDATES)
        growth = rss.peak - before
        print(
            f"\nJupyter server RSS growth, {UPDATES} updates of 0.9 MB relayed to {FEEDS} "
            f"stalled browsers ({sent:.0f} MB): +{growth / MB:.0f} MB "
            f"(limit {LIMIT_MB} MB per browser)"
        )
        assert growth < FEEDS * LIMIT_MB * MB + 60 * MB, f"+{growth / MB:.0f} MB"
        return [await _read_until_closed(s, timeout=60) for s in sockets]

    try:
        received = run_in_own_loop(scenario())
    finally:
        _stop(running)
    for seqs in received:
        assert 0 < len(seqs) < UPDATES  # cut off, not buffered

"""The knowledge-base service: one process owns the database and serves it.

Every call runs on one worker thread (the write queue), so the engine sees a
single writer however many clients there are. A client transaction holds
that queue: calls of other clients wait until it commits, rolls back, or
stays idle past `service.transaction_timeout_s` and is rolled back.

Every route needs the token: `Authorization: token <token>` (or `?token=`,
for websockets). Without one the answer is 401, with a wrong one 403. The
token is checked from the headers before any of the body is read, and a body
larger than `service.max_body_mb` (imports: `service.max_import_mb`) is refused
with 413, so an unauthenticated or oversize upload costs no memory. Log lines
never carry a token (see logs.py); a feed client that stops reading is
disconnected before its backlog grows past the limits of backlog.py.
"""

from __future__ import annotations

import asyncio
import hmac
import inspect
import json
import logging
import os
import secrets
import signal
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tornado.httpserver
import tornado.ioloop
import tornado.netutil
import tornado.web
import tornado.websocket

from ..errors import (
    BodyTooLarge,
    ConflictError,
    ModelUnavailable,
    NodespaceError,
    NotFound,
    QueryError,
    ServiceUnavailable,
    ValidationError,
)
from ..graph import ChangeSet
from ..kb import KnowledgeBase
from .api import IMPORTS, METHODS, PREFIX, PROPERTIES, PROTOCOL_VERSION, openapi, too_large
from .backlog import FEED_BEHIND, MB, Backlog, behind_reason
from .codec import decode, encode
from .components import FeedComponent, ServiceComponent
from .logs import RedactedLogs, log_request
from .runtime import ServiceInfo, read_info, runtime_dir, runtime_file, write_info

log = logging.getLogger(__name__)

TX_HEADER = "X-Nodespace-Transaction"
ENV_PARENT = "NODESPACE_PARENT_PID"  # set by the Jupyter server extension
LOOPBACK = ("127.0.0.1", "::1", "localhost")
STALL_S = 10.0  # a replaying feed client that reads nothing for this long fell behind
REPLAY_BATCH = 8  # change sets read from the log at a time when a feed catches up (each may be MBs)


_STATUS = {
    BodyTooLarge: 413, NotFound: 404, ConflictError: 409, ValidationError: 400, QueryError: 400,
    ModelUnavailable: 503,
}  # fmt: skip


class TransactionAborted(NodespaceError):
    """Raised inside a client transaction to roll it back."""


@dataclass
class _Transaction:
    id: str
    context: AbstractContextManager[Any]
    last_used: float = field(default_factory=time.monotonic)


class Service:
    """The calls, transactions and change feed of one knowledge base."""

    def __init__(self, kb: KnowledgeBase, token: str) -> None:
        self.kb = kb
        self.token = token
        self.queue = ThreadPoolExecutor(max_workers=1, thread_name_prefix="nodespace-writer")
        # Model calls take seconds: they run here, never on the write queue.
        self.ai_queue = ThreadPoolExecutor(max_workers=1, thread_name_prefix="nodespace-ai")
        self.tx: _Transaction | None = None
        self._gate: asyncio.Condition | None = None
        self.feeds: set[FeedHandler] = set()  # open websockets, for the feed component
        self._remove_components = [
            kb.add_component(ServiceComponent(self)),
            kb.add_component(FeedComponent(self)),
        ]

    @property
    def gate(self) -> asyncio.Condition:
        """Held while deciding whether a call may run now (created on the server's loop)."""
        if self._gate is None:
            self._gate = asyncio.Condition()
        return self._gate

    async def run(self, function: Callable[[], Any], tx_id: str | None = None) -> Any:
        """Run `function` on the write queue, after any transaction it is not part of."""
        async with self.gate:
            if tx_id is not None and (self.tx is None or self.tx.id != tx_id):
                raise ConflictError(
                    f"Transaction {tx_id!r} is not open (committed, rolled back, or timed "
                    "out); start a new one."
                )
            await self.gate.wait_for(lambda: self.tx is None or self.tx.id == tx_id)
            if self.tx is not None:
                self.tx.last_used = time.monotonic()
            # Submitted while holding the gate: nothing can start a transaction between.
            future = asyncio.get_running_loop().run_in_executor(self.queue, function)
        return await future

    async def call(self, name: str, body: dict[str, Any], tx_id: str | None) -> tuple[Any, int]:
        """Call the KnowledgeBase method `name` with the decoded `body`; (result, newest seq)."""
        if name not in METHODS:
            raise NotFound(f"The service has no method {name!r}; see {PREFIX}/openapi.json.")
        arguments = decode(body)
        args = arguments.pop("args", [])
        if name not in PROPERTIES:
            try:  # wrong arguments are the caller's mistake (400), not the service's (500)
                inspect.signature(getattr(self.kb, name)).bind(*args, **arguments)
            except TypeError as exc:
                raise ValidationError(
                    f"{name}(): {exc}; see {PREFIX}/openapi.json for its arguments."
                ) from None

        def invoke() -> tuple[Any, int]:
            if name in PROPERTIES:
                return getattr(self.kb, name), self.kb.seq
            return getattr(self.kb, name)(*args, **arguments), self.kb.seq

        result: tuple[Any, int] = await self.run(invoke, tx_id)
        return result

    async def begin(self, label: str) -> str:
        """Open a transaction; every other call waits until it ends."""
        async with self.gate:
            await self.gate.wait_for(lambda: self.tx is None)
            context = self.kb.transaction(label)
            self.tx = _Transaction(uuid.uuid4().hex, context)
            future = asyncio.get_running_loop().run_in_executor(self.queue, context.__enter__)
        try:
            await future
        except BaseException:
            await self._end()
            raise
        return self.tx.id

    async def finish(self, tx_id: str, commit: bool) -> None:
        """Commit or roll back the open transaction `tx_id`."""
        tx = self.tx
        if tx is None or tx.id != tx_id:
            raise ConflictError(f"Transaction {tx_id!r} is not open; nothing to finish.")

        def close() -> None:
            if commit:
                tx.context.__exit__(None, None, None)
            else:
                aborted = TransactionAborted("rolled back by the client")
                tx.context.__exit__(TransactionAborted, aborted, None)

        try:
            await asyncio.get_running_loop().run_in_executor(self.queue, close)
        finally:
            await self._end()

    async def expire_idle(self, timeout_s: float) -> None:
        """Roll back a transaction idle for longer than `timeout_s`."""
        tx = self.tx
        if tx is not None and time.monotonic() - tx.last_used > timeout_s:
            log.warning("rolling back transaction %s, idle for %.0f s", tx.id, timeout_s)
            with suppress(NodespaceError):
                await self.finish(tx.id, commit=False)

    async def _end(self) -> None:
        async with self.gate:
            self.tx = None
            self.gate.notify_all()

    def close(self) -> None:
        """Finish queued calls and stop the queues."""
        for remove in self._remove_components:
            remove()
        self.kb.ai.close()  # ends a generation in progress: its process stops
        self.ai_queue.shutdown(wait=True, cancel_futures=True)
        self.queue.shutdown(wait=True)


@tornado.web.stream_request_body
class _Authenticated(RedactedLogs, tornado.web.RequestHandler):
    """Checks the token before anything else, bounds the body, answers errors as JSON.

    The body streams in (`data_received`): `prepare` runs on the headers alone,
    so a refused request is answered, and its connection closed, before its
    body is read. An accepted body is collected in `request.body` up to
    `body_limit()` bytes.
    """

    service: Service
    _limit = 0

    def initialize(self, service: Service) -> None:
        self.service = service

    def prepare(self) -> None:
        check_token(self, self.service.token)
        self._limit = self.body_limit()
        length = self.request.headers.get("Content-Length", "")
        if length.isdigit() and int(length) > self._limit:
            raise self._too_large(int(length))
        # A bytearray grows in place: pieces are not copied again on every append.
        self.request.body = bytearray()

    def body_limit(self) -> int:
        """The largest body this route reads, in bytes (`service.max_body_mb`)."""
        return int(self.service.kb.settings.service.max_body_mb * MB)

    def _too_large(self, size: int) -> BodyTooLarge:
        return BodyTooLarge(too_large(size, self._limit, self._limit_setting()))

    def _limit_setting(self) -> str:
        return "max_body_mb"

    def data_received(self, chunk: bytes) -> None:
        """Collect a piece of the body; refuse with 413 once it passes the limit."""
        if self._finished:
            return  # already answered (refused): the rest is discarded
        body: bytearray = self.request.body
        if len(body) + len(chunk) > self._limit:
            self._handle_request_exception(self._too_large(len(body) + len(chunk)))
            return
        body += chunk

    def write_json(self, value: Any) -> None:
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(value))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, tornado.web.HTTPError):
            name, message = "HTTPError", exc.log_message or self._reason
        elif isinstance(exc, NodespaceError):
            name, message = _public_name(type(exc)), str(exc)
        else:
            name, message = "InternalError", "The service failed; see its log."
        self.write_json({"error": name, "message": message})

    def _handle_request_exception(self, e: BaseException) -> None:
        if isinstance(e, NodespaceError):
            status = next((s for cls, s in _STATUS.items() if isinstance(e, cls)), 500)
            self.send_error(status, exc_info=(type(e), e, e.__traceback__))
            return
        super()._handle_request_exception(e)


def _public_name(cls: type[NodespaceError]) -> str:
    """The nearest class of the public error tree (clients rebuild errors by this name)."""
    from .. import errors

    return next((c.__name__ for c in cls.__mro__ if c.__name__ in errors.__all__), cls.__name__)


def check_token(handler: tornado.web.RequestHandler, token: str) -> None:
    """401 without a token, 403 with a wrong one (compared in constant time)."""
    header = handler.request.headers.get("Authorization", "")
    given = header.removeprefix("token ").strip() if header.startswith("token ") else ""
    given = given or handler.get_query_argument("token", "")
    if not given:
        raise tornado.web.HTTPError(401, "A token is required: Authorization: token <token>.")
    if not hmac.compare_digest(given.encode(), token.encode()):
        raise tornado.web.HTTPError(403, "Wrong token for this knowledge base.")


class InfoHandler(_Authenticated):
    async def get(self) -> None:
        seq = await self.service.run(lambda: self.service.kb.seq)
        limits = self.service.kb.settings.service
        self.write_json(
            {
                "protocol": PROTOCOL_VERSION,
                "path": str(self.service.kb.path),
                "seq": seq,
                # A client checks its body against these before sending: tornado closes
                # the connection on an oversize body before the client reads the 413.
                "max_body_bytes": int(limits.max_body_mb * MB),
                "max_import_bytes": int(limits.max_import_mb * MB),
            }
        )


class OpenAPIHandler(_Authenticated):
    def get(self) -> None:
        self.write_json(openapi())


class CallHandler(_Authenticated):
    IMPORTS = IMPORTS

    def _is_import(self) -> bool:
        return bool(self.path_args) and self.path_args[0] in self.IMPORTS

    def body_limit(self) -> int:
        """`service.max_import_mb` for imports, `service.max_body_mb` otherwise."""
        if self._is_import():
            return int(self.service.kb.settings.service.max_import_mb * MB)
        return super().body_limit()

    def _limit_setting(self) -> str:
        return "max_import_mb" if self._is_import() else "max_body_mb"

    async def post(self, name: str) -> None:
        body = json.loads(self.request.body or b"{}")
        if not isinstance(body, dict):
            raise ValidationError("The request body must be a JSON object of arguments.")
        tx_id = self.request.headers.get(TX_HEADER)
        result, seq = await self.service.call(name, body, tx_id)
        # The newest seq after the call lets a client wait until its own feed caught up.
        self.write_json({"result": encode(result), "seq": seq})


class BeginHandler(_Authenticated):
    async def post(self) -> None:
        body = json.loads(self.request.body or b"{}")
        tx_id = await self.service.begin(str(body.get("label", "transaction")))
        self.write_json({"id": tx_id})


class FinishHandler(_Authenticated):
    async def post(self, tx_id: str, action: str) -> None:
        await self.service.finish(tx_id, commit=action == "commit")
        # As after a call: the client waits until its own feed has the commit.
        seq = await self.service.run(lambda: self.service.kb.seq)
        self.write_json({"ok": True, "seq": seq})


class FeedHandler(RedactedLogs, tornado.websocket.WebSocketHandler):
    """Change sets as JSON text messages: those after `since`, then each new one.

    The replay of `since` is read from the change log a batch at a time and
    waits for the client to take what was sent; new change sets are written as
    they commit. A client whose unread backlog passes the limits is closed with
    FEED_BEHIND (see backlog.py) instead of being buffered without end.
    """

    service: Service

    def initialize(self, service: Service) -> None:
        self.service = service
        self._stop: Callable[[], None] | None = None
        self._backlog = Backlog.from_settings(service.kb.settings.service)
        self._sent = 0  # seq of the newest change set written to this client
        self._closing = False

    def prepare(self) -> None:
        check_token(self, self.service.token)

    def check_origin(self, origin: str) -> bool:
        # The token authenticates; browsers reach the service only through Jupyter.
        return True

    @property
    def backlog(self) -> Backlog:
        """What this client has not read yet."""
        return self._backlog

    async def open(self, *args: Any, **kwargs: Any) -> None:
        self.service.feeds.add(self)
        since_text = self.get_query_argument("since", "")
        since = int(since_text) if since_text.lstrip("-").isdigit() else None
        if since is not None:
            since = await self._replay(since)
            if since is None:
                return  # the client left during the replay
        loop = asyncio.get_running_loop()

        def deliver(change: ChangeSet) -> None:
            loop.call_soon_threadsafe(self._send, change)

        kb = self.service.kb

        def subscribe() -> Callable[[], None]:
            # On the write queue: no commit between reading seq and subscribing.
            self._sent = kb.seq if since is None else since
            return kb.follow(deliver, since)

        self._stop = await self.service.run(subscribe)
        if self._closing:
            self._unsubscribe()  # closed or fell behind while subscribing

    async def _replay(self, since: int) -> int | None:
        """Send the change sets after `since` from the log; the newest seq sent, or None."""
        kb = self.service.kb
        last: asyncio.Future[None] | None = None
        try:
            while not self._closing:
                batch = await self.service.run(lambda s=since: kb.changes(s, REPLAY_BATCH))  # type: ignore[misc]
                for change in batch:
                    text = json.dumps(encode(change))
                    full = last is not None and not self._backlog.admits(len(text))
                    if full and not await self._drained(last):  # type: ignore[arg-type]
                        self._fall_behind()
                        return None
                    last = self._write(change.seq, text)
                    since = change.seq
                if len(batch) < REPLAY_BATCH:
                    return since
        except tornado.websocket.WebSocketClosedError:
            pass
        return None

    async def _drained(self, written: asyncio.Future[None]) -> bool:
        """Wait for the client to take what was sent; False if it reads nothing for STALL_S.

        A reader gets the replay at its own pace instead of being buffered for.
        Shielded: a closing connection must not cancel tornado's own write future.
        """
        try:
            await asyncio.wait_for(asyncio.shield(written), STALL_S)
        except TimeoutError:
            return False
        return True

    def _write(self, seq: int, text: str) -> asyncio.Future[None]:
        written = self.write_message(text)
        self._backlog.track(len(text), written)  # ASCII JSON: characters are bytes
        self._sent = seq
        return written

    def _send(self, change: ChangeSet) -> None:
        if self._closing:
            return
        text = json.dumps(encode(change))
        if not self._backlog.admits(len(text)):
            self._fall_behind()
            return
        with suppress(tornado.websocket.WebSocketClosedError):
            self._write(change.seq, text)

    def _fall_behind(self) -> None:
        """Close a client that does not read: it resumes from the change log."""
        self._closing = True
        self._unsubscribe()
        log.warning(
            "feed client %s fell behind after seq %d (%s); closing it (code 4002)",
            self.request.remote_ip, self._sent, self._backlog.describe(),
        )  # fmt: skip
        # Queued after what it has not read: it sees every change set up to `_sent`
        # first. One that never reads is dropped by tornado 5 s later.
        self.close(FEED_BEHIND, behind_reason(self._sent))

    def _unsubscribe(self) -> None:
        stop, self._stop = self._stop, None
        if stop is not None:
            with suppress(RuntimeError):  # the service is shutting down
                self.service.queue.submit(stop)

    def on_close(self) -> None:
        self._closing = True
        self.service.feeds.discard(self)
        self._unsubscribe()


def make_app(service: Service) -> tornado.web.Application:
    """The service's routes."""
    from .ai_routes import routes as ai_routes

    options = {"service": service}
    return tornado.web.Application(
        [
            *ai_routes(service),
            (rf"{PREFIX}/info", InfoHandler, options),
            (rf"{PREFIX}/openapi\.json", OpenAPIHandler, options),
            (rf"{PREFIX}/kb/([a-z_]+)", CallHandler, options),
            (rf"{PREFIX}/transactions", BeginHandler, options),
            (rf"{PREFIX}/transactions/([0-9a-f]+)/(commit|rollback)", FinishHandler, options),
            (rf"{PREFIX}/feed", FeedHandler, options),
        ],
        log_function=log_request,  # the access log without tokens
    )


def make_server(service: Service) -> tornado.httpserver.HTTPServer:
    """The HTTP server of `make_app`; no body may pass the larger of the two body limits."""
    settings = service.kb.settings.service
    largest = int(max(settings.max_body_mb, settings.max_import_mb) * MB)
    return tornado.httpserver.HTTPServer(make_app(service), max_body_size=largest)


def serve(
    path: str | Path,
    *,
    host: str | None = None,
    port: int | None = None,
    on_ready: Callable[[ServiceInfo, Path], None] | None = None,
) -> None:
    """Run the service of the knowledge base at `path` until SIGINT or SIGTERM."""
    # Everything this process creates (index sidecars, logs, exports, the runtime
    # file) holds private notes: readable by the owner only, whatever the parent's umask.
    os.umask(0o077)
    kb = KnowledgeBase(path)
    settings = kb.settings.service
    host = host or settings.host
    if host not in LOOPBACK:
        kb.close()
        raise ValidationError(
            f"Service host {host!r} is not a loopback address; use 127.0.0.1 "
            "(the service is for this machine only)."
        )
    service = Service(kb, secrets.token_urlsafe(32))
    asyncio.run(_main(service, host, settings.port if port is None else port, on_ready))


async def _main(
    service: Service,
    host: str,
    port: int,
    on_ready: Callable[[ServiceInfo, Path], None] | None,
) -> None:
    kb = service.kb
    server = make_server(service)
    sockets = tornado.netutil.bind_sockets(port, host)
    server.add_sockets(sockets)
    bound = sockets[0].getsockname()[1]
    url = f"http://{'[::1]' if host == '::1' else host}:{bound}"
    info = ServiceInfo(url, service.token, str(kb.path), PROTOCOL_VERSION, os.getpid())
    target = runtime_file(kb.path, runtime_dir(kb.settings.service.runtime_dir))
    if target.exists() and read_info(target) is not None:
        raise ServiceUnavailable(f"A service for {kb.path} already runs ({target}).")
    write_info(info, target)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    timeout = kb.settings.service.transaction_timeout_s
    reaper = tornado.ioloop.PeriodicCallback(lambda: service.expire_idle(timeout), 1000)
    reaper.start()
    watchdog = _watch_parent(stop)
    log.info("serving %s at %s", kb.path, url)
    try:
        if on_ready is not None:
            on_ready(info, target)
        await stop.wait()
    finally:
        reaper.stop()
        if watchdog is not None:
            watchdog.stop()
        server.stop()
        with suppress(FileNotFoundError):
            target.unlink()
        service.close()
        kb.close()


def _watch_parent(stop: asyncio.Event) -> tornado.ioloop.PeriodicCallback | None:
    """Stop when the process that started us (a Jupyter server) is gone."""
    parent = os.environ.get(ENV_PARENT, "")
    if not parent.isdigit():
        return None
    import psutil

    def check() -> None:
        if not psutil.pid_exists(int(parent)):
            log.warning("the parent process %s is gone; stopping", parent)
            stop.set()

    watchdog = tornado.ioloop.PeriodicCallback(check, 2000)
    watchdog.start()
    return watchdog


class ServiceThread:
    """The service of an open `kb`, on a thread of this process (tests, embedding).

    The same routes, token check and write queue as `nodespace serve`, without
    a second process or a runtime file: `info` says where to connect.
    """

    def __init__(self, kb: KnowledgeBase, host: str = "127.0.0.1") -> None:
        self.service = Service(kb, secrets.token_urlsafe(32))
        self._loop = asyncio.new_event_loop()
        self._started = threading.Event()
        self._server: tornado.httpserver.HTTPServer | None = None
        self._port = 0
        self._host = host
        self._thread = threading.Thread(target=self._run, name="nodespace-service", daemon=True)
        self._thread.start()
        if not self._started.wait(30):
            raise ServiceUnavailable("The in-process service did not start within 30 s.")
        url = f"http://{host}:{self._port}"
        token = self.service.token
        self.info = ServiceInfo(url, token, str(kb.path), PROTOCOL_VERSION, os.getpid())

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._listen())
        self._started.set()
        self._loop.run_forever()

    async def _listen(self) -> None:
        self._server = make_server(self.service)
        sockets = tornado.netutil.bind_sockets(0, self._host)
        self._server.add_sockets(sockets)
        self._port = sockets[0].getsockname()[1]

    def stop(self) -> None:
        """Stop listening and finish queued calls (the knowledge base stays open)."""
        if self._server is not None:
            self._loop.call_soon_threadsafe(self._server.stop)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self.service.close()

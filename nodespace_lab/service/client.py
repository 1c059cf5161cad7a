"""`RemoteKnowledgeBase`: the KnowledgeBase API over a running service.

Calls are HTTP + JSON on a kept-alive connection per thread; the change feed
is a websocket read by a background thread, which drives `subscribe`,
`follow` and live queries exactly as commits drive them in-process.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import logging
import threading
import urllib.parse
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from .. import errors
from ..graph import ChangeSet
from ..kb.components import Component, ComponentReport, Status
from ..kb.facets import (
    OPERATIONS,
    HierarchyAPI,
    HistoryAPI,
    KnowledgeBaseAPI,
    LinksAPI,
    NodesAPI,
    QueryAPI,
    SearchAPI,
)
from ..kb.gate import OperationGate, gated
from ..live import Dependencies, LiveQuery, LiveRegistry
from ..nodes.query import Find, kinds_tuple
from .ai_client import RemoteAI
from .api import IMPORTS, PREFIX, WRITES, method_route, too_large
from .backlog import FEED_BEHIND
from .codec import decode, encode
from .entities_client import RemoteEntities
from .remote import remote
from .runtime import ServiceInfo

log = logging.getLogger(__name__)

TX_HEADER = "X-Nodespace-Transaction"
RETRY_S, MAX_RETRY_S = 0.5, 5.0  # feed reconnection back-off
# The smallest body limit the service allows (service.max_body_mb >= 1): bodies up to
# this size never need the service's limits.
SMALLEST_LIMIT = 2**20
_ERRORS: dict[str, type[errors.NodespaceError]] = {
    name: getattr(errors, name) for name in errors.__all__
}


@gated(OPERATIONS)
class RemoteKnowledgeBase(RemoteAI, RemoteEntities):
    """A knowledge base served by `nodespace serve`; the same API as `KnowledgeBase`.

    Every operation runs through `self.gate` on this side too (see kb/gate.py).
    """

    def __init__(self, info: ServiceInfo) -> None:
        self.gate = OperationGate("remote")
        self.info = info
        self.path = Path(info.path)
        parts = urllib.parse.urlsplit(info.url)
        self._host, self._port = parts.hostname or "127.0.0.1", parts.port or 80
        self._local = threading.local()
        self._live: LiveRegistry | None = None
        self._feeds: list[_Feed] = []
        self._closed = False
        self._limits: dict[str, int] | None = None  # the service's body limits, from /info

    # -- transport -------------------------------------------------------

    def _connection(self) -> http.client.HTTPConnection:
        connection: http.client.HTTPConnection | None = getattr(self._local, "connection", None)
        if connection is None:
            connection = http.client.HTTPConnection(self._host, self._port, timeout=60)
            self._local.connection = connection
        return connection

    def _request(self, route: str, body: Any) -> Any:
        if self._closed:
            raise errors.StorageError(f"Knowledge base {self.path} is closed.")
        headers = {
            "Authorization": f"token {self.info.token}",
            "Content-Type": "application/json",
        }
        tx = getattr(self._local, "tx", None)
        if tx is not None:
            headers[TX_HEADER] = tx
        payload = json.dumps(body).encode()
        self._check_size(route, len(payload))
        for attempt in (1, 2):  # a kept-alive connection the server closed: once more
            connection = self._connection()
            try:
                connection.request("POST", route, payload, headers)
                response = connection.getresponse()
                data = response.read()
                break
            except (ConnectionError, http.client.HTTPException) as exc:
                connection.close()
                self._local.connection = None
                if attempt == 2:
                    raise errors.ServiceUnavailable(
                        f"The service of {self.path} at {self.info.url} does not answer "
                        f"({exc}); start it with `nodespace serve {self.path}`."
                    ) from None
        answer = json.loads(data or b"{}")
        if response.status >= 400:
            error = _ERRORS.get(answer.get("error", ""), errors.ServiceUnavailable)
            raise error(answer.get("message", f"HTTP {response.status}"))
        return answer

    def _check_size(self, route: str, size: int) -> None:
        """BodyTooLarge before sending a body over the service's limit.

        The service refuses it with 413 before reading it, but it also closes the
        connection, so the client would see only "connection reset".
        """
        if size <= SMALLEST_LIMIT:
            return
        if self._limits is None:
            self._limits = self._fetch_limits()
        is_import = route in {method_route(name) for name in IMPORTS}
        setting = "max_import_mb" if is_import else "max_body_mb"
        limit = self._limits.get("max_import_bytes" if is_import else "max_body_bytes")
        if limit is not None and size > limit:
            raise errors.BodyTooLarge(too_large(size, limit, setting))

    def _fetch_limits(self) -> dict[str, int]:
        """The body limits `/info` advertises (none from a service that does not)."""
        connection = http.client.HTTPConnection(self._host, self._port, timeout=60)
        try:
            connection.request("GET", f"{PREFIX}/info", headers=self._auth())
            response = connection.getresponse()
            info = json.loads(response.read() or b"{}") if response.status == 200 else {}
        except (ConnectionError, http.client.HTTPException):
            info = {}  # sent anyway: the service still refuses what is too large
        finally:
            connection.close()
        return {k: int(v) for k, v in info.items() if k in ("max_body_bytes", "max_import_bytes")}

    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"token {self.info.token}"}

    def _call(self, method: str, /, *args: Any, **kwargs: Any) -> Any:
        # `method` is positional-only: entity fields such as `name` travel in kwargs.
        body = _encode_arguments(method, args, kwargs)
        answer = self._request(method_route(method), body)
        if method in WRITES:
            # As in-process, where subscribers are called before a write returns.
            self._wait_for_feeds(int(answer.get("seq", 0)))
        return decode(answer["result"])

    def _wait_for_feeds(self, seq: int) -> None:
        for feed in list(self._feeds):
            if not feed.wait_for(seq, timeout=10):
                log.warning("the change feed of %s is behind seq %d", self.path, seq)

    # -- the plain calls of the operation table ----------------------------

    create = remote(NodesAPI.create)
    get = remote(NodesAPI.get)
    exists = remote(NodesAPI.exists)
    update = remote(NodesAPI.update)
    delete = remote(NodesAPI.delete)
    restore = remote(NodesAPI.restore)
    purge = remote(NodesAPI.purge)
    journal = remote(NodesAPI.journal)
    import_nodes = remote(NodesAPI.import_nodes)
    children = remote(HierarchyAPI.children)
    child_counts = remote(HierarchyAPI.child_counts)
    subtree = remote(HierarchyAPI.subtree)
    ancestors = remote(HierarchyAPI.ancestors)
    move = remote(HierarchyAPI.move)
    backlinks = remote(LinksAPI.backlinks)
    links = remote(LinksAPI.links)
    tag = remote(LinksAPI.tag)
    untag = remote(LinksAPI.untag)
    tags = remote(LinksAPI.tags)
    add_to = remote(LinksAPI.add_to)
    remove_from = remote(LinksAPI.remove_from)
    members = remote(LinksAPI.members)
    collections = remote(LinksAPI.collections)
    find_frame = remote(QueryAPI.find_frame)
    open_tasks = remote(QueryAPI.open_tasks)
    cypher = remote(QueryAPI.cypher)
    changes = remote(HistoryAPI.changes)
    undo = remote(HistoryAPI.undo)
    search = remote(SearchAPI.search)
    sync_search = remote(SearchAPI.sync_search)
    reindex = remote(SearchAPI.reindex)

    # -- queries, search, history -----------------------------------------

    def find(self, kind: str | Sequence[str] | None = None) -> Find:
        """A query builder over nodes, e.g. `kb.find("task").where(task_status="todo")`."""
        return _ServedFind(
            runner=self._frame,
            kinds=kinds_tuple(kind),
            fields_of=self._fields_of,
            served=lambda query, typed: self.find_frame(query, entity_columns=typed),
        )

    def _frame(self, query: str, params: dict[str, Any]) -> pl.DataFrame:
        return self.cypher(query, params)

    @property
    def seq(self) -> int:
        """Sequence number of the newest change set."""
        return int(self._call("seq"))

    @property
    def engine(self) -> str:
        """Name of the storage engine the service uses."""
        return str(self._call("engine"))

    @contextmanager
    def transaction(self, label: str = "transaction") -> Iterator[RemoteKnowledgeBase]:
        """All-or-nothing: every write inside commits together or not at all."""
        if getattr(self._local, "tx", None) is not None:
            yield self  # nested: part of the outer transaction, as in-process
            return
        self._local.tx = self._request(f"{PREFIX}/transactions", {"label": label})["id"]
        tx = self._local.tx
        try:
            yield self
        except BaseException:
            self._local.tx = None
            self._request(f"{PREFIX}/transactions/{tx}/rollback", {})
            raise
        self._local.tx = None
        answer = self._request(f"{PREFIX}/transactions/{tx}/commit", {})
        # Live queries must see the commit before this returns, as after any write.
        self._wait_for_feeds(int(answer.get("seq", 0)))

    # -- change feed and live queries -------------------------------------

    def follow(
        self, callback: Callable[[ChangeSet], None], since: int | None = None
    ) -> Callable[[], None]:
        """Call `callback` with every change set after `since`, then each new one."""
        feed = _Feed(self, callback, self.seq if since is None else since)
        self._feeds.append(feed)
        feed.start()

        def stop() -> None:
            feed.stop()
            if feed in self._feeds:
                self._feeds.remove(feed)

        return stop

    def subscribe(self, callback: Callable[[ChangeSet], None]) -> Callable[[], None]:
        """Call `callback(change_set)` after each commit; returns an unsubscribe function."""
        return self.follow(callback)

    def components(self) -> list[ComponentReport]:
        """The service's parts, then this client's own (its live queries and feeds)."""
        served: list[ComponentReport] = self._call("components")
        return [*served, *(c.report() for c in (_ClientLive(self), _ClientFeeds(self)))]

    @property
    def live_registry(self) -> LiveRegistry:
        """The live queries of this client (created on first use)."""
        if self._live is None:
            self._live = LiveRegistry(self)
        return self._live

    def live(
        self,
        query: Find | str | Callable[..., Find | str],
        *,
        depends: Dependencies | None = None,
        **params: Any,
    ) -> LiveQuery:
        """A live query kept up to date from the service's change feed."""
        return self.live_registry.add(query, params, depends)

    # -- lifecycle ----------------------------------------------------------

    def close(self) -> None:
        """Stop the feeds and close the connections (the service keeps running)."""
        if self._closed:
            return
        if self._live is not None:
            self._live.close()
        for feed in list(self._feeds):
            feed.stop()
        self._closed = True

    def __enter__(self) -> RemoteKnowledgeBase:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"RemoteKnowledgeBase({str(self.path)!r} via {self.info.url})"


class _ClientLive(Component):
    """The live queries of this client, re-run from its feed."""

    name, section = "client-live", "performance"

    def __init__(self, kb: RemoteKnowledgeBase) -> None:
        super().__init__()
        self.kb = kb

    def _count(self) -> int:
        return 0 if self.kb._live is None else len(self.kb._live)

    def check(self) -> tuple[Status, str, tuple[str, ...]]:
        return "ok", f"{self._count()} live queries", ()

    def metrics(self) -> dict[str, float]:
        return {"queries": float(self._count())}


class _ClientFeeds(Component):
    """This client's websockets to the service's change feed."""

    name, section = "client-feed", "service"

    def __init__(self, kb: RemoteKnowledgeBase) -> None:
        super().__init__()
        self.kb = kb

    def check(self) -> tuple[Status, str, tuple[str, ...]]:
        feeds = len(self.kb._feeds)
        return "ok", f"{feeds} feeds following from the service", ()

    def metrics(self) -> dict[str, float]:
        newest = max((feed.since for feed in self.kb._feeds), default=0)
        return {"feeds": float(len(self.kb._feeds)), "delivered_seq": float(newest)}


@dataclass(frozen=True)
class _ServedFind(Find):
    """A find() whose entity-field part runs in the service.

    Entity conditions are applied in polars to every candidate row (see
    nodes/query.py): run here, those rows would all cross the connection
    (at 100k entities ~0.4 s instead of ~0.1 s). A query that may touch an
    entity kind goes to the service whole; others compile here as before.
    """

    served: Callable[[dict[str, Any], bool], pl.DataFrame] | None = field(
        default=None, repr=False, compare=False
    )

    def _run(self, *, typed: bool) -> pl.DataFrame:
        if self.served is None or not (self._entity_names() or self._maybe_entities()):
            return super()._run(typed=typed)
        return self.served(self.to_json(), typed)


def _encode_arguments(name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """The request body of a call, or a ValidationError naming the argument that cannot go."""
    try:
        return encode({"args": list(args), **kwargs} if args else kwargs)
    except TypeError:
        pass
    subject = f" of {args[0]!r}" if args and isinstance(args[0], str) else ""
    named = {**{f"argument {i + 1}": a for i, a in enumerate(args)}, **kwargs}
    for label, value in named.items():
        try:
            encode(value)
        except TypeError as exc:
            raise errors.ValidationError(
                f"{name}{subject}: {label} {value!r} cannot be sent to the service ({exc}); "
                "use JSON values (text, numbers, dates, lists, dicts) or DataFrames."
            ) from None
    raise AssertionError("unreachable: some argument failed to encode")


class _Feed:
    """A websocket to the service's feed, read by a daemon thread with its own loop.

    Whenever the socket closes (the service restarted, or closed a client that
    fell behind, code 4002), it reconnects with `since=<last seq handed to the
    callback>`, so the callback gets every change set once, in order.
    """

    def __init__(
        self, kb: RemoteKnowledgeBase, callback: Callable[[ChangeSet], None], since: int
    ) -> None:
        self.kb = kb
        self.callback = callback
        self.since = since
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stopped = False
        self._error: BaseException | None = None
        self._delivered = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="nodespace-feed", daemon=True)

    def start(self) -> None:
        """Connect; returns once the feed is subscribed (so no later commit is missed)."""
        self._thread.start()
        self._ready.wait(30)
        if self._error is not None:
            raise errors.ServiceUnavailable(
                f"Cannot follow the changes of {self.kb.path}: {self._error}"
            )

    def wait_for(self, seq: int, timeout: float) -> bool:
        """Wait until the change set `seq` was handed to the callback; False on time-out."""
        with self._delivered:
            return self._delivered.wait_for(lambda: self._stopped or self.since >= seq, timeout)

    def stop(self) -> None:
        """Close the websocket and end the thread."""
        self._stopped = True
        with self._delivered:
            self._delivered.notify_all()
        if self._loop.is_running():
            self._loop.call_soon_threadsafe(self._loop.stop)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._follow())
        except RuntimeError:
            pass  # stopped from another thread
        finally:
            self._ready.set()

    async def _follow(self) -> None:
        from tornado.httpclient import HTTPRequest
        from tornado.websocket import websocket_connect

        retry_s = RETRY_S
        while not self._stopped:
            url = self.kb.info.url.replace("http", "ws", 1) + f"{PREFIX}/feed?since={self.since}"
            request = HTTPRequest(url, headers={"Authorization": f"token {self.kb.info.token}"})
            try:
                socket = await websocket_connect(request)
            except Exception as exc:
                if not self._ready.is_set():
                    self._error = exc  # the first connection: `start` reports it
                    self._ready.set()
                    return
                # Resuming (the service restarts, or closed us): keep trying from `since`.
                await asyncio.sleep(retry_s)
                retry_s = min(retry_s * 2, MAX_RETRY_S)
                continue
            # The service subscribes before it answers the first message; a short
            # round trip through `info` would not prove that, so wait for the open.
            self._ready.set()
            retry_s = RETRY_S
            await self._read(socket)
            socket.close()
            if socket.close_code == FEED_BEHIND:
                log.info("the change feed of %s fell behind at seq %d; resuming", self.kb.path,
                         self.since)  # fmt: skip
            elif not self._stopped:
                await asyncio.sleep(RETRY_S)

    async def _read(self, socket: Any) -> None:
        """Hand each change set to the callback until the socket closes."""
        while not self._stopped:
            message = await socket.read_message()
            if message is None:
                return  # closed: the caller reconnects from the last seq seen
            change = decode(json.loads(message))
            try:
                self.callback(change)
            except Exception:
                log.exception("change feed callback failed")
            with self._delivered:
                self.since = change.seq
                self._delivered.notify_all()


if TYPE_CHECKING:

    def _conforms(kb: RemoteKnowledgeBase) -> KnowledgeBaseAPI:
        return kb  # mypy: the client implements the whole operation table

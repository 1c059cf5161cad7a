"""The service's API for the browser, under the Jupyter server's own authentication.

`/nodespace/api/v1/...` forwards to the current knowledge base's service
with the service's token, which never reaches the browser; `select` changes
which knowledge base that is. Every handler requires Jupyter's login (token or
cookie) and authorisation, the websocket too.
"""

from __future__ import annotations

import json
from contextlib import suppress
from typing import Any

from jupyter_server.auth.decorator import authorized, ws_authenticated
from jupyter_server.base.handlers import APIHandler, JupyterHandler
from tornado import httpclient, web, websocket
from tornado.iostream import StreamClosedError

from ..errors import NodespaceError
from ..service.api import METHODS, PREFIX
from ..service.backlog import FEED_BEHIND, Backlog, behind_reason, changeset_seq
from ..service.logs import RedactedLogs
from .selection import KnowledgeBases
from .supervisor import Supervisor

BASE = "nodespace"
AUTH_RESOURCE = "nodespace"


class _ServiceHandler(RedactedLogs, APIHandler):
    auth_resource = AUTH_RESOURCE

    def initialize(self, kbs: KnowledgeBases) -> None:
        self.kbs = kbs

    @property
    def supervisor(self) -> Supervisor:
        """The current knowledge base's supervisor (404 when none is chosen)."""
        if self.kbs.current is None:
            raise web.HTTPError(
                404,
                "No knowledge base: choose one in Settings > NodeSpace, or start JupyterLab "
                "with NODESPACE_KB=<folder>.",
            )
        return self.kbs.current

    async def forward(self, method: str, route: str, body: bytes | None = None) -> None:
        info = self.supervisor.info
        if info is None:
            raise web.HTTPError(503, "The NodeSpace service is starting or restarting; retry.")
        request = httpclient.HTTPRequest(
            info.url + route,
            method=method,
            body=body,
            headers={"Authorization": f"token {info.token}", "Content-Type": "application/json"},
            request_timeout=120,
        )
        response = await httpclient.AsyncHTTPClient().fetch(request, raise_error=False)
        if response.code == 599:
            raise web.HTTPError(503, "The NodeSpace service does not answer; it is restarting.")
        self.set_status(response.code)
        self.set_header("Content-Type", "application/json")
        self.finish(response.body)


class StatusHandler(_ServiceHandler):
    """Which knowledge base, and whether its service runs (no secrets)."""

    @web.authenticated
    @authorized
    def get(self) -> None:
        self.finish(json.dumps(status_of(self.kbs)))


def status_of(kbs: KnowledgeBases) -> dict[str, Any]:
    """The status answer: the current knowledge base (or null) and its service's state."""
    current = kbs.current
    return {
        "kb": str(current.kb_path) if current else None,
        "running": current is not None and current.info is not None,
        "restarts": current.restarts if current else 0,
        "generation": kbs.generation,
        "started_with": str(kbs.started_with) if kbs.started_with else None,
        "root": str(kbs.root),
    }


class SelectHandler(_ServiceHandler):
    """`POST {"path": ...}`: make another knowledge base the current one."""

    @web.authenticated
    @authorized
    async def post(self) -> None:
        try:
            body = json.loads(self.request.body or b"{}")
        except ValueError:
            body = None
        path = body.get("path") if isinstance(body, dict) else None
        if not isinstance(path, str):
            self.set_status(400)
            self.finish(
                {
                    "error": "ValidationError",
                    "message": 'select needs a JSON body {"path": "<folder>"}; "" means the '
                    "knowledge base JupyterLab started with.",
                }
            )
            return
        try:
            await self.kbs.select(path)
        except NodespaceError as error:
            self.set_status(503 if error.__class__.__name__ == "ServiceUnavailable" else 400)
            self.finish({"error": type(error).__name__, "message": str(error)})
            return
        self.finish(json.dumps(status_of(self.kbs)))


class InfoHandler(_ServiceHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        await self.forward("GET", f"{PREFIX}/info")


class OpenAPIHandler(_ServiceHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        await self.forward("GET", f"{PREFIX}/openapi.json")


class CallHandler(_ServiceHandler):
    @web.authenticated
    @authorized
    async def post(self, name: str) -> None:
        if name not in METHODS:
            raise web.HTTPError(404, f"No method {name!r}.")
        await self.forward("POST", f"{PREFIX}/kb/{name}", self.request.body or b"{}")


class AIHandler(_ServiceHandler):
    """Task and query drafts, and the model's status."""

    @web.authenticated
    @authorized
    async def get(self, name: str) -> None:
        if name != "status":
            raise web.HTTPError(404, f"No AI route {name!r} for GET.")
        query = f"?check={self.get_query_argument('check', '')}"
        await self.forward("GET", f"{PREFIX}/ai/status{query}")

    @web.authenticated
    @authorized
    async def post(self, name: str) -> None:
        if name not in ("draft_task", "draft_query"):
            raise web.HTTPError(404, f"No AI route {name!r} for POST.")
        await self.forward("POST", f"{PREFIX}/ai/{name}", self.request.body or b"{}")


class AskHandler(_ServiceHandler):
    """Relays the streamed answer (newline-delimited JSON) chunk by chunk."""

    @web.authenticated
    @authorized
    async def post(self) -> None:
        info = self.supervisor.info
        if info is None:
            raise web.HTTPError(503, "The NodeSpace service is starting or restarting; retry.")
        self.set_header("Content-Type", "application/x-ndjson")
        request = httpclient.HTTPRequest(
            info.url + f"{PREFIX}/ai/ask",
            method="POST",
            body=self.request.body or b"{}",
            headers={"Authorization": f"token {info.token}", "Content-Type": "application/json"},
            request_timeout=3600,  # a long answer from a slow model
            header_callback=self._status_line,
            streaming_callback=self._relay,
        )
        try:
            response = await httpclient.AsyncHTTPClient().fetch(request, raise_error=False)
        except (StreamClosedError, httpclient.HTTPClientError):
            if self._gone:
                return  # the browser left (Stop): _relay dropped the service's connection
            raise
        if response.code == 599:
            raise web.HTTPError(503, "The NodeSpace service does not answer; it is restarting.")
        self.finish()

    def _status_line(self, line: str) -> None:
        if line.startswith("HTTP/"):
            self.set_status(int(line.split()[1]))

    _gone = False

    def on_connection_close(self) -> None:
        self._gone = True  # the browser stopped reading (Stop): the service must stop too

    def _relay(self, chunk: bytes) -> None:
        if self._gone:
            # Raising here makes the client drop the service's connection, which
            # cancels the answer there (its handler cancels on connection close).
            raise StreamClosedError()
        self.write(chunk)
        self.flush()


class FeedHandler(RedactedLogs, websocket.WebSocketHandler, JupyterHandler):
    """Relays the service's change feed to the browser.

    A browser that stops reading is closed with FEED_BEHIND and the last seq
    relayed to it, as the service closes its own clients (backlog.py); a close
    of the service's side is passed on with its code and reason.
    """

    auth_resource = AUTH_RESOURCE

    def initialize(self, kbs: KnowledgeBases, feeds: set[FeedHandler]) -> None:
        self.kbs = kbs
        self.feeds = feeds  # the open feeds, closed when the knowledge base changes
        self.upstream: websocket.WebSocketClientConnection | None = None
        self.backlog: Backlog | None = None
        self.sent = 0  # seq of the newest change set relayed to the browser

    @ws_authenticated
    @authorized
    async def get(self, *args: Any, **kwargs: Any) -> None:
        current = self.kbs.current
        if current is None:
            raise web.HTTPError(404, "No knowledge base is chosen.")
        if current.info is None:
            raise web.HTTPError(503, "The NodeSpace service is starting or restarting; retry.")
        await super().get(*args, **kwargs)

    async def open(self, *args: Any, **kwargs: Any) -> None:
        current = self.kbs.current
        wanted = self.get_query_argument("kb", "")
        if current is None or (wanted and wanted != str(current.kb_path)):
            # Sequence numbers belong to one knowledge base: never replay another's.
            self.close(SWITCHED, "the knowledge base changed; reload")
            return
        info = current.info
        if info is None:
            self.close(1013, "service restarting")
            return
        self.feeds.add(self)
        self.backlog = Backlog.from_settings(current.settings.service)
        since = self.get_query_argument("since", "")
        self.sent = int(since) if since.isdigit() else 0
        url = info.url.replace("http", "ws", 1) + f"{PREFIX}/feed?since={since}"
        request = httpclient.HTTPRequest(url, headers={"Authorization": f"token {info.token}"})
        self.upstream = await websocket.websocket_connect(request, on_message_callback=self._relay)

    def check_origin(self, origin: str | None = None) -> bool:
        """Tornado's check at the handshake; Jupyter's when its XSRF check calls it bare.

        Both bases define it with different signatures: without this, a POST (or any
        method but GET) to the feed failed with a TypeError (500) instead of 403/405.
        """
        if origin is None:
            return bool(JupyterHandler.check_origin(self))
        return bool(websocket.WebSocketHandler.check_origin(self, origin))

    def _relay(self, message: str | bytes | None) -> None:
        if message is None:
            self._upstream_closed()
            return
        if self.backlog is None or self.ws_connection is None:
            return
        if not self.backlog.admits(len(message)):
            self._fall_behind()
            return
        with suppress(websocket.WebSocketClosedError):
            self.backlog.track(len(message), self.write_message(message))
            self.sent = changeset_seq(message) or self.sent

    def _upstream_closed(self) -> None:
        code = self.upstream.close_code if self.upstream is not None else None
        if code == FEED_BEHIND:  # this relay fell behind the service: the browser resumes
            self.close(FEED_BEHIND, behind_reason(self.sent))
        else:
            self.close(1012, "the service restarted; reconnect with since=<last seq>")

    def _fall_behind(self) -> None:
        self.log.warning(
            "nodespace: a browser's change feed fell behind after seq %d (%s); closing it",
            self.sent, self.backlog.describe() if self.backlog else "",
        )  # fmt: skip
        self.backlog = None  # nothing more is relayed
        if self.upstream is not None:
            self.upstream.close()
        self.close(FEED_BEHIND, behind_reason(self.sent))

    def on_message(self, message: str | bytes) -> None:
        """The feed is one-way; messages from the browser are ignored."""

    def on_close(self) -> None:
        self.feeds.discard(self)
        self.backlog = None
        if self.upstream is not None:
            self.upstream.close()


SWITCHED = 4001  # websocket close code: the current knowledge base changed


def handlers(base_url: str, kbs: KnowledgeBases) -> list[tuple[str, type, dict[str, Any]]]:
    """The routes of the extension, under the server's base URL."""
    root = base_url.rstrip("/") + f"/{BASE}{PREFIX}"
    options = {"kbs": kbs}
    feeds: set[FeedHandler] = set()

    def close_feeds() -> None:
        for feed in list(feeds):
            feed.close(SWITCHED, "the knowledge base changed; reload")

    kbs.on_switch(close_feeds)
    return [
        (f"{root}/status", StatusHandler, options),
        (f"{root}/select", SelectHandler, options),
        (f"{root}/info", InfoHandler, options),
        (rf"{root}/openapi\.json", OpenAPIHandler, options),
        (rf"{root}/kb/([a-z_]+)", CallHandler, options),
        (f"{root}/ai/ask", AskHandler, options),
        (rf"{root}/ai/([a-z_]+)", AIHandler, options),
        (f"{root}/feed", FeedHandler, {**options, "feeds": feeds}),
    ]

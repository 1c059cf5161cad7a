"""The service's API for the browser, under the Jupyter server's own authentication.

`/nodespace/api/v1/...` forwards to the knowledge-base service with the
service's token, which never reaches the browser. Every handler requires
Jupyter's login (token or cookie) and authorisation, the websocket too.
"""

from __future__ import annotations

import json
from contextlib import suppress
from typing import Any

from jupyter_server.auth.decorator import authorized, ws_authenticated
from jupyter_server.base.handlers import APIHandler, JupyterHandler
from tornado import httpclient, web, websocket

from ..service.api import METHODS, PREFIX
from .supervisor import Supervisor

BASE = "nodespace"
AUTH_RESOURCE = "nodespace"


class _ServiceHandler(APIHandler):
    auth_resource = AUTH_RESOURCE

    def initialize(self, supervisor: Supervisor) -> None:
        self.supervisor = supervisor

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
        info = self.supervisor.info
        self.finish(
            json.dumps(
                {
                    "kb": str(self.supervisor.kb_path),
                    "running": info is not None,
                    "restarts": self.supervisor.restarts,
                }
            )
        )


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


class FeedHandler(websocket.WebSocketHandler, JupyterHandler):  # type: ignore[misc]
    """Relays the service's change feed to the browser."""

    auth_resource = AUTH_RESOURCE

    def initialize(self, supervisor: Supervisor) -> None:
        self.supervisor = supervisor
        self.upstream: websocket.WebSocketClientConnection | None = None

    @ws_authenticated
    @authorized
    async def get(self, *args: Any, **kwargs: Any) -> None:
        if self.supervisor.info is None:
            raise web.HTTPError(503, "The NodeSpace service is starting or restarting; retry.")
        await super().get(*args, **kwargs)

    async def open(self, *args: Any, **kwargs: Any) -> None:
        info = self.supervisor.info
        if info is None:
            self.close(1013, "service restarting")
            return
        since = self.get_query_argument("since", "")
        url = info.url.replace("http", "ws", 1) + f"{PREFIX}/feed?since={since}"
        request = httpclient.HTTPRequest(url, headers={"Authorization": f"token {info.token}"})
        self.upstream = await websocket.websocket_connect(request, on_message_callback=self._relay)

    def _relay(self, message: str | bytes | None) -> None:
        if message is None:
            self.close(1012, "the service restarted; reconnect with since=<last seq>")
            return
        with suppress(websocket.WebSocketClosedError):
            self.write_message(message)

    def on_message(self, message: str | bytes) -> None:
        """The feed is one-way; messages from the browser are ignored."""

    def on_close(self) -> None:
        if self.upstream is not None:
            self.upstream.close()


def handlers(base_url: str, supervisor: Supervisor) -> list[tuple[str, type, dict[str, Any]]]:
    """The routes of the extension, under the server's base URL."""
    root = base_url.rstrip("/") + f"/{BASE}{PREFIX}"
    options = {"supervisor": supervisor}
    return [
        (f"{root}/status", StatusHandler, options),
        (f"{root}/info", InfoHandler, options),
        (rf"{root}/openapi\.json", OpenAPIHandler, options),
        (rf"{root}/kb/([a-z_]+)", CallHandler, options),
        (f"{root}/feed", FeedHandler, options),
    ]

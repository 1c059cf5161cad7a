"""Every route of the service: 401 without its token, 403 with a wrong one."""

from __future__ import annotations

import asyncio
import http.client
import json
import re
import threading
import urllib.parse

import pytest
from tornado.httpclient import HTTPClientError, HTTPRequest
from tornado.websocket import websocket_connect

from nodespace_lab.service.api import METHODS, PREFIX
from nodespace_lab.service.server import Service, make_app

from .running import RunningService


def _routes() -> list[tuple[str, str]]:
    """(HTTP method, concrete path) for every route the app serves."""
    app = make_app(Service.__new__(Service))
    examples = {r"([a-z_]+)": ["get"], r"([0-9a-f]+)": ["0123abcd"]}
    found = []
    for rule in app.wildcard_router.rules:
        path = rule.matcher.regex.pattern.rstrip("$").replace("\\.", ".")
        for group, (example,) in examples.items():
            path = path.replace(group, example)
        # An alternation such as (commit|rollback) is one route per alternative.
        alternation = re.search(r"\(([a-z]+(?:\|[a-z]+)+)\)", path)
        paths = (
            [path.replace(alternation.group(0), word) for word in alternation.group(1).split("|")]
            if alternation
            else [path]
        )
        verbs = [v for v in ("GET", "POST") if v.lower() in vars(rule.target)]
        found += [(verb, p) for p in paths for verb in verbs or ["GET"]]
    return found


ROUTES = _routes()
CALLS = [("POST", f"{PREFIX}/kb/{name}") for name in METHODS]


def _request(service: RunningService, verb: str, path: str, token: str | None) -> int:
    parts = urllib.parse.urlsplit(service.info.url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    headers = {"Authorization": f"token {token}"} if token else {}
    connection.request(verb, path, "{}" if verb == "POST" else None, headers)
    status = connection.getresponse().status
    connection.close()
    return status


def test_the_route_table_is_what_the_openapi_description_says() -> None:
    described = set(json.loads(json.dumps(_openapi_paths())))
    served = {re.sub(r"0123abcd", "{id}", path) for _, path in ROUTES}
    served = {p.replace("/kb/get", "/kb/{method}") for p in served}
    assert {p for p in described if "/kb/" not in p} == {p for p in served if "/kb/" not in p}
    assert {p for p in described if "/kb/" in p} == {f"{PREFIX}/kb/{m}" for m in METHODS}


def _openapi_paths() -> list[str]:
    from nodespace_lab.service.api import openapi

    return list(openapi()["paths"])


@pytest.mark.parametrize(("verb", "path"), ROUTES + CALLS)
def test_no_token_is_401_and_a_wrong_one_403(service: RunningService, verb: str, path: str) -> None:
    assert _request(service, verb, path, None) == 401
    assert _request(service, verb, path, "not-the-token") == 403
    assert _request(service, verb, path + "?token=not-the-token", None) == 403


def test_the_right_token_is_let_in(service: RunningService) -> None:
    assert _request(service, "GET", f"{PREFIX}/info", service.info.token) == 200


async def _websocket_status(service: RunningService, token: str | None) -> int:
    url = service.info.url.replace("http", "ws", 1) + f"{PREFIX}/feed"
    headers = {"Authorization": f"token {token}"} if token else {}
    try:
        socket = await websocket_connect(HTTPRequest(url, headers=headers))
    except HTTPClientError as exc:
        return exc.code
    socket.close()
    return 101


def _status_in_a_thread(service: RunningService, token: str | None) -> int:
    # Its own thread and loop: playwright's sync API may own this thread's loop.
    results: list[int] = []
    thread = threading.Thread(
        target=lambda: results.append(asyncio.run(_websocket_status(service, token)))
    )
    thread.start()
    thread.join(30)
    return results[0]


def test_the_websocket_needs_the_token_too(service: RunningService) -> None:
    assert _status_in_a_thread(service, None) == 401
    assert _status_in_a_thread(service, "not-the-token") == 403
    assert _status_in_a_thread(service, service.info.token) == 101

"""The route sweep: every route of the service and of the Jupyter extension refuses a
caller without the right token, and no token ever reaches a log.

The routes come from the apps themselves (the service's tornado Application, the
extension's `handlers()` list), each pattern expanded into concrete paths: every
operation of the service's table, every AI route, transaction ids. Each concrete
path is requested with every HTTP method tornado supports, under each credential
that must be refused; a route the sweep cannot expand fails the sweep, and so
does a route it did not request.
"""

from __future__ import annotations

import http.client
import itertools
import json
import logging
import os
import re
import secrets
import signal
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import pytest
import tornado.web
from jupyter_server.base.handlers import APIHandler
from tornado.httpclient import HTTPClientError, HTTPRequest
from tornado.routing import PathMatches
from tornado.websocket import WebSocketHandler, websocket_connect

from nodespace_lab import KnowledgeBase
from nodespace_lab.jupyter.handlers import handlers as extension_handlers
from nodespace_lab.jupyter.selection import KnowledgeBases
from nodespace_lab.service.api import METHODS, PREFIX
from nodespace_lab.service.client import RemoteKnowledgeBase
from nodespace_lab.service.runtime import ServiceInfo, read_info, runtime_file
from nodespace_lab.service.server import Service, ServiceThread, make_app

from ..conftest import db_state, isolated_settings
from ..processes import free_port, run_in_own_loop, wait_until_up
from ..service.running import service_env

SECRET = "sweep-secret-" + secrets.token_hex(6)  # in every seeded note: must never leak
PLANTED = "planted-by-the-sweep"
BODY_METHODS = ("POST", "PUT", "PATCH", "DELETE")  # state-changing: XSRF applies
GROUP = re.compile(r"\((?!\?)[^()]*\)")
WORDS = re.compile(r"\(([a-z_]+(?:\|[a-z_]+)+)\)")
COUNTS: dict[str, int] = {}  # requests made per sweep, printed with -s


# --- the routes, from the apps ------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    """One rule of an app: its pattern, handler and the concrete paths it serves."""

    pattern: str
    handler: type[tornado.web.RequestHandler]
    paths: tuple[str, ...]

    @property
    def methods(self) -> list[str]:
        """The HTTP methods the handler implements (not tornado's 405 stub)."""
        stub = tornado.web.RequestHandler
        return [
            m
            for m in self.handler.SUPPORTED_METHODS
            if getattr(self.handler, m.lower()) is not getattr(stub, m.lower())
        ]

    @property
    def unimplemented(self) -> list[str]:
        """Methods tornado accepts but the handler does not implement (405, or refused)."""
        return [m for m in self.handler.SUPPORTED_METHODS if m not in self.methods]

    @property
    def websocket(self) -> bool:
        return issubclass(self.handler, WebSocketHandler)

    def preflight(self, method: str) -> bool:
        """Jupyter's own CORS preflight: answered without login, by design, with no body."""
        return method == "OPTIONS" and getattr(self.handler, "options", None) is APIHandler.options


def _values(pattern: str, group: str, examples: dict[str, tuple[str, ...]]) -> tuple[str, ...]:
    """Concrete values for one group of `pattern`; fails on a group nobody taught the sweep."""
    words = WORDS.fullmatch(group)
    if words:
        return tuple(words.group(1).split("|"))
    before = pattern[: pattern.index(group)]
    segment = before.rstrip("/").rsplit("/", 1)[-1]
    if segment not in examples:
        raise AssertionError(
            f"The route sweep cannot expand group {group!r} of route {pattern!r}; add example "
            f"values for '{segment}/' to the examples of tests/security/test_routes.py."
        )
    return examples[segment]


def expand(pattern: str, examples: dict[str, tuple[str, ...]]) -> list[str]:
    """Every concrete path of `pattern` (regex groups replaced by their example values)."""
    template = pattern.removesuffix("$")
    groups = GROUP.findall(template)
    choices = [_values(template, g, examples) for g in groups]
    paths = []
    for values in itertools.product(*choices):
        path = template
        for group, value in zip(groups, values, strict=True):
            path = path.replace(group, value, 1)
        paths.append(path.replace("\\.", "."))
    return paths


def plan(
    rules: list[tuple[str, type[tornado.web.RequestHandler]]],
    examples: dict[str, tuple[str, ...]],
) -> list[Route]:
    """The routes of `rules` (in routing order), each with the paths that reach it.

    A path an earlier rule catches (`ai/ask` before `ai/([a-z_]+)`) belongs to that rule,
    as tornado routes it.
    """
    routes = []
    for index, (pattern, handler) in enumerate(rules):
        mine = [
            path
            for path in expand(pattern, examples)
            if re.fullmatch(pattern.removesuffix("$"), path)
            and not any(re.fullmatch(p.removesuffix("$"), path) for p, _ in rules[:index])
        ]
        routes.append(Route(pattern, handler, tuple(mine)))
    return routes


def service_rules(app: tornado.web.Application) -> list[tuple[str, Any]]:
    """(pattern, handler class) of every rule the service's app routes by."""
    rules = app.wildcard_router.rules
    return [(cast(PathMatches, rule.matcher).regex.pattern, rule.target) for rule in rules]


def extension_rules(root: Path) -> list[tuple[str, Any]]:
    """(pattern, handler class) of every route the Jupyter server extension registers."""
    kbs = KnowledgeBases(root, None, logging.getLogger("sweep"))
    return [(pattern, handler) for pattern, handler, _ in extension_handlers("/", kbs)]


def ai_names(app: tornado.web.Application) -> tuple[str, ...]:
    """The service's AI route names, which the extension's `ai/([a-z_]+)` forwards to."""
    names = [p.rsplit("/", 1)[-1].removesuffix("$") for p, _ in service_rules(app) if "/ai/" in p]
    return (*names, "no_such_route")


# --- requests ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Credential:
    """How a request tries to authenticate."""

    name: str
    header: str | None = None  # value of `Authorization: token <...>`
    query: str | None = None  # value of `?token=`
    cookie: str | None = None  # a `Cookie:` header


def wrong() -> str:
    return "wrong-" + secrets.token_urlsafe(24)


def connect(url: str) -> http.client.HTTPConnection:
    """A connection to the server at `url` (loopback)."""
    parts = urllib.parse.urlsplit(url)
    return http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=10)


def fetch(url: str, method: str, path: str, credential: Credential, body: bytes | None) -> Any:
    """(status, body bytes) of one request; never raises on an HTTP error."""
    if credential.query is not None:
        path += "?token=" + urllib.parse.quote(credential.query)
    headers = {"Content-Type": "application/json"}
    if credential.header is not None:
        headers["Authorization"] = f"token {credential.header}"
    if credential.cookie is not None:
        headers["Cookie"] = credential.cookie
    connection = connect(url)
    try:
        connection.request(method, path, body, headers)
        answer = connection.getresponse()
        return answer.status, answer.read()
    finally:
        connection.close()


def body_for(path: str, method: str, seed_id: str) -> bytes | None:
    """A body that would change the knowledge base if the request got through."""
    if method not in BODY_METHODS:
        return None
    name = path.rsplit("/", 1)[-1]
    if name == "create":
        return json.dumps({"args": ["text", PLANTED]}).encode()
    if name == "select":
        return json.dumps({"path": ""}).encode()
    if name in ("ask", "draft_task", "draft_query"):
        return json.dumps({"question": PLANTED, "sentence": PLANTED}).encode()
    return json.dumps({"args": [seed_id]}).encode()


async def _handshake(url: str, credential: Credential) -> int:
    """The status of a websocket handshake: 101 when upgraded, else the refusal."""
    if credential.query is not None:
        url += "?token=" + urllib.parse.quote(credential.query)
    headers = {}
    if credential.header is not None:
        headers["Authorization"] = f"token {credential.header}"
    try:
        socket = await websocket_connect(HTTPRequest(url, headers=headers, request_timeout=10))
    except HTTPClientError as error:
        return error.code
    socket.close()
    return 101


def handshake(url: str, credential: Credential) -> int:
    """`_handshake` on a loop of its own."""
    return run_in_own_loop(_handshake(url, credential))


def leaks(body: bytes, markers: list[str]) -> list[str]:
    """The markers (secrets, note text, paths) found in a refused answer."""
    return [m for m in markers if m and m.encode() in body]


# --- the service ------------------------------------------------------------------------


@dataclass
class Running:
    """A service on a thread, its knowledge base and a seeded note."""

    kb: KnowledgeBase
    thread: ServiceThread
    seed_id: str

    @property
    def info(self) -> ServiceInfo:
        return self.thread.info

    def state(self) -> dict[str, Any]:
        """Every node, edge and the change-log seq, read on the service's write queue."""
        return self.thread.service.queue.submit(db_state, self.kb).result()

    def call(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        status, text = fetch(self.info.url, method, path, Credential("ok", self.info.token), data)
        return status, json.loads(text or b"null")


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Running, Running]]:
    """Two services of two knowledge bases, each with one private note."""
    running = []
    for name in ("a", "b"):
        folder = tmp_path_factory.mktemp(f"kb-{name}") / "kb"
        kb = KnowledgeBase(folder, settings=isolated_settings(folder, folder.parent / "none.toml"))
        seed = kb.create("text", f"{SECRET} {name}", f"private content {SECRET}")
        running.append(Running(kb, ServiceThread(kb), seed.id))
    yield running[0], running[1]
    for service in running:
        service.thread.stop()
        service.kb.close()


def service_routes(target: Running, tx_ids: tuple[str, ...]) -> list[Route]:
    app = make_app(target.thread.service)
    examples = {
        "kb": (*METHODS, "no_such_method"),
        "ai": ai_names(app),
        "transactions": tx_ids,
    }
    return plan(service_rules(app), examples)


def service_credentials(other: Running) -> list[Credential]:
    """Every way of asking that the service must refuse (401 without, 403 with a token)."""
    return [
        Credential("none"),
        Credential("wrong header", header=wrong()),
        Credential("wrong query", query=wrong()),
        Credential("other kb's token (header)", header=other.info.token),
        Credential("other kb's token (query)", query=other.info.token),
        Credential("empty header", header=""),
    ]


def service_markers(*services: Running) -> list[str]:
    out = [SECRET, PLANTED]
    for s in services:
        out += [s.info.token, str(s.kb.path)]
    return out


def sweep_service(target: Running, other: Running, tx_id: str) -> tuple[list[str], set[Any]]:
    """Request every route, method and refused credential of `target`; (problems, requested)."""
    problems: list[str] = []
    requested: set[tuple[str, str]] = set()
    markers = service_markers(target, other)
    for route in service_routes(target, (tx_id, "0123abcd")):
        for path, method in itertools.product(route.paths, route.handler.SUPPORTED_METHODS):
            body = body_for(path, method, target.seed_id)
            for credential in service_credentials(other):
                status, text = fetch(target.info.url, method, path, credential, body)
                COUNTS["service"] = COUNTS.get("service", 0) + 1
                expected = 401 if credential.name in ("none", "empty header") else 403
                if status != expected or leaks(text, markers):
                    problems.append(
                        f"{method} {path} with {credential.name}: {status} (want {expected}), "
                        f"leaked {leaks(text, markers)}, body {text[:200]!r}"
                    )
            requested.add((route.pattern, method))
    return problems, requested


def test_every_service_route_refuses_without_its_own_token(
    services: tuple[Running, Running],
) -> None:
    for target, other in (services, services[::-1]):
        before = target.state()
        # A real open transaction: a commit or rollback that got through would end it.
        status, opened = target.call("POST", f"{PREFIX}/transactions", {"label": "sweep"})
        assert status == 200
        problems, requested = sweep_service(target, other, opened["id"])
        assert not problems, f"{len(problems)} requests not refused:\n" + "\n".join(problems)
        tx = target.thread.service.tx
        assert tx is not None and tx.id == opened["id"], "a refused request ended the transaction"
        status, _ = target.call("POST", f"{PREFIX}/transactions/{opened['id']}/rollback")
        assert status == 200
        assert target.state() == before, "a refused request changed the knowledge base"
        # Conformance: every rule of the app, with every method it implements, was requested.
        routes = service_routes(target, (opened["id"],))
        served = {(r.pattern, m) for r in routes for m in r.methods}
        assert served <= requested and len({p for p, _ in requested}) == len(routes)
        assert all(r.paths for r in routes), "a route no concrete path reaches"
    print(f"route sweep requests so far: {COUNTS}")


def test_the_sweep_covers_every_service_route(services: tuple[Running, Running]) -> None:
    routes = service_routes(services[0], ("0123abcd",))
    app = make_app(services[0].thread.service)
    assert len(routes) == len(app.wildcard_router.rules)
    calls = {p.rsplit("/", 1)[-1] for r in routes for p in r.paths if "/kb/" in p}
    assert calls == {*METHODS, "no_such_method"}
    assert [r.pattern for r in routes if r.websocket] == [f"{PREFIX}/feed$"]


def test_the_service_feed_refuses_at_the_handshake(services: tuple[Running, Running]) -> None:
    target, other = services
    for route in service_routes(target, ("0123abcd",)):
        if not route.websocket:
            continue
        for path in route.paths:
            url = target.info.url.replace("http", "ws", 1) + path
            for credential in service_credentials(other):
                expected = 401 if credential.name in ("none", "empty header") else 403
                assert (credential.name, handshake(url, credential)) == (credential.name, expected)
                COUNTS["service"] = COUNTS.get("service", 0) + 1
            assert handshake(url, Credential("valid query", query=target.info.token)) == 101
    print(f"route sweep requests so far: {COUNTS}")


@pytest.fixture
def captured() -> Iterator[list[str]]:
    """Every log record of this process (tornado and nodespace_lab at DEBUG), formatted."""
    lines: list[str] = []

    class Capture(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(self.format(record))

    handler = Capture(logging.DEBUG)
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    loggers = [logging.getLogger(n) for n in ("tornado", "nodespace_lab")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.DEBUG)
    logging.getLogger().addHandler(handler)
    try:
        yield lines
    finally:
        logging.getLogger().removeHandler(handler)
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


def test_no_token_reaches_the_service_log(
    services: tuple[Running, Running], captured: list[str]
) -> None:
    target, other = services
    refused = [
        Credential("wrong query", query=wrong()),
        Credential("wrong header", header=wrong()),
        Credential("other kb's token (query)", query=other.info.token),
    ]
    for route in service_routes(target, ("0123abcd",)):
        for path, method in itertools.product(route.paths, route.methods):
            for credential in refused:
                fetch(target.info.url, method, path, credential, body_for(path, method, "x"))
    valid = Credential("valid query", query=target.info.token)
    for path in (f"{PREFIX}/info", f"{PREFIX}/openapi.json"):
        assert fetch(target.info.url, "GET", path, valid, None)[0] == 200
    assert fetch(target.info.url, "POST", f"{PREFIX}/kb/seq", valid, b"{}")[0] == 200
    feed = target.info.url.replace("http", "ws", 1) + f"{PREFIX}/feed"
    assert handshake(feed, valid) == 101
    for credential in refused:
        assert handshake(feed, credential) == 403
    text = "\n".join(captured)
    # The capture saw the refusals and the accepted requests, redacted.
    assert "403 GET /api/v1/info?token=[redacted]" in text
    assert "200 GET /api/v1/info?token=[redacted]" in text
    for secret in (*[c.query or c.header for c in refused], target.info.token):
        assert secret is not None and secret not in text


# --- the Jupyter server extension -------------------------------------------------------


@dataclass
class Jupyter:
    """A real `jupyter server` with the extension, its token, log and service."""

    process: subprocess.Popen[bytes]
    url: str
    token: str
    log: Path
    kb_path: Path
    runtime: Path

    @property
    def service(self) -> ServiceInfo:
        info = read_info(runtime_file(self.kb_path, self.runtime))
        assert info is not None, "the extension's service wrote no runtime file"
        return info

    def status(self) -> Any:
        path = "/nodespace/api/v1/status"
        status, text = fetch(self.url, "GET", path, Credential("ok", self.token), None)
        assert status == 200
        return json.loads(text)


@pytest.fixture(scope="module")
def jupyter(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Jupyter]:
    """`jupyter server` at DEBUG; its token comes from JUPYTER_TOKEN, on no command line."""
    base = tmp_path_factory.mktemp("jupyter")
    token, port = secrets.token_hex(16), free_port()
    env = {
        **service_env(base),
        "NODESPACE_KB": str(base / "kb"),
        "JUPYTER_RUNTIME_DIR": str(base / "jupyter-runtime"),
        "JUPYTER_TOKEN": token,
    }
    command = [
        sys.executable, "-m", "jupyter_server", "--no-browser", f"--port={port}",
        "--ServerApp.ip=127.0.0.1", f"--ServerApp.root_dir={base}", "--log-level=DEBUG",
    ]  # fmt: skip
    if os.geteuid() == 0:
        command.append("--allow-root")
    log = base / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    server = Jupyter(process, f"http://127.0.0.1:{port}", token, log, (base / "kb").resolve(),
                     base / "runtime")  # fmt: skip
    try:
        wait_until_up(f"{server.url}/api/status?token={token}", process)
        deadline = time.monotonic() + 60
        while not server.status()["running"]:
            assert time.monotonic() < deadline, "the extension's service did not come up"
            time.sleep(0.1)
        yield server
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.wait(30)


def jupyter_routes(root: Path) -> list[Route]:
    service_app = make_app(Service.__new__(Service))  # the rules only, no knowledge base
    examples = {"kb": (*METHODS, "no_such_method"), "ai": ai_names(service_app)}
    return plan(extension_rules(root), examples)


def login_cookie(server: Jupyter) -> str:
    """The login cookie Jupyter sets on a token-authenticated request."""
    connection = connect(server.url)
    connection.request("GET", f"/nodespace/api/v1/status?token={server.token}")
    answer = connection.getresponse()
    answer.read()
    connection.close()
    cookies = [c.split(";", 1)[0] for c in answer.headers.get_all("Set-Cookie") or []]
    login = [c for c in cookies if c.startswith("username-")]
    assert login, f"Jupyter set no login cookie: {cookies}"
    return login[0]


def jupyter_credentials(server: Jupyter, other: Running) -> list[Credential]:
    """Every way of asking that Jupyter must refuse (403)."""
    return [
        Credential("none"),
        Credential("wrong header", header=wrong()),
        Credential("wrong query", query=wrong()),
        Credential("its service's token (header)", header=server.service.token),
        Credential("its service's token (query)", query=server.service.token),
        Credential("other kb's service token", header=other.info.token),
    ]


def expected_jupyter(route: Route, method: str, credential: Credential) -> set[int]:
    """403 for every method we implement; a stub may answer 405 first (no login is checked)."""
    if route.preflight(method):
        return {200, 204}
    if method in route.methods:
        return {403}
    return {403, 405}


def sweep_jupyter(
    server: Jupyter, other: Running, routes: list[Route]
) -> tuple[list[str], set[Any]]:
    """Request every route, method and refused credential of the extension."""
    problems: list[str] = []
    requested: set[tuple[str, str]] = set()
    markers = [SECRET, PLANTED, server.token, server.service.token, str(server.kb_path),
               other.info.token]  # fmt: skip
    cookie_only = Credential("login cookie without XSRF", cookie=login_cookie(server))
    for route in routes:
        for path, method in itertools.product(route.paths, route.handler.SUPPORTED_METHODS):
            body = body_for(path, method, "x")
            credentials = jupyter_credentials(server, other)
            if method in BODY_METHODS:
                credentials.append(cookie_only)
            for credential in credentials:
                status, text = fetch(server.url, method, path, credential, body)
                COUNTS["jupyter"] = COUNTS.get("jupyter", 0) + 1
                want = expected_jupyter(route, method, credential)
                # Jupyter's HTML error page embeds the token for a logged-in user, as all
                # its pages do: the cookie's holder has it, and another site cannot read it.
                secret = [m for m in markers if credential is not cookie_only or m != server.token]
                leaked = leaks(text, secret)
                if status not in want or leaked or (route.preflight(method) and text):
                    problems.append(
                        f"{method} {path} with {credential.name}: {status} (want {want}), "
                        f"leaked {leaked}, body {text[:200]!r}"
                    )
            requested.add((route.pattern, method))
    return problems, requested


def test_every_jupyter_route_refuses_without_login_or_xsrf(
    jupyter: Jupyter, services: tuple[Running, Running], tmp_path: Path
) -> None:
    client = RemoteKnowledgeBase(jupyter.service)
    try:
        client.create("text", f"{SECRET} jupyter", "private")
        before, status_before = db_state(client), jupyter.status()  # type: ignore[arg-type]
        routes = jupyter_routes(tmp_path)
        problems, requested = sweep_jupyter(jupyter, services[0], routes)
        assert not problems, f"{len(problems)} requests not refused:\n" + "\n".join(problems)
        assert db_state(client) == before, "a refused request changed the knowledge base"  # type: ignore[arg-type]
        assert jupyter.status() == status_before, "a refused request switched the knowledge base"
    finally:
        client.close()
    served = {(r.pattern, m) for r in routes for m in r.methods}
    assert served <= requested and len({p for p, _ in requested}) == len(routes)
    assert all(r.paths for r in routes), "a route no concrete path reaches"
    print(f"route sweep requests so far: {COUNTS}")


def test_the_xsrf_refusal_is_xsrf_not_a_broken_cookie(jupyter: Jupyter) -> None:
    cookie = login_cookie(jupyter)
    path, body = "/nodespace/api/v1/kb/seq", b"{}"
    assert fetch(jupyter.url, "GET", "/nodespace/api/v1/status", Credential("c", cookie=cookie),
                 None)[0] == 200  # fmt: skip
    assert fetch(jupyter.url, "POST", path, Credential("c", cookie=cookie), body)[0] == 403
    xsrf = secrets.token_hex(16)  # double submit: the cookie and the header agree
    connection = connect(jupyter.url)
    connection.request("POST", path, body, {"Cookie": f"{cookie}; _xsrf={xsrf}",
                                            "X-XSRFToken": xsrf})  # fmt: skip
    assert connection.getresponse().status == 200
    connection.close()


def test_the_sweep_covers_every_jupyter_route(tmp_path: Path) -> None:
    routes = jupyter_routes(tmp_path)
    assert len(routes) == len(extension_rules(tmp_path))
    ai = {p.rsplit("/", 1)[-1] for r in routes for p in r.paths if "/ai/" in p}
    assert {"ask", "draft_task", "draft_query", "status"} <= ai
    assert [r.pattern for r in routes if r.websocket] == ["/nodespace/api/v1/feed"]


def test_the_jupyter_feed_refuses_at_the_handshake(
    jupyter: Jupyter, services: tuple[Running, Running], tmp_path: Path
) -> None:
    for route in jupyter_routes(tmp_path):
        if not route.websocket:
            continue
        for path in route.paths:
            url = jupyter.url.replace("http", "ws", 1) + path
            for credential in jupyter_credentials(jupyter, services[0]):
                assert (credential.name, handshake(url, credential)) == (credential.name, 403)
                COUNTS["jupyter"] = COUNTS.get("jupyter", 0) + 1
            assert handshake(url, Credential("valid", query=jupyter.token)) == 101
    print(f"route sweep requests so far: {COUNTS}")


def test_no_token_reaches_the_jupyter_log(
    jupyter: Jupyter, services: tuple[Running, Running], tmp_path: Path
) -> None:
    refused = [
        Credential("wrong query", query=wrong()),
        Credential("wrong header", header=wrong()),
        Credential("service token (query)", query=jupyter.service.token),
    ]
    for route in jupyter_routes(tmp_path):
        for path, method in itertools.product(route.paths, route.methods):
            for credential in refused:
                fetch(jupyter.url, method, path, credential, body_for(path, method, "x"))
    valid = Credential("valid query", query=jupyter.token)
    for name in ("status", "info", "openapi.json"):
        assert fetch(jupyter.url, "GET", f"/nodespace/api/v1/{name}", valid, None)[0] == 200
    feed = jupyter.url.replace("http", "ws", 1) + "/nodespace/api/v1/feed"
    assert handshake(feed, valid) == 101
    assert handshake(feed, refused[0]) == 403
    time.sleep(0.5)  # the server and its service child write their last lines
    text = jupyter.log.read_text(errors="replace")
    assert "/nodespace/api/v1/status" in text, "the log shows no request: nothing was captured"
    secrets_ = [c.query or c.header for c in refused]
    for secret in (*secrets_, jupyter.token, jupyter.service.token, services[0].info.token):
        assert secret is not None and secret not in text

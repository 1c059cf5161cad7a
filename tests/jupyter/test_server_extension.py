"""The Jupyter server extension in a real `jupyter server`: auth, proxying, supervision."""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from nodespace_lab.service.runtime import read_info, runtime_file

from ..processes import free_port, jupyter_command, run_in_own_loop, wait_until_up
from ..service.running import service_env

ROUTES = [
    ("GET", "status"),
    ("POST", "select"),
    ("GET", "info"),
    ("GET", "openapi.json"),
    ("POST", "kb/create"),
    ("POST", "kb/get"),
    ("POST", "ai/ask"),
    ("POST", "ai/draft_task"),
    ("POST", "ai/draft_query"),
    ("GET", "ai/status"),
    ("GET", "feed"),
]


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    url: str
    token: str
    kb_path: Path
    runtime: Path

    def call(self, verb: str, route: str, body: Any = None, token: str | None = "") -> Any:
        """Request /nodespace/api/v1/<route>; returns (status, decoded JSON or None)."""
        token = self.token if token == "" else token
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"{self.url}/nodespace/api/v1/{route}", data=data, method=verb
        )
        if token:
            request.add_header("Authorization", f"token {token}")
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                return answer.status, json.loads(answer.read() or b"null")
        except urllib.error.HTTPError as error:
            text = error.read()
            try:
                return error.code, json.loads(text)
            except ValueError:
                return error.code, None

    def service_info(self) -> Any:
        return read_info(runtime_file(self.kb_path, self.runtime))

    def wait_running(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status, body = self.call("GET", "status")
            if status == 200 and body["running"]:
                return
            time.sleep(0.1)
        raise AssertionError("the NodeSpace service did not come up under jupyter server")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """`jupyter server` with a token and NODESPACE_KB; the extension is enabled by install."""
    base = tmp_path_factory.mktemp("jupyter")
    token, port = secrets.token_hex(16), free_port()
    env = {
        **service_env(base),
        "NODESPACE_KB": str(base / "kb"),
        "JUPYTER_RUNTIME_DIR": str(base / "jupyter-runtime"),
    }
    command = jupyter_command("jupyter_server", port, token, base)
    log = (base / "server.log").open("wb")
    process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    running = Server(process, url, token, (base / "kb").resolve(), base / "runtime")
    try:
        wait_until_up(f"{url}/api/status?token={token}", process)
        running.wait_running()
        yield running
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.wait(30)
        log.close()


@pytest.mark.parametrize(("verb", "route"), ROUTES)
def test_every_route_is_403_without_the_jupyter_token(
    server: Server, verb: str, route: str
) -> None:
    body = {} if verb == "POST" else None
    assert server.call(verb, route, body, token=None)[0] == 403
    assert server.call(verb, route, body, token="wrong")[0] == 403


def test_the_browser_api_reaches_the_service(server: Server) -> None:
    status, created = server.call("POST", "kb/create", {"args": ["task", "from the browser"]})
    assert status == 200
    node = created["result"]["value"]
    assert node["title"] == "from the browser"
    status, got = server.call("POST", "kb/get", {"args": [node["id"]]})
    assert (status, got["result"]["value"]["kind"]) == (200, "task")
    status, error = server.call("POST", "kb/get", {"args": ["missing"]})
    assert (status, error["error"]) == (404, "NotFound")
    assert "'missing' does not exist" in error["message"]
    status, info = server.call("GET", "info")
    assert info["path"] == str(server.kb_path) and info["seq"] >= 1


def test_the_browser_gets_the_ai_routes_and_a_streamed_answer(server: Server) -> None:
    server.call("POST", "kb/create", {"args": ["text", "Feeding the levain", "Twice a day."]})
    status, draft = server.call(
        "POST", "ai/draft_task", {"sentence": "feed the levain tomorrow", "today": "2026-11-26"}
    )
    assert status == 200 and draft["result"]["due"] == "2026-11-27"
    status, query = server.call("POST", "ai/draft_query", {"question": "open tasks"})
    assert status == 200 and query["result"]["code"].startswith("kb.find('task')")
    request = urllib.request.Request(
        f"{server.url}/nodespace/api/v1/ai/ask",
        data=json.dumps({"question": "How often is the levain fed?", "save": False}).encode(),
        method="POST",
        headers={"Authorization": f"token {server.token}"},
    )
    with urllib.request.urlopen(request, timeout=120) as answer:
        assert answer.headers["Content-Type"].startswith("application/x-ndjson")
        lines = [json.loads(line) for line in answer if line.strip()]
    assert any("piece" in line for line in lines)
    final = lines[-1]["answer"]
    assert final["sources"][0]["title"] == "Feeding the levain"
    status, error = server.call("POST", "ai/ask", {"question": ""})
    assert (status, error["error"]) == (400, "ValidationError")


def test_the_service_token_never_reaches_the_browser(server: Server) -> None:
    secret = server.service_info().token
    for verb, route in ROUTES[:3]:
        _, body = server.call(verb, route)
        assert secret not in json.dumps(body)


def test_a_dead_service_is_restarted(server: Server) -> None:
    before = server.service_info()
    os.kill(before.pid, signal.SIGKILL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        info = server.service_info()
        _, body = server.call("GET", "status")
        if info is not None and info.pid != before.pid and body["running"]:
            break
        time.sleep(0.2)
    else:
        raise AssertionError("the service was not restarted")
    assert body["restarts"] >= 1
    assert server.call("POST", "kb/exists", {"args": ["nope"]})[1]["result"] is False
    log = (server.kb_path.parent / "server.log").read_text()
    assert "exited with code" in log and "restarting in" in log


def test_the_settings_choose_another_knowledge_base(server: Server) -> None:
    root = server.kb_path.parent
    _, before = server.call("GET", "status")
    status, chosen = server.call("POST", "select", {"path": "research"})
    assert status == 200, chosen
    assert chosen["kb"] == str(root / "research") and chosen["running"]
    assert chosen["generation"] == before["generation"] + 1
    assert chosen["started_with"] == str(server.kb_path)
    status, created = server.call("POST", "kb/create", {"args": ["text", "only in research"]})
    assert status == 200, created
    _, info = server.call("GET", "info")
    assert info["path"] == str(root / "research")
    # The first knowledge base's service keeps running for kernels still using it.
    assert server.service_info() is not None
    status, back = server.call("POST", "select", {"path": ""})
    assert (status, back["kb"]) == (200, str(server.kb_path))
    found = server.call("POST", "kb/exists", {"args": [created["result"]["value"]["id"]]})[1]
    assert found["result"] is False
    again = server.call("POST", "select", {"path": str(server.kb_path)})[1]
    assert again["generation"] == back["generation"]  # already current: nothing switched


@pytest.mark.parametrize(
    ("path", "says"),
    [
        ("/etc", "outside the Jupyter root"),
        ("../..", "outside the Jupyter root"),
        ("server.log", "is a file"),
        ("jupyter-runtime", "is not a knowledge base"),
        ("server.log/kb", "is a file, so no folder can be made under it"),
    ],
)
def test_a_bad_knowledge_base_path_is_refused(server: Server, path: str, says: str) -> None:
    (server.kb_path.parent / "jupyter-runtime").mkdir(exist_ok=True)
    (server.kb_path.parent / "jupyter-runtime" / "x.json").touch()
    _, before = server.call("GET", "status")
    status, error = server.call("POST", "select", {"path": path})
    assert (status, error["error"]) == (400, "ValidationError")
    assert says in error["message"] and repr(path) in error["message"]
    assert server.call("GET", "status")[1] == before
    assert server.call("POST", "select", {"wrong": 1})[0] == 400


def test_a_feed_of_the_old_knowledge_base_is_closed_on_switch(server: Server) -> None:
    from tornado import httpclient, websocket

    async def feed_close_code(kb: Path) -> int | None:
        url = server.url.replace("http", "ws") + f"/nodespace/api/v1/feed?since=0&kb={kb}"
        request = httpclient.HTTPRequest(url, headers={"Authorization": f"token {server.token}"})
        connection = await websocket.websocket_connect(request)
        while await connection.read_message() is not None:
            pass
        return connection.close_code

    assert run_in_own_loop(feed_close_code(server.kb_path / "other")) == 4001


def test_stopping_jupyter_stops_the_service(server: Server) -> None:
    info = server.service_info()
    server.process.send_signal(signal.SIGTERM)
    server.process.wait(30)
    deadline = time.monotonic() + 20
    import psutil

    while time.monotonic() < deadline and psutil.pid_exists(info.pid):
        time.sleep(0.1)
    assert not psutil.pid_exists(info.pid)
    assert server.service_info() is None

"""The service process: runtime file, calls, transactions, the change feed, many clients."""

from __future__ import annotations

import datetime as dt
import stat
import threading
import time
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest

import nodespace_lab as ns
from nodespace_lab.errors import ConflictError, NotFound, ValidationError
from nodespace_lab.graph import ChangeSet
from nodespace_lab.kb import KnowledgeBase
from nodespace_lab.service.client import RemoteKnowledgeBase
from nodespace_lab.service.runtime import ENV_SERVICE

from .running import RunningService, service_env, start_service


def test_runtime_file_is_private_and_names_the_service(service: RunningService) -> None:
    mode = stat.S_IMODE(service.runtime_file.stat().st_mode)
    assert mode == 0o600
    assert service.info.path == str(service.kb_path)
    assert service.info.url.startswith("http://127.0.0.1:")
    assert len(service.info.token) >= 32


def test_calls_return_what_the_embedded_api_returns(remote: RemoteKnowledgeBase) -> None:
    page = remote.create("text", "Reading", "See [[Graph databases]]", tags=["papers"])
    graphs = remote.create("text", "Graph databases", parent=page.id)
    task = remote.create("task", "Read", parent=page.id, due=dt.date(2026, 12, 1), priority=2)
    assert remote.get(task.id) == task
    assert task.due == dt.date(2026, 12, 1)
    assert [n.id for n in remote.children(page.id)] == [graphs.id, task.id]
    assert [n.id for n in remote.backlinks(graphs.id)] == [page.id]
    assert remote.tags(page.id) == ["papers"]
    assert [(d, n.id) for d, n in remote.subtree(page.id)][:2] == [(0, page.id), (1, graphs.id)]
    frame = remote.find("task").where(priority=2).to_polars()
    assert isinstance(frame, pl.DataFrame) and frame["id"].to_list() == [task.id]
    assert remote.search("graph databases")[0].id == graphs.id
    updated = remote.update(task.id, task_status="done", expected_version=task.version)
    assert updated.version == task.version + 1
    assert remote.changes(since=remote.seq - 1)[0].node_ids == [task.id]


def test_errors_keep_their_class_and_message(remote: RemoteKnowledgeBase) -> None:
    with pytest.raises(NotFound, match="'missing' does not exist"):
        remote.get("missing")
    node = remote.create("task", "versioned")
    remote.update(node.id, title="changed")
    with pytest.raises(ConflictError):
        remote.update(node.id, title="stale", expected_version=node.version)
    with pytest.raises(ValidationError, match="priority"):
        remote.create("task", "bad", priority=9)


def test_transactions_commit_together_or_not_at_all(remote: RemoteKnowledgeBase) -> None:
    before = remote.seq
    with remote.transaction("two notes"):
        first = remote.create("text", "first in tx")
        remote.create("text", "second in tx", parent=first.id)
    assert remote.seq == before + 1
    assert remote.changes(since=before)[0].label == "two notes"
    with pytest.raises(RuntimeError), remote.transaction():
        remote.create("text", "never committed")
        raise RuntimeError("stop")
    assert remote.seq == before + 1
    assert remote.find().contains("never committed").count() == 0


def test_a_transaction_makes_other_clients_wait(service: RunningService) -> None:
    one, two = service.client(), service.client()
    order: list[str] = []
    with one.transaction():
        one.create("text", "inside")
        writer = threading.Thread(target=lambda: order.append(two.create("text", "after").title))
        writer.start()
        time.sleep(0.3)
        order.append("commit")
    writer.join(10)
    assert order == ["commit", "after"]
    one.close()
    two.close()


def test_the_feed_resumes_from_a_sequence_number(remote: RemoteKnowledgeBase) -> None:
    start = remote.seq
    created = [remote.create("text", f"feed {i}").id for i in range(5)]
    seen: list[ChangeSet] = []
    stop = remote.follow(seen.append, since=start + 2)
    remote.create("text", "after following")
    _wait(lambda: len(seen) == 4)
    stop()
    assert [c.seq for c in seen] == [start + 3, start + 4, start + 5, start + 6]
    assert seen[0].node_ids == [created[2]]


def test_live_queries_follow_the_service(remote: RemoteKnowledgeBase) -> None:
    live = remote.live(remote.find("task").where(task_status="todo").contains("live-q"))
    task = remote.create("task", "live-q one")
    _wait(lambda: [r["id"] for r in live.rows] == [task.id])
    remote.update(task.id, task_status="done")
    _wait(lambda: live.rows == [])


def test_four_clients_writing_500_times_each_see_every_change_in_order(
    service: RunningService,
) -> None:
    clients = [service.client() for _ in range(4)]
    start = clients[0].seq
    seen: list[list[int]] = [[] for _ in clients]
    stops = [
        c.follow(lambda ch, i=i: seen[i].append(ch.seq), since=start) for i, c in enumerate(clients)
    ]
    errors: list[BaseException] = []

    def write(client: RemoteKnowledgeBase, who: int) -> None:
        try:
            for n in range(500):
                client.create("text", f"client {who} write {n}")
        except BaseException as exc:  # reported below: a thread's error must fail the test
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(c, i)) for i, c in enumerate(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert errors == []
    assert clients[0].find().contains("client ").count() == 2000
    end = clients[0].seq
    assert end == start + 2000
    _wait(lambda: all(len(s) == 2000 for s in seen), timeout=30)
    for got in seen:
        assert got == list(range(start + 1, end + 1))  # every change, in order, once
    for stop, client in zip(stops, clients, strict=True):
        stop()
        client.close()


def test_connect_finds_the_service(
    service: RunningService, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in service.env.items():
        monkeypatch.setenv(key, value)
    kb = ns.connect(service.kb_path)
    assert isinstance(kb, RemoteKnowledgeBase)
    assert kb.seq >= 0
    kb.close()
    monkeypatch.setenv(ENV_SERVICE, str(service.runtime_file))
    monkeypatch.setenv("NODESPACE_SERVICE_RUNTIME_DIR", str(service.runtime / "elsewhere"))
    assert isinstance(ns.connect(service.kb_path), RemoteKnowledgeBase)


def test_connect_opens_embedded_without_a_service(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in service_env(tmp_path).items():
        monkeypatch.setenv(key, value)
    kb = ns.connect(tmp_path / "alone")
    assert isinstance(kb, KnowledgeBase)
    kb.close()


def test_stopping_removes_the_runtime_file_and_keeps_the_data(
    tmp_path: Path, kb_factory: Callable[..., KnowledgeBase]
) -> None:
    running = start_service(tmp_path)
    client = running.client()
    node = client.create("text", "kept")
    client.close()
    assert running.stop() == 0
    assert not running.runtime_file.exists()
    assert kb_factory(running.kb_path).get(node.id).title == "kept"


def test_a_second_service_for_the_same_knowledge_base_is_refused(
    service: RunningService, tmp_path: Path
) -> None:
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "nodespace_lab", "serve", str(service.kb_path)],
        env=service.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "is open in another process" in result.stderr
    assert f"pid {service.process.pid}" in result.stderr


def test_the_service_listens_on_loopback_only(tmp_path: Path) -> None:
    import subprocess
    import sys

    env = service_env(tmp_path)
    env["NODESPACE_SERVICE_HOST"] = "0.0.0.0"
    result = subprocess.run(
        [sys.executable, "-m", "nodespace_lab", "serve", str(tmp_path / "kb")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "'0.0.0.0' is not a loopback address" in result.stderr


def _wait(condition: object, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.01)
    raise AssertionError("condition not met in time")


def test_the_command_line_goes_through_a_running_service(service: RunningService) -> None:
    import subprocess
    import sys

    def nodespace(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "nodespace_lab", "--kb", str(service.kb_path), *args]
        return subprocess.run(command, env=service.env, capture_output=True, text=True, timeout=60)

    added = nodespace("add", "task", "added from the shell", "--priority", "1")
    assert added.returncode == 0, added.stderr
    found = nodespace("find", "--kind", "task", "--format", "json")
    assert "added from the shell" in found.stdout
    assert nodespace("changes", "--limit", "1").returncode == 0
    doctor = nodespace("doctor")
    assert doctor.returncode == 1
    assert "a service is serving it" in doctor.stderr


def test_wrong_arguments_are_the_callers_error(service: RunningService) -> None:
    import http.client
    import json
    import urllib.parse

    parts = urllib.parse.urlsplit(service.info.url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    headers = {"Authorization": f"token {service.info.token}"}
    connection.request(
        "POST", "/api/v1/kb/get", json.dumps({"node_id": "x", "colour": "red"}), headers
    )
    answer = connection.getresponse()
    body = json.loads(answer.read())
    connection.close()
    assert answer.status == 400
    assert body["error"] == "ValidationError"
    assert "get()" in body["message"] and "colour" in body["message"]

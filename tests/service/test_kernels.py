"""Two real kernels share one knowledge base through its service, as in JupyterLab."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from jupyter_client.manager import KernelManager, start_new_kernel

from nodespace_lab.service.runtime import ENV_SERVICE

from .running import RunningService


def _run(client: Any, code: str) -> str:
    """Execute `code` in a kernel; its printed output (an error in the kernel fails the test)."""
    printed: list[str] = []
    errors: list[str] = []

    def collect(message: dict[str, Any]) -> None:
        kind, content = message["msg_type"], message["content"]
        if kind == "stream":
            printed.append(content["text"])
        elif kind == "error":
            errors.append("\n".join(content["traceback"]))

    reply = client.execute_interactive(code, timeout=60, output_hook=collect)
    assert reply["content"]["status"] == "ok", "\n".join(errors)
    return "".join(printed)


@pytest.fixture
def kernels(service: RunningService) -> Iterator[list[Any]]:
    """Two kernels started as the Jupyter server extension starts them (service in env)."""
    env = {**service.env, "NODESPACE_KB": str(service.kb_path)}
    env[ENV_SERVICE] = str(service.runtime_file)
    started: list[tuple[KernelManager, Any]] = [
        start_new_kernel(kernel_name="python3", env=env) for _ in range(2)
    ]
    yield [client for _, client in started]
    for manager, client in started:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


SETUP = """
import time, json
import nodespace_lab as ns
kb = ns.connect()
print(type(kb).__name__)
"""


def test_a_write_in_one_kernel_reaches_a_live_query_in_the_other(kernels: list[Any]) -> None:
    a, b = kernels
    assert _run(a, SETUP).strip() == "RemoteKnowledgeBase"
    assert _run(b, SETUP).strip() == "RemoteKnowledgeBase"
    _run(
        a,
        "seen = {}\n"
        "live = kb.live(kb.find('task').where(task_status='todo').contains('kernel-b'))\n"
        "live.observe(lambda d: [seen.setdefault(r['title'], time.time()) for r in d.added])",
    )
    written = json.loads(
        _run(b, "t = time.time(); kb.create('task', 'from kernel-b'); print(json.dumps(t))")
    )
    arrival = json.loads(
        _run(
            a,
            "deadline = time.time() + 10\n"
            "while 'from kernel-b' not in seen and time.time() < deadline: time.sleep(0.005)\n"
            "print(json.dumps(seen.get('from kernel-b')))",
        )
    )
    assert arrival is not None, "kernel A's live query never showed kernel B's write"
    print(f"kernel B write -> kernel A live query: {(arrival - written) * 1000:.1f} ms")


def test_concurrent_edits_from_two_kernels_report_the_conflict(kernels: list[Any]) -> None:
    a, b = kernels
    _run(a, SETUP)
    _run(b, SETUP)
    node = json.loads(
        _run(a, "n = kb.create('text', 'shared'); print(json.dumps([n.id, n.version]))")
    )
    edit = (
        "try:\n"
        "    kb.update({id!r}, title={title!r}, expected_version={version})\n"
        "    print('saved')\n"
        "except ns.NodespaceError as e:\n"
        "    print(type(e).__name__)"
    )
    first = _run(a, edit.format(id=node[0], title="by A", version=node[1])).strip()
    second = _run(b, edit.format(id=node[0], title="by B", version=node[1])).strip()
    assert (first, second) == ("saved", "ConflictError")
    assert _run(b, f"print(kb.get({node[0]!r}).title)").strip() == "by A"

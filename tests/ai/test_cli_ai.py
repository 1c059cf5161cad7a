"""`nodespace ask`, `nodespace task` and `nodespace ai status` (in-process, real model)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from nodespace_lab import KnowledgeBase
from nodespace_lab.cli import cli

from ..conftest import TEST_ENGINE

Run = Callable[..., Result]


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Run:
    """`run(*args, input=None)`: `nodespace --kb KB <args>` with isolated settings."""
    for name in list(os.environ):
        if name.startswith("NODESPACE_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("NODESPACE_CONFIG", str(tmp_path / "none.toml"))
    monkeypatch.setenv("NODESPACE_STORAGE_ENGINE", TEST_ENGINE)
    kb_path = tmp_path / "kb"
    with KnowledgeBase(kb_path) as kb:
        kb.create("text", "Feeding the levain", "Feed the starter twice a day.")
        kb.create("text", "Ana", "A colleague.")

    def invoke(*args: str, input: str | None = None) -> Result:
        result = CliRunner().invoke(cli, ["--kb", str(kb_path), *args], input=input)
        assert result.exception is None or isinstance(result.exception, SystemExit)
        return result

    return invoke


def test_task_shows_the_draft_and_adds_it_when_confirmed(run: Run, tmp_path: Path) -> None:
    declined = run("task", "--today", "2026-11-26", "email Ana next Friday, p2", input="n\n")
    assert "due: 2026-12-04" in declined.output and "Nothing written." in declined.output
    added = run(
        "task", "--today", "2026-11-26", "--yes", "--no-model", "email Ana tomorrow, urgent"
    )
    assert added.exit_code == 0, added.output
    with KnowledgeBase(tmp_path / "kb") as kb:
        tasks = kb.find("task").all()
        assert [(t.title, t.due.isoformat() if t.due else None, t.priority) for t in tasks] == [
            ("Email Ana", "2026-11-27", 1)
        ]
        assert [n.title for n in kb.links(tasks[0].id)] == ["Ana"]


def test_ask_prints_json_with_sources_and_stores_nothing_with_no_save(
    run: Run, tmp_path: Path
) -> None:
    result = run("ask", "--no-save", "--format", "json", "How often do I feed the starter?")
    assert result.exit_code == 0, result.output
    answer = json.loads(result.output[result.output.index("{") :])
    assert answer["sources"][0]["title"] == "Feeding the levain"
    assert answer["chat_id"] is None
    with KnowledgeBase(tmp_path / "kb") as kb:
        assert kb.find("chat").all() == []


def test_ai_status_and_a_failing_check(run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    status = run("ai", "status")
    assert status.exit_code == 0 and "backend: llamacpp" in status.output
    monkeypatch.setenv("NODESPACE_AI_MODEL_PATH", "/nowhere/model.gguf")
    failed = run("ai", "status", "--check")
    assert failed.exit_code == 1 and "/nowhere/model.gguf" in failed.output

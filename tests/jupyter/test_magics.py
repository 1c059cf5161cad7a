"""`%load_ext nodespace_lab` in a real IPython shell."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

from nodespace_lab import KnowledgeBase


@pytest.fixture(autouse=True)
def environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, engine: str) -> None:
    """Knowledge bases opened by the magics use the engine under test, no user config."""
    monkeypatch.setenv("NODESPACE_CONFIG", str(tmp_path / "none.toml"))
    monkeypatch.setenv("NODESPACE_STORAGE_ENGINE", engine)


@pytest.fixture
def shell() -> Iterator[InteractiveShell]:
    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "nodespace_lab")
    yield ip
    ip.run_line_magic("nodespace", "close")


def test_cypher_cell_takes_dollar_parameters_from_the_notebook(
    shell: InteractiveShell, tmp_path: Path
) -> None:
    kb = shell.run_line_magic("nodespace", f"open {tmp_path / 'kb'}")
    assert isinstance(kb, KnowledgeBase)
    for priority in (1, 2, 2):
        kb.create("task", title=f"p{priority}", priority=priority)
    shell.user_ns["wanted"] = 2
    frame = shell.run_cell_magic(
        "cypher", "", "MATCH (t:Node) WHERE t.priority = $wanted RETURN t.title AS title"
    )
    assert isinstance(frame, pl.DataFrame)
    assert frame["title"].to_list() == ["p2", "p2"]


def test_cypher_cell_is_read_only_and_names_missing_parameters(
    shell: InteractiveShell, tmp_path: Path
) -> None:
    shell.run_line_magic("nodespace", f"open {tmp_path / 'kb'}")
    shell.user_ns.pop("nowhere", None)
    with pytest.raises(UsageError, match=r"\$nowhere is not defined"):
        shell.run_cell_magic("cypher", "", "MATCH (n:Node {id: $nowhere}) RETURN n.id")
    from nodespace_lab.errors import QueryError

    with pytest.raises(QueryError, match="read-only"):
        shell.run_cell_magic("cypher", "", "MATCH (n:Node) DETACH DELETE n")


def test_live_cypher_cell_follows_writes(shell: InteractiveShell, tmp_path: Path) -> None:
    kb = shell.run_line_magic("nodespace", f"open {tmp_path / 'kb'}")
    live = shell.run_cell_magic("cypher", "--live", "MATCH (n:Node) RETURN n.id AS id")
    kb.create("text", title="new")
    assert kb.live_registry.flush()
    assert len(live.rows) == 1


def test_line_magic_uses_nodespace_kb_and_explains_itself(
    shell: InteractiveShell, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NODESPACE_KB", raising=False)
    with pytest.raises(UsageError, match="%nodespace open PATH"):
        shell.run_line_magic("nodespace", "")
    monkeypatch.setenv("NODESPACE_KB", str(tmp_path / "env-kb"))
    day = shell.run_line_magic("nodespace", "journal")
    assert day.kind == "date"
    with pytest.raises(UsageError, match="Unknown %nodespace command"):
        shell.run_line_magic("nodespace", "frobnicate")


def test_rich_display_escapes_user_content(tmp_path: Path) -> None:
    with KnowledgeBase(tmp_path / "kb") as kb:
        payload = '<script>alert(1)</script><img src=x onerror="alert(2)">'
        node = kb.create("text", title=payload, content=payload)
        bundle = node._repr_mimebundle_()
        assert "<script>" not in bundle["text/html"] and "<img" not in bundle["text/html"]
        assert "&lt;script&gt;" in bundle["text/html"]
        live = kb.live(kb.find("text"))
        table = live._repr_mimebundle_()["text/html"]
        assert "<script>" not in table and "<img" not in table
        assert "1 rows" in live._repr_mimebundle_()["text/plain"]

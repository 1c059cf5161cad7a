"""A knowledge base is readable by its owner only: folders 0700, files 0600.

Issue 12, hole 5. Knowledge bases were created 0755/0644 and another local
user read note text from the engine's write-ahead log. Now the folder is
created 0700 (so nothing inside is reachable, whatever the engine's umask),
files are made 0600 on open and close, and `nodespace doctor` reports looser
modes with the `chmod` fix (`--repair` applies it).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from nodespace_lab import KnowledgeBase
from nodespace_lab.cli import cli
from nodespace_lab.config.private import user_name
from nodespace_lab.graph.engine import DB_FILE
from nodespace_lab.kb.doctor import doctor, permission_problems
from tests.conftest import KBFactory
from tests.security.local_user import READ_EACH, LocalUser, attacker, shared_root
from tests.service.running import start_service

__all__ = ["attacker", "shared_root"]  # fixtures, found by name

SECRET = "The merger closes on Friday"


def _tree(root: Path) -> Iterator[Path]:
    yield root
    yield from sorted(root.rglob("*"))


def _modes(root: Path) -> dict[str, int]:
    """Mode bits of every entry under `root`, by path relative to it ('.' for root)."""
    return {
        str(p.relative_to(root)): stat.S_IMODE(p.lstat().st_mode)
        for p in _tree(root)
        if not p.is_symlink()
    }


def _fill(kb: KnowledgeBase) -> None:
    """Writes, a search, the vector index (embedding) and a checkpoint-worthy batch."""
    parent = kb.create("text", "Board notes", SECRET)
    for i in range(20):
        kb.create("task", f"Follow-up {i}", f"{SECRET} ({i})", parent=parent.id)
    assert kb.search("merger")
    kb.vectors  # noqa: B018  # opens the vector index: embeds every node
    kb.sync_search()
    assert kb.search("when does the merger close", mode="hybrid")


def _private(modes: dict[str, int], root: Path) -> None:
    for name, mode in modes.items():
        wanted = 0o700 if (root / name).is_dir() else 0o600
        assert mode == wanted, f"{name} is {mode:04o}, not {wanted:04o}"


def test_a_new_knowledge_base_stays_private_through_writes_search_and_embedding(
    kb_factory: KBFactory, tmp_path: Path
) -> None:
    folder = tmp_path / "kb"
    kb = kb_factory(folder)
    _fill(kb)
    # While open, the folder is the wall: what the engine and the indexes make meanwhile
    # with the umask (0644 files, a 0755 vectors folder) is out of other users' reach.
    assert _modes(folder)["."] == 0o700
    assert {"fulltext", "vectors"} <= {p.name for p in folder.iterdir()}
    kb.close()
    closed = _modes(folder)
    _private(closed, folder)
    files = [n for n in closed if (folder / n).is_file()]
    assert len(files) >= 8, files  # graph, lock, index segments, vectors
    assert all(closed[n] == 0o600 for n in files), closed


def test_another_user_cannot_read_an_open_knowledge_base(
    attacker: LocalUser, shared_root: Path, kb_factory: KBFactory
) -> None:
    folder = shared_root / "kb"
    kb = kb_factory(folder)
    _fill(kb)
    paths = [str(p) for p in _tree(folder)]
    assert any(p.endswith(".wal") for p in paths), paths  # the log the attack read
    outcome = attacker.python(READ_EACH, *paths)
    assert outcome == dict.fromkeys(paths, "PermissionError")


def test_files_stay_private_when_the_folder_is_opened_for_passing_through(
    attacker: LocalUser, shared_root: Path, kb_factory: KBFactory
) -> None:
    folder = shared_root / "kb"
    kb = kb_factory(folder)
    _fill(kb)
    kb.close()
    folder.chmod(0o711)  # others may pass through but not list: only the file modes protect
    paths = [str(p) for p in _tree(folder) if p != folder]
    outcome = attacker.python(READ_EACH, *paths)
    assert outcome == dict.fromkeys(paths, "PermissionError")


def test_an_existing_empty_folder_becomes_private_when_it_becomes_a_knowledge_base(
    kb_factory: KBFactory, tmp_path: Path
) -> None:
    folder = tmp_path / "empty"
    folder.mkdir(mode=0o755)
    folder.chmod(0o755)
    kb_factory(folder).close()
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700


def _old_style(folder: Path) -> None:
    """Modes as older versions left them: folders 0755, files 0644."""
    for path in _tree(folder):
        path.chmod(0o755 if path.is_dir() else 0o644)


def test_a_folder_opened_up_on_purpose_is_left_alone_and_reported(
    kb_factory: KBFactory, tmp_path: Path, engine: str
) -> None:
    folder = tmp_path / "kb"
    kb_factory(folder).close()
    _old_style(folder)
    kb = kb_factory(folder)
    kb.create("text", "More", SECRET)
    kb.close()
    assert stat.S_IMODE(folder.stat().st_mode) == 0o755  # the user's choice stands
    named = {p.node_id for p in permission_problems(folder)}
    assert {str(folder), str(folder / DB_FILE[engine]), str(folder / "fulltext")} <= named


def test_doctor_reports_loose_modes_with_the_fix_and_repairs_them(
    kb_factory: KBFactory, tmp_path: Path
) -> None:
    folder = tmp_path / "kb"
    kb = kb_factory(folder)
    kb.create("text", "Note", SECRET)
    kb.close()
    _old_style(folder)
    outside = tmp_path / "outside.txt"
    outside.write_text("not ours to change")
    outside.chmod(0o644)
    (folder / "link").symlink_to(outside)

    kb = kb_factory(folder)
    report = doctor(kb)
    loose = [p for p in report.problems if p.check == "permissions"]
    by_path = {p.node_id: str(p) for p in loose}
    assert by_path[str(folder)] == (
        f"[permissions] {folder}: owned by {user_name(os.getuid())}, mode 0755: other users "
        f"may use this folder; run chmod 700 {folder} (or nodespace doctor --repair)"
    )
    assert (
        f"chmod 600 {folder / 'fulltext' / 'meta.json'}"
        in by_path[str(folder / "fulltext" / "meta.json")]
    )
    assert str(folder / "link") not in by_path  # a link's own mode means nothing

    repaired = doctor(kb, repair=True)
    assert not [p for p in repaired.remaining if p.check == "permissions"], repaired.remaining
    kb.close()
    _private(_modes(folder), folder)
    assert stat.S_IMODE(outside.stat().st_mode) == 0o644  # never followed the link


def test_doctor_command_exit_codes_for_loose_modes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, engine: str
) -> None:
    monkeypatch.setenv("NODESPACE_CONFIG", str(tmp_path / "none.toml"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("NODESPACE_STORAGE_ENGINE", engine)
    monkeypatch.setenv("NODESPACE_STORAGE_BUFFER_POOL_MB", "64")
    monkeypatch.setenv("NODESPACE_STORAGE_MAX_DB_SIZE_GB", "4")
    folder = tmp_path / "kb"
    runner = CliRunner()
    assert runner.invoke(cli, ["init", str(folder)]).exit_code == 0
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    clean = runner.invoke(cli, ["--kb", str(folder), "doctor"])
    assert clean.exit_code == 0, clean.output
    _old_style(folder)
    found = runner.invoke(cli, ["--kb", str(folder), "doctor"])
    assert found.exit_code == 1
    assert f"[permissions] {folder}: " in found.output and "mode 0755" in found.output
    assert f"run chmod 700 {folder}" in found.output
    fixed = runner.invoke(cli, ["--kb", str(folder), "doctor", "--repair"])
    assert fixed.exit_code == 0, fixed.output
    assert "repaired:" in fixed.output
    _private(_modes(folder), folder)


def test_the_service_creates_private_files_whatever_umask_it_inherits(tmp_path: Path) -> None:
    # A Jupyter server usually runs with umask 022; the service it starts must not
    # make 0644 files even inside the 0700 folder (the folder may be opened up later).
    previous = os.umask(0o022)
    try:
        service = start_service(tmp_path)
    finally:
        os.umask(previous)
    try:
        with service.client() as client:
            for i in range(20):
                client.create("text", f"Board notes {i}", SECRET)
            assert client.search("merger")
        files = [p for p in _tree(service.kb_path) if p.is_file() and not p.is_symlink()]
        assert any(p.suffix == ".wal" for p in files), files
        loose = {str(p): oct(stat.S_IMODE(p.stat().st_mode)) for p in files}
        assert all(mode == "0o600" for mode in loose.values()), loose
    finally:
        assert service.stop() == 0

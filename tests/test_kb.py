"""`KnowledgeBase` as a whole: opening, closing, reopening, folders and engines."""

from __future__ import annotations

from pathlib import Path

import pytest

import nodespace_lab
from nodespace_lab import KnowledgeBase
from nodespace_lab.errors import NotFound, StorageError
from nodespace_lab.graph.engine import DB_FILE
from nodespace_lab.graph.lock import LOCK_FILE


@pytest.mark.embedded
def test_engine_in_use_matches_settings(kb: KnowledgeBase, engine: str) -> None:
    assert kb.engine == engine
    assert (kb.path / DB_FILE[engine]).exists()
    assert engine in repr(kb)


def test_folder_made_by_other_engine_is_refused(tmp_path: Path, make_settings, engine) -> None:
    other = "kuzu" if engine == "ladybug" else "ladybug"
    folder = tmp_path / "kb"
    folder.mkdir()
    (folder / DB_FILE[other]).write_bytes(b"")
    with pytest.raises(StorageError, match=f"made with engine '{other}'"):
        KnowledgeBase(folder, settings=make_settings(folder))


def test_path_that_is_a_file_is_refused(tmp_path: Path, make_settings) -> None:
    path = tmp_path / "file"
    path.write_text("x")
    with pytest.raises(StorageError, match="is a file"):
        KnowledgeBase(path, settings=make_settings(path))


def test_create_false_refuses_missing_folder(tmp_path: Path, make_settings) -> None:
    path = tmp_path / "missing"
    with pytest.raises(NotFound, match="does not exist"):
        KnowledgeBase(path, settings=make_settings(path), create=False)
    assert not path.exists()


def test_context_manager_closes_and_data_persists(tmp_path, make_settings) -> None:
    folder = tmp_path / "kb"
    with KnowledgeBase(folder, settings=make_settings(folder)) as kb:
        node = kb.create("text", "persisted", "body")
    with pytest.raises(StorageError, match="closed"):
        kb.get(node.id)
    with KnowledgeBase(folder, settings=make_settings(folder)) as again:
        assert again.get(node.id).content == "body"
        assert again.seq == 1


def test_open_creates_the_folder_and_its_parts(tmp_path: Path, make_settings, engine) -> None:
    folder = tmp_path / "deep" / "kb"
    with nodespace_lab.open(folder, settings=make_settings(folder)) as kb:
        assert isinstance(kb, KnowledgeBase)
        assert kb.path == folder.resolve()
        assert kb.seq == 0
    names = {p.name for p in folder.iterdir()}
    assert {DB_FILE[engine], LOCK_FILE, "fulltext"} <= names


def test_close_twice_is_safe_and_other_users_keep_working(kb_factory) -> None:
    kb = kb_factory()
    kb.close()
    kb.close()
    again = kb_factory()
    assert again.create("text", "still fine").title == "still fine"


def test_closed_knowledge_base_refuses_use(kb_factory) -> None:
    kb = kb_factory()
    node = kb.create("text", "a")
    kb.close()
    with pytest.raises(StorageError, match="closed"):
        kb.get(node.id)
    with pytest.raises(StorageError, match="closed"):
        kb.create("text", "b")


def test_reopen_keeps_everything(kb_factory, snapshot) -> None:
    kb = kb_factory()
    root = kb.create("text", "Root", "[[Child]]", tags=["t"])
    kb.create("task", "Child", parent=root.id, due="2026-01-02", priority=1)
    kb.journal("2026-11-25")
    before = snapshot(kb)
    kb.close()
    again = kb_factory()
    assert snapshot(again) == before
    assert [h.title for h in again.search("child")] == ["Child", "Root"]


def test_create_false_opens_an_existing_folder(tmp_path: Path, make_settings) -> None:
    folder = tmp_path / "kb"
    with KnowledgeBase(folder, settings=make_settings(folder)) as kb:
        kb.create("text", "x")
    with KnowledgeBase(folder, settings=make_settings(folder), create=False) as kb:
        assert kb.find().count() == 1


def test_missing_folder_error_is_not_found(tmp_path: Path, make_settings) -> None:
    with pytest.raises(NotFound, match="nodespace init"):
        KnowledgeBase(tmp_path / "nope", settings=make_settings(), create=False)


def test_settings_default_to_the_layered_loader(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, engine: str
) -> None:
    monkeypatch.setenv("NODESPACE_CONFIG", str(tmp_path / "none.toml"))
    monkeypatch.setenv("NODESPACE_STORAGE_ENGINE", engine)
    monkeypatch.setenv("NODESPACE_STORAGE_BUFFER_POOL_MB", "40")
    folder = tmp_path / "kb"
    folder.mkdir()
    (folder / "nodespace.toml").write_text("[storage]\nmax_title_chars = 50\n")
    with KnowledgeBase(folder) as kb:
        assert kb.settings.storage.buffer_pool_mb == 40
        assert kb.settings.storage.max_title_chars == 50
        assert kb.store.engine.database.buffer_pool_size == 40 * 1024 * 1024

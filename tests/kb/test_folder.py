"""One `Folder` per resolved path per process, shared by its knowledge bases."""

from __future__ import annotations

from pathlib import Path

from nodespace_lab.kb.embedded import KnowledgeBase
from nodespace_lab.kb.folder import open_folders


def test_knowledge_bases_on_one_path_share_one_folder(tmp_path: Path) -> None:
    first = KnowledgeBase(tmp_path / "kb")
    second = KnowledgeBase(tmp_path / "x" / ".." / "kb")  # the same folder, spelled otherwise
    try:
        assert first._folder is second._folder
        assert first._folder.users == 2
        assert first.store is second.store
        assert first._writer is second._writer
        assert first.fulltext is second.fulltext
        assert first._entities is second._entities
        note = first.create("text", "written by the first")
        assert second.get(note.id).title == "written by the first"
    finally:
        first.close()
    assert second._folder.users == 1
    assert not second.store.engine.closed  # the second one still works
    second.create("text", "after the first closed")
    assert [h.title for h in second.search("closed")] == ["after the first closed"]
    second.close()
    assert second._folder.closed
    assert all(f.path != second.path for f in open_folders())


def test_a_folder_reopens_after_its_last_user_closed_it(tmp_path: Path) -> None:
    with KnowledgeBase(tmp_path / "kb") as kb:
        kept = kb.create("text", "kept")
        old = kb._folder
    with KnowledgeBase(tmp_path / "kb") as again:
        assert again._folder is not old
        assert again.get(kept.id).title == "kept"
        assert [f.path for f in open_folders()].count(again.path) == 1


def test_two_folders_are_apart(tmp_path: Path) -> None:
    with KnowledgeBase(tmp_path / "a") as a, KnowledgeBase(tmp_path / "b") as b:
        assert a._folder is not b._folder
        a.create("text", "only in a")
        assert a.search("only") and not b.search("only")

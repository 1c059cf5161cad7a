"""The store: one Database per path, serialised writes, transactions, process lock, settings."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from nodespace_lab import KnowledgeBase
from nodespace_lab.errors import DatabaseLocked, ValidationError

# -- transactions ------------------------------------------------------------


class Boom(Exception):
    pass


def test_transaction_commits_all_writes_as_one_change_set(kb: KnowledgeBase) -> None:
    with kb.transaction("batch"):
        parent = kb.create("text", "parent")
        child = kb.create("task", "child", parent=parent.id)
        kb.update(child.id, priority=1)
        kb.tag(child.id, "t")
    assert kb.seq == 1
    change = kb.changes()[0]
    assert change.label == "batch"
    assert [op.op for op in change.ops] == ["create", "create", "update", "create", "member+"]
    assert kb.get(child.id).priority == 1


def test_transaction_rolls_back_every_write_on_exception(kb: KnowledgeBase, snapshot) -> None:
    keep = kb.create("text", "keep", "[[keep]]")
    before = snapshot(kb)
    with pytest.raises(Boom), kb.transaction():
        kb.create("text", "lost", "[[keep]]")
        kb.update(keep.id, title="changed", content="changed")
        kb.tag(keep.id, "t")
        kb.journal("2026-01-01")
        kb.delete(keep.id)
        raise Boom
    assert snapshot(kb) == before
    assert kb.seq == 1
    assert [c.seq for c in kb.changes()] == [1]
    assert kb.get(keep.id).title == "keep"


def test_validation_error_inside_transaction_rolls_back_earlier_writes(
    kb: KnowledgeBase, snapshot
) -> None:
    before = snapshot(kb)
    with pytest.raises(ValidationError), kb.transaction():
        kb.create("text", "first")
        kb.create("task", "bad", priority=99)
    assert snapshot(kb) == before


def test_engine_error_inside_transaction_rolls_back(kb: KnowledgeBase, snapshot) -> None:
    kb.create("text", "keep")
    before = snapshot(kb)
    with pytest.raises(Exception, match="NoSuchTable"), kb.transaction():
        kb.create("text", "lost")
        kb.cypher("MATCH (n:NoSuchTable) RETURN n")
    assert snapshot(kb) == before
    # and the store is usable afterwards
    kb.create("text", "after")
    assert kb.seq == 2


def test_nested_transactions_join_the_outer_one(kb: KnowledgeBase, snapshot) -> None:
    before = snapshot(kb)
    with pytest.raises(Boom), kb.transaction("outer"):
        with kb.transaction("inner"):
            kb.create("text", "inner")
        kb.create("text", "outer")
        raise Boom
    assert snapshot(kb) == before
    with kb.transaction("outer"):
        with kb.transaction("inner"):
            kb.create("text", "inner")
        kb.create("text", "outer")
    assert [c.label for c in kb.changes()] == ["outer"]


def test_empty_transaction_records_nothing(kb: KnowledgeBase) -> None:
    with kb.transaction():
        pass
    assert kb.seq == 0
    assert kb.changes() == []


def test_reads_inside_transaction_see_uncommitted_writes(kb: KnowledgeBase) -> None:
    with kb.transaction():
        node = kb.create("text", "pending")
        assert kb.get(node.id).title == "pending"
        assert kb.find().count() == 1


def test_other_threads_do_not_see_uncommitted_writes(kb: KnowledgeBase) -> None:
    seen: list[int] = []
    with kb.transaction():
        kb.create("text", "pending")
        reader = threading.Thread(target=lambda: seen.append(kb.find().count()))
        reader.start()
        reader.join()
    assert seen == [0]
    assert kb.find().count() == 1


# -- subscribers -------------------------------------------------------------


def test_subscribe_gets_change_sets_in_order_after_commit(kb: KnowledgeBase) -> None:
    got = []
    visible = []

    def on_change(change) -> None:
        got.append(change)
        # Called after commit: another thread's reader sees the data.
        reader = threading.Thread(target=lambda: visible.append(kb.find().count()))
        reader.start()
        reader.join()

    unsubscribe = kb.subscribe(on_change)
    a = kb.create("text", "a")
    kb.update(a.id, title="b")
    with pytest.raises(Boom), kb.transaction():
        kb.create("text", "rolled back")
        raise Boom
    with kb.transaction():
        kb.create("text", "c")
        kb.create("text", "d")
    assert [c.seq for c in got] == [1, 2, 3]
    assert [c.label for c in got] == ["create text", "update", "transaction"]
    assert got == kb.changes()
    assert visible == [1, 1, 3]
    unsubscribe()
    kb.create("text", "e")
    assert len(got) == 3


def test_failing_subscriber_does_not_fail_the_write(kb: KnowledgeBase) -> None:
    def broken(change) -> None:
        raise RuntimeError("subscriber bug")

    kb.subscribe(broken)
    node = kb.create("text", "a")
    assert kb.get(node.id).title == "a"
    assert kb.seq == 1


# -- serialised writes -------------------------------------------------------


def test_eight_threads_writing_at_once_all_land(kb: KnowledgeBase) -> None:
    errors: list[BaseException] = []
    start = threading.Barrier(8)
    per_thread = 12

    def work(i: int) -> None:
        try:
            start.wait()
            for j in range(per_thread):
                node = kb.create("task", f"t{i}-{j}")
                kb.update(node.id, priority=1 + j % 4)
                if j % 3 == 0:
                    with kb.transaction():
                        kb.create("text", f"tx{i}-{j}", parent=node.id)
                        kb.tag(node.id, f"thread{i}")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    writes = 8 * (per_thread * 2 + 4)
    seqs = [c.seq for c in kb.changes()]
    assert seqs == list(range(1, writes + 1))
    assert kb.seq == writes
    assert kb.find("task").count() == 8 * per_thread
    assert kb.find("text").count() == 8 * 4
    assert kb.find("task").where("priority", "is_null").count() == 0


def test_journal_from_many_threads_creates_one_page(kb: KnowledgeBase) -> None:
    pages: list[str] = []
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def open_page() -> None:
        try:
            start.wait()
            pages.append(kb.journal("2026-11-25").id)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=open_page) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert pages == ["2026-11-25"] * 8
    assert kb.find("date").count() == 1
    assert kb.seq == 1


def test_reads_run_while_another_thread_writes(kb: KnowledgeBase) -> None:
    stop = threading.Event()
    errors: list[BaseException] = []

    def read() -> None:
        try:
            while not stop.is_set():
                kb.find().count()
                kb.children()
        except BaseException as exc:
            errors.append(exc)

    readers = [threading.Thread(target=read) for _ in range(2)]
    for r in readers:
        r.start()
    for i in range(40):
        kb.create("text", str(i))
    stop.set()
    for r in readers:
        r.join()
    assert errors == []
    assert kb.find().count() == 40


# -- one Database per path ----------------------------------------------------


def test_two_knowledge_bases_on_one_path_share_the_store(kb_factory, tmp_path: Path) -> None:
    first = kb_factory()
    second = kb_factory(tmp_path / "kb")
    assert first.store is second.store
    assert first.store.engine.database is second.store.engine.database
    a = first.create("text", "from first")
    b = second.create("text", "from second")
    assert second.get(a.id).title == "from first"
    assert first.get(b.id).title == "from second"
    assert first.seq == second.seq == 2
    assert {h.id for h in second.search("from")} == {a.id, b.id}
    second.close()
    # the first one keeps working after the second is closed
    c = first.create("text", "after")
    first.close()
    again = kb_factory()
    assert {n.id for n in again.find().all()} == {a.id, b.id, c.id}
    assert again.seq == 3


def test_closed_store_is_reopened_fresh(kb_factory) -> None:
    first = kb_factory()
    store = first.store
    first.close()
    second = kb_factory()
    assert second.store is not store
    assert second.store.engine.closed is False


def test_second_process_gets_database_locked_naming_the_holder(
    tmp_path: Path, make_settings, engine: str
) -> None:
    folder = tmp_path / "kb"
    child_code = textwrap.dedent(
        f"""
        import sys
        from pathlib import Path
        from nodespace_lab import KnowledgeBase, load_settings
        folder = Path({str(folder)!r})
        settings = load_settings(folder, env={{"NODESPACE_STORAGE_ENGINE": {engine!r}}},
                                 user_file=folder / "none.toml")
        kb = KnowledgeBase(folder, settings=settings)
        kb.create("text", "held by child")
        print("ready", flush=True)
        sys.stdin.readline()
        kb.close()
        """
    )
    child = subprocess.Popen(
        [sys.executable, "-c", child_code],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    try:
        assert child.stdout is not None and child.stdin is not None
        assert child.stdout.readline().strip() == "ready"
        with pytest.raises(DatabaseLocked) as caught:
            KnowledgeBase(folder, settings=make_settings(folder))
        message = str(caught.value)
        assert f"pid {child.pid}" in message
        assert str(folder) in message
        assert "Close that process" in message
        child.stdin.write("\n")
        child.stdin.flush()
        assert child.wait(timeout=30) == 0
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    # Once the holder is gone the folder opens and keeps the child's write.
    with KnowledgeBase(folder, settings=make_settings(folder)) as kb:
        assert kb.find().to_polars()["title"].to_list() == ["held by child"]


def test_settings_reach_the_engine(kb_factory) -> None:
    kb = kb_factory(storage={"buffer_pool_mb": 48, "max_db_size_gb": 2})
    assert kb.settings.storage.buffer_pool_mb == 48
    assert kb.settings.storage.max_db_size_gb == 2
    database = kb.store.engine.database
    assert database.buffer_pool_size == 48 * 1024 * 1024
    assert database.max_db_size == 2 * 1024**3


def test_migrations_are_recorded_once(kb_factory) -> None:
    from nodespace_lab.graph.migrations import available

    kb = kb_factory()
    names = kb.store.rows("MATCH (m:Migration) RETURN m.id ORDER BY m.id")
    assert [name for [name] in names] == available()
    assert available()[:2] == ["m001_initial", "m002_entity_kinds"]
    kb.close()
    again = kb_factory()
    assert again.store.rows("MATCH (m:Migration) RETURN count(m)")[0][0] == len(available())

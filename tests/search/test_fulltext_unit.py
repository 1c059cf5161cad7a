"""Unit tests of the full-text sidecar index on a real tantivy index in tmp_path."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nodespace_lab.config.sections import SearchSettings
from nodespace_lab.errors import DatabaseLocked, StorageError, ValidationError
from nodespace_lab.search import FullTextIndex, SearchDoc, SearchHit


class MemorySource:
    """A tiny change log: current docs by id plus (seq, ids) records."""

    def __init__(self) -> None:
        self.docs: dict[str, SearchDoc] = {}
        self.log: list[tuple[int, set[str]]] = []
        self.compacted_upto = 0  # changes_since(seq < this) answers None (rebuild)
        self.documents_calls = 0
        self.all_documents_calls = 0

    @property
    def seq(self) -> int:
        return self.log[-1][0] if self.log else 0

    def put(self, *docs: SearchDoc) -> int:
        for doc in docs:
            self.docs[doc.id] = doc
        self.log.append((self.seq + 1, {doc.id for doc in docs}))
        return self.seq

    def purge(self, *ids: str) -> int:
        for node_id in ids:
            self.docs.pop(node_id, None)
        self.log.append((self.seq + 1, set(ids)))
        return self.seq

    def changes_since(self, seq: int) -> tuple[int, set[str] | None]:
        if seq < self.compacted_upto:
            return self.seq, None
        changed: set[str] = set()
        for record_seq, ids in self.log:
            if record_seq > seq:
                changed |= ids
        return self.seq, changed

    def documents(self, ids: Iterable[str]) -> Iterator[SearchDoc]:
        self.documents_calls += 1
        return iter([self.docs[i] for i in ids if i in self.docs])

    def all_documents(self) -> Iterator[SearchDoc]:
        self.all_documents_calls += 1
        return iter(list(self.docs.values()))


def doc(
    node_id: str,
    title: str = "",
    content: str = "",
    *,
    kind: str = "text",
    status: str = "active",
    tags: tuple[str, ...] = (),
    ancestors: tuple[str, ...] = (),
) -> SearchDoc:
    return SearchDoc(node_id, kind, title, content, status, tags, ancestors)


def ids(hits: list[SearchHit]) -> list[str]:
    return [hit.id for hit in hits]


@pytest.fixture
def source() -> MemorySource:
    return MemorySource()


@pytest.fixture
def index(tmp_path: Path) -> Iterator[FullTextIndex]:
    fti = FullTextIndex(tmp_path / "fts", _settings())
    yield fti
    fti.close()


def _settings(snippet_chars: int = 160) -> SearchSettings:
    return SearchSettings(writer_heap_mb=32, snippet_chars=snippet_chars)  # type: ignore[no-untyped-call]


def _filled(index: FullTextIndex, source: MemorySource, *docs: SearchDoc) -> FullTextIndex:
    source.put(*docs)
    index.catch_up(source)
    return index


# -- basics and ranking ---------------------------------------------------------


def test_new_index_is_empty_at_seq_zero(index: FullTextIndex) -> None:
    assert index.applied_seq == 0
    assert index.count() == 0
    assert index.doc_ids() == set()


def test_catch_up_indexes_and_search_sees_it_at_once(
    index: FullTextIndex, source: MemorySource
) -> None:
    source.put(doc("n1", "Graph databases", "Kùzu stores property graphs."))
    assert index.catch_up(source) == 1
    assert index.applied_seq == 1
    assert index.count() == 1
    assert index.doc_ids() == {"n1"}
    [hit] = index.search("property")
    assert (hit.id, hit.kind, hit.title) == ("n1", "text", "Graph databases")
    assert hit.score > 0


def test_title_match_ranks_above_content_match(index: FullTextIndex, source: MemorySource) -> None:
    _filled(
        index,
        source,
        doc("body", "Weekly notes", "we discussed the parser and then the parser again"),
        doc("head", "Parser design", "notes about a grammar and tokens"),
    )
    assert ids(index.search("parser")) == ["head", "body"]


def test_stemming_matches_other_word_forms(index: FullTextIndex, source: MemorySource) -> None:
    _filled(index, source, doc("n", "Errands", "I was running late"))
    assert ids(index.search("runs")) == ["n"]


def test_unicode_case_folding(index: FullTextIndex, source: MemorySource) -> None:
    _filled(index, source, doc("k", "Kùzu notes", "Über graph engine"), doc("x", "Other", "kuzu"))
    assert ids(index.search("kùzu")) == ["k"]
    assert ids(index.search("KÙZU")) == ["k"]
    assert ids(index.search("über")) == ["k"]


def test_phrase_query_needs_adjacent_words(index: FullTextIndex, source: MemorySource) -> None:
    _filled(
        index,
        source,
        doc("yes", "A", "the graph engine is embedded"),
        doc("no", "B", "the engine draws a graph"),
    )
    assert ids(index.search('"graph engine"')) == ["yes"]
    assert set(ids(index.search("graph engine"))) == {"yes", "no"}


@pytest.mark.parametrize(
    "text", ['AND OR (( "', "http://x.com/a?b=c", "title:", "seq:abc", "foo:bar", "a^x", "-", "'"]
)
def test_malformed_query_text_does_not_raise(
    index: FullTextIndex, source: MemorySource, text: str
) -> None:
    _filled(index, source, doc("n", "x com", "the or clause"))
    hits = index.search(text)
    assert isinstance(hits, list)
    assert all(hit.id == "n" for hit in hits)


def test_malformed_query_still_finds_its_words(index: FullTextIndex, source: MemorySource) -> None:
    _filled(index, source, doc("n", "Budget", "quarterly budget review"))
    assert ids(index.search('budget AND (( "')) == ["n"]


@pytest.fixture(scope="module")
def shared_index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FullTextIndex]:
    fti = FullTextIndex(tmp_path_factory.mktemp("shared") / "fts", _settings())
    src = MemorySource()
    src.put(doc("n", "Title words", 'some content: with punctuation (and) quotes "x"'))
    fti.catch_up(src)
    yield fti
    fti.close()


@settings(max_examples=200, deadline=None)
@given(text=st.text(min_size=1, max_size=40).filter(lambda t: t.strip() != ""))
def test_any_text_never_raises(shared_index: FullTextIndex, text: str) -> None:
    hits = shared_index.search(text, limit=3)
    assert len(hits) <= 1
    assert all(h.id == "n" for h in hits)


@pytest.mark.parametrize("text", ["", "   ", "\n\t"])
def test_empty_query_raises_validation_error(index: FullTextIndex, text: str) -> None:
    with pytest.raises(ValidationError, match="empty"):
        index.search(text)


def test_bad_limit_and_offset_raise(index: FullTextIndex) -> None:
    with pytest.raises(ValidationError, match="limit"):
        index.search("x", limit=-1)
    with pytest.raises(ValidationError, match="offset"):
        index.search("x", offset=-5)


def test_query_cannot_reach_the_metadata_record(index: FullTextIndex, source: MemorySource) -> None:
    _filled(index, source, doc("n", "a", "b"))
    assert ids(index.search("*", include_deleted=True)) == ["n"]
    assert index.search("seq:1 OR format:1", include_deleted=True) == []


# -- snippets -------------------------------------------------------------------


def _check_highlights(hit: SearchHit, words: set[str]) -> None:
    assert hit.highlights, "expected at least one highlight"
    for start, end in hit.highlights:
        assert 0 <= start < end <= len(hit.snippet)
        assert hit.snippet[start:end].lower() in words


def test_snippet_highlights_matched_terms(index: FullTextIndex, source: MemorySource) -> None:
    long = "Intro words here. " * 30 + "The migration plan for Kùzu is ready. " + "Tail. " * 30
    _filled(index, source, doc("n", "Plan", long))
    [hit] = index.search("migration kùzu")
    assert "migration" in hit.snippet
    assert "<b>" not in hit.snippet
    assert len(hit.snippet) <= 160
    _check_highlights(hit, {"migration", "kùzu"})


def test_highlights_are_char_offsets_after_non_ascii_text(
    index: FullTextIndex, source: MemorySource
) -> None:
    _filled(index, source, doc("n", "T", "Ünïcode ‘quotes’ — then the target word"))
    [hit] = index.search("target")
    [(start, end)] = hit.highlights
    assert hit.snippet[start:end] == "target"


def test_snippet_respects_snippet_chars(tmp_path: Path, source: MemorySource) -> None:
    fti = FullTextIndex(tmp_path / "fts", _settings(snippet_chars=30))
    try:
        _filled(fti, source, doc("n", "T", "word " * 50 + "needle " + "word " * 50))
        [hit] = fti.search("needle")
        assert 0 < len(hit.snippet) <= 30
        _check_highlights(hit, {"needle"})
    finally:
        fti.close()


def test_snippet_falls_back_to_title(index: FullTextIndex, source: MemorySource) -> None:
    _filled(index, source, doc("n", "Quarterly budget", "numbers and tables"))
    [hit] = index.search("budget")
    assert hit.snippet == "Quarterly budget"
    assert hit.highlights == ((10, 16),)


def test_snippet_falls_back_to_content_prefix(index: FullTextIndex, source: MemorySource) -> None:
    _filled(index, source, doc("n", "T", "plain body " * 40, kind="task"))
    [hit] = index.search("kind:task")
    assert hit.snippet == ("plain body " * 40)[:160]
    assert hit.highlights == ()


# -- filters ----------------------------------------------------------------------


@pytest.fixture
def filtered(index: FullTextIndex, source: MemorySource) -> FullTextIndex:
    return _filled(
        index,
        source,
        doc("t1", "alpha task", kind="task", tags=("tag:a",), ancestors=("p", "root")),
        doc("t2", "alpha task two", kind="task", tags=("tag:a", "tag:b"), ancestors=("root",)),
        doc("n1", "alpha note", kind="text", tags=("tag:b",), ancestors=("p", "root")),
        doc("d1", "alpha gone", kind="text", status="deleted", ancestors=("p", "root")),
        doc("a1", "alpha old", kind="entity", status="archived"),
    )


def test_kind_filter(filtered: FullTextIndex) -> None:
    assert set(ids(filtered.search("alpha", kinds=["task"]))) == {"t1", "t2"}
    assert set(ids(filtered.search("alpha", kinds=["task", "entity"]))) == {"t1", "t2", "a1"}
    assert set(ids(filtered.search("alpha", kinds="entity"))) == {"a1"}
    assert filtered.search("alpha", kinds=["date"]) == []


def test_tag_filter_requires_every_tag(filtered: FullTextIndex) -> None:
    assert set(ids(filtered.search("alpha", tags=["tag:a"]))) == {"t1", "t2"}
    assert set(ids(filtered.search("alpha", tags=["tag:a", "tag:b"]))) == {"t2"}


def test_under_filter_keeps_descendants(filtered: FullTextIndex) -> None:
    assert set(ids(filtered.search("alpha", under="p"))) == {"t1", "n1"}
    assert set(ids(filtered.search("alpha", under="root"))) == {"t1", "t2", "n1"}
    assert filtered.search("alpha", under="t1") == []


def test_filters_combine(filtered: FullTextIndex) -> None:
    assert ids(filtered.search("alpha", kinds=["task"], tags=["tag:a"], under="p")) == ["t1"]


def test_deleted_hidden_unless_asked_archived_visible(filtered: FullTextIndex) -> None:
    visible = set(ids(filtered.search("alpha", limit=50)))
    assert visible == {"t1", "t2", "n1", "a1"}
    assert "d1" in ids(filtered.search("alpha", include_deleted=True, limit=50))


def test_filters_do_not_change_scores(filtered: FullTextIndex) -> None:
    plain = {h.id: h.score for h in filtered.search("alpha", limit=50)}
    narrowed = filtered.search("alpha", kinds=["task"], tags=["tag:a"], under="root")
    assert narrowed and all(h.score == pytest.approx(plain[h.id]) for h in narrowed)


def test_bad_filter_values_raise(filtered: FullTextIndex) -> None:
    with pytest.raises(ValidationError, match="kinds"):
        filtered.search("alpha", kinds=[""])
    with pytest.raises(ValidationError, match="under"):
        filtered.search("alpha", under="")


def test_limit_and_offset_page_through_filtered_results(
    index: FullTextIndex, source: MemorySource
) -> None:
    docs = [doc(f"n{i:02}", "shared word", "x " * i, kind="task") for i in range(12)]
    docs += [doc(f"d{i:02}", "shared word", kind="task", status="deleted") for i in range(5)]
    docs += [doc(f"o{i:02}", "shared word", kind="text") for i in range(5)]
    _filled(index, source, *docs)
    everything = ids(index.search("shared", kinds=["task"], limit=100))
    assert sorted(everything) == [f"n{i:02}" for i in range(12)]
    pages = [ids(index.search("shared", kinds=["task"], limit=5, offset=o)) for o in (0, 5, 10)]
    assert [len(p) for p in pages] == [5, 5, 2]
    assert [i for page in pages for i in page] == everything
    assert index.search("shared", limit=0) == []


# -- change-log catch-up ------------------------------------------------------------


def test_catch_up_without_changes_is_a_no_op(index: FullTextIndex, source: MemorySource) -> None:
    _filled(index, source, doc("n", "a", "b"))
    calls = source.documents_calls
    assert index.catch_up(source) == 0
    assert source.documents_calls == calls
    assert index.applied_seq == 1


def test_update_replaces_the_old_text(index: FullTextIndex, source: MemorySource) -> None:
    _filled(index, source, doc("n", "old title", "old body"))
    source.put(doc("n", "new title", "new body"))
    assert index.catch_up(source) == 1
    assert index.search("old") == []
    assert ids(index.search("new")) == ["n"]
    assert index.count() == 1


def test_reapplying_changes_is_idempotent(index: FullTextIndex, source: MemorySource) -> None:
    class Replaying(MemorySource):
        """Reports every id as changed on every call, as a replay after a crash would."""

        def changes_since(self, seq: int) -> tuple[int, set[str] | None]:
            return self.seq, {"a", "b", "gone"}

    replay = Replaying()
    replay.put(doc("a", "apple"), doc("b", "banana"))
    for _ in range(3):
        assert index.catch_up(replay) == 3
    assert index.count() == 2
    assert index.doc_ids() == {"a", "b"}
    assert ids(index.search("apple")) == ["a"]
    assert index.applied_seq == 1


def test_purged_ids_are_removed(index: FullTextIndex, source: MemorySource) -> None:
    _filled(index, source, doc("a", "keep me"), doc("b", "drop me"))
    source.purge("b", "never-existed")
    assert index.catch_up(source) == 2
    assert index.doc_ids() == {"a"}
    assert index.count() == 1
    assert index.search("drop") == []


def test_soft_delete_then_restore(index: FullTextIndex, source: MemorySource) -> None:
    _filled(index, source, doc("n", "ledger"))
    source.put(doc("n", "ledger", status="deleted"))
    index.catch_up(source)
    assert index.search("ledger") == []
    source.put(doc("n", "ledger", status="active"))
    index.catch_up(source)
    assert ids(index.search("ledger")) == ["n"]


def test_applied_seq_persists_and_catch_up_resumes_after_reopen(
    tmp_path: Path, source: MemorySource
) -> None:
    path = tmp_path / "fts"
    first = FullTextIndex(path, _settings())
    _filled(first, source, doc("a", "first"))
    source.put(doc("b", "second"))
    first.catch_up(source)
    first.close()
    source.put(doc("c", "third"))
    source.documents_calls = 0
    second = FullTextIndex(path, _settings())
    try:
        assert second.applied_seq == 2
        assert second.catch_up(source) == 1  # only "c" is new
        assert second.applied_seq == 3
        assert second.doc_ids() == {"a", "b", "c"}
    finally:
        second.close()


def test_uncommitted_failure_keeps_old_docs_and_seq(
    index: FullTextIndex, source: MemorySource
) -> None:
    _filled(index, source, doc("a", "stable"))

    class Broken(MemorySource):
        def all_documents(self) -> Iterator[SearchDoc]:
            yield doc("x", "half written")
            raise RuntimeError("source died mid-rebuild")

    with pytest.raises(RuntimeError, match="mid-rebuild"):
        index.rebuild(Broken(), 99)
    assert index.applied_seq == 1
    assert index.doc_ids() == {"a"}
    source.put(doc("b", "later"))
    index.catch_up(source)
    assert index.doc_ids() == {"a", "b"}


def test_rebuild_replaces_everything(index: FullTextIndex, source: MemorySource) -> None:
    _filled(index, source, doc("a", "stale"), doc("b", "stale"))
    fresh = MemorySource()
    fresh.put(doc("c", "fresh"), doc("d", "fresh"), doc("e", "fresh"))
    assert index.rebuild(fresh, 42) == 3
    assert index.applied_seq == 42
    assert index.doc_ids() == {"c", "d", "e"}
    assert index.search("stale") == []


def test_rebuild_rejects_bad_seq(index: FullTextIndex, source: MemorySource) -> None:
    with pytest.raises(ValidationError, match="seq"):
        index.rebuild(source, -1)


def test_catch_up_rebuilds_when_log_is_compacted(
    index: FullTextIndex, source: MemorySource
) -> None:
    _filled(index, source, doc("a", "one"))
    source.put(doc("b", "two"))
    source.compacted_upto = source.seq
    assert index.catch_up(source) == 2
    assert source.all_documents_calls == 1
    assert index.doc_ids() == {"a", "b"}
    assert index.applied_seq == 2


def test_catch_up_rebuilds_when_log_is_behind_index(
    index: FullTextIndex, source: MemorySource, caplog: pytest.LogCaptureFixture
) -> None:
    _filled(index, source, doc("a", "one"), doc("b", "two"))
    older = MemorySource()  # e.g. the database was restored from an older backup
    older.docs = {"a": doc("a", "one")}
    with caplog.at_level(logging.WARNING):
        assert index.catch_up(older) == 1
    assert "behind" in caplog.text
    assert index.doc_ids() == {"a"}
    assert index.applied_seq == 0


def test_large_change_set_falls_back_to_rebuild(
    index: FullTextIndex, source: MemorySource, monkeypatch: pytest.MonkeyPatch
) -> None:
    import nodespace_lab.search.fulltext as fulltext

    monkeypatch.setattr(fulltext, "REBUILD_THRESHOLD", 3)
    _filled(index, source, *[doc(f"n{i}", "bulk") for i in range(5)])
    assert source.all_documents_calls == 1
    assert source.documents_calls == 0
    assert index.count() == 5


# -- folder handling -----------------------------------------------------------------


@pytest.mark.parametrize("damage", ["garbage_meta", "truncated_segment", "missing_segment"])
def test_corrupt_folder_is_wiped_and_rebuilt(
    tmp_path: Path, source: MemorySource, caplog: pytest.LogCaptureFixture, damage: str
) -> None:
    path = tmp_path / "fts"
    fti = FullTextIndex(path, _settings())
    _filled(fti, source, doc("a", "one"), doc("b", "two"))
    fti.close()
    segment = next(path.glob("*.term"))
    if damage == "garbage_meta":
        (path / "meta.json").write_text("{not json")
    elif damage == "truncated_segment":
        segment.write_bytes(segment.read_bytes()[:7])
    else:
        segment.unlink()
    with caplog.at_level(logging.WARNING):
        reopened = FullTextIndex(path, _settings())
    try:
        assert "wiping" in caplog.text
        assert reopened.applied_seq == 0
        assert reopened.count() == 0
        reopened.catch_up(source)
        assert reopened.doc_ids() == {"a", "b"}
    finally:
        reopened.close()


def test_older_format_is_wiped(
    tmp_path: Path, source: MemorySource, monkeypatch: pytest.MonkeyPatch
) -> None:
    import nodespace_lab.search.fulltext as fulltext

    path = tmp_path / "fts"
    fti = FullTextIndex(path, _settings())
    _filled(fti, source, doc("a", "one"))
    fti.close()
    monkeypatch.setattr(fulltext, "FORMAT_VERSION", fulltext.FORMAT_VERSION + 1)
    reopened = FullTextIndex(path, _settings())
    try:
        assert (reopened.applied_seq, reopened.count()) == (0, 0)
    finally:
        reopened.close()


def test_folder_with_subfolders_is_not_wiped(tmp_path: Path) -> None:
    path = tmp_path / "not-an-index"
    (path / "precious").mkdir(parents=True)
    (path / "meta.json").write_text("{not json")
    with pytest.raises(StorageError, match="subfolders"):
        FullTextIndex(path, _settings())
    assert (path / "precious").is_dir()


def test_path_that_is_a_file_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("mine")
    with pytest.raises(StorageError, match="is a file"):
        FullTextIndex(path, _settings())
    assert path.read_text() == "mine"


def test_second_writer_is_refused_until_close(tmp_path: Path) -> None:
    path = tmp_path / "fts"
    first = FullTextIndex(path, _settings())
    with pytest.raises(DatabaseLocked, match="already open"):
        FullTextIndex(path, _settings())
    first.close()
    first.close()  # idempotent
    second = FullTextIndex(path, _settings())
    second.close()


def test_closed_index_refuses_use(tmp_path: Path, source: MemorySource) -> None:
    fti = FullTextIndex(tmp_path / "fts", _settings())
    fti.close()
    with pytest.raises(StorageError, match="closed"):
        fti.search("x")
    with pytest.raises(StorageError, match="closed"):
        fti.catch_up(source)

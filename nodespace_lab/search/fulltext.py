"""Full-text sidecar index (BM25, tantivy), derived from the change log.

The index is derived data: it records the last change-log sequence number it
has applied *inside itself*, in the same commit as the documents, so after a
crash the recorded number never runs ahead of the documents. Anything wrong
with the folder (corrupt, older format) is wiped and rebuilt by catch-up.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import tantivy

from nodespace_lab.config.sections import SearchSettings
from nodespace_lab.errors import DatabaseLocked, StorageError, ValidationError

log = logging.getLogger(__name__)

#: Bump when the schema or the meaning of a field changes: older folders are wiped.
#: 2: the `fields` text field (values of indexed entity fields).
FORMAT_VERSION = 2
#: Above this many changed ids, catch-up rebuilds instead of updating one by one.
REBUILD_THRESHOLD = 50_000
TITLE_BOOST = 3.0

# A NUL byte cannot occur in a node id, so the metadata document can never
# collide with (or be overwritten by) a real node.
_META_ID = "\x00nodespace-meta"
_TEXT_TOKENIZER = "en_stem"
_TEXT_FIELDS = ["title", "content", "fields"]
_MIN_THREAD_HEAP = 15_000_000  # tantivy's lower bound per indexing thread
_MAX_THREAD_HEAP = 4_000_000_000  # just under tantivy's u32 upper bound
_DELETED = "deleted"


@dataclass(frozen=True, slots=True)
class SearchDoc:
    """The current state of one node, as the knowledge base hands it to the index."""

    id: str
    kind: str
    title: str
    content: str
    status: str
    tags: tuple[str, ...] = ()
    ancestors: tuple[str, ...] = ()
    #: Values of the node's indexed entity fields, as text (see entities/search.py).
    fields: str = ""


@dataclass(frozen=True, slots=True)
class SearchHit:
    """One search result: plain-text snippet plus (start, end) highlight ranges in it."""

    id: str
    kind: str
    title: str
    score: float
    snippet: str
    highlights: tuple[tuple[int, int], ...]


class IndexSource(Protocol):
    """Where the index reads changes and current documents from (the knowledge base)."""

    def changes_since(self, seq: int) -> tuple[int, set[str] | None]:
        """(newest seq, ids whose document may have changed since `seq`); None: rebuild all."""
        ...

    def documents(self, ids: Iterable[str]) -> Iterator[SearchDoc]:
        """Current documents of these ids; ids that no longer exist are absent."""
        ...

    def all_documents(self) -> Iterator[SearchDoc]:
        """Every current document."""
        ...


class _IncompatibleIndexError(Exception):
    """The folder holds an index this version cannot use as it is."""


class FullTextIndex:
    """A tantivy BM25 index of node titles, contents and indexed fields, in one folder it owns.

    One instance holds the folder's only writer until `close()`. Reads may run
    from any thread; writes (`catch_up`, `rebuild`) are serialised.
    """

    def __init__(self, path: Path, settings: SearchSettings | None = None) -> None:
        """Open the index at `path`, creating it, or wiping it if unusable."""
        self._path = Path(path)
        if settings is None:
            settings = SearchSettings()  # type: ignore[no-untyped-call]  # param is unannotated
        self._settings = settings
        self._snippet_chars = int(self._settings.snippet_chars)
        self._schema = _build_schema()
        self._lock = threading.RLock()
        self._writer: tantivy.IndexWriter | None
        self._index, self._writer, self._applied_seq = self._open()

    # -- public API ---------------------------------------------------------

    @property
    def applied_seq(self) -> int:
        """Last change-log sequence number applied (0 for a new index)."""
        return self._applied_seq

    def catch_up(self, source: IndexSource) -> int:
        """Apply every change since `applied_seq` in one commit; return the docs touched."""
        with self._lock:
            writer = self._live_writer()
            newest, ids = source.changes_since(self._applied_seq)
            if ids is None or len(ids) > REBUILD_THRESHOLD:
                return self._rebuild(writer, source, newest)
            if newest < self._applied_seq:
                log.warning(
                    "Change log at seq %d is behind the full-text index at %s (seq %d); "
                    "rebuilding the index.",
                    newest,
                    self._path,
                    self._applied_seq,
                )
                return self._rebuild(writer, source, newest)
            if newest == self._applied_seq and not ids:
                return 0
            return self._update(writer, source, ids, newest)

    def rebuild(self, source: IndexSource, upto_seq: int) -> int:
        """Replace every document by `source.all_documents()`; record `upto_seq` as applied."""
        _check_seq(upto_seq)
        with self._lock:
            return self._rebuild(self._live_writer(), source, upto_seq)

    def search(
        self,
        text: str,
        *,
        kinds: Sequence[str] | None = None,
        tags: Sequence[str] | None = None,
        under: str | None = None,
        include_deleted: bool = False,
        limit: int = 10,
        offset: int = 0,
    ) -> list[SearchHit]:
        """Best BM25 matches of `text`, filtered inside the query.

        `kinds`: any of these kinds; `tags`: every one of these tag ids;
        `under`: descendants of this node id. Deleted nodes are hidden unless
        `include_deleted`; archived nodes are always visible. Empty `kinds` or
        `tags` mean no filter. Query syntax (phrases, `title:x`, `+must`) is
        accepted; malformed syntax is repaired, never raised.
        """
        _check_text(text)
        _check_page(limit, offset)
        self._check_open()
        if limit == 0:
            return []
        user_query = self._parse(text)
        clauses = [(tantivy.Occur.Must, user_query)]
        clauses += self._filters(kinds, tags, under, include_deleted)
        searcher = self._index.searcher()
        result = searcher.search(
            tantivy.Query.boolean_query(clauses), limit, count=False, offset=offset
        )
        snippets = _Snippets(searcher, user_query, self._schema, self._snippet_chars)
        return [self._hit(searcher, snippets, score, addr) for score, addr in result.hits]

    def count(self) -> int:
        """Number of node documents in the index."""
        self._check_open()
        return max(self._index.searcher().num_docs - 1, 0)

    def doc_ids(self) -> set[str]:
        """Every node id in the index (O(n): for consistency checks)."""
        self._check_open()
        searcher = self._index.searcher()
        total = searcher.num_docs
        if total == 0:
            return set()
        hits = searcher.search(tantivy.Query.all_query(), total, count=False).hits
        ids = {str(searcher.doc(addr).get_first("id")) for _, addr in hits}
        ids.discard(_META_ID)
        return ids

    def close(self) -> None:
        """Release the writer (and its folder lock). Safe to call twice."""
        with self._lock:
            writer, self._writer = self._writer, None
            if writer is not None:
                writer.wait_merging_threads()

    # -- opening ------------------------------------------------------------

    def _open(self) -> tuple[tantivy.Index, tantivy.IndexWriter, int]:
        try:
            return self._open_once()
        except BaseException as exc:
            if not _unusable_folder(exc):
                raise
            log.warning(
                "Full-text index at %s is unusable (%s); wiping it, catch-up will rebuild it.",
                self._path,
                exc,
            )
        self._wipe()
        try:
            return self._open_once()
        except BaseException as exc:
            if not _unusable_folder(exc):
                raise
            raise StorageError(
                f"Cannot create the full-text index at {self._path}: {exc}. "
                "Check that the folder is writable and the disk is not full."
            ) from exc

    def _open_once(self) -> tuple[tantivy.Index, tantivy.IndexWriter, int]:
        self._path.mkdir(parents=True, exist_ok=True)
        index = tantivy.Index(self._schema, str(self._path), reuse=True)
        writer = self._new_writer(index)
        try:
            # A writer killed mid-commit leaves files the next commit wants to
            # create again ("FileAlreadyExists ....del"), failing every open.
            writer.garbage_collect_files()
            seq = _read_meta(index)
            if seq is None:
                seq = _initialise(index, writer)
        except BaseException:
            writer.wait_merging_threads()
            raise
        return index, writer, seq

    def _new_writer(self, index: tantivy.Index) -> tantivy.IndexWriter:
        heap = int(self._settings.writer_heap_mb) * 1024 * 1024
        threads = 2 if (os.cpu_count() or 1) >= 2 and heap >= 2 * _MIN_THREAD_HEAP else 1
        try:
            return index.writer(min(heap, threads * _MAX_THREAD_HEAP), threads)
        except ValueError as exc:
            # Neither error says anything about the index files: never wipe for them.
            if "LockBusy" in str(exc):
                raise DatabaseLocked(
                    f"The full-text index at {self._path} is already open for writing, in this "
                    "or another process. Close the other FullTextIndex (or knowledge base) first."
                ) from exc
            raise StorageError(
                f"Cannot start the full-text index writer at {self._path}: {exc}. "
                "Check that the folder is writable and search.writer_heap_mb is sensible."
            ) from exc

    def _wipe(self) -> None:
        if not self._path.exists():
            return
        if not self._path.is_dir():
            raise StorageError(
                f"Full-text index path {self._path} is a file, not a folder. "
                "Move the file away or configure another index folder."
            )
        entries = list(self._path.iterdir())
        # A tantivy folder is flat: a subfolder means we were pointed at the wrong place.
        if any(entry.is_dir() for entry in entries):
            raise StorageError(
                f"Full-text index folder {self._path} is unusable and contains subfolders, "
                "so it is not wiped automatically. Point the index at its own folder."
            )
        for entry in entries:
            entry.unlink()

    # -- writing ------------------------------------------------------------

    def _check_open(self) -> None:
        self._live_writer()

    def _live_writer(self) -> tantivy.IndexWriter:
        if self._writer is None:
            raise StorageError(
                f"The full-text index at {self._path} is closed. Open a new FullTextIndex."
            )
        return self._writer

    def _update(
        self, writer: tantivy.IndexWriter, source: IndexSource, ids: set[str], newest: int
    ) -> int:
        docs = {doc.id: doc for doc in source.documents(ids)}
        touched = set(ids) | docs.keys()

        def apply() -> None:
            # Delete first, then add: idempotent however often a change is re-applied.
            for node_id in touched:
                writer.delete_documents_by_term("id", node_id)
            for doc in docs.values():
                writer.add_document(_to_tantivy(doc))

        self._commit(writer, apply, newest)
        return len(touched)

    def _rebuild(self, writer: tantivy.IndexWriter, source: IndexSource, upto_seq: int) -> int:
        added = 0

        def apply() -> None:
            nonlocal added
            writer.delete_all_documents()
            for doc in source.all_documents():
                writer.add_document(_to_tantivy(doc))
                added += 1

        self._commit(writer, apply, upto_seq)
        return added

    def _commit(self, writer: tantivy.IndexWriter, apply: Callable[[], None], seq: int) -> None:
        try:
            apply()
            writer.delete_documents_by_term("id", _META_ID)
            writer.add_document(_meta_doc(seq))
            self._commit_now(writer)
        except BaseException:
            writer.rollback()
            raise
        self._index.reload()
        self._applied_seq = seq

    def _commit_now(self, writer: tantivy.IndexWriter) -> None:
        try:
            writer.commit()
        except (ValueError, RuntimeError, OSError) as exc:
            raise StorageError(
                f"Could not write the full-text index at {self._path}: {exc}. "
                "Check free disk space; reopening the index rebuilds it if needed."
            ) from exc

    # -- searching ----------------------------------------------------------

    def _parse(self, text: str) -> tantivy.Query:
        """Valid query syntax is honoured; malformed syntax is searched as plain words."""
        try:
            query, errors = self._lenient(text)
        except ValueError as exc:
            errors = [exc]
        if not errors:
            return query
        log.debug("Search text %r searched as plain words: %s", text, errors)
        # Lowercase words cannot be operators and carry no field syntax.
        words = " ".join(_words(text.lower()))
        return self._lenient(words)[0] if words else tantivy.Query.empty_query()

    def _lenient(self, text: str) -> tuple[tantivy.Query, list[object]]:
        return self._index.parse_query_lenient(text, _TEXT_FIELDS, {"title": TITLE_BOOST})

    def _filters(
        self,
        kinds: Sequence[str] | None,
        tags: Sequence[str] | None,
        under: str | None,
        include_deleted: bool,
    ) -> list[tuple[tantivy.Occur, tantivy.Query]]:
        must, must_not = tantivy.Occur.Must, tantivy.Occur.MustNot
        clauses = [(must_not, self._term("id", _META_ID))]
        if not include_deleted:
            clauses.append((must_not, self._term("status", _DELETED)))
        kind_values = filter_values(kinds, "kinds")
        if kind_values:
            any_kind = tantivy.Query.term_set_query(self._schema, "kind", kind_values)
            clauses.append((must, tantivy.Query.const_score_query(any_kind, 0.0)))
        clauses += [(must, self._term("tags", tag)) for tag in filter_values(tags, "tags")]
        if under is not None:
            clauses.append((must, self._term("ancestors", filter_values([under], "under")[0])))
        return clauses

    def _term(self, field: str, value: str) -> tantivy.Query:
        # Filters must not change the ranking: score them as zero.
        term = tantivy.Query.term_query(self._schema, field, value)
        return tantivy.Query.const_score_query(term, 0.0)

    def _hit(
        self,
        searcher: tantivy.Searcher,
        snippets: _Snippets,
        score: float,
        addr: tantivy.DocAddress,
    ) -> SearchHit:
        doc = searcher.doc(addr)
        snippet, highlights = snippets.make(doc)
        return SearchHit(
            id=_first(doc, "id"),
            kind=_first(doc, "kind"),
            title=_first(doc, "title"),
            score=float(score),
            snippet=snippet,
            highlights=highlights,
        )


class _Snippets:
    """Snippet makers for one query: content, title, indexed fields, then a plain prefix."""

    def __init__(
        self, searcher: tantivy.Searcher, query: tantivy.Query, schema: tantivy.Schema, chars: int
    ) -> None:
        self._searcher, self._query, self._schema = searcher, query, schema
        self._chars = chars
        self._generators: dict[str, tantivy.SnippetGenerator] = {}

    def make(self, doc: tantivy.Document) -> tuple[str, tuple[tuple[int, int], ...]]:
        """Plain-text snippet of `doc` and the char ranges of matched terms in it."""
        for field in ("content", "title", "fields"):
            snippet = self._generator(field).snippet_from_doc(doc)
            ranges = snippet.highlighted()
            if ranges:
                return _plain(snippet.fragment(), ranges, self._chars)
        return _first(doc, "content")[: self._chars], ()

    def _generator(self, field: str) -> tantivy.SnippetGenerator:
        generator = self._generators.get(field)
        if generator is None:
            generator = tantivy.SnippetGenerator.create(
                self._searcher, self._query, self._schema, field
            )
            generator.set_max_num_chars(self._chars)
            self._generators[field] = generator
        return generator


# -- helpers ------------------------------------------------------------------


def _build_schema() -> tantivy.Schema:
    builder = tantivy.SchemaBuilder()
    for field in ("id", "kind"):
        builder.add_text_field(field, stored=True, tokenizer_name="raw", index_option="basic")
    for field in ("status", "tags", "ancestors"):
        builder.add_text_field(field, tokenizer_name="raw", index_option="basic")
    for field in _TEXT_FIELDS:
        builder.add_text_field(field, stored=True, tokenizer_name=_TEXT_TOKENIZER)
    builder.add_unsigned_field("seq", stored=True)
    builder.add_unsigned_field("format", stored=True)
    return builder.build()


def _to_tantivy(doc: SearchDoc) -> tantivy.Document:
    out = tantivy.Document()
    for field, value in (
        ("id", doc.id),
        ("kind", doc.kind),
        ("status", doc.status),
        ("title", doc.title),
        ("content", doc.content),
        ("fields", doc.fields),
    ):
        out.add_text(field, value)
    for tag in doc.tags:
        out.add_text("tags", tag)
    for ancestor in doc.ancestors:
        out.add_text("ancestors", ancestor)
    return out


def _meta_doc(seq: int) -> tantivy.Document:
    doc = tantivy.Document()
    doc.add_text("id", _META_ID)
    doc.add_unsigned("seq", seq)
    doc.add_unsigned("format", FORMAT_VERSION)
    return doc


def _read_meta(index: tantivy.Index) -> int | None:
    """Applied seq stored in the index, or None for an empty (new) index."""
    searcher = index.searcher()
    query = tantivy.Query.term_query(index.schema, "id", _META_ID)
    hits = searcher.search(query, 1, count=False).hits
    if not hits:
        if searcher.num_docs:
            raise _IncompatibleIndexError("documents without a metadata record")
        return None
    meta = searcher.doc(hits[0][1])
    if meta.get_first("format") != FORMAT_VERSION:
        raise _IncompatibleIndexError(
            f"format {meta.get_first('format')}, expected {FORMAT_VERSION}"
        )
    return int(meta.get_first("seq") or 0)


def _initialise(index: tantivy.Index, writer: tantivy.IndexWriter) -> int:
    writer.add_document(_meta_doc(0))
    writer.commit()
    index.reload()
    return 0


def _unusable_folder(exc: BaseException) -> bool:
    """True for errors that mean "this folder cannot be used", not for locks or Ctrl-C."""
    if isinstance(exc, StorageError):
        return False
    # tantivy reports some damaged files by a Rust panic, which pyo3 raises as
    # a BaseException named PanicException.
    if type(exc).__name__ == "PanicException":
        return True
    return isinstance(exc, ValueError | OSError | _IncompatibleIndexError)


def _first(doc: tantivy.Document, field: str) -> str:
    value = doc.get_first(field)
    return "" if value is None else str(value)


def _plain(
    fragment: str, ranges: Sequence[tantivy.Range], chars: int
) -> tuple[str, tuple[tuple[int, int], ...]]:
    """Clip `fragment` to `chars` and turn tantivy's byte ranges into char ranges."""
    raw = fragment.encode()
    highlights = []
    for rng in ranges:
        start = len(raw[: rng.start].decode(errors="ignore"))
        end = len(raw[: rng.end].decode(errors="ignore"))
        if end <= chars:
            highlights.append((start, end))
    return fragment[:chars], tuple(highlights)


def _words(text: str) -> list[str]:
    return "".join(ch if ch.isalnum() else " " for ch in text).split()


def filter_values(values: Sequence[str] | None, name: str) -> list[str]:
    """A search filter's values as a list, or a ValidationError naming the bad one."""
    if values is None:
        return []
    items = [values] if isinstance(values, str) else list(values)
    for item in items:
        if not isinstance(item, str) or not item:
            raise ValidationError(
                f"Search filter {name}={values!r} holds {item!r}; every value must be a "
                "non-empty string id or kind, e.g. kinds=['task']."
            )
    return items


def _check_text(text: object) -> None:
    if not isinstance(text, str) or not text.strip():
        raise ValidationError(
            f"Search text {text!r} is empty or not a string. Pass at least one word, "
            "e.g. search('kùzu'), or a quoted phrase such as search('\"graph engine\"')."
        )


def _check_page(limit: int, offset: int) -> None:
    for name, value in (("limit", limit), ("offset", offset)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValidationError(
                f"Search {name}={value!r} is invalid; it must be an integer >= 0, e.g. limit=10."
            )


def _check_seq(seq: int) -> None:
    if isinstance(seq, bool) or not isinstance(seq, int) or seq < 0:
        raise ValidationError(
            f"Change-log seq {seq!r} is invalid; pass the integer >= 0 the rebuild reflects."
        )


__all__ = [
    "REBUILD_THRESHOLD",
    "FullTextIndex",
    "IndexSource",
    "SearchDoc",
    "SearchHit",
]

"""Vector sidecar index: chunk embeddings of every node, derived from the change log.

Like the full-text index it is derived data in a folder of its own. It records
the embedding model, the dimension and the last change-log sequence number it
has looked at; nodes seen as changed but not yet embedded are kept in a
pending set, so embedding (tens of ms per chunk) can run in bounded steps and
in a background thread. A node is re-embedded only when the hash of a chunk
of its text changes; metadata (kind, status, tags, ancestors) is kept beside
the vectors so filters need no graph query.

On disk: `meta.json` (the commit point, replaced atomically) names one
generation of `vectors-<g>.npy`, `rows-<g>.json` and, for large indexes,
`ann-<g>.usearch`, with their sizes and CRC32s. Anything that does not check
out (torn file, other model or dimension, other format) is wiped and rebuilt.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import logging
import os
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import StorageError, ValidationError
from ..models.embed import Embedder, chunks
from .fulltext import IndexSource, SearchDoc, filter_values

if TYPE_CHECKING:
    from numpy.typing import NDArray

log = logging.getLogger(__name__)

#: Bump when the files' layout or meaning changes: older folders are rebuilt.
FORMAT_VERSION = 1
#: Above this many vectors, searches go through an HNSW graph (usearch) instead of numpy.
ANN_THRESHOLD = 50_000
#: A filter leaving at most this many vectors is searched exactly, whatever the size.
EXACT_SUBSET_LIMIT = 20_000
#: HNSW candidates re-ranked exactly in float32 (recall@10 ~0.99 at 100k, NOTES.md).
ANN_CANDIDATES = 128
#: Documents fetched from the graph per step of catch-up.
DOC_BATCH = 64
#: Below this size the files are rewritten after every change; above, at most every
#: SAVE_INTERVAL_S (and on close): a crash then costs some re-embedding, never a wrong index.
SMALL_BYTES = 32 * 1024 * 1024
SAVE_INTERVAL_S = 30.0

_ANN_MAX_CANDIDATES = 8192
_META = "meta.json"
_OWN_PREFIXES = ("vectors-", "rows-", "ann-", "meta.json")


@dataclass(frozen=True, slots=True)
class VectorHit:
    """One node found by similarity: its best chunk and that chunk's cosine similarity."""

    id: str
    chunk: int
    score: float


@dataclass(frozen=True, slots=True)
class VectorStatus:
    """How complete the vector index is; `pending` nodes are still to be (re-)embedded."""

    model: str
    dim: int
    nodes: int
    vectors: int
    applied_seq: int
    pending: int
    ann: bool


@dataclass(slots=True)
class _Node:
    kind: str
    status: str
    tags: tuple[str, ...]
    ancestors: tuple[str, ...]
    digest: str
    rows: list[int] = field(default_factory=list)
    chunk_digests: list[str] = field(default_factory=list)

    def to_json(self) -> list[Any]:
        return [self.kind, self.status, list(self.tags), list(self.ancestors), self.digest,
                self.rows, self.chunk_digests]  # fmt: skip

    @classmethod
    def from_json(cls, data: list[Any]) -> _Node:
        kind, status, tags, ancestors, digest, rows, chunk_digests = data
        return cls(str(kind), str(status), tuple(tags), tuple(ancestors), str(digest),
                   [int(r) for r in rows], [str(c) for c in chunk_digests])  # fmt: skip


class _Corrupt(Exception):
    """The folder's files cannot be trusted."""


# -- the vector store ---------------------------------------------------------


class VectorStore:
    """Unit vectors in a contiguous float32 matrix, addressed by stable row numbers.

    Searches are exact (one matrix-vector product) until `build_ann()` adds an
    HNSW graph (usearch, int8); then the graph proposes candidates and the
    float32 rows re-rank them exactly. Freed rows are reused. Not thread-safe:
    the owner serialises calls.
    """

    def __init__(
        self,
        dim: int,
        matrix: NDArray[np.float32] | None = None,
        *,
        exact_limit: int = EXACT_SUBSET_LIMIT,
    ) -> None:
        """An empty store of `dim`-dimensional vectors, or one over the rows of `matrix`.

        Searches over at most `exact_limit` allowed rows are exact even with a graph.
        """
        self.dim = dim
        self.exact_limit = exact_limit
        rows = 0 if matrix is None else len(matrix)
        self._m = np.zeros((max(1024, rows), dim), dtype=np.float32)
        if matrix is not None:
            self._m[:rows] = matrix
        self._live = np.zeros(len(self._m), dtype=bool)
        self._live[:rows] = True
        self._top = rows  # rows below this have been used
        self._free: list[int] = []
        self._ann: Any = None

    @property
    def count(self) -> int:
        """Rows holding a vector."""
        return self._top - len(self._free)

    @property
    def top(self) -> int:
        """One past the highest row ever used (masks cover rows below it)."""
        return self._top

    @property
    def has_ann(self) -> bool:
        """True when searches go through the HNSW graph."""
        return self._ann is not None

    def live_mask(self) -> NDArray[np.bool_]:
        """A copy of the rows-in-use mask, `top` long."""
        return self._live[: self._top].copy()

    def retain(self, rows: Iterable[int]) -> None:
        """Free every row not in `rows` (after loading a matrix whose dead rows are zeros)."""
        keep = np.zeros(self._top, dtype=bool)
        keep[np.fromiter(rows, dtype=np.int64)] = True
        self._live[: self._top] = keep
        self._free = [int(r) for r in np.flatnonzero(~keep)[::-1]]

    def add(self, vectors: NDArray[np.float32]) -> list[int]:
        """Store `vectors` (n, dim); returns their row numbers."""
        if vectors.ndim != 2 or vectors.shape[1] != self.dim:
            raise ValidationError(
                f"Vectors of shape {vectors.shape} do not fit a store of dimension {self.dim}."
            )
        rows = [self._take_row() for _ in range(len(vectors))]
        if rows:
            self._m[rows] = vectors
            self._live[rows] = True
            if self._ann is not None:
                self._ann.add(np.asarray(rows, dtype=np.uint64), vectors, threads=1)
        return rows

    def _take_row(self) -> int:
        if self._free:
            return self._free.pop()
        if self._top == len(self._m):
            grown = np.zeros((2 * len(self._m), self.dim), dtype=np.float32)
            grown[: self._top] = self._m[: self._top]
            live = np.zeros(len(grown), dtype=bool)
            live[: self._top] = self._live[: self._top]
            self._m, self._live = grown, live
        self._top += 1
        return self._top - 1

    def remove(self, rows: Sequence[int]) -> None:
        """Free these rows (their numbers may be handed out again by `add`)."""
        if not rows:
            return
        self._m[list(rows)] = 0.0
        self._live[list(rows)] = False
        self._free.extend(rows)
        if self._ann is not None:
            self._ann.remove(np.asarray(rows, dtype=np.uint64))

    def vectors(self, rows: Sequence[int]) -> NDArray[np.float32]:
        """A copy of the vectors of `rows`."""
        return self._m[list(rows)].copy()

    def matrix(self) -> NDArray[np.float32]:
        """The used part of the matrix (a view; freed rows are zeros)."""
        return self._m[: self._top]

    def build_ann(self, threads: int = 0) -> float:
        """Index every vector in an HNSW graph; returns the seconds it took."""
        start = time.perf_counter()
        self._ann = self.new_graph(threads)
        return time.perf_counter() - start

    def new_graph(self, threads: int = 0) -> Any:
        """An HNSW graph of the live rows, not yet used (`attach_ann` it)."""
        ann = _new_ann(self.dim)
        rows = np.flatnonzero(self._live[: self._top])
        if len(rows):
            ann.add(rows.astype(np.uint64), self._m[rows], threads=threads)
        return ann

    def drop_ann(self) -> None:
        """Search exactly again (frees the graph)."""
        self._ann = None

    def attach_ann(self, ann: Any) -> None:
        """Use a graph loaded from disk (it must index exactly the live rows)."""
        self._ann = ann

    @property
    def ann(self) -> Any:
        """The usearch index, or None."""
        return self._ann

    def search(
        self,
        query: NDArray[np.float32],
        k: int,
        allowed: NDArray[np.bool_] | None = None,
    ) -> tuple[NDArray[np.int64], NDArray[np.float32]]:
        """The `k` rows most similar to `query` (cosine), best first, with their scores.

        `allowed` (a `top`-long mask) restricts the rows; None means every live row.
        """
        mask = self._live[: self._top] if allowed is None else allowed & self._live[: self._top]
        available = int(mask.sum()) if allowed is not None else self.count
        k = min(k, available)
        if k <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        if self._ann is not None and available > self.exact_limit:
            found = self._search_ann(query, k, mask, available)
            if found is not None:
                return found
        if available <= EXACT_SUBSET_LIMIT and available < self._top // 2:
            return _top_k(np.flatnonzero(mask), self._m, query, k)
        scores = self._m[: self._top] @ query
        scores[~mask] = -np.inf
        return _best(np.arange(self._top), scores, k)

    def _search_ann(
        self, query: NDArray[np.float32], k: int, mask: NDArray[np.bool_], available: int
    ) -> tuple[NDArray[np.int64], NDArray[np.float32]] | None:
        """HNSW candidates, filtered by `mask`, re-ranked exactly; None if too few pass."""
        size = int(self._ann.size)
        # A filter passing a fraction f of the rows needs ~1/f times the candidates.
        want = max(ANN_CANDIDATES, 2 * k) * max(1, round(self.count / available))
        while want <= _ANN_MAX_CANDIDATES:
            count = min(want, size)
            self._ann.expansion_search = max(ANN_CANDIDATES, count)
            keys = self._ann.search(query, count, threads=1).keys.astype(np.int64)
            keys = keys[mask[keys]]
            if len(keys) >= k:
                return _top_k(keys, self._m, query, k)
            if count >= size:
                break
            want *= 4
        return None  # too selective for the graph: the caller searches exactly


def _new_ann(dim: int) -> Any:
    from usearch.index import Index

    # int8 halves memory and doubles speed; the float32 re-rank restores the order.
    return Index(
        ndim=dim,
        metric="ip",
        dtype="i8",
        connectivity=16,
        expansion_add=128,
        expansion_search=ANN_CANDIDATES,
    )


def _top_k(
    rows: NDArray[np.int64], matrix: NDArray[np.float32], query: NDArray[np.float32], k: int
) -> tuple[NDArray[np.int64], NDArray[np.float32]]:
    scores = matrix[rows] @ query
    return _best(rows, scores, k)


def _best(
    rows: NDArray[np.int64], scores: NDArray[np.float32], k: int
) -> tuple[NDArray[np.int64], NDArray[np.float32]]:
    k = min(k, len(rows))
    part = np.argpartition(-scores, k - 1)[:k] if k < len(rows) else np.arange(len(rows))
    order = part[np.argsort(-scores[part], kind="stable")]
    return rows[order].astype(np.int64), scores[order].astype(np.float32)


# -- the index ----------------------------------------------------------------


class VectorIndex:
    """Embeddings of every node's chunks, kept in one folder it owns, following the change log.

    `catch_up(source, budget)` finds changed nodes (cheap) and embeds at most
    `budget` chunks; the rest stay pending for the next call. Reads may run
    from any thread; catch-up and rebuild are serialised.
    """

    def __init__(
        self,
        path: Path,
        embedder: Embedder,
        *,
        ann_threshold: int = ANN_THRESHOLD,
        save_interval_s: float = SAVE_INTERVAL_S,
    ) -> None:
        """Open the index at `path` for `embedder`'s vectors, rebuilding it if unusable."""
        self._path = Path(path)
        self._embedder = embedder
        self._ann_threshold = ann_threshold
        self._save_interval_s = save_interval_s
        self._lock = threading.RLock()  # data: short holds, taken by searches
        self._work_lock = threading.RLock()  # catch-up, rebuild, ANN build, save
        self._closed = False
        self._reset()
        self._generation = 0
        self._open()

    # -- state ---------------------------------------------------------------

    def _reset(self) -> None:
        self._store = VectorStore(self._embedder.dim)
        self._nodes: dict[str, _Node] = {}
        self._row_node: dict[int, tuple[str, int]] = {}
        self._by_kind: dict[str, set[str]] = {}
        self._by_tag: dict[str, set[str]] = {}
        self._by_ancestor: dict[str, set[str]] = {}
        self._deleted: set[str] = set()
        self._pending: set[str] = set()
        self._applied_seq = 0
        self._dirty = False
        self._version = 0
        self._visible: tuple[int, NDArray[np.bool_]] | None = None
        self._saved_at = time.monotonic()

    @property
    def path(self) -> Path:
        """The folder of the index."""
        return self._path

    @property
    def embedder(self) -> Embedder:
        """The model whose vectors the index holds."""
        return self._embedder

    @property
    def applied_seq(self) -> int:
        """Last change-log sequence number looked at (its nodes are embedded or pending)."""
        return self._applied_seq

    @property
    def pending(self) -> int:
        """Nodes seen as changed and not yet (re-)embedded."""
        return len(self._pending)

    def status(self) -> VectorStatus:
        """Model, sizes, applied seq and pending nodes."""
        with self._lock:
            return VectorStatus(
                model=self._embedder.name,
                dim=self._embedder.dim,
                nodes=len(self._nodes),
                vectors=self._store.count,
                applied_seq=self._applied_seq,
                pending=len(self._pending),
                ann=self._store.has_ann,
            )

    def node_ids(self) -> set[str]:
        """Every node id in the index (with or without vectors)."""
        with self._lock:
            return set(self._nodes)

    def chunk_count(self, node_id: str) -> int:
        """Vectors stored for one node (0 if absent)."""
        with self._lock:
            node = self._nodes.get(node_id)
            return 0 if node is None else len(node.rows)

    # -- following the change log ---------------------------------------------

    def catch_up(self, source: IndexSource, budget: int | None = None) -> int:
        """Notice changes since `applied_seq`, then embed at most `budget` chunks (None: all).

        Returns the number of chunks embedded; `pending` tells what is left.
        At least one pending node is processed whatever the budget.
        """
        self._check_open()
        with self._work_lock:
            self._detect(source)
            done = self._drain(source, budget)
            self._maybe_save()
            return done

    def detect(self, source: IndexSource) -> int:
        """Notice changes since `applied_seq` without embedding; returns the nodes pending."""
        self._check_open()
        with self._work_lock:
            self._detect(source)
            return len(self._pending)

    def rebuild(self, source: IndexSource, upto_seq: int, budget: int | None = None) -> int:
        """Forget every vector and re-embed every node (at most `budget` chunks now).

        Returns the number of chunks embedded; the rest are pending.
        """
        self._check_open()
        with self._work_lock:
            ids = {doc.id for doc in source.all_documents()}
            with self._lock:
                self._reset()
                self._pending = ids
                self._applied_seq = upto_seq
                self._dirty = True
            done = self._drain(source, budget)
            self.save()
            return done

    def _detect(self, source: IndexSource) -> None:
        newest, ids = source.changes_since(self._applied_seq)
        if ids is None or newest < self._applied_seq:
            # Hashes make this cheap: unchanged nodes only get their metadata refreshed.
            ids = {doc.id for doc in source.all_documents()} | set(self._nodes)
        if newest == self._applied_seq and not ids:
            return
        with self._lock:
            self._pending |= ids
            self._applied_seq = newest
            self._dirty = True

    def _drain(self, source: IndexSource, budget: int | None) -> int:
        done = seen = 0
        # Unchanged nodes cost a graph read each: bound them too when on a budget.
        most_nodes = None if budget is None else max(DOC_BATCH, 4 * budget)
        while self._pending and (budget is None or done < budget or done == 0):
            if most_nodes is not None and seen >= most_nodes:
                break
            batch = list(itertools.islice(self._pending, DOC_BATCH))
            seen += len(batch)
            docs = {doc.id: doc for doc in source.documents(batch)}
            plans = self._plan(batch, docs, None if budget is None else budget - done)
            texts = [text for plan in plans for text in plan.new_texts]
            vectors = self._embedder.embed(texts) if texts else None
            with self._lock:
                self._apply(plans, vectors)
            done += len(texts)
            if len(plans) < len(batch):
                break  # the budget ran out inside this batch
        return done

    def _plan(self, ids: list[str], docs: dict[str, SearchDoc], budget: int | None) -> list[_Plan]:
        plans: list[_Plan] = []
        needed = 0
        for node_id in ids:
            plan = _Plan.make(node_id, docs.get(node_id), self._nodes.get(node_id))
            needed += len(plan.new_texts)
            if plans and budget is not None and needed > budget:
                break
            plans.append(plan)
        return plans

    def _apply(self, plans: list[_Plan], vectors: NDArray[np.float32] | None) -> None:
        offset = 0
        for plan in plans:
            fresh = len(plan.new_texts)
            block = vectors[offset : offset + fresh] if vectors is not None else None
            offset += fresh
            self._remove_node(plan.node_id, keep=plan.kept_rows)
            if plan.doc is not None:
                self._add_node(plan, block)
            self._pending.discard(plan.node_id)
        self._version += 1
        self._dirty = True

    def _remove_node(self, node_id: str, keep: dict[int, int]) -> None:
        node = self._nodes.pop(node_id, None)
        if node is None:
            return
        gone = [row for row in node.rows if row not in keep]
        self._store.remove(gone)
        for row in gone:
            self._row_node.pop(row, None)
        _discard(self._by_kind, node.kind, node_id)
        for tag in node.tags:
            _discard(self._by_tag, tag, node_id)
        for ancestor in node.ancestors:
            _discard(self._by_ancestor, ancestor, node_id)
        self._deleted.discard(node_id)

    def _add_node(self, plan: _Plan, vectors: NDArray[np.float32] | None) -> None:
        doc = plan.doc
        assert doc is not None
        new_rows = iter(self._store.add(vectors) if vectors is not None else [])
        rows = [plan.kept.get(i, -1) for i in range(len(plan.chunk_digests))]
        rows = [row if row >= 0 else next(new_rows) for row in rows]
        node = _Node(doc.kind, doc.status, tuple(doc.tags), tuple(doc.ancestors), plan.digest,
                     rows, plan.chunk_digests)  # fmt: skip
        self._nodes[doc.id] = node
        for chunk_no, row in enumerate(node.rows):
            self._row_node[row] = (doc.id, chunk_no)
        self._by_kind.setdefault(node.kind, set()).add(doc.id)
        for tag in node.tags:
            self._by_tag.setdefault(tag, set()).add(doc.id)
        for ancestor in node.ancestors:
            self._by_ancestor.setdefault(ancestor, set()).add(doc.id)
        if node.status == "deleted":
            self._deleted.add(doc.id)

    # -- searching ------------------------------------------------------------

    def search(
        self,
        query: str | NDArray[np.float32],
        *,
        kinds: Sequence[str] | None = None,
        tags: Sequence[str] | None = None,
        under: str | None = None,
        include_deleted: bool = False,
        limit: int = 10,
        offset: int = 0,
    ) -> list[VectorHit]:
        """Nodes whose best chunk is most similar to `query` (text or unit vector).

        Filters as in `FullTextIndex.search`: `kinds` any of, `tags` all of,
        `under` descendants of; deleted nodes hidden unless `include_deleted`.
        """
        self._check_open()
        vector = self._query_vector(query)
        want = limit + offset
        if want == 0:
            return []
        with self._lock:
            allowed = self._allowed(kinds, tags, under, include_deleted)
            best = self._best_nodes(vector, allowed, want)
        return best[offset : offset + limit]

    def _query_vector(self, query: str | NDArray[np.float32]) -> NDArray[np.float32]:
        if isinstance(query, str):
            embedded: NDArray[np.float32] = self._embedder.embed([query])[0]
            return embedded
        vector = np.asarray(query, dtype=np.float32).reshape(-1)
        if vector.shape[0] != self._embedder.dim:
            raise ValidationError(
                f"Query vector has {vector.shape[0]} dimensions; the index holds "
                f"{self._embedder.dim}-dimensional vectors of {self._embedder.name}."
            )
        return vector

    def _best_nodes(
        self, vector: NDArray[np.float32], allowed: NDArray[np.bool_] | None, want: int
    ) -> list[VectorHit]:
        """Best chunk per node: ask for more chunks until `want` distinct nodes are found."""
        k = want * 3 + 8
        while True:
            rows, scores = self._store.search(vector, k, allowed)
            hits: dict[str, VectorHit] = {}
            for row, score in zip(rows.tolist(), scores.tolist(), strict=True):
                node_id, chunk_no = self._row_node[row]
                if node_id not in hits:
                    hits[node_id] = VectorHit(node_id, chunk_no, float(score))
            if len(hits) >= want or len(rows) < k:
                return list(hits.values())
            k *= 4

    def _allowed(
        self,
        kinds: Sequence[str] | None,
        tags: Sequence[str] | None,
        under: str | None,
        include_deleted: bool,
    ) -> NDArray[np.bool_] | None:
        kind_values = filter_values(kinds, "kinds")
        tag_values = filter_values(tags, "tags")
        under_values = filter_values([under], "under") if under is not None else []
        if not (kind_values or tag_values or under_values):
            return None if include_deleted else self._visible_mask()
        groups: list[set[str]] = []
        if kind_values:
            groups.append(set().union(*(self._by_kind.get(k, set()) for k in kind_values)))
        groups += [self._by_tag.get(tag, set()) for tag in tag_values]
        groups += [self._by_ancestor.get(u, set()) for u in under_values]
        ids = set.intersection(*groups)
        if not include_deleted:
            ids -= self._deleted
        mask = np.zeros(self._store.top, dtype=bool)
        rows = [row for node_id in ids for row in self._nodes[node_id].rows]
        mask[rows] = True
        return mask

    def _visible_mask(self) -> NDArray[np.bool_] | None:
        if not self._deleted:
            return None
        if self._visible is None or self._visible[0] != self._version:
            mask = self._store.live_mask()
            rows = [row for node_id in self._deleted for row in self._nodes[node_id].rows]
            mask[rows] = False
            self._visible = (self._version, mask)
        return self._visible[1]

    # -- the HNSW graph --------------------------------------------------------

    def wants_ann(self) -> bool:
        """True when the index is large enough for HNSW and has none yet."""
        return not self._store.has_ann and self._store.count > self._ann_threshold

    def build_ann(self) -> float:
        """Build the HNSW graph now (minutes at a million vectors); returns seconds taken.

        Searches keep running exactly meanwhile; catch-up waits.
        """
        self._check_open()
        with self._work_lock:
            start = time.perf_counter()
            # Only catch-up changes the rows, and it waits on the work lock.
            ann = self._store.new_graph(threads=1)
            with self._lock:
                self._store.attach_ann(ann)
                self._dirty = True
            self.save()
            return time.perf_counter() - start

    # -- persistence ---------------------------------------------------------

    def save_if_due(self) -> None:
        """Save when changed and small, or when the last save is `save_interval_s` old."""
        with self._work_lock:
            self._maybe_save()

    def _maybe_save(self) -> None:
        if not self._dirty:
            return
        small = self._store.top * self._store.dim * 4 <= SMALL_BYTES
        if small or time.monotonic() - self._saved_at >= self._save_interval_s:
            self.save()

    def save(self) -> None:
        """Write the index to its folder now, atomically (no-op when nothing changed)."""
        with self._work_lock:
            if not self._dirty or self._closed:
                return
            with self._lock:
                generation = self._generation + 1
                files = self._write_generation(generation)
                meta = {
                    "format": FORMAT_VERSION,
                    "model": self._embedder.name,
                    "dim": self._embedder.dim,
                    "applied_seq": self._applied_seq,
                    "generation": generation,
                    "files": files,
                }
                self._dirty = False
            _write_atomic(self._path / _META, json.dumps(meta, indent=1).encode())
            self._generation = generation
            self._saved_at = time.monotonic()
            self._remove_stale(files)

    def _write_generation(self, generation: int) -> dict[str, list[Any]]:
        self._path.mkdir(parents=True, exist_ok=True)
        files: dict[str, list[Any]] = {}
        vectors = self._path / f"vectors-{generation}.npy"
        files["vectors"] = _write_file(vectors, lambda f: np.save(f, self._store.matrix()))
        rows = {
            "nodes": {node_id: node.to_json() for node_id, node in self._nodes.items()},
            "pending": sorted(self._pending),
        }
        files["rows"] = _write_file(
            self._path / f"rows-{generation}.json", lambda f: f.write(json.dumps(rows).encode())
        )
        if self._store.has_ann:
            ann_path = self._path / f"ann-{generation}.usearch"
            files["ann"] = _write_ann(ann_path, self._store.ann)
        return files

    def _remove_stale(self, files: dict[str, list[Any]]) -> None:
        keep = {entry[0] for entry in files.values()} | {_META}
        for entry in self._path.iterdir():
            if entry.name not in keep and entry.name.startswith(_OWN_PREFIXES):
                with contextlib.suppress(OSError):
                    entry.unlink()

    def _open(self) -> None:
        if self._path.exists() and not self._path.is_dir():
            raise StorageError(
                f"Vector index path {self._path} is a file, not a folder. "
                "Move the file away; the index is rebuilt from the graph."
            )
        if not (self._path / _META).exists():
            return
        try:
            self._load()
        except (_Corrupt, OSError, ValueError, KeyError, TypeError) as exc:
            log.warning(
                "Vector index at %s is unusable (%s); wiping it, catch-up re-embeds every node.",
                self._path,
                exc,
            )
            self._reset()
            self._wipe()

    def _load(self) -> None:
        meta = json.loads((self._path / _META).read_bytes())
        if meta.get("format") != FORMAT_VERSION:
            raise _Corrupt(f"format {meta.get('format')}, expected {FORMAT_VERSION}")
        if meta.get("model") != self._embedder.name or meta.get("dim") != self._embedder.dim:
            raise _Corrupt(
                f"vectors of model {meta.get('model')!r} ({meta.get('dim')} dimensions), "
                f"now {self._embedder.name!r} ({self._embedder.dim})"
            )
        files = meta["files"]
        matrix = np.load(self._checked(files["vectors"]), allow_pickle=False)
        rows = json.loads(self._checked(files["rows"]).read_bytes())
        if matrix.ndim != 2 or matrix.shape[1] != self._embedder.dim:
            raise _Corrupt(f"vector file of shape {matrix.shape}")
        self._install(matrix.astype(np.float32, copy=False), rows, int(meta["applied_seq"]))
        if "ann" in files:
            self._store.attach_ann(_read_ann(self._checked(files["ann"]), self._embedder.dim))
        self._generation = int(meta["generation"])

    def _install(self, matrix: NDArray[np.float32], rows: dict[str, Any], seq: int) -> None:
        store = VectorStore(self._embedder.dim, matrix)
        nodes = {node_id: _Node.from_json(data) for node_id, data in rows["nodes"].items()}
        used = [row for node in nodes.values() for row in node.rows]
        if len(used) != len(set(used)) or any(not 0 <= r < len(matrix) for r in used):
            raise _Corrupt("row numbers out of range or shared")
        store.retain(used)
        self._store = store
        for node_id, node in nodes.items():
            self._nodes[node_id] = node
            for chunk_no, row in enumerate(node.rows):
                self._row_node[row] = (node_id, chunk_no)
            self._by_kind.setdefault(node.kind, set()).add(node_id)
            for tag in node.tags:
                self._by_tag.setdefault(tag, set()).add(node_id)
            for ancestor in node.ancestors:
                self._by_ancestor.setdefault(ancestor, set()).add(node_id)
            if node.status == "deleted":
                self._deleted.add(node_id)
        self._pending = set(rows["pending"])
        self._applied_seq = seq

    def _checked(self, entry: list[Any]) -> Path:
        name, size, crc = entry
        path = self._path / str(name)
        if path.stat().st_size != size or _crc32(path) != crc:
            raise _Corrupt(f"{name} does not match its recorded size and checksum")
        return path

    def _wipe(self) -> None:
        for entry in self._path.iterdir():
            if entry.name.startswith(_OWN_PREFIXES) or entry.name.endswith(".tmp"):
                entry.unlink()

    # -- closing ---------------------------------------------------------------

    def close(self) -> None:
        """Save what changed and refuse further use. Safe to call twice."""
        with self._work_lock:
            if self._closed:
                return
            self.save()
            self._closed = True

    def _check_open(self) -> None:
        if self._closed:
            raise StorageError(
                f"The vector index at {self._path} is closed. Open a new VectorIndex."
            )


@dataclass(slots=True)
class _Plan:
    """What one node needs: its chunks, which old rows stay, which texts to embed."""

    node_id: str
    doc: SearchDoc | None
    digest: str = ""
    chunk_digests: list[str] = field(default_factory=list)
    kept: dict[int, int] = field(default_factory=dict)  # chunk no -> old row
    new_texts: list[str] = field(default_factory=list)

    @property
    def kept_rows(self) -> dict[int, int]:
        """Old rows reused, as row -> chunk no."""
        return {row: chunk_no for chunk_no, row in self.kept.items()}

    @classmethod
    def make(cls, node_id: str, doc: SearchDoc | None, old: _Node | None) -> _Plan:
        if doc is None:
            return cls(node_id, None)
        digest = _digest(f"{doc.title}\x00{doc.content}")
        if old is not None and old.digest == digest:
            return cls(node_id, doc, digest, old.chunk_digests, dict(enumerate(old.rows)))
        texts = chunks(doc.title, doc.content)
        digests = [_digest(text) for text in texts]
        reusable = dict(zip(old.chunk_digests, old.rows, strict=True)) if old else {}
        plan = cls(node_id, doc, digest, digests)
        for chunk_no, (text, chunk_digest) in enumerate(zip(texts, digests, strict=True)):
            row = reusable.pop(chunk_digest, None)
            if row is None:
                plan.new_texts.append(text)
            else:
                plan.kept[chunk_no] = row
        return plan


# -- background catch-up ------------------------------------------------------


class VectorWorker:
    """A daemon thread that keeps a `VectorIndex` caught up in small steps.

    `poke()` after a write wakes it; it also looks every `poll_s` seconds (for
    writes by other processes), and builds the HNSW graph once the index is
    large. `stop()` waits for the step in progress (a fraction of a second).
    """

    def __init__(
        self,
        index: VectorIndex,
        source: Callable[[], IndexSource],
        *,
        step: int = 8,
        poll_s: float = 5.0,
    ) -> None:
        """Prepare (not start) a worker for `index`; `source()` gives a fresh source."""
        self._index, self._source = index, source
        self._step, self._poll_s = step, poll_s
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="nodespace-vectors", daemon=True)

    def start(self) -> None:
        """Start the thread."""
        self._thread.start()

    def poke(self) -> None:
        """Ask for a catch-up soon."""
        self._wake.set()

    @property
    def alive(self) -> bool:
        """True while the thread runs."""
        return self._thread.is_alive()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the thread and wait for it."""
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self._poll_s)
            self._wake.clear()
            if self._stop.is_set():
                break
            try:
                self._step_once()
            except Exception:
                log.exception("Background vector indexing failed; retrying later.")
                self._stop.wait(self._poll_s)

    def _step_once(self) -> None:
        self._index.catch_up(self._source(), budget=self._step)
        if self._index.pending:
            self._wake.set()
            return
        if self._index.wants_ann() and not self._stop.is_set():
            self._index.build_ann()
        self._index.save_if_due()


# -- helpers ------------------------------------------------------------------


def _digest(text: str) -> str:
    return hashlib.blake2b(text.encode(), digest_size=12).hexdigest()


def _discard(index: dict[str, set[str]], key: str, node_id: str) -> None:
    members = index.get(key)
    if members is not None:
        members.discard(node_id)
        if not members:
            del index[key]


def _crc32(path: Path) -> int:
    crc = 0
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 22), b""):
            crc = zlib.crc32(block, crc)
    return crc


def _write_file(path: Path, write: Callable[[Any], object]) -> list[Any]:
    """Write through a temporary file, fsync, rename; returns [name, size, crc32]."""
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("wb") as handle:
        write(handle)
        handle.flush()
        os.fsync(handle.fileno())
    tmp.replace(path)
    return [path.name, path.stat().st_size, _crc32(path)]


def _write_atomic(path: Path, data: bytes) -> None:
    _write_file(path, lambda f: f.write(data))
    with contextlib.suppress(OSError):  # not every platform can fsync a folder
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _write_ann(path: Path, ann: Any) -> list[Any]:
    tmp = path.with_name(path.name + ".tmp")
    ann.save(str(tmp))
    with tmp.open("rb+") as handle:
        os.fsync(handle.fileno())
    tmp.replace(path)
    return [path.name, path.stat().st_size, _crc32(path)]


def _read_ann(path: Path, dim: int) -> Any:
    ann = _new_ann(dim)
    ann.load(str(path))
    if ann.ndim != dim:
        raise _Corrupt(f"HNSW file of {ann.ndim} dimensions")
    return ann


__all__ = [
    "ANN_THRESHOLD",
    "VectorHit",
    "VectorIndex",
    "VectorStatus",
    "VectorStore",
    "VectorWorker",
]

"""`KnowledgeBase`: the one API over nodes, hierarchy, links, search and history."""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import polars as pl

from ..config import Settings, load_settings
from ..config.private import keep_private, make_private_kb_folder
from ..entities.find import store_lookup
from ..entities.search import IndexedFields
from ..errors import ModelUnavailable, NotFound, QueryError, StorageError
from ..graph import ChangeSet, GraphStore, Op, opkinds
from ..graph.cypher import check_query
from ..graph.engine import DB_FILE
from ..live import Dependencies, LiveQuery, LiveRegistry, follow
from ..nodes import bulk, tree, undo
from ..nodes.links import normalise
from ..nodes.model import PUBLIC_COLUMNS, Node, nodes_from_rows
from ..nodes.query import Find, kinds_tuple
from ..nodes.validate import check_date
from ..nodes.writer import NodeWriter
from ..search.fulltext import FullTextIndex, SearchDoc, SearchHit
from ..search.hybrid import check_mode
from ._ai import KnowledgeBaseAI
from ._entities import KnowledgeBaseEntities
from .components import Component, ComponentReport, standard_components, stop_all
from .facets import OPERATIONS, KnowledgeBaseAPI
from .folder import FULLTEXT_DIR, VECTORS_DIR, acquire
from .gate import OperationGate, gated

if TYPE_CHECKING:
    from ..search.vectors import VectorIndex, VectorStatus, VectorWorker

log = logging.getLogger(__name__)

#: A search embeds pending nodes itself when at most this many are pending (at most
#: SYNC_CHUNKS chunks); a larger backlog is left to the background thread.
SYNC_NODES = 16
SYNC_CHUNKS = 64
_IMPORTED = "MATCH (n:Node) WHERE n.created_seq = $s RETURN n.id"
_NODE_RETURN = ", ".join(f"n.{c}" for c in PUBLIC_COLUMNS)


@gated(OPERATIONS)
class KnowledgeBase(KnowledgeBaseAI, KnowledgeBaseEntities):
    """A knowledge base folder: graph database plus its derived indexes.

    Use it as a context manager, or call `close()` when done. Every operation
    of the table (`kb/facets.py`) runs through `self.gate` (see `kb/gate.py`).
    """

    def __init__(
        self,
        path: str | Path,
        *,
        settings: Settings | None = None,
        create: bool = True,
    ) -> None:
        self.gate = OperationGate("embedded")
        self.path = Path(path).expanduser().resolve()
        self.settings = settings if settings is not None else load_settings(self.path)
        self._prepare_folder(create)
        self._folder = acquire(self.path, self.settings)
        self._store: GraphStore = self._folder.store
        self._writer: NodeWriter = self._folder.writer
        self._closed = False
        self._live: LiveRegistry | None = None
        self._vectors: VectorIndex | None = None
        self._vector_worker: VectorWorker | None = None
        self._vector_unsubscribe: Callable[[], None] | None = None
        self._vector_lock = threading.Lock()
        self._vector_warned = False
        self._fulltext: FullTextIndex = self._folder.fulltext
        try:
            self._open_entities()
            self._fulltext.catch_up(_SearchSource(self))
        except BaseException:
            self._folder.release()
            raise
        self._components: list[Component] = standard_components(self)
        keep_private(self.path)  # the engine and the index made their files with the umask

    def _prepare_folder(self, create: bool) -> None:
        if not self.path.exists():
            if not create:
                raise NotFound(f"Knowledge base {self.path} does not exist; run `nodespace init`.")
            self.path.mkdir(parents=True, mode=0o700)
        if not self.path.is_dir():
            raise StorageError(f"{self.path} is a file, not a knowledge base folder.")
        engine = self.settings.storage.engine
        if create and not any((self.path / name).exists() for name in DB_FILE.values()):
            make_private_kb_folder(self.path)  # a new knowledge base: yours alone
        for other, filename in DB_FILE.items():
            if (
                other != engine
                and (self.path / filename).exists()
                and not (self.path / DB_FILE[engine]).exists()
            ):
                raise StorageError(
                    f"Knowledge base {self.path} was made with engine {other!r}, not {engine!r}; "
                    f"set storage.engine = {other!r} (e.g. NODESPACE_STORAGE_ENGINE={other})."
                )

    # -- lifecycle -------------------------------------------------------

    def __enter__(self) -> KnowledgeBase:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Bring the search index up to date and close the database."""
        if self._closed:
            return
        self._closed = True
        stop_all(self._components)

    def components(self) -> list[ComponentReport]:
        """Every long-lived part: its name, settings section, health and metrics."""
        return [component.report() for component in self._components]

    def add_component(self, component: Component) -> Callable[[], None]:
        """Report `component` with this knowledge base's own (the service adds its parts)."""
        self._components.append(component)

        def remove() -> None:
            if component in self._components:
                self._components.remove(component)

        return remove

    # Stopping the parts, for kb/components.py (each component stops one).

    def _stop_live(self) -> None:
        if self._live is not None:
            self._live.close()

    def _stop_fulltext(self) -> None:
        self._fulltext.catch_up(_SearchSource(self))

    def _stop_store(self) -> None:
        # The folder's last user closes its vector and full-text indexes, then the store.
        self._folder.release()
        keep_private(self.path)  # files the engine and the indexes made while open

    def __repr__(self) -> str:
        return f"KnowledgeBase({str(self.path)!r}, engine={self.engine!r}, seq={self.seq})"

    @property
    def engine(self) -> str:
        """Name of the graph engine in use."""
        return self._store.engine_name

    @property
    def store(self) -> GraphStore:
        """The graph store (for extensions; most code never needs it)."""
        return self._store

    # -- nodes -----------------------------------------------------------

    def create(
        self,
        kind: str = "text",
        title: str = "",
        content: str = "",
        *,
        parent: str | None = None,
        index: int | None = None,
        id: str | None = None,
        tags: Sequence[str] = (),
        **fields: Any,
    ) -> Node:
        """Create a node of `kind` (text, task, date, collection or a registered kind)."""
        with self._store.write(f"create {kind}"):
            row = self._writer.create(
                kind, title, content, parent=parent, index=index, node_id=id, **fields
            )
            if tags:
                self._writer.tag(row["id"], tuple(tags))
        if self._has_calculated(kind):
            return self.get(row["id"])  # with the values computed as it committed
        return Node.from_row(row)

    def get(self, node_id: str) -> Node:
        """The node with this id (NotFound if there is none)."""
        return Node.from_row(tree.require_row(self._store.rows, node_id))

    def exists(self, node_id: str) -> bool:
        """True when a node with this id exists (in any status)."""
        return tree.node_row(self._store.rows, node_id) is not None

    def update(self, node_id: str, *, expected_version: int | None = None, **fields: Any) -> Node:
        """Change fields; pass `expected_version` to refuse a stale edit (ConflictError)."""
        self._writer.update(node_id, expected_version, **fields)
        return self.get(node_id)

    def move(self, node_id: str, parent: str | None, index: int | None = None) -> Node:
        """Move a node under `parent` (None: top level) at `index` (None: last)."""
        self._writer.move(node_id, parent, index)
        return self.get(node_id)

    def delete(self, node_id: str) -> list[str]:
        """Soft-delete a node and its subtree; `restore` brings them back."""
        return self._writer.delete(node_id)

    def restore(self, node_id: str) -> list[str]:
        """Undelete a node with its subtree and deleted ancestors."""
        return self._writer.restore(node_id)

    def purge(self, node_id: str) -> list[str]:
        """Remove a deleted node and its subtree from the database."""
        return self._writer.purge(node_id)

    # -- hierarchy -------------------------------------------------------

    def children(self, node_id: str | None = None, *, include_deleted: bool = False) -> list[Node]:
        """Children of a node in order (None: the top-level nodes)."""
        if node_id is not None:
            query = "MATCH (n:Node)-[:CHILD_OF]->(:Node {id: $p})"
        else:
            query = "MATCH (n:Node) WHERE n.parent_id IS NULL AND n.kind <> 'tag'"
        if not include_deleted:
            query += (" AND" if node_id is None else " WHERE") + " n.status <> 'deleted'"
        query += f" RETURN {_NODE_RETURN} ORDER BY n.position, n.id"
        if node_id is None:
            return self._nodes(query, {})
        return self._nodes_of(node_id, query, {"p": node_id})

    def child_counts(self, node_id: str | None = None) -> dict[str, int]:
        """For each child of a node (None: each top-level node), how many children it has.

        Deleted nodes are left out on both levels. One query, for the expand arrows of
        an outline that has not loaded the grandchildren (`{child id: count}`).
        """
        if node_id is not None:
            match, params = "MATCH (c:Node)-[:CHILD_OF]->(:Node {id: $p}) WHERE", {"p": node_id}
        else:
            match, params = "MATCH (c:Node) WHERE c.parent_id IS NULL AND c.kind <> 'tag' AND", {}
        query = (
            f"{match} c.status <> 'deleted' "
            "OPTIONAL MATCH (g:Node)-[:CHILD_OF]->(c) WHERE g.status <> 'deleted' "
            "RETURN c.id, count(g)"
        )
        if node_id is not None and not isinstance(node_id, str):
            tree.require_row(self._store.rows, node_id)  # its clear error, not the engine's
        counts = {row[0]: int(row[1]) for row in self._store.rows(query, params)}
        if node_id is not None and not counts:
            tree.require_row(self._store.rows, node_id)  # NotFound for an unknown id
        return counts

    def subtree(self, node_id: str, *, include_deleted: bool = False) -> list[tuple[int, Node]]:
        """(depth, node) pairs of a node and all its descendants, depth first, in order."""
        out: list[tuple[int, Node]] = []
        stack: list[tuple[int, Node]] = [(0, self.get(node_id))]
        while stack:
            depth, node = stack.pop()
            out.append((depth, node))
            kids = self.children(node.id, include_deleted=include_deleted)
            stack.extend((depth + 1, kid) for kid in reversed(kids))
        return out

    def ancestors(self, node_id: str) -> list[Node]:
        """Ancestors from the parent up to the root."""
        tree.require_row(self._store.rows, node_id)
        return [self.get(i) for i in tree.ancestors(self._store.rows, node_id)]

    # -- links, tags, collections ---------------------------------------

    def backlinks(self, node_id: str, *, include_deleted: bool = False) -> list[Node]:
        """Nodes whose content links to this node, oldest first."""
        return self._linked(
            "MATCH (n:Node)-[:LINKS_TO]->(:Node {id: $id})", node_id, include_deleted
        )

    def links(self, node_id: str, *, include_deleted: bool = False) -> list[Node]:
        """Nodes this node's content links to."""
        return self._linked(
            "MATCH (:Node {id: $id})-[:LINKS_TO]->(n:Node)", node_id, include_deleted
        )

    def _linked(self, match: str, node_id: str, include_deleted: bool) -> list[Node]:
        where = "" if include_deleted else " WHERE n.status <> 'deleted'"
        query = f"{match}{where} RETURN {_NODE_RETURN} ORDER BY n.id"
        return self._nodes_of(node_id, query, {"id": node_id})

    def _nodes_of(self, node_id: str, query: str, params: dict[str, Any]) -> list[Node]:
        """`_nodes(query)` about node `node_id`: NotFound (as `require_row`) if it is missing.

        The existence check costs a round trip, so it runs only when the answer
        is empty or the query failed (it then raises what `require_row` raises).
        """
        if not isinstance(node_id, str):
            tree.require_row(self._store.rows, node_id)
        try:
            found = self._nodes(query, params)
        except QueryError:
            tree.require_row(self._store.rows, node_id)
            raise
        if not found:
            tree.require_row(self._store.rows, node_id)
        return found

    def tag(self, node_id: str, *names: str) -> list[str]:
        """Tag a node (tags are created on demand); returns the tag ids."""
        return self._writer.tag(node_id, names)

    def untag(self, node_id: str, *names: str) -> None:
        """Remove tags from a node."""
        self._writer.untag(node_id, names)

    def tags(self, node_id: str) -> list[str]:
        """Names of the tags on a node."""
        tree.require_row(self._store.rows, node_id)
        rows = self._store.rows(
            "MATCH (:Node {id: $id})-[:MEMBER_OF]->(t:Node) WHERE t.kind = 'tag' "
            "RETURN t.title ORDER BY t.title",
            {"id": node_id},
        )
        return [r[0] for r in rows]

    def add_to(self, node_id: str, collection_id: str) -> None:
        """Put a node in a collection (a node can be in several)."""
        self._writer.set_membership(node_id, collection_id, add=True)

    def remove_from(self, node_id: str, collection_id: str) -> None:
        """Take a node out of a collection."""
        self._writer.set_membership(node_id, collection_id, add=False)

    def members(self, group_id: str) -> list[Node]:
        """Nodes in a collection or carrying a tag (a tag name also works)."""
        if not self.exists(group_id):
            group_id = "tag:" + normalise(group_id)
        return self._linked("MATCH (n:Node)-[:MEMBER_OF]->(:Node {id: $id})", group_id, False)

    def collections(self, node_id: str) -> list[Node]:
        """Collections a node is in."""
        tree.require_row(self._store.rows, node_id)
        return self._nodes(
            f"MATCH (:Node {{id: $id}})-[:MEMBER_OF]->(n:Node) WHERE n.kind = 'collection' "
            f"RETURN {_NODE_RETURN} ORDER BY n.title",
            {"id": node_id},
        )

    # -- journal ---------------------------------------------------------

    def journal(self, day: dt.date | str | None = None) -> Node:
        """The journal page of `day` (default today), created on demand."""
        when = dt.date.today() if day is None else check_date("Journal day", "day", day)
        assert when is not None
        day_id = when.isoformat()
        with self._store.write("journal"):
            if not self.exists(day_id):
                self._writer.create("date", day_id, node_id=day_id)
        return self.get(day_id)

    # -- queries ---------------------------------------------------------

    def find(self, kind: str | Sequence[str] | None = None) -> Find:
        """A query builder over nodes, e.g. `kb.find("task").where(task_status="todo")`."""
        return Find(
            runner=self._frame, kinds=kinds_tuple(kind), fields_of=store_lookup(self._store)
        )

    def find_frame(self, query: dict[str, Any], *, entity_columns: bool = True) -> pl.DataFrame:
        """The rows of a find() query given as `Find.to_json()` (how service clients run it)."""
        return self.find().with_parts(query).to_polars(entity_columns=entity_columns)

    def open_tasks(self, limit: int = 50) -> list[Node]:
        """Tasks still to do (todo or doing), soonest due date first, undated last."""
        tasks = self.find("task").where("task_status", "in", ["todo", "doing"])
        return tasks.order_by("due").limit(limit).all()  # the engine sorts NULL last

    def cypher(
        self, query: str, params: dict[str, Any] | None = None, *, write: bool = False
    ) -> pl.DataFrame:
        """Run Cypher; read-only unless `write=True`. Values go in `params`, never the text."""
        check_query(query, write=write)
        if not write:
            return self._read_only(query, params or {})
        if not self.settings.security.allow_cypher_writes:
            raise QueryError("Cypher writes are disabled by security.allow_cypher_writes = false.")
        with self._store.write("cypher") as tx:
            frame = self._frame(query, params or {})
            tx.record(Op(opkinds.CYPHER, "cypher", "", target=query[:2000]))
        return frame

    def _read_only(self, query: str, params: dict[str, Any]) -> pl.DataFrame:
        return self._store.read_only_frame(
            query, params, self.settings.performance.query_timeout_ms
        )

    def _frame(self, query: str, params: dict[str, Any]) -> pl.DataFrame:
        return self._store.frame(query, params)

    def _nodes(self, query: str, params: dict[str, Any]) -> list[Node]:
        return nodes_from_rows(self._store.rows(query, params))

    # -- transactions, import, history --------------------------------

    @contextmanager
    def transaction(self, label: str = "transaction") -> Iterator[KnowledgeBase]:
        """All-or-nothing: every write inside commits together or not at all."""
        with self._store.write(label):
            yield self

    def import_nodes(self, frame: pl.DataFrame) -> int:
        """Bulk-import nodes (and hierarchy via `parent_id`) from a DataFrame."""
        return bulk.import_frame(self._store, self.settings, frame)

    @property
    def seq(self) -> int:
        """Sequence number of the newest change set."""
        return self._store.seq

    def changes(self, since: int = 0, limit: int | None = None) -> list[ChangeSet]:
        """Change sets after sequence number `since`, oldest first."""
        return self._store.changes(since, limit)

    def subscribe(self, callback: Callable[[ChangeSet], None]) -> Callable[[], None]:
        """Call `callback(change_set)` after each commit; returns an unsubscribe function."""
        return self._store.subscribe(callback)

    def follow(
        self, callback: Callable[[ChangeSet], None], since: int | None = None
    ) -> Callable[[], None]:
        """Like `subscribe`, first replaying the change sets after `since` (no gap)."""
        return follow(self._store, callback, since)

    @property
    def live_registry(self) -> LiveRegistry:
        """The live queries of this knowledge base (created on first use)."""
        if self._live is None:
            self._live = LiveRegistry(self)
        return self._live

    def live(
        self,
        query: Find | str | Callable[..., Find | str],
        *,
        depends: Dependencies | None = None,
        **params: Any,
    ) -> LiveQuery:
        """A live query: `kb.find(...)` or Cypher (with `params`) kept up to date.

        Dependencies of a `find()` query are derived; for Cypher pass `depends`,
        or every write re-runs it (correct, only slower). Parameters may be
        `param` parameters, `param.rx` values or widgets: changing one re-runs
        the query. A callable query is called with the parameters' values.
        """
        return self.live_registry.add(query, params, depends)

    def undo(self) -> ChangeSet:
        """Revert the newest change set not yet undone; returns the one reverted."""
        pending = undo.undoable(self._store)
        if pending is not None and any(op.op == opkinds.CYPHER for op in pending.ops):
            raise QueryError(
                f"Change set {pending.seq} ran raw Cypher and cannot be undone automatically."
            )
        return undo.undo(self._store, self._writer)

    # -- search ----------------------------------------------------------

    def search(
        self,
        text: str,
        *,
        mode: str = "text",
        kind: str | Sequence[str] | None = None,
        tag: str | Sequence[str] | None = None,
        under: str | None = None,
        limit: int = 10,
        offset: int = 0,
        include_deleted: bool = False,
    ) -> list[SearchHit]:
        """Search with snippets, filtered by kind, tag and subtree.

        `mode`: "text" (BM25 full text, no model needed), "semantic" (nearest
        chunks by sentence embedding; score = cosine of the node's best chunk)
        or "hybrid" (cosine plus a bounded bonus for a BM25 match, see
        `search.hybrid`; without an embedding model it degrades to "text" with
        a warning). "semantic" without the model raises ModelUnavailable.
        Nodes written just before are found semantically; a larger backlog
        (over SYNC_NODES nodes) is embedded by a background thread meanwhile,
        and `vector_status().pending` says how many nodes are still waiting.
        """
        mode = check_mode(mode)
        filters: dict[str, Any] = {
            "kinds": list(kinds_tuple(kind)) or None,
            "tags": ["tag:" + normalise(t) for t in _as_list(tag)] or None,
            "under": under,
            "include_deleted": include_deleted,
        }
        if mode == "hybrid" and not self._vectors_usable():
            mode = "text"
        if mode == "semantic":
            _check_query(text, limit, offset)
            return self._semantic(text, filters, limit, offset)
        self.sync_search(vectors=False)
        if mode == "text":
            return self._fulltext.search(text, limit=limit, offset=offset, **filters)
        return self._hybrid(text, filters, limit, offset)

    def _hybrid(
        self, text: str, filters: dict[str, Any], limit: int, offset: int
    ) -> list[SearchHit]:
        from ..search.hybrid import fuse

        depth = max(2 * (limit + offset), 50)
        text_hits = self._fulltext.search(text, limit=depth, **filters)
        vector_hits = self._semantic(text, filters, depth, 0)
        return fuse(text_hits, vector_hits, limit=limit, offset=offset)

    def _semantic(
        self, text: str, filters: dict[str, Any], limit: int, offset: int
    ) -> list[SearchHit]:
        from ..models.embed import chunk_body, chunks, fresh_text
        from ..search.hybrid import query_terms, semantic_hit

        index = self._vector_index()
        self._sync_vectors(index)
        hits = index.search(text, limit=limit, offset=offset, **filters)
        docs = {doc.id: doc for doc in _SearchSource(self).documents([h.id for h in hits])}
        terms, chars = query_terms(text), int(self.settings.search.snippet_chars)
        found = []
        for hit in hits:
            doc = docs.get(hit.id)
            if doc is None:  # purged since the index last looked
                continue
            pieces = [chunk_body(doc.title, c) for c in chunks(doc.title, doc.content)] or [""]
            at = min(hit.chunk, len(pieces) - 1)
            # Show what this chunk adds, not the overlap it repeats from the one before.
            body = fresh_text(pieces[at - 1], pieces[at]) if at else pieces[0]
            found.append(semantic_hit(doc, hit, body, terms, chars))
        return found

    def sync_search(self, *, vectors: bool = True) -> int:
        """Apply pending change-log records to the search indexes; returns docs touched.

        With `vectors` (and once semantic search is in use) this also embeds
        every pending node, which may take a while after large imports.
        """
        touched = self._fulltext.catch_up(_SearchSource(self))
        if vectors and self._vectors is not None:
            self._vectors.catch_up(_SearchSource(self))
        return touched

    def reindex(self, *, text: bool = True, vectors: bool | None = None) -> int:
        """Rebuild the search indexes from the graph; returns the number of documents.

        `text`: the full-text index. `vectors`: the vector index (every node
        re-embedded, synchronously); None rebuilds it when the embedding model
        is available and skips it otherwise, True requires the model.
        """
        count = 0
        if text:
            count = self._fulltext.rebuild(_SearchSource(self), self.seq)
        if vectors or (vectors is None and self._vectors_usable()):
            index = self._vector_index()
            index.rebuild(_SearchSource(self), self.seq)
            count = count if text else len(index.node_ids())
        return count

    def vector_status(self) -> VectorStatus:
        """The vector index: model, size, applied seq and nodes still pending embedding.

        Opens the index (and starts its background thread) if needed; raises
        ModelUnavailable when no embedding model can be loaded.
        """
        index = self._vector_index()
        self._detect_vectors(index)
        return index.status()

    @property
    def fulltext(self) -> FullTextIndex:
        """The full-text sidecar index."""
        return self._fulltext

    @property
    def vectors(self) -> VectorIndex:
        """The vector sidecar index (opened on first use; needs the embedding model)."""
        return self._vector_index()

    # -- the vector index --------------------------------------------------

    def _vectors_usable(self) -> bool:
        try:
            self._vector_index()
        except ModelUnavailable as exc:
            if not self._vector_warned:
                log.warning("Hybrid search falls back to full text: %s", exc)
                self._vector_warned = True
            return False
        return True

    def _vector_index(self) -> VectorIndex:
        """The vector index, opened with its background thread on first use."""
        if self._vectors is not None:
            return self._vectors
        with self._vector_lock:
            if self._vectors is None:
                if self._closed:
                    raise StorageError("The knowledge base is closed; open it again to use it.")
                self._vectors = self._folder.vectors()
                self._start_vector_worker(self._vectors)
            return self._vectors

    def _start_vector_worker(self, index: VectorIndex) -> None:
        from ..search.vectors import VectorWorker

        worker = VectorWorker(index, lambda: _SearchSource(self))
        self._vector_unsubscribe = self.subscribe(lambda _change: worker.poke())
        self._vector_worker = worker
        worker.start()
        worker.poke()

    def _detect_vectors(self, index: VectorIndex) -> int:
        pending = index.detect(_SearchSource(self))
        if pending and self._vector_worker is not None:
            self._vector_worker.poke()
        return pending

    def _sync_vectors(self, index: VectorIndex) -> None:
        """Embed a small backlog now, so a note written just before is found."""
        if 0 < self._detect_vectors(index) <= SYNC_NODES:
            index.catch_up(_SearchSource(self), budget=SYNC_CHUNKS)

    def _close_vectors(self) -> None:
        with self._vector_lock:
            if self._vector_unsubscribe is not None:
                self._vector_unsubscribe()
            if self._vector_worker is not None:
                self._vector_worker.stop()
            self._vectors = self._vector_worker = self._vector_unsubscribe = None


def _as_list(value: str | Sequence[str] | None) -> list[str]:
    return [value] if isinstance(value, str) else list(value or [])


def _check_query(text: str, limit: int, offset: int) -> None:
    from ..search.fulltext import _check_page, _check_text

    _check_text(text)
    _check_page(limit, offset)


_DOC = (
    "OPTIONAL MATCH (n)-[:MEMBER_OF]->(t:Node) "
    "RETURN n.id, n.kind, n.title, n.content, n.status, collect(t.id), n.properties"
)
_DOCS_OF_IDS = "UNWIND $ids AS i MATCH (n:Node {id: i}) " + _DOC
_DOC_OF_ID = "MATCH (n:Node {id: $id}) " + _DOC
# The UNWIND form runs as a hash join over a scan of every node (~6 ms at 100k
# nodes); for the few documents one write changes, a key lookup each is cheaper.
_FEW_DOCS = 16


class _SearchSource:
    """Feeds the full-text index from the change log and the graph."""

    def __init__(self, kb: KnowledgeBase) -> None:
        self.kb = kb
        self.rows = kb.store.rows
        self.fields = IndexedFields(kb.store)  # entity fields marked `indexed`

    def changes_since(self, seq: int) -> tuple[int, set[str] | None]:
        if seq >= self.kb.seq:
            # Nothing newer: skip the change-log query, which scans every change set
            # (~6 ms per search after a few hundred writes, growing with history).
            return seq, set()
        ids: set[str] = set()
        newest = seq
        for change in self.kb.store.changes(seq):
            newest = change.seq
            for op in change.ops:
                if op.op == opkinds.IMPORT:
                    if op.count > 50_000:
                        return self.kb.seq, None
                    ids.update(self.kb.store.values(_IMPORTED, {"s": change.seq}))
                    continue
                if op.category == "batch":
                    return self.kb.seq, None
                if op.category == "derived":
                    continue  # calculated values are not part of search documents
                if op.category == "schema":  # a field became (or stopped being) indexed
                    ids.update(self.fields.reindexed_ids(op))
                    continue
                ids.add(op.id)
                if op.op in {opkinds.MOVE, opkinds.UPDATE} and "parent_id" in op.fields:
                    ids.update(tree.descendants(self.rows, op.id))
        return newest, ids

    def documents(self, ids: Iterable[str]) -> Iterator[SearchDoc]:
        id_list = list(ids)
        for start in range(0, len(id_list), 5_000):
            yield from self._docs(id_list[start : start + 5_000])

    def _docs(self, ids: list[str]) -> Iterator[SearchDoc]:
        if len(ids) <= _FEW_DOCS:
            rows = [row for i in ids for row in self.rows(_DOC_OF_ID, {"id": i})]
        else:
            rows = self.rows(_DOCS_OF_IDS, {"ids": ids})
        chains = tree.ancestors_of_many(self.rows, [r[0] for r in rows])
        # Kùzu's collect() over only nulls gives NULL where LadybugDB gives [].
        for node_id, kind, title, content, status, tags, properties in rows:
            yield SearchDoc(node_id, kind, title or "", content or "", status,
                            tuple(t for t in tags or () if t), tuple(chains[node_id]),
                            self.fields.text(kind, properties))  # fmt: skip

    def all_documents(self) -> Iterator[SearchDoc]:
        frame = self.kb.store.frame(
            "MATCH (n:Node) RETURN n.id AS id, n.kind AS kind, n.title AS title, "
            "n.content AS content, n.status AS status, n.parent_id AS parent_id, "
            "n.properties AS properties"
        )
        members = self.kb.store.frame(
            "MATCH (n:Node)-[:MEMBER_OF]->(t:Node) RETURN n.id AS id, t.id AS tag"
        )
        tags: dict[str, list[str]] = {}
        for node_id, tag_id in members.iter_rows():
            tags.setdefault(node_id, []).append(tag_id)
        parent_of = dict(zip(frame["id"].to_list(), frame["parent_id"].to_list(), strict=True))
        for node_id, kind, title, content, status, _, properties in frame.iter_rows():
            chain = tuple(tree.chain_of(parent_of, node_id))
            node_tags = tuple(tags.get(node_id, ()))
            fields = self.fields.text(kind, properties)
            yield SearchDoc(node_id, kind, title or "", content or "", status, node_tags, chain,
                            fields)  # fmt: skip


def open_kb(path: str | Path, **kwargs: Any) -> KnowledgeBase:
    """Open (creating if needed) the knowledge base folder at `path`."""
    return KnowledgeBase(path, **kwargs)


__all__ = ["FULLTEXT_DIR", "VECTORS_DIR", "KnowledgeBase", "open_kb"]


if TYPE_CHECKING:

    def _conforms(kb: KnowledgeBase) -> KnowledgeBaseAPI:
        return kb  # mypy: the embedded facade implements the whole operation table

"""The knowledge-base API as small facet protocols, and their union.

Each method here is one row of the operation table (see `operations.py`).
Code that works with either transport types against `KnowledgeBaseAPI` (or
the one facet it needs); `KnowledgeBase` (embedded) and `RemoteKnowledgeBase`
(through the service) both satisfy it, which mypy checks in `kb/conformance.py`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, Self

from .operations import Operation, build_table, operation

if TYPE_CHECKING:
    import polars as pl

    from ..ai.ask import Answer
    from ..ai.queries import QueryDraft
    from ..ai.tasks import TaskDraft
    from ..entities.calc.engine import Mismatch
    from ..entities.schema import Field, KindSchema
    from ..graph.changelog import ChangeSet
    from ..live import Dependencies, LiveQuery, LiveRegistry
    from ..models.backend import CancelToken
    from ..nodes.model import Node
    from ..nodes.query import Find
    from ..search.fulltext import SearchHit
    from .components import ComponentReport


class NodesAPI(Protocol):
    """Nodes one at a time, the journal and bulk import."""

    @operation("write")
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
        ...

    @operation("read")
    def get(self, node_id: str) -> Node:
        """The node with this id (NotFound if there is none)."""
        ...

    @operation("read")
    def exists(self, node_id: str) -> bool:
        """True when a node with this id exists (in any status)."""
        ...

    @operation("write")
    def update(self, node_id: str, *, expected_version: int | None = None, **fields: Any) -> Node:
        """Change fields; pass `expected_version` to refuse a stale edit (ConflictError)."""
        ...

    @operation("write")
    def delete(self, node_id: str) -> list[str]:
        """Soft-delete a node and its subtree; `restore` brings them back."""
        ...

    @operation("write")
    def restore(self, node_id: str) -> list[str]:
        """Undelete a node with its subtree and deleted ancestors."""
        ...

    @operation("write")
    def purge(self, node_id: str) -> list[str]:
        """Remove a deleted node and its subtree from the database."""
        ...

    @operation("write")
    def journal(self, day: dt.date | str | None = None) -> Node:
        """The journal page of `day` (default today), created on demand."""
        ...

    @operation("write")
    def import_nodes(self, frame: pl.DataFrame) -> int:
        """Bulk-import nodes (and hierarchy via `parent_id`) from a DataFrame."""
        ...


class HierarchyAPI(Protocol):
    """The outline: parents, ordered children, moves."""

    @operation("read")
    def children(self, node_id: str | None = None, *, include_deleted: bool = False) -> list[Node]:
        """Children of a node in order (None: the top-level nodes)."""
        ...

    @operation("read")
    def child_counts(self, node_id: str | None = None) -> dict[str, int]:
        """For each child of a node (None: each top-level node), how many children it has."""
        ...

    @operation("read")
    def subtree(self, node_id: str, *, include_deleted: bool = False) -> list[tuple[int, Node]]:
        """(depth, node) pairs of a node and all its descendants, depth first, in order."""
        ...

    @operation("read")
    def ancestors(self, node_id: str) -> list[Node]:
        """Ancestors from the parent up to the root."""
        ...

    @operation("write")
    def move(self, node_id: str, parent: str | None, index: int | None = None) -> Node:
        """Move a node under `parent` (None: top level) at `index` (None: last)."""
        ...


class LinksAPI(Protocol):
    """Links, backlinks, tags and collections."""

    @operation("read")
    def backlinks(self, node_id: str, *, include_deleted: bool = False) -> list[Node]:
        """Nodes whose content links to this node, oldest first."""
        ...

    @operation("read")
    def links(self, node_id: str, *, include_deleted: bool = False) -> list[Node]:
        """Nodes this node's content links to."""
        ...

    @operation("write")
    def tag(self, node_id: str, *names: str) -> list[str]:
        """Tag a node (tags are created on demand); returns the tag ids."""
        ...

    @operation("write")
    def untag(self, node_id: str, *names: str) -> None:
        """Remove tags from a node."""
        ...

    @operation("read")
    def tags(self, node_id: str) -> list[str]:
        """Names of the tags on a node."""
        ...

    @operation("write")
    def add_to(self, node_id: str, collection_id: str) -> None:
        """Put a node in a collection (a node can be in several)."""
        ...

    @operation("write")
    def remove_from(self, node_id: str, collection_id: str) -> None:
        """Take a node out of a collection."""
        ...

    @operation("read")
    def members(self, group_id: str) -> list[Node]:
        """Nodes in a collection or carrying a tag (a tag name also works)."""
        ...

    @operation("read")
    def collections(self, node_id: str) -> list[Node]:
        """Collections a node is in."""
        ...


class QueryAPI(Protocol):
    """The query builder, saved finds, the sidebar's task list and Cypher."""

    @operation("read", transport="client")
    def find(self, kind: str | Sequence[str] | None = None) -> Find:
        """A query builder over nodes, e.g. `kb.find("task").where(task_status="todo")`."""
        ...

    @operation("read")
    def find_frame(self, query: dict[str, Any], *, entity_columns: bool = True) -> pl.DataFrame:
        """The rows of a find() query given as `Find.to_json()` (how service clients run it)."""
        ...

    @operation("read")
    def open_tasks(self, limit: int = 50) -> list[Node]:
        """Tasks still to do (todo or doing), soonest due date first, undated last."""
        ...

    @property
    @operation("read")
    def engine(self) -> str:
        """Name of the graph engine in use (the Cypher dialect `cypher` speaks)."""
        ...

    # Read-only unless `write=True`, which also needs security.allow_cypher_writes.
    @operation("read")
    def cypher(
        self, query: str, params: dict[str, Any] | None = None, *, write: bool = False
    ) -> pl.DataFrame:
        """Run Cypher; read-only unless `write=True`. Values go in `params`, never the text."""
        ...


class HistoryAPI(Protocol):
    """The change log, its feed, live queries, undo and transactions."""

    @property
    @operation("read")
    def seq(self) -> int:
        """Sequence number of the newest change set."""
        ...

    @operation("read")
    def changes(self, since: int = 0, limit: int | None = None) -> list[ChangeSet]:
        """Change sets after sequence number `since`, oldest first."""
        ...

    @operation("read", transport="feed")
    def subscribe(self, callback: Callable[[ChangeSet], None]) -> Callable[[], None]:
        """Call `callback(change_set)` after each commit; returns an unsubscribe function."""
        ...

    @operation("read", transport="feed")
    def follow(
        self, callback: Callable[[ChangeSet], None], since: int | None = None
    ) -> Callable[[], None]:
        """Like `subscribe`, first replaying the change sets after `since` (no gap)."""
        ...

    @property
    @operation("read", transport="feed")
    def live_registry(self) -> LiveRegistry:
        """The live queries of this knowledge base (created on first use)."""
        ...

    @operation("read", transport="feed")
    def live(
        self,
        query: Find | str | Callable[..., Find | str],
        *,
        depends: Dependencies | None = None,
        **params: Any,
    ) -> LiveQuery:
        """A live query: `kb.find(...)` or Cypher (with `params`) kept up to date."""
        ...

    @operation("write")
    def undo(self) -> ChangeSet:
        """Revert the newest change set not yet undone; returns the one reverted."""
        ...

    @operation("write", transport="client")
    def transaction(self, label: str = "transaction") -> AbstractContextManager[Self]:
        """All-or-nothing: every write inside commits together or not at all."""
        ...


class SearchAPI(Protocol):
    """Full-text, semantic and hybrid search over the derived indexes."""

    @operation("read")
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
        """Search with snippets, filtered by kind, tag and subtree."""
        ...

    @operation("write")
    def sync_search(self, *, vectors: bool = True) -> int:
        """Apply pending change-log records to the search indexes; returns docs touched."""
        ...

    @operation("write")
    def reindex(self, *, text: bool = True, vectors: bool | None = None) -> int:
        """Rebuild the search indexes from the graph; returns the number of documents."""
        ...


class EntitiesAPI(Protocol):
    """Typed entity kinds, their schemas and calculated fields."""

    @operation("write")
    def define(
        self,
        name: str,
        fields: Mapping[str, str | Mapping[str, Any] | Field] | None = None,
        *,
        description: str = "",
    ) -> KindSchema:
        """Define entity kind `name` with typed fields; stored in the graph."""
        ...

    # The client reads the file (the service may run in another folder) and sends
    # its kinds to `define` inside one transaction.
    @operation("write", "files", transport="client")
    def define_file(self, path: str | Path) -> list[KindSchema]:
        """Define every kind of a TOML or YAML schema file (all or none)."""
        ...

    @operation("read")
    def schema(self, kind: str) -> KindSchema:
        """The schema of entity kind `kind` (NotFound if it is not defined)."""
        ...

    @operation("read")
    def schemas(self) -> list[KindSchema]:
        """Every entity kind of this knowledge base, by name."""
        ...

    @operation("read")
    def entity_values(self, node_id: str) -> dict[str, Any]:
        """The fields of entity `node_id` as Python values (dates as `date`), in schema order."""
        ...

    @operation("write")
    def add_field(self, kind: str, name: str, spec: str | Mapping[str, Any] | Field) -> KindSchema:
        """Add a field; existing entities get its default (a required one needs a default)."""
        ...

    @operation("write")
    def rename_field(self, kind: str, old: str, new: str) -> KindSchema:
        """Rename a field; every entity's value moves to the new name."""
        ...

    @operation("write")
    def change_field(
        self, kind: str, name: str, spec: str | Mapping[str, Any] | Field
    ) -> KindSchema:
        """Change a field's type or options; values convert where lossless, else nothing changes."""
        ...

    @operation("write")
    def remove_field(self, kind: str, name: str) -> KindSchema:
        """Remove a field and its value from every entity of the kind."""
        ...

    @operation("write")
    def delete_kind(self, kind: str, *, cascade: bool = False) -> list[str]:
        """Delete an entity kind; refused while entities exist unless `cascade` deletes them."""
        ...

    @operation("read")
    def check_calculated(self) -> list[Mismatch]:
        """Recompute every calculated field from scratch; the stored values that differ."""
        ...

    @operation("write")
    def recalculate(self) -> int:
        """Recompute every calculated field and store what differs; returns the nodes changed."""
        ...


class AIAPI(Protocol):
    """The knowledge-base features of the local model."""

    # A write: the answer is saved as a chat node unless `save=False`.
    @operation("write", "ai", transport="ai")
    def ask(
        self,
        question: str,
        *,
        conversation: str | None = None,
        save: bool = True,
        limit: int | None = None,
        on_piece: Callable[[str], None] | None = None,
        cancel: CancelToken | None = None,
    ) -> Answer:
        """Answer `question` from the notes, citing them as [n] (see docs/ai.md)."""
        ...

    @operation("read", "ai", transport="ai")
    def draft_task(
        self, sentence: str, *, today: dt.date | None = None, use_model: bool = True
    ) -> TaskDraft:
        """A task read from `sentence`, shown before anything is written (`.create()`)."""
        ...

    @operation("read", "ai", transport="ai")
    def draft_query(
        self,
        question: str,
        *,
        mode: str = "find",
        today: dt.date | None = None,
        use_model: bool = True,
    ) -> QueryDraft:
        """A checked read-only query from `question`: `mode` "find" or "cypher"."""
        ...

    @operation("read", "ai", transport="ai")
    def ai_status(self, *, check: bool = False) -> dict[str, Any]:
        """Which backend and model, whether it works, and why not if it does not."""
        ...


class SystemAPI(Protocol):
    """The knowledge base's own long-lived parts."""

    @operation("read")
    def components(self) -> list[ComponentReport]:
        """Every long-lived part: its name, settings section, health and metrics."""
        ...


class KnowledgeBaseAPI(
    NodesAPI,
    HierarchyAPI,
    LinksAPI,
    QueryAPI,
    HistoryAPI,
    SearchAPI,
    EntitiesAPI,
    AIAPI,
    SystemAPI,
    Protocol,
):
    """The whole knowledge-base API, the same for either transport."""

    path: Path

    def close(self) -> None:
        """Release the knowledge base (the embedded one closes its database)."""
        ...


FACETS: tuple[type, ...] = (
    NodesAPI,
    HierarchyAPI,
    LinksAPI,
    QueryAPI,
    HistoryAPI,
    SearchAPI,
    EntitiesAPI,
    AIAPI,
    SystemAPI,
)
#: Every knowledge-base operation by name.
OPERATIONS: dict[str, Operation] = build_table(FACETS)

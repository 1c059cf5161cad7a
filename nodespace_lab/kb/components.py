"""The long-lived parts of a knowledge base as components: name, settings, health, metrics.

Each component wraps one part the composition root (`KnowledgeBase`) built:
the graph store, the writer, the change log, the full-text index, the vector
index, the embedder, the model worker and the live registry; the service adds
its own (the service, its websocket feed) with `kb.add_component`. A component
says how it is (`health()`: ok, degraded or down, why, since when, the last
error and the recovery actions a user can take) and what it measures
(`metrics()`: plain numbers). `kb.components()` reports them all, through
either transport; `stop()` runs in reverse order of start when the knowledge
base closes.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from .embedded import KnowledgeBase

Status = Literal["ok", "degraded", "down"]
#: The full-text index counts as degraded beyond this many unapplied change sets.
FULLTEXT_LAG_DEGRADED = 1000


@dataclass(frozen=True)
class Health:
    """How a component is: status, why, since when, last error, what a user can do."""

    status: Status
    why: str = ""
    since: float = 0.0  # time.time() when the status last changed
    last_error: str | None = None
    actions: tuple[str, ...] = ()


@dataclass(frozen=True)
class ComponentReport:
    """One line of `kb.components()`."""

    name: str
    section: str
    health: Health
    metrics: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """Plain JSON (the service protocol and the sidebar)."""
        health = self.health
        return {
            "name": self.name,
            "section": self.section,
            "status": health.status,
            "why": health.why,
            "since": health.since,
            "last_error": health.last_error,
            "actions": list(health.actions),
            "metrics": dict(self.metrics),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ComponentReport:
        """Reverse `to_json`."""
        health = Health(
            data["status"], data["why"], float(data["since"]), data["last_error"],
            tuple(data["actions"]),
        )  # fmt: skip
        return cls(data["name"], data["section"], health, dict(data["metrics"]))


class Component(ABC):
    """A long-lived part of a knowledge base (subclasses wrap one part each)."""

    name: str = ""
    #: The settings section it reads (`kb.settings.<section>`).
    section: str = ""

    def __init__(self) -> None:
        self._status: Status = "ok"
        self._since = time.time()
        self._last_error: str | None = None

    def start(self) -> None:  # noqa: B027  # optional: most parts start as they are built
        """Start the part (most are started by the composition root as it builds them)."""

    def stop(self) -> None:  # noqa: B027  # optional: parts without resources
        """Stop the part; the knowledge base calls this on close, in reverse order."""

    @abstractmethod
    def check(self) -> tuple[Status, str, tuple[str, ...]]:
        """(status, why, recovery actions) as the part is now; may raise."""

    def metrics(self) -> dict[str, float]:
        """What the part measures, as plain numbers."""
        return {}

    def health(self) -> Health:
        """The part's health; a check that raises means the part is down."""
        try:
            status, why, actions = self.check()
        except Exception as exc:  # a broken part must not break the report
            self._last_error = f"{type(exc).__name__}: {exc}"
            status, why, actions = "down", self._last_error, self.actions_when_down()
        if status != self._status:
            self._status, self._since = status, time.time()
        return Health(status, why, self._since, self._last_error, actions)

    def actions_when_down(self) -> tuple[str, ...]:
        """What a user can do when `check` raises."""
        return ()

    def report(self) -> ComponentReport:
        """Health and metrics together (metrics that fail are left out)."""
        health = self.health()
        try:
            metrics = self.metrics()
        except Exception:  # already reported as the health's last error
            metrics = {}
        return ComponentReport(self.name, self.section, health, metrics)


class _KBComponent(Component):
    def __init__(self, kb: KnowledgeBase) -> None:
        super().__init__()
        self.kb = kb


class StoreComponent(_KBComponent):
    """The graph database (the one read-write `Database` of this folder)."""

    name, section = "store", "storage"

    def stop(self) -> None:
        self.kb._stop_store()

    def check(self) -> tuple[Status, str, tuple[str, ...]]:
        self.kb.store.values("RETURN 1")
        return "ok", f"{self.kb.engine} at {self.kb.path}", ()

    def actions_when_down(self) -> tuple[str, ...]:
        return ("nodespace doctor", "reopen the knowledge base")

    def metrics(self) -> dict[str, float]:
        files = [p for p in self.kb.path.iterdir() if p.is_file()]
        return {
            "files_bytes": float(sum(p.stat().st_size for p in files)),
            "wal_bytes": float(sum(p.stat().st_size for p in files if p.suffix == ".wal")),
        }


class WriterComponent(_KBComponent):
    """The one serialising writer: every write transaction of this process."""

    name, section = "writer", "storage"

    def check(self) -> tuple[Status, str, tuple[str, ...]]:
        busy = self.kb.store.in_transaction
        return "ok", "writing" if busy else "idle", ()

    def metrics(self) -> dict[str, float]:
        return {"in_transaction": float(self.kb.store.in_transaction)}


class ChangeLogComponent(_KBComponent):
    """The durable change log: the source of the feed, indexes, live queries and undo."""

    name, section = "changelog", "storage"

    def check(self) -> tuple[Status, str, tuple[str, ...]]:
        return "ok", f"at seq {self.kb.seq}", ()

    def metrics(self) -> dict[str, float]:
        return {"seq": float(self.kb.seq)}


class FullTextComponent(_KBComponent):
    """The full-text sidecar index, caught up from the change log."""

    name, section = "fulltext", "search"

    def _lag(self) -> int:
        return max(0, self.kb.seq - self.kb.fulltext.applied_seq)

    def stop(self) -> None:
        self.kb._stop_fulltext()  # catch up, so the next open starts current

    def check(self) -> tuple[Status, str, tuple[str, ...]]:
        lag = self._lag()
        if lag > FULLTEXT_LAG_DEGRADED:
            return (
                "degraded",
                f"{lag} change sets behind",
                ("kb.sync_search()", "nodespace reindex"),
            )
        return "ok", "up to date" if lag == 0 else f"{lag} change sets to apply", ()

    def actions_when_down(self) -> tuple[str, ...]:
        return ("nodespace reindex",)

    def metrics(self) -> dict[str, float]:
        return {"lag": float(self._lag()), "documents": float(self.kb.fulltext.count())}


class VectorComponent(_KBComponent):
    """The vector sidecar index (semantic search); opened on first use."""

    name, section = "vectors", "search"

    def stop(self) -> None:
        self.kb._close_vectors()

    def check(self) -> tuple[Status, str, tuple[str, ...]]:
        if self.kb._vectors is None:
            return "ok", "not opened yet (semantic search opens it)", ()
        status = self.kb.vector_status()
        if status.pending:
            return "ok", f"{status.pending} nodes to embed", ("kb.sync_search()",)
        return "ok", f"{status.vectors} vectors of {status.model}", ()

    def actions_when_down(self) -> tuple[str, ...]:
        return ("kb.reindex(text=False, vectors=True)", "check search.embedding_model")

    def metrics(self) -> dict[str, float]:
        if self.kb._vectors is None:
            return {}
        status = self.kb.vector_status()
        return {"vectors": float(status.vectors), "pending": float(status.pending)}


class EmbedderComponent(_KBComponent):
    """The sentence-embedding model of the vector index (loaded with the index)."""

    name, section = "embedder", "ai"

    def check(self) -> tuple[Status, str, tuple[str, ...]]:
        index = self.kb._vectors
        if index is None:
            return "ok", f"{self.kb.settings.ai.embedding_model}: not loaded yet", ()
        embedder = index.embedder
        return "ok", f"{embedder.name}, {embedder.dim} dimensions", ()

    def actions_when_down(self) -> tuple[str, ...]:
        return ("check ai.embedding_model",)


class ModelComponent(_KBComponent):
    """The chat model's worker process and its circuit breaker."""

    name, section = "model", "ai"

    def stop(self) -> None:
        self.kb._close_ai()  # ends the model's worker process

    def check(self) -> tuple[Status, str, tuple[str, ...]]:
        status = self.kb.ai_status()
        if not status["available"]:
            # Degraded, not down: search, tasks and queries work without the model.
            return (
                "degraded",
                str(status["state"]),
                ("kb.ai_status(check=True)", "set ai.model_path"),
            )
        return "ok", str(status["state"]), ()

    def metrics(self) -> dict[str, float]:
        status = self.kb.ai_status()
        return {"loaded": float(status["loaded"]), "restarts": float(status["restarts"])}


class LiveComponent(_KBComponent):
    """The live queries of this knowledge base, re-run from the change feed."""

    name, section = "live", "performance"

    def _count(self) -> int:
        return 0 if self.kb._live is None else len(self.kb._live)

    def stop(self) -> None:
        self.kb._stop_live()

    def check(self) -> tuple[Status, str, tuple[str, ...]]:
        return "ok", f"{self._count()} live queries", ()

    def metrics(self) -> dict[str, float]:
        return {"queries": float(self._count())}


def standard_components(kb: KnowledgeBase) -> list[Component]:
    """The components every embedded knowledge base has, in start order."""
    return [
        StoreComponent(kb),
        WriterComponent(kb),
        ChangeLogComponent(kb),
        FullTextComponent(kb),
        VectorComponent(kb),
        EmbedderComponent(kb),
        ModelComponent(kb),
        LiveComponent(kb),
    ]


def stop_all(components: list[Component]) -> None:
    """Stop `components` in reverse order; every one is stopped, the first error re-raised.

    The store is started first and stopped last, so it closes even when an
    index fails to catch up on the way down.
    """
    first: BaseException | None = None
    for component in reversed(components):
        try:
            component.stop()
        except BaseException as exc:
            first = first or exc
    if first is not None:
        raise first

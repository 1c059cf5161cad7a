"""Connections, serialised write transactions and the change log.

All writes of a process go through one write connection guarded by one lock:
the engine refuses a second concurrent write transaction instead of waiting.
Reads use a connection per thread, except inside the thread that holds the
open write transaction, which must see its own uncommitted writes.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import polars as pl

from ..config import Settings
from ..errors import QueryError, StorageError
from . import opkinds
from .changelog import ChangeSet, Op, decode_ops, encode_ops
from .engine import Engine, open_engine
from .migrations import apply_migrations

log = logging.getLogger(__name__)

Params = dict[str, Any]
Subscriber = Callable[[ChangeSet], None]
#: Runs inside the outermost write transaction just before it commits, and may
#: write and record more (calculated fields follow the changes this way).
CommitHook = Callable[["WriteTx"], None]

_stores: dict[Path, GraphStore] = {}
_stores_lock = threading.Lock()


def open_store(kb_path: Path, settings: Settings) -> GraphStore:
    """Open the store of `kb_path`, or share the one this process already has.

    The engine silently loses the writes of a second read-write `Database` on
    one path, and one writer needs one sequence counter: so one store per path.
    """
    kb_path = kb_path.resolve()
    with _stores_lock:
        store = _stores.get(kb_path)
        if store is None or store.engine.closed:
            store = GraphStore(kb_path, settings)
            _stores[kb_path] = store
        store.users += 1
        return store


class WriteTx:
    """An open write transaction: run statements and record operations."""

    def __init__(self, store: GraphStore, label: str) -> None:
        self.store = store
        self.label = label
        # Safe to know before commit: the writer lock is held until then.
        self.seq = store.seq + 1
        self.ops: list[Op] = []
        self.undoes: int | None = None
        self.scanned_frames = False
        # Set when statements wrote bookkeeping that must commit even with no ops
        # recorded (it then commits without a change-log record or a new seq).
        self.bookkeeping = False

    def execute(self, query: str, params: Params | None = None) -> list[list[Any]]:
        """Run one statement inside this transaction and return its rows."""
        if "COPY " in query or "LOAD FROM" in query:
            self.scanned_frames = True
        return self.store._run(self.store._writer, query, params)

    def values(self, query: str, params: Params | None = None) -> list[Any]:
        """Run one statement inside this transaction; return its first column."""
        return [row[0] for row in self.execute(query, params)]

    def record(self, op: Op) -> None:
        """Add one operation to this transaction's change-log record.

        Raises `UndeclaredOpKind` for a kind `graph.opkinds` does not declare:
        readers of the log could not know what it means.
        """
        opkinds.declared(op.op)
        self.ops.append(op)


class GraphStore:
    """The graph database of one knowledge base."""

    def __init__(self, kb_path: Path, settings: Settings) -> None:
        self.settings = settings
        self.kb_path = kb_path
        self.users = 0
        self.engine: Engine = open_engine(kb_path, settings)
        self._local = threading.local()
        self._tx: WriteTx | None = None
        self._tx_owner: int | None = None
        self._subscribers: list[Subscriber] = []
        self._commit_hooks: list[CommitHook] = []
        self._rollback_listeners: list[Callable[[], None]] = []
        try:
            self._writer = self.engine.connect(settings.performance.query_threads)
            apply_migrations(self._writer)
            self._seq = self._max_seq()
            self._discard_torn_import()
        except BaseException:
            self.engine.close()
            raise

    # -- reading ---------------------------------------------------------

    @property
    def engine_name(self) -> str:
        """'ladybug' or 'kuzu'."""
        return self.engine.name

    def rows(self, query: str, params: Params | None = None) -> list[list[Any]]:
        """Run a read query; return its rows as lists."""
        return self._run(self._reader(), query, params)

    def values(self, query: str, params: Params | None = None) -> list[Any]:
        """Run a read query; return its first column."""
        return [row[0] for row in self.rows(query, params)]

    def frame(self, query: str, params: Params | None = None) -> pl.DataFrame:
        """Run a read query; return a polars DataFrame."""
        result = self._execute(self._reader(), query, params)
        frame: pl.DataFrame = result.get_as_pl()
        return frame

    def read_only_frame(self, query: str, params: Params, timeout_ms: int) -> pl.DataFrame:
        """Run one read statement so that the engine itself refuses a write in it.

        The statement is always prepared, so the engine takes exactly one (a query
        string with no parameters would run every `;`-separated statement). Outside
        a write transaction it runs in a read-only engine transaction on this
        thread's reader. Inside the calling thread's write transaction (whose writes
        it must see) it runs prepared on the writer: `check_query` is the wall there.
        """
        if self.in_transaction:
            frame: pl.DataFrame = self._prepared(self._writer, query, params).get_as_pl()
            return frame
        connection = self._reader()
        connection.set_query_timeout(timeout_ms)
        self._execute(connection, "BEGIN TRANSACTION READ ONLY", None)
        try:
            frame = self._prepared(connection, query, params).get_as_pl()
        except BaseException:
            self._rollback_on(connection)
            raise
        finally:
            connection.set_query_timeout(0)
        self._execute(connection, "COMMIT", None)
        return frame

    def prepare_read(self, query: str, params: Params) -> None:
        """Parse, bind and plan one read statement without running it (`QueryError` if bad).

        Prepared inside a read-only transaction, so the engine also refuses a write.
        """
        if self.in_transaction:
            self._prepare(self._writer, query, params)
            return
        connection = self._reader()
        self._execute(connection, "BEGIN TRANSACTION READ ONLY", None)
        try:
            self._prepare(connection, query, params)
        finally:
            self._rollback_on(connection)

    def _prepare(self, connection: Any, query: str, params: Params) -> Any:
        if self.engine.closed:
            raise StorageError("The knowledge base is closed; open it again to use it.")
        # PreparedStatement, not Connection.prepare: the same call, without kuzu's
        # DeprecationWarning. Preparing never executes anything.
        statement = self.engine.module.PreparedStatement(connection, query, params)
        if not statement.is_success():
            raise QueryError(
                f"Query failed: {statement.get_error_message()}\nQuery: {query.strip()[:300]}"
            )
        return statement

    def _prepared(self, connection: Any, query: str, params: Params) -> Any:
        statement = self._prepare(connection, query, params)
        try:
            return connection.execute(statement, params)
        except RuntimeError as exc:
            raise QueryError(f"Query failed: {exc}\nQuery: {query.strip()[:300]}") from exc

    def _reader(self) -> Any:
        if self._tx is not None and self._tx_owner == threading.get_ident():
            return self._writer
        connection = getattr(self._local, "connection", None)
        if connection is None:
            if self.engine.closed:  # the engine would raise a bare RuntimeError
                raise StorageError("The knowledge base is closed; open it again to use it.")
            connection = self.engine.connect(self.settings.performance.query_threads)
            self._local.connection = connection
        return connection

    def _execute(self, connection: Any, query: str, params: Params | None) -> Any:
        if self.engine.closed:
            raise StorageError("The knowledge base is closed; open it again to use it.")
        try:
            return connection.execute(query, params or {})
        except RuntimeError as exc:
            raise QueryError(f"Query failed: {exc}\nQuery: {query.strip()[:300]}") from exc

    def _run(self, connection: Any, query: str, params: Params | None) -> list[list[Any]]:
        result = self._execute(connection, query, params)
        rows: list[list[Any]] = result.get_all()
        return rows

    # -- writing ---------------------------------------------------------

    @property
    def in_transaction(self) -> bool:
        """True when the calling thread has a write transaction open."""
        return self._tx is not None and self._tx_owner == threading.get_ident()

    @property
    def current_tx(self) -> WriteTx | None:
        """The write transaction the calling thread has open, if any."""
        return self._tx if self.in_transaction else None

    def before_commit(self, hook: CommitHook) -> Callable[[], None]:
        """Run `hook(tx)` before each write transaction with operations commits."""
        self._commit_hooks.append(hook)
        return lambda: self._commit_hooks.remove(hook)

    @contextmanager
    def write(self, label: str) -> Iterator[WriteTx]:
        """Open (or join) the write transaction of this thread.

        The outermost block commits the statements together with one
        change-log record; an exception anywhere rolls everything back.
        """
        if self.in_transaction:
            assert self._tx is not None
            yield self._tx
            return
        with self.engine.write_lock:
            tx = self._begin(label)
            try:
                yield tx
                if tx.ops:
                    for hook in list(self._commit_hooks):
                        hook(tx)
                change = self._commit(tx)
            except BaseException:
                self._rollback()
                self._rolled_back()
                raise
            finally:
                self._tx = None
                self._tx_owner = None
                if tx.scanned_frames:
                    self._renew_writer()
            # Publishing under the write lock keeps subscribers in sequence order.
            if change is not None:
                self._publish(change)

    def _renew_writer(self) -> None:
        # LadybugDB 0.22 keeps ~0.6 MB of buffer pool per column for every COPY or
        # LOAD FROM a DataFrame until the connection closes: after ~20 imports the
        # pool is full ("Unable to allocate memory"). A fresh connection frees it.
        old, self._writer = (
            self._writer,
            self.engine.connect(self.settings.performance.query_threads),
        )
        old.close()

    def _begin(self, label: str) -> WriteTx:
        self._run(self._writer, "BEGIN TRANSACTION", None)
        tx = WriteTx(self, label)
        self._tx = tx
        self._tx_owner = threading.get_ident()
        return tx

    def _commit(self, tx: WriteTx) -> ChangeSet | None:
        if not tx.ops:
            if tx.bookkeeping:
                self._commit_statement()
            else:
                self._run(self._writer, "ROLLBACK", None)
            return None
        seq = self._seq + 1
        at = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        self._run(
            self._writer,
            "CREATE (:ChangeSet {seq: $seq, at: $at, label: $label, ops: $ops, undoes: $undoes})",
            {
                "seq": seq,
                "at": at,
                "label": tx.label,
                "ops": encode_ops(tx.ops),
                "undoes": tx.undoes,
            },
        )
        self._commit_statement()
        self._seq = seq
        return ChangeSet(seq=seq, at=at, label=tx.label, ops=tuple(tx.ops), undoes=tx.undoes)

    def _commit_statement(self) -> None:
        try:
            self._writer.execute("COMMIT")
        except RuntimeError as exc:
            # LadybugDB reports a failed post-commit checkpoint as an error after the
            # data is durable: the transaction did commit, so its seq must count.
            if "committed successfully" not in str(exc).lower():
                raise QueryError(f"Commit failed: {exc}") from exc
            log.warning("Committed, but the checkpoint after it failed: %s", exc)

    def _rollback(self) -> None:
        self._rollback_on(self._writer)
        if self.engine.name == "kuzu":
            # Kùzu 0.11.3 can keep versions of rows a rolled-back transaction updated:
            # a later write to them then fails with "Write-write conflict of updating
            # the same row" (7 of 12 runs of an import, a failed transaction and two
            # updates; 0 of 30 with this checkpoint). LadybugDB does not need it.
            try:
                self._run(self._writer, "CHECKPOINT", None)
            except QueryError as exc:  # never hide the error that caused the rollback
                log.warning("Checkpoint after a rollback failed: %s", exc)

    @staticmethod
    def _rollback_on(connection: Any) -> None:
        try:
            connection.execute("ROLLBACK")
        except RuntimeError:
            # An engine error inside a transaction has already rolled it back.
            log.debug("rollback after engine error: no active transaction")

    # -- change log ------------------------------------------------------

    @property
    def seq(self) -> int:
        """Sequence number of the newest committed change set."""
        return self._seq

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Call `callback` with each change set after it commits; returns an unsubscribe."""
        self._subscribers.append(callback)
        return lambda: self._subscribers.remove(callback)

    def on_rollback(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Call `callback()` after a write transaction rolls back (caches of what it wrote)."""
        self._rollback_listeners.append(callback)
        return lambda: self._rollback_listeners.remove(callback)

    def _rolled_back(self) -> None:
        for callback in list(self._rollback_listeners):
            try:
                callback()
            except Exception:
                log.exception("rollback listener %r failed", callback)

    def _publish(self, change: ChangeSet) -> None:
        for callback in list(self._subscribers):
            try:
                callback(change)
            except Exception:
                # A broken subscriber must not turn a committed write into an error.
                log.exception("change subscriber %r failed", callback)

    def changes(self, since: int = 0, limit: int | None = None) -> list[ChangeSet]:
        """Change sets with seq > `since`, oldest first."""
        query = (
            "MATCH (c:ChangeSet) WHERE c.seq > $since "
            "RETURN c.seq, c.at, c.label, c.ops, c.undoes ORDER BY c.seq"
        )
        params: Params = {"since": since}
        if limit is not None:
            query += " LIMIT $limit"
            params["limit"] = limit
        return [_change_from_row(row) for row in self.rows(query, params)]

    def recent_changes(self, before: int, limit: int) -> list[ChangeSet]:
        """Up to `limit` change sets with seq < `before`, newest first."""
        rows = self.rows(
            "MATCH (c:ChangeSet) WHERE c.seq < $before "
            "RETURN c.seq, c.at, c.label, c.ops, c.undoes ORDER BY c.seq DESC LIMIT $limit",
            {"before": before, "limit": limit},
        )
        return [_change_from_row(row) for row in rows]

    def _discard_torn_import(self) -> None:
        """Remove the remains of an import that a kill -9 tore apart while committing.

        Measured on both engines (tests/crash): killed during the COMMIT of a
        transaction that ran COPY, recovery keeps its other statements (the
        change-log record) but not the COPYed rows. That commit never returned,
        so the import is removed whole. Only the newest change set can be torn.
        """
        if not self._seq:
            return
        params = {"s": self._seq}
        rows = self._run(self._writer, "MATCH (c:ChangeSet {seq: $s}) RETURN c.ops", params)
        ops = decode_ops(rows[0][0])
        if not any(op.op == opkinds.IMPORT for op in ops) or any(
            op.op not in {opkinds.IMPORT, opkinds.CREATE} for op in ops
        ):
            return
        wanted = sum(op.count if op.op == opkinds.IMPORT else 1 for op in ops)
        found, parented = self._run(
            self._writer,
            "MATCH (n:Node) WHERE n.created_seq = $s RETURN count(n), count(n.parent_id)",
            params,
        )[0]
        edges = self._run(
            self._writer,
            "MATCH (n:Node)-[:CHILD_OF]->(:Node) WHERE n.created_seq = $s RETURN count(*)",
            params,
        )[0][0]
        if (found, edges) == (wanted, parented):
            return
        log.warning("Change set %d was torn by a crash during commit; removing it.", self._seq)
        self._run(self._writer, "BEGIN TRANSACTION", None)
        try:
            for query in (
                "MATCH (n:Node) WHERE n.created_seq = $s DETACH DELETE n",
                "MATCH (r:Ref) WHERE NOT EXISTS { MATCH (r)<-[:REFERS]-(:Node) } DETACH DELETE r",
                "MATCH (c:ChangeSet {seq: $s}) DELETE c",
            ):
                self._run(self._writer, query, params)
            self._run(self._writer, "COMMIT", None)
        except BaseException:
            self._rollback()
            raise
        self._seq -= 1

    def _max_seq(self) -> int:
        rows = self._run(self._writer, "MATCH (c:ChangeSet) RETURN max(c.seq)", None)
        return int(rows[0][0] or 0)

    def close(self) -> None:
        """Drop one user; the last one closes the database."""
        with _stores_lock:
            self.users -= 1
            if self.users > 0 or self.engine.closed:
                return
            _stores.pop(self.kb_path, None)
        with self.engine.write_lock:
            self._local = threading.local()
            self._writer = None
            self.engine.close()


def _change_from_row(row: list[Any]) -> ChangeSet:
    seq, at, label, ops, undoes = row
    return ChangeSet(seq=seq, at=at, label=label, ops=decode_ops(ops), undoes=undoes)

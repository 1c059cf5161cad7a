"""The reference side: the same data in a raw engine database, hand-written Cypher.

The raw database gets the schema of NodeSpace Lab's own first migration and
the same rows, so each benchmark compares NodeSpace Lab with the query a
developer would write directly against the engine, on an identical graph.
"""

from __future__ import annotations

import datetime as dt
import importlib
import json
from pathlib import Path
from typing import Any

import polars as pl

from nodespace_lab.graph.migrations import m001_initial
from nodespace_lab.nodes.model import COLUMNS, PUBLIC_COLUMNS

RETURN_NODE = ", ".join(f"n.{c}" for c in PUBLIC_COLUMNS)
RETURN_NODE_AS = ", ".join(f"n.{c} AS {c}" for c in PUBLIC_COLUMNS)
_SCHEMA: dict[str, Any] = {
    "id": pl.String,
    "kind": pl.String,
    "title": pl.String,
    "title_key": pl.String,
    "content": pl.String,
    "properties": pl.String,
    "created_at": pl.Datetime("us"),
    "updated_at": pl.Datetime("us"),
    "version": pl.Int64,
    "status": pl.String,
    "parent_id": pl.String,
    "position": pl.String,
    "task_status": pl.String,
    "priority": pl.Int64,
    "due": pl.Date,
    "scheduled": pl.Date,
    "completed_at": pl.Datetime("us"),
    "created_seq": pl.Int64,
}

# The hand-written queries, one per benchmarked operation.
GET = f"MATCH (n:Node {{id: $id}}) RETURN {RETURN_NODE}"
CHILDREN = (
    "MATCH (n:Node)-[:CHILD_OF]->(:Node {id: $p}) WHERE n.status <> 'deleted' "
    f"RETURN {RETURN_NODE} ORDER BY n.position, n.id"
)
BACKLINKS = (
    "MATCH (n:Node)-[:LINKS_TO]->(:Node {id: $id}) WHERE n.status <> 'deleted' "
    f"RETURN {RETURN_NODE} ORDER BY n.id"
)
FIND = (
    "MATCH (n:Node) WHERE n.kind = 'task' AND n.status <> 'deleted' AND n.priority = $p "
    f"RETURN {RETURN_NODE_AS} LIMIT 50"
)
CREATE = (
    "MATCH (p:Node {id: $parent}) "
    "CREATE (n:Node {id: $id, kind: 'text', title: $title, title_key: $title_key, "
    "content: $content, properties: '{}', created_at: $now, updated_at: $now, version: 1, "
    "status: 'active', parent_id: $parent, position: $position})-[:CHILD_OF]->(p)"
)
UPDATE = (
    "MATCH (n:Node {id: $id}) "
    "SET n.content = $content, n.updated_at = $now, n.version = n.version + 1"
)
CHANGE_SET = "CREATE (:ChangeSet {seq: $seq, at: $at, label: $label, ops: $ops})"
# Not equivalent to BM25 ranking: LadybugDB has no full-text extension offline,
# so the reference is an unranked substring scan that stops at 10 matches.
CONTAINS_SCAN = (
    "MATCH (n:Node) WHERE n.title CONTAINS $t OR n.content CONTAINS $t "
    "RETURN n.id, n.title LIMIT 10"
)
# Kùzu's own FTS extension (statically linked in kuzu 0.11.3).
FTS_BUILD = "CALL CREATE_FTS_INDEX('Node', 'node_fts', ['title', 'content'])"
FTS_QUERY = (
    "CALL QUERY_FTS_INDEX('Node', 'node_fts', $t, top := 10) "
    "RETURN node.id, node.title, score ORDER BY score DESC"
)


def node_frame(frame: pl.DataFrame) -> pl.DataFrame:
    """Every Node column for the rows of `frame`, built with polars expressions.

    Same values NodeSpace Lab stores (titles of the generated data are
    lowercase single-spaced words, so lower-casing them is their title key);
    positions are zero-padded per-parent ranks, which sort the same way.
    """
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    out = frame.with_columns(
        title_key=pl.col("title").str.to_lowercase(),
        properties=pl.lit("{}"),
        created_at=pl.lit(now, dtype=pl.Datetime("us")),
        updated_at=pl.lit(now, dtype=pl.Datetime("us")),
        version=pl.lit(1, dtype=pl.Int64),
        status=pl.lit("active"),
        position=pl.int_range(pl.len()).over("parent_id").cast(pl.String).str.zfill(8),
        scheduled=pl.lit(None, dtype=pl.Date),
        completed_at=pl.lit(None, dtype=pl.Datetime("us")),
        created_seq=pl.lit(1, dtype=pl.Int64),
    )
    return out.select([pl.col(c).cast(_SCHEMA[c]) for c in COLUMNS])


class RawDatabase:
    """A raw engine database: the engine's own `Database` and `Connection`."""

    def __init__(
        self,
        path: Path,
        engine: str,
        buffer_pool_mb: int,
        max_db_size_gb: int,
        *,
        schema: bool = True,
    ) -> None:
        self.module = importlib.import_module(engine)
        self.engine = engine
        self.database = self.module.Database(
            str(path),
            buffer_pool_size=buffer_pool_mb * 1024 * 1024,
            max_db_size=max_db_size_gb * 1024**3,
        )
        # Like NodeSpace Lab: one connection writes (and imports), another reads.
        self.writer = self.module.Connection(self.database)
        self.reader = self.module.Connection(self.database)
        if schema:
            for statement in m001_initial.STATEMENTS:
                self.writer.execute(statement)
        self.seq = 0
        self.closed = False

    def rows(self, query: str, params: dict[str, Any] | None = None) -> list[list[Any]]:
        """Run a read query; its rows."""
        rows: list[list[Any]] = self.reader.execute(query, params or {}).get_all()
        return rows

    def frame(self, query: str, params: dict[str, Any] | None = None) -> pl.DataFrame:
        """Run a read query; a polars frame."""
        frame: pl.DataFrame = self.reader.execute(query, params or {}).get_as_pl()
        return frame

    def write(self, query: str, params: dict[str, Any]) -> None:
        """Run one auto-committed write statement."""
        self.writer.execute(query, params)

    def logged(self, query: str, params: dict[str, Any], label: str, op: dict[str, Any]) -> None:
        """Run `query` and a change-log record in one explicit transaction."""
        self.seq += 1
        record = {
            "seq": self.seq,
            "at": dt.datetime.now(dt.UTC).replace(tzinfo=None),
            "label": label,
            "ops": json.dumps([op], default=str),
        }
        self.writer.execute("BEGIN TRANSACTION")
        try:
            self.writer.execute(query, params)
            self.writer.execute(CHANGE_SET, record)
            self.writer.execute("COMMIT")
        except BaseException:
            self.writer.execute("ROLLBACK")
            raise

    def copy(self, nodes: pl.DataFrame, links: pl.DataFrame) -> None:
        """Bulk-load nodes, their CHILD_OF edges and their LINKS_TO edges."""
        edges = nodes.filter(pl.col("parent_id").is_not_null()).select(
            pl.col("id").alias("from"), pl.col("parent_id").alias("to")
        )
        # Own connection, closed afterwards, as NodeSpace Lab does after an
        # import: LadybugDB keeps buffer pool memory per DataFrame scan until
        # the connection closes.
        loader = self.module.Connection(self.database)
        try:
            loader.execute("COPY Node FROM $frame", {"frame": nodes})
            loader.execute("COPY CHILD_OF FROM $frame", {"frame": edges})
            if links.height:
                loader.execute("COPY LINKS_TO FROM $frame", {"frame": links})
        finally:
            loader.close()

    def build_fts(self) -> None:
        """Build the engine's own full-text index (Kùzu only)."""
        self.writer.execute(FTS_BUILD)

    def close(self) -> None:
        """Close the connections and the database (again: nothing)."""
        if self.closed:
            return
        self.closed = True
        self.reader.close()
        self.writer.close()
        self.database.close()

"""Bulk import of nodes and hierarchy from a polars DataFrame via `COPY`.

Everything is checked in Python before the engine sees a row: LadybugDB
crashes (segfault) on a COPY that hits a duplicate primary key.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import polars as pl

from ..config import Settings
from ..errors import HierarchyError, ValidationError
from ..graph import GraphStore, Op, WriteTx
from . import links, tree
from .ids import new_id
from .kinds import KINDS
from .model import COLUMNS, TASK_FIELDS
from .ordering import keys_after
from .validate import TASK_STATUSES

ACCEPTED = frozenset({"id", "kind", "title", "content", "parent_id", "properties", *TASK_FIELDS})
_SCHEMA: dict[str, Any] = {
    "id": pl.String, "kind": pl.String, "title": pl.String, "title_key": pl.String,
    "content": pl.String, "properties": pl.String, "created_at": pl.Datetime("us"),
    "updated_at": pl.Datetime("us"), "version": pl.Int64, "status": pl.String,
    "parent_id": pl.String, "position": pl.String, "task_status": pl.String,
    "priority": pl.Int64, "due": pl.Date, "scheduled": pl.Date,
    "completed_at": pl.Datetime("us"), "created_seq": pl.Int64,
}  # fmt: skip


def import_frame(store: GraphStore, settings: Settings, frame: pl.DataFrame) -> int:
    """Import every row of `frame` as a node in one transaction; returns the count."""
    frame = _complete(_check_columns(frame))
    _check_values(frame, settings)
    with store.write("import") as tx:
        _check_ids_free(tx, frame)
        parents = _check_parents(tx, frame)
        nodes = _rows(tx, frame, parents)
        tx.execute("COPY Node FROM $frame", {"frame": nodes})
        edges = nodes.filter(pl.col("parent_id").is_not_null()).select(
            pl.col("id").alias("from"), pl.col("parent_id").alias("to")
        )
        if edges.height:
            tx.execute("COPY CHILD_OF FROM $frame", {"frame": edges})
        _link(tx, nodes)
        tx.record(Op("import", f"import:{tx.seq}", "", count=nodes.height))
    return nodes.height


def _check_columns(frame: pl.DataFrame) -> pl.DataFrame:
    unknown = sorted(set(frame.columns) - ACCEPTED)
    if unknown:
        raise ValidationError(
            f"Import frame has unknown column {unknown[0]!r}; accepted columns are "
            f"{', '.join(sorted(ACCEPTED))}."
        )
    if "title" not in frame.columns and "content" not in frame.columns:
        raise ValidationError("Import frame needs a 'title' or 'content' column.")
    return frame


def _complete(frame: pl.DataFrame) -> pl.DataFrame:
    height = frame.height
    defaults: dict[str, pl.Series] = {
        "id": pl.Series([new_id() for _ in range(height)], dtype=pl.String),
        "kind": pl.repeat("text", height, eager=True),
        "title": pl.repeat("", height, eager=True),
        "content": pl.repeat("", height, eager=True),
        "properties": pl.repeat("{}", height, eager=True),
    }
    missing = {name: s for name, s in defaults.items() if name not in frame.columns}
    frame = frame.with_columns(**missing)
    for name in ("parent_id", *TASK_FIELDS):
        if name not in frame.columns:
            frame = frame.with_columns(pl.lit(None, dtype=_SCHEMA[name]).alias(name))
    try:
        return frame.with_columns([pl.col(n).cast(_SCHEMA[n], strict=True) for n in ACCEPTED])
    except pl.exceptions.PolarsError as exc:
        raise ValidationError(f"Import frame has a column of the wrong type: {exc}") from None


def _check_values(frame: pl.DataFrame, settings: Settings) -> None:
    _refuse(frame, pl.col("id").is_null(), "id", "ids must not be null")
    lowercase = pl.col("id") == pl.col("id").str.to_lowercase()
    _refuse(frame, ~lowercase, "id", "ids must be lowercase without spaces")
    _refuse(frame, pl.col("id").str.contains(r"\s"), "id", "ids must not contain spaces")
    _refuse(frame, pl.col("id").is_duplicated(), "id", "ids must be unique within the frame")
    known = f"kind must be one of {', '.join(sorted(KINDS))}"
    _refuse(frame, ~pl.col("kind").is_in(sorted(KINDS)), "kind", known)
    special = "date and tag nodes are created with kb.journal() and kb.tag()"
    _refuse(frame, pl.col("kind").is_in(["date", "tag"]), "kind", special)
    _refuse(frame, pl.col("title").str.contains("[\r\n]"), "title", "titles must be one line")
    limit = settings.storage.max_content_bytes
    too_long = pl.col("content").str.len_bytes() > limit
    _refuse(frame, too_long, "content", f"content must be at most {limit:,} bytes")
    for name in ("title", "content", "properties"):
        _refuse(frame, pl.col(name).str.contains("\x00", literal=True), name, "no NUL characters")
    not_task = pl.col("kind") != "task"
    for name in TASK_FIELDS:
        _refuse(frame, not_task & pl.col(name).is_not_null(), name, "only tasks have task fields")
    bad_status = ~pl.col("task_status").is_in(list(TASK_STATUSES))
    _refuse(frame, bad_status, "task_status", f"use one of {', '.join(TASK_STATUSES)}")
    _refuse(frame, ~pl.col("priority").is_between(1, 4), "priority", "use 1 (highest) to 4")


def _refuse(frame: pl.DataFrame, bad: pl.Expr, column: str, rule: str) -> None:
    rows = frame.with_row_index("_row").filter(bad.fill_null(False))
    if rows.height:
        first = rows.row(0, named=True)
        raise ValidationError(
            f"Import row {first['_row']} column {column!r} has {first[column]!r}: {rule}. "
            f"{rows.height} row(s) affected; fix them and import again (nothing was imported)."
        )


def _check_ids_free(tx: WriteTx, frame: pl.DataFrame) -> None:
    taken = tx.execute(
        "UNWIND $ids AS i MATCH (n:Node {id: i}) RETURN n.id LIMIT 1",
        {"ids": frame["id"].to_list()},
    )
    if taken:
        raise ValidationError(
            f"Import id {taken[0][0]!r} already exists in the knowledge base; "
            "drop the id column to get fresh ids, or remove that row."
        )


def _check_parents(tx: WriteTx, frame: pl.DataFrame) -> dict[str, str | None]:
    """Map every parent id to the last key already under it (None: new or empty)."""
    parent_ids = frame["parent_id"].drop_nulls().unique().to_list()
    inside = set(frame["id"].to_list())
    outside = [p for p in parent_ids if p not in inside]
    rows = tx.execute(
        "UNWIND $ids AS i MATCH (n:Node {id: i}) RETURN n.id, n.status", {"ids": outside}
    )
    found = {node_id: status for node_id, status in rows}
    for parent in outside:
        if parent not in found:
            raise HierarchyError(
                f"Import parent {parent!r} is neither in the frame nor in the knowledge base; "
                "import the parent too or fix parent_id."
            )
        if found[parent] == "deleted":
            raise HierarchyError(f"Import parent {parent!r} is deleted; restore it first.")
    _check_acyclic(frame)
    lasts: dict[str, str | None] = {p: tree.last_position(tx.execute, p) for p in outside}
    return lasts


def _check_acyclic(frame: pl.DataFrame) -> None:
    parent_of = dict(zip(frame["id"].to_list(), frame["parent_id"].to_list(), strict=True))
    settled: set[str] = set()
    for start in parent_of:
        path: list[str] = []
        current: str | None = start
        while current is not None and current in parent_of and current not in settled:
            if current in path:
                raise HierarchyError(
                    f"Import rows form a cycle through {current!r}; every chain of parent_id "
                    "must end at a root or an existing node."
                )
            path.append(current)
            current = parent_of[current]
        settled.update(path)


def _rows(tx: WriteTx, frame: pl.DataFrame, lasts: dict[str, str | None]) -> pl.DataFrame:
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    frame = frame.with_columns(
        title_key=pl.Series(
            [links.normalise(t) for t in frame["title"].to_list()], dtype=pl.String
        ),
        created_at=pl.lit(now, dtype=pl.Datetime("us")),
        updated_at=pl.lit(now, dtype=pl.Datetime("us")),
        version=pl.lit(1, dtype=pl.Int64),
        status=pl.lit("active"),
        created_seq=pl.lit(tx.seq, dtype=pl.Int64),
        task_status=pl.when(pl.col("kind") == "task")
        .then(pl.col("task_status").fill_null("todo"))
        .otherwise(pl.col("task_status")),
        _rank=pl.int_range(pl.len()).over("parent_id"),
    )
    roots_last = tree.last_position(tx.execute, None)
    parts = []
    for (parent,), group in frame.group_by("parent_id", maintain_order=True):
        base = lasts.get(parent) if parent is not None else roots_last
        parts.append(group.with_columns(position=keys_after(base, group["_rank"])))
    return pl.concat(parts).select([pl.col(c).cast(_SCHEMA[c]) for c in COLUMNS])


def _link(tx: WriteTx, nodes: pl.DataFrame) -> None:
    """Create Refs, REFERS, TITLED and LINKS_TO edges for the imported rows."""
    linking = nodes.filter(pl.col("content").str.contains("[[", literal=True))
    refers = [
        (node_id, key)
        for node_id, content in linking.select("id", "content").iter_rows()
        for key in links.references(content)
    ]
    existing = set(tx.values("MATCH (r:Ref) RETURN r.key"))
    new_keys = sorted({key for _, key in refers} - existing)
    if new_keys:
        tx.execute("COPY Ref FROM $frame", {"frame": pl.DataFrame({"key": new_keys})})
        tx.execute(
            "MATCH (n:Node) WHERE n.title_key IN $keys MATCH (r:Ref {key: n.title_key}) "
            "CREATE (n)-[:TITLED]->(r)",
            {"keys": new_keys},
        )
    if refers:
        frame = pl.DataFrame(refers, schema=["from", "to"], orient="row")
        tx.execute("COPY REFERS FROM $frame", {"frame": frame})
    matched = sorted(existing & set(nodes["title_key"].to_list()))
    if matched:
        tx.execute(
            "MATCH (n:Node) WHERE n.created_seq = $s AND n.title_key IN $keys "
            "MATCH (r:Ref {key: n.title_key}) CREATE (n)-[:TITLED]->(r)",
            {"s": tx.seq, "keys": matched},
        )
    # Existing nodes whose references now resolve to imported titles or ids.
    answered = sorted(set(matched) | (existing & set(nodes["id"].to_list())))
    sources = {source for source, _ in refers}
    sources |= set(
        tx.values(
            "MATCH (s:Node)-[:REFERS]->(r:Ref) WHERE r.key IN $keys RETURN DISTINCT s.id",
            {"keys": answered},
        )
    )
    for source in sorted(sources):
        links.relink_source(tx, source)

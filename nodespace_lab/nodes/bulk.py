"""Bulk import of nodes and hierarchy from a polars DataFrame via `COPY`.

Everything is checked in Python before the engine sees a row: LadybugDB
crashes (segfault) on a COPY that hits a duplicate primary key. Kinds with
rules of their own plug checks into `FRAME_CHECKS` (entity kinds: their
schemas, `entities/imports.py`).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import polars as pl

from ..config import Settings
from ..errors import HierarchyError, ValidationError
from ..graph import GraphStore, Op, WriteTx, opkinds
from . import links, tree
from .ids import new_id
from .kinds import KINDS
from .model import COLUMNS, TASK_FIELDS
from .ordering import BASE, DIGITS, FIRST_KEY
from .validate import TASK_STATUSES

ACCEPTED = frozenset({"id", "kind", "title", "content", "parent_id", "properties", *TASK_FIELDS})
_MAX_RANK = 2**32  # more siblings than one import can hold
_SCHEMA: dict[str, Any] = {
    "id": pl.String, "kind": pl.String, "title": pl.String, "title_key": pl.String,
    "content": pl.String, "properties": pl.String, "created_at": pl.Datetime("us"),
    "updated_at": pl.Datetime("us"), "version": pl.Int64, "status": pl.String,
    "parent_id": pl.String, "position": pl.String, "task_status": pl.String,
    "priority": pl.Int64, "due": pl.Date, "scheduled": pl.Date,
    "completed_at": pl.Datetime("us"), "created_seq": pl.Int64,
}  # fmt: skip
#: Checks run on the completed frame inside the import's transaction, before anything
#: is written; each returns the frame (values in stored form) or raises.
FRAME_CHECKS: list[Callable[[WriteTx, pl.DataFrame], pl.DataFrame]] = []


def import_frame(store: GraphStore, settings: Settings, frame: pl.DataFrame) -> int:
    """Import every row of `frame` as a node in one transaction; returns the count."""
    frame = _complete(_check_columns(frame))
    _check_values(frame, settings)
    _check_properties(frame)
    with store.write("import") as tx:
        had_nodes = _check_ids_free(tx, frame)
        parents = _check_parents(tx, frame)
        for check in FRAME_CHECKS:
            frame = check(tx, frame)
        nodes = _rows(tx, frame, parents)
        tx.execute("COPY Node FROM $frame", {"frame": nodes})
        edges = nodes.filter(pl.col("parent_id").is_not_null()).select(
            pl.col("id").alias("from"), pl.col("parent_id").alias("to")
        )
        if edges.height:
            tx.execute("COPY CHILD_OF FROM $frame", {"frame": edges})
        _link(tx, nodes, had_nodes)
        tx.record(Op(opkinds.IMPORT, f"import:{tx.seq}", "", count=nodes.height))
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
    # Built only for missing columns: fresh ids cost ~15 µs each.
    defaults: dict[str, Callable[[], pl.Series]] = {
        "id": lambda: pl.Series([new_id() for _ in range(height)], dtype=pl.String),
        "kind": lambda: pl.repeat("text", height, eager=True),
        "title": lambda: pl.repeat("", height, eager=True),
        "content": lambda: pl.repeat("", height, eager=True),
        "properties": lambda: pl.repeat("{}", height, eager=True),
    }
    missing = {name: make() for name, make in defaults.items() if name not in frame.columns}
    frame = frame.with_columns(**missing)
    if isinstance(frame.schema["properties"], pl.Struct | pl.Object):
        frame = frame.with_columns(_properties_text(frame["properties"]))
    for name in ("parent_id", *TASK_FIELDS):
        if name not in frame.columns:
            frame = frame.with_columns(pl.lit(None, dtype=_SCHEMA[name]).alias(name))
    try:
        return frame.with_columns([pl.col(n).cast(_SCHEMA[n], strict=True) for n in ACCEPTED])
    except pl.exceptions.PolarsError as exc:
        raise ValidationError(f"Import frame has a column of the wrong type: {exc}") from None


def _properties_text(column: pl.Series) -> pl.Series:
    """A column of dicts as JSON text; a null value counts as absent (a struct cannot tell)."""
    texts = []
    for value in column.to_list():
        if value is not None and not isinstance(value, dict):
            raise ValidationError(
                f"Import column 'properties' holds {value!r}; give a dict of field values "
                "or JSON text per row."
            )
        kept = {k: v for k, v in (value or {}).items() if v is not None}
        texts.append(json.dumps(kept, ensure_ascii=False, sort_keys=True, default=_iso))
    return pl.Series("properties", texts, dtype=pl.String)


def _iso(value: object) -> str:
    if isinstance(value, dt.date):
        return value.isoformat()
    raise ValidationError(
        f"Import column 'properties' holds {value!r}, which JSON cannot hold; "
        "give text, numbers, bools, dates or lists."
    )


def _check_values(frame: pl.DataFrame, settings: Settings) -> None:
    lowercase = pl.col("id") == pl.col("id").str.to_lowercase()
    known = f"kind must be one of {', '.join(sorted(KINDS))}"
    special = "date and tag nodes are created with kb.journal() and kb.tag()"
    limit = settings.storage.max_content_bytes
    too_long = pl.col("content").str.len_bytes() > limit
    not_task = pl.col("kind") != "task"
    bad_status = ~pl.col("task_status").is_in(list(TASK_STATUSES))
    rules: list[tuple[pl.Expr, str, str]] = [
        (pl.col("id").is_null(), "id", "ids must not be null"),
        (~lowercase, "id", "ids must be lowercase without spaces"),
        (pl.col("id").str.contains(r"\s"), "id", "ids must not contain spaces"),
        (pl.col("id").is_duplicated(), "id", "ids must be unique within the frame"),
        (~pl.col("kind").is_in(sorted(KINDS)), "kind", known),
        (pl.col("kind").is_in(["date", "tag"]), "kind", special),
        (pl.col("title").str.contains("[\r\n]"), "title", "titles must be one line"),
        (too_long, "content", f"content must be at most {limit:,} bytes"),
        *[
            (pl.col(name).str.contains("\x00", literal=True), name, "no NUL characters")
            for name in ("title", "content", "properties")
        ],
        *[
            (not_task & pl.col(name).is_not_null(), name, "only tasks have task fields")
            for name in TASK_FIELDS
        ],
        (bad_status, "task_status", f"use one of {', '.join(TASK_STATUSES)}"),
        (~pl.col("priority").is_between(1, 4), "priority", "use 1 (highest) to 4"),
    ]
    # One parallel pass tells which rules fail; only those are run again, in
    # order, to report the first failure exactly as checking one by one would.
    failing = frame.select(
        [bad.fill_null(False).any().alias(f"r{i}") for i, (bad, _, _) in enumerate(rules)]
    ).row(0)
    for failed, (bad, column, rule) in zip(failing, rules, strict=True):
        if failed:
            _refuse(frame, bad, column, rule)


def _check_properties(frame: pl.DataFrame) -> None:
    """`properties` must hold JSON objects (entity rows: checked by their schema instead)."""
    entity_kinds = [k for k, spec in KINDS.items() if spec.extra.get("entity")]
    given = (
        frame.with_row_index("_row")
        .filter(~pl.col("kind").is_in(entity_kinds) & (pl.col("properties") != "{}"))
        .select("_row", "properties")
    )
    for row, text in given.iter_rows():
        try:
            loaded = json.loads(text)
        except ValueError:
            loaded = None
        if not isinstance(loaded, dict):
            raise ValidationError(
                f"Import row {row} column 'properties' has {text!r}: give a JSON object such "
                'as \'{"doi": "10/x"}\' (or a dict). Fix it and import again (nothing was '
                "imported)."
            )


def _refuse(frame: pl.DataFrame, bad: pl.Expr, column: str, rule: str) -> None:
    rows = frame.with_row_index("_row").filter(bad.fill_null(False))
    if rows.height:
        first = rows.row(0, named=True)
        raise ValidationError(
            f"Import row {first['_row']} column {column!r} has {first[column]!r}: {rule}. "
            f"{rows.height} row(s) affected; fix them and import again (nothing was imported)."
        )


def _check_ids_free(tx: WriteTx, frame: pl.DataFrame) -> bool:
    """Refuse ids already taken; return whether the knowledge base had any node."""
    # An empty knowledge base has no id to collide with: skip 1M lookups (~2 s).
    if not tx.values("MATCH (n:Node) RETURN count(n)")[0]:
        return False
    taken = tx.execute(
        "UNWIND $ids AS i MATCH (n:Node {id: i}) RETURN n.id LIMIT 1",
        {"ids": frame["id"].to_list()},
    )
    if taken:
        raise ValidationError(
            f"Import id {taken[0][0]!r} already exists in the knowledge base; "
            "drop the id column to get fresh ids, or remove that row."
        )
    return True


def _check_parents(tx: WriteTx, frame: pl.DataFrame) -> dict[str, str | None]:
    """Map every parent id to the last key already under it (None: new or empty)."""
    parent_ids = frame["parent_id"].drop_nulls().unique()
    outside = parent_ids.filter(~parent_ids.is_in(frame["id"].implode())).to_list()
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
    # Vectorised test first: jump to the 2^k-th ancestor inside the frame. An
    # acyclic chain is shorter than the frame, so it ends within bit_length
    # jumps; only a cycle keeps one going. The loop below names the cycle.
    rows = pl.int_range(frame.height, eager=True)
    up = frame["parent_id"].replace_strict(frame["id"], rows, default=None)
    for _ in range(frame.height.bit_length() + 1):
        if up.null_count() == up.len():
            return
        up = up.gather(up)
    _name_cycle(frame)


def _name_cycle(frame: pl.DataFrame) -> None:
    """Raise HierarchyError naming the first cycle among the rows (if any)."""
    parent_of = dict(zip(frame["id"].to_list(), frame["parent_id"].to_list(), strict=True))
    cycle = tree.cycle_members(parent_of)
    if cycle:
        raise HierarchyError(
            f"Import rows form a cycle through {cycle[0]!r}; every chain of parent_id "
            "must end at a root or an existing node."
        )


def _rows(tx: WriteTx, frame: pl.DataFrame, lasts: dict[str, str | None]) -> pl.DataFrame:
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    frame = frame.with_columns(
        title_key=_title_keys(frame["title"]),
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
    # Rows grouped by parent, groups in order of first appearance (as group_by
    # with maintain_order), each group keyed after its parent's last key.
    frame = (
        frame.with_row_index("_row")
        .with_columns(_group=pl.col("_row").min().over("parent_id"))
        .sort("_group", "_row")
    )
    bases = {p: b for p, b in lasts.items() if b is not None}
    base = pl.col("parent_id").replace_strict(bases, default=None, return_dtype=pl.String)
    base = pl.when(pl.col("parent_id").is_null()).then(pl.lit(roots_last)).otherwise(base)
    frame = frame.with_columns(position=_keys_after_each(base, pl.col("_rank"), "parent_id"))
    return frame.select([pl.col(c).cast(_SCHEMA[c]) for c in COLUMNS])


def _keys_after_each(base: pl.Expr, rank: pl.Expr, group: str) -> pl.Expr:
    """`ordering.keys_after(base, ranks)` for every group at once.

    Per group: fixed-width base-62 digits of the rank, as wide as the group's
    largest rank needs, after the group's `base` (None: the first key), then "V".
    """
    largest = rank.max().over(group)
    width = pl.lit(1, dtype=pl.Int64)
    total = 1
    while BASE**total <= _MAX_RANK:
        width = width + (largest >= BASE**total).cast(pl.Int64)
        total += 1
    lookup = pl.Series(list(DIGITS))
    digits = pl.concat_str(
        [
            (rank // BASE**power % BASE).map_batches(
                lambda s: lookup.gather(s.cast(pl.UInt32)), return_dtype=pl.String
            )
            for power in range(total - 1, -1, -1)
        ]
    )
    prefix = base.fill_null(pl.lit(FIRST_KEY))
    return prefix + digits.str.slice(pl.lit(total, dtype=pl.Int64) - width) + pl.lit("V")


def _title_keys(titles: pl.Series) -> pl.Series:
    """`links.normalise` of every title: vectorised for ASCII titles, exact for all."""
    if titles.null_count():
        return pl.Series([links.normalise(t) for t in titles.to_list()], dtype=pl.String)
    # For ASCII text, str.split() splits on exactly these characters and
    # casefold() is lower-casing.
    keys = (
        titles.str.replace_all(r"[\t\n\x0b\x0c\r\x1c-\x1f ]+", " ")
        .str.strip_chars(" ")
        .str.to_lowercase()
    )
    other = titles.str.len_bytes() != titles.str.len_chars()  # not ASCII
    if other.any():
        where = other.arg_true()
        exact = [links.normalise(t) for t in titles.gather(where).to_list()]
        keys = keys.scatter(where, pl.Series(exact, dtype=pl.String))
    return keys


def _link(tx: WriteTx, nodes: pl.DataFrame, had_nodes: bool) -> None:
    """Create Refs, REFERS, TITLED and LINKS_TO edges for the imported rows.

    `had_nodes`: the knowledge base held nodes before this import.
    """
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
        if had_nodes:
            # UNWIND + equality is a hash join; `title_key IN $keys` compares every
            # node with every key (22 s for 1M nodes and 5,000 keys).
            rows = tx.execute(
                "UNWIND $keys AS k MATCH (n:Node) WHERE n.title_key = k RETURN n.id, k",
                {"keys": new_keys},
            )
            titled = pl.DataFrame(rows, schema=["from", "to"], orient="row")
        else:  # only the imported rows can answer to the new keys
            titled = nodes.filter(pl.col("title_key").is_in(new_keys)).select(
                pl.col("id").alias("from"), pl.col("title_key").alias("to")
            )
        _copy_titled(tx, titled)
    if refers:
        frame = pl.DataFrame(refers, schema=["from", "to"], orient="row")
        tx.execute("COPY REFERS FROM $frame", {"frame": frame})
    matched = _present(nodes["title_key"], existing)
    if matched:
        # The imported rows are exactly the nodes with created_seq = tx.seq.
        imported = nodes.filter(pl.col("title_key").is_in(matched))
        _copy_titled(
            tx, imported.select(pl.col("id").alias("from"), pl.col("title_key").alias("to"))
        )
    # Existing nodes whose references now resolve to imported titles or ids.
    answered = sorted(set(matched) | set(_present(nodes["id"], existing)))
    sources = {source for source, _ in refers}
    sources |= set(
        tx.values(
            "UNWIND $keys AS k MATCH (s:Node)-[:REFERS]->(:Ref {key: k}) RETURN DISTINCT s.id",
            {"keys": answered},
        )
    )
    links.relink_sources(tx, sources)


def _present(values: pl.Series, keys: set[str]) -> list[str]:
    """Sorted distinct `values` that are among `keys`."""
    if not keys:
        return []
    return sorted(set(values.filter(values.is_in(sorted(keys))).to_list()))


def _copy_titled(tx: WriteTx, pairs: pl.DataFrame) -> None:
    """Create TITLED edges from (from: node id, to: Ref key) rows."""
    if pairs.height:
        tx.execute("COPY TITLED FROM $frame", {"frame": pairs})

"""Widgets that show a live query's rows: sorted and paged in Python, sent as diffs.

Only the visible page ever reaches the browser. After a change the widget
sends a diff of that page (a few hundred bytes for a one-row change), and
updates its own state without sending it again.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any

import traitlets

from ..errors import NodespaceError, ValidationError
from ..live import LiveQuery, RowDiff, diff_rows
from ..nodes.model import PUBLIC_COLUMNS, STATUSES
from ..nodes.validate import TASK_STATUSES
from ._base import NodespaceWidget, json_row

Row = dict[str, Any]

# How node columns are shown and edited in the browser.
NODE_COLUMN_TYPES = {
    "id": "id", "kind": "text", "title": "text", "content": "markdown", "properties": "json",
    "created_at": "datetime", "updated_at": "datetime", "completed_at": "datetime",
    "version": "integer", "status": "enum", "parent_id": "id", "position": "text",
    "task_status": "enum", "priority": "integer", "due": "date", "scheduled": "date",
}  # fmt: skip
CHOICES = {"task_status": list(TASK_STATUSES), "status": list(STATUSES)}
DEFAULT_NODE_COLUMNS = ("title", "kind", "task_status", "priority", "due", "updated_at")
EDITABLE_NODE_COLUMNS = frozenset(
    {"title", "content", "task_status", "priority", "due", "scheduled"}
)


class LiveRowsWidget(NodespaceWidget):
    """Shows the rows of a `LiveQuery`, one page at a time, kept up to date."""

    columns = traitlets.List(traitlets.Dict()).tag(sync=True)
    rows = traitlets.List(traitlets.Dict()).tag(sync=True)
    key = traitlets.Unicode("id").tag(sync=True)
    total = traitlets.Int(0).tag(sync=True)
    page = traitlets.Int(0).tag(sync=True)
    page_size = traitlets.Int(25).tag(sync=True)
    sort: traitlets.List[Any] = traitlets.List().tag(sync=True)  # [] or [column, descending]
    selected = traitlets.List(traitlets.Unicode()).tag(sync=True)
    errors = traitlets.Dict().tag(sync=True)  # {row id: {column: message}}
    seq = traitlets.Int(0).tag(sync=True)

    def __init__(
        self,
        live: LiveQuery,
        *,
        columns: Sequence[str] | None = None,
        editable: bool | Sequence[str] = True,
        page_size: int = 25,
        sort: tuple[str, bool] | None = None,
        **kwargs: Any,
    ) -> None:
        if page_size < 1:
            raise ValidationError(f"page_size {page_size} must be at least 1.")
        super().__init__(key=live.key, page_size=page_size, **kwargs)
        self.live = live
        self._view: list[Row] = []
        self._views = 0  # views on screen, as the browser reports them
        self.columns = describe_columns(live, columns, editable)
        if sort is not None:
            self.sort = [sort[0], bool(sort[1])]
        self._rebuild()
        self._stop_observing: Callable[[], None] = live.observe(self._on_diff)
        self.observe(self._on_view_change, names=["page", "page_size", "sort"])

    # -- Python side -----------------------------------------------------

    @property
    def selected_rows(self) -> list[Row]:
        """The full rows of the selected ids, in result order."""
        chosen = set(self.selected)
        return [row for row in self.live.rows if row[self.key] in chosen]

    def close(self) -> None:
        """Stop following the query and close the widget."""
        # Also runs from __del__, possibly of a widget whose __init__ failed.
        stop = getattr(self, "_stop_observing", None)
        if stop is not None:
            stop()
        super().close()

    # -- building the page ----------------------------------------------

    def _ordered(self) -> list[Row]:
        if not self.sort:
            return self.live.rows
        column, descending = self.sort
        return sort_rows(self.live.rows, column, descending)

    def _page_rows(self) -> list[Row]:
        # Only the shown columns travel: a page of full nodes would carry their content.
        start = self.page * self.page_size
        names = [self.key, *(c["name"] for c in self.columns if c["name"] != self.key)]
        if any(c["editable"] for c in self.columns) and "version" not in names:
            names.append("version")  # sent back with an edit, to detect a conflict
        return [
            json_row({name: row.get(name) for name in names})
            for row in self._view[start : start + self.page_size]
        ]

    def _rebuild(self) -> None:
        """Recompute the page and send it whole (first display, paging, sorting)."""
        with self._state_lock:
            self._view = self._ordered()
            last_page = max(0, (len(self._view) - 1) // self.page_size)
            if self.page > last_page:
                self.page = last_page
            with self.hold_sync():
                self.total = len(self._view)
                self.rows = self._page_rows()
                self.seq = self.live.seq

    def _on_view_change(self, _change: Any) -> None:
        self._rebuild()

    def _on_diff(self, diff: RowDiff) -> None:
        """The query re-ran: send the browser what changed on the visible page."""
        with self._state_lock:
            self._view = self._ordered()
            if self.page * self.page_size >= len(self._view) > 0:
                self._rebuild()  # the page shown no longer exists: show the last one
                return
            old, base = self.rows, self.seq
            new = self._page_rows()
            page = diff_rows(diff.seq, old, new, self.key)
            with self._quietly():
                self.rows, self.seq, self.total = new, diff.seq, len(self._view)
            message = {
                "type": "diff",
                "base": base,
                "seq": diff.seq,
                "total": len(self._view),
                "added": list(page.added),
                "removed": list(page.removed),
                "changed": list(page.changed),
                "order": None if page.order is None else list(page.order),
            }
            self.send(message)
            self._forget_removed(diff)

    def _forget_removed(self, diff: RowDiff) -> None:
        if not diff.removed:
            return
        gone = set(diff.removed)
        if any(i in gone for i in self.selected):
            self.selected = [i for i in self.selected if i not in gone]
        if gone & self.errors.keys():
            self.errors = {k: v for k, v in self.errors.items() if k not in gone}

    # -- messages from the browser --------------------------------------

    def _on_view(self, msg: dict[str, Any]) -> None:
        """A view appeared or went away: a query nobody sees stops re-running."""
        self._views = max(0, self._views + (1 if msg.get("shown") else -1))
        registry = self.live.kb.live_registry
        if self._views == 0:
            registry.release(self.live)
        elif msg.get("shown") and self._views == 1:
            registry.resume(self.live)

    def _on_resync(self, _msg: dict[str, Any]) -> None:
        """The browser missed a diff: send the whole state again."""
        self.send_state()

    def _on_edit(self, msg: dict[str, Any]) -> None:
        """Write an edited cell back through the API; a bad value is shown in the cell."""
        row_id, name = str(msg.get("id")), str(msg.get("field"))
        column = next((c for c in self.columns if c["name"] == name and c["editable"]), None)
        try:
            if column is None:
                raise ValidationError(f"Column {name!r} of this table is not editable.")
            value = parse_cell(row_id, column, msg.get("value"))
            # The version the browser showed: an edit of a row changed since is refused.
            version = msg.get("version")
            expected = version if isinstance(version, int) else None
            self.live.kb.update(row_id, expected_version=expected, **{name: value})
        except NodespaceError as exc:  # invalid value, stale version, node gone
            self._set_cell_error(row_id, name, str(exc))
            self.send({"type": "edit-error", "id": row_id, "field": name, "message": str(exc)})
            return
        self._set_cell_error(row_id, name, None)
        self.send({"type": "edit-ok", "id": row_id, "field": name})

    def _set_cell_error(self, row_id: str, name: str, message: str | None) -> None:
        errors = {k: dict(v) for k, v in self.errors.items()}
        cell = errors.setdefault(row_id, {})
        if message is None:
            cell.pop(name, None)
        else:
            cell[name] = message
        self.errors = {k: v for k, v in errors.items() if v}


def describe_columns(
    live: LiveQuery, names: Sequence[str] | None, editable: bool | Sequence[str]
) -> list[dict[str, Any]]:
    """Column descriptions (name, label, type, choices, editable) for the browser."""
    available = live.columns or (list(live.rows[0]) if live.rows else [])
    node_rows = live.key == "id" and {"id", "title", "kind"} <= set(available)
    if names is None:
        names = _default_columns(available, node_rows, live.key)
    if editable is True:
        allowed = EDITABLE_NODE_COLUMNS if node_rows else frozenset()
    else:
        allowed = frozenset(editable or ())
        if allowed and live.key != "id":
            raise ValidationError("Editable columns need rows keyed by node id (an 'id' column).")
    return [_describe(name, live.rows, name in allowed) for name in names]


def _default_columns(available: Sequence[str], node_rows: bool, key: str) -> list[str]:
    if node_rows and set(DEFAULT_NODE_COLUMNS) <= set(available):
        # Entities (a find() of entity kinds) show their own fields, not task columns.
        fields = [c for c in available if c not in PUBLIC_COLUMNS]
        return ["title", *fields] if fields else list(DEFAULT_NODE_COLUMNS)
    return [c for c in available if c != key or not node_rows]


def _describe(name: str, rows: list[Row], editable: bool) -> dict[str, Any]:
    kind = NODE_COLUMN_TYPES.get(name) or _infer_type(name, rows)
    column: dict[str, Any] = {
        "name": name,
        "label": name.replace("_", " "),
        "type": kind,
        "editable": editable,
    }
    if name in CHOICES:
        column["choices"] = CHOICES[name]
    return column


def _infer_type(name: str, rows: list[Row]) -> str:
    value = next((row[name] for row in rows if row.get(name) is not None), None)
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, dt.datetime):
        return "datetime"
    if isinstance(value, dt.date):
        return "date"
    return "text"


def parse_cell(row_id: str, column: dict[str, Any], raw: Any) -> Any:
    """Turn what was typed into a cell into the column's type, or say what is wrong."""
    name, kind = column["name"], column["type"]
    if raw is None or (isinstance(raw, str) and not raw.strip() and kind != "text"):
        return None
    text = str(raw).strip()
    try:
        if kind == "integer":
            return int(text)
        if kind == "number":
            return float(text)
        if kind == "date":
            return dt.date.fromisoformat(text)
        if kind == "bool":
            return text.lower() in {"true", "1", "yes", "on"}
    except ValueError:
        example = {"integer": "2", "number": "2.5", "date": "2026-12-01"}[kind]
        raise ValidationError(
            f"Node {row_id!r}: {name} {text!r} is not a valid {kind}; enter e.g. {example}."
        ) from None
    if "choices" in column and text not in column["choices"]:
        raise ValidationError(
            f"Node {row_id!r}: {name} {text!r} is not allowed; "
            f"use one of {', '.join(column['choices'])}."
        )
    return raw if kind in {"text", "markdown"} else text


def sort_rows(rows: list[Row], column: str, descending: bool) -> list[Row]:
    """Rows ordered by `column`, empty values last in both directions."""
    present = [row for row in rows if row.get(column) is not None]
    missing = [row for row in rows if row.get(column) is None]
    try:
        present.sort(key=lambda row: _sort_key(row[column]), reverse=descending)
    except TypeError:  # mixed types in one column: compare as text
        present.sort(key=lambda row: str(row[column]), reverse=descending)
    return present + missing


def _sort_key(value: Any) -> Any:
    return value.casefold() if isinstance(value, str) else value

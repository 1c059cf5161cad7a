"""`SearchBox`: search as you type; a result opens the node in a preview."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import traitlets

from ..markdown import render_markdown
from ._base import NodespaceWidget, static_text

if TYPE_CHECKING:
    from ..kb.facets import KnowledgeBaseAPI
    from ..nodes import Node


class SearchBox(NodespaceWidget):
    """Full-text search as you type. Clicking a result (or Enter) opens it:
    `opened` holds its id, the preview shows its Markdown (sanitised), and
    callbacks registered with `on_open` are called with the `Node`.
    """

    _esm = static_text("common.js", "search.js")
    _css = static_text("common.css", "search.css")

    query = traitlets.Unicode("").tag(sync=True)
    results = traitlets.List(traitlets.Dict()).tag(sync=True)
    results_for = traitlets.Unicode("").tag(sync=True)  # the query `results` answer
    opened = traitlets.Unicode("").tag(sync=True)
    preview = traitlets.Dict().tag(sync=True)

    def __init__(
        self,
        kb: KnowledgeBaseAPI,
        *,
        kind: str | Sequence[str] | None = None,
        tag: str | Sequence[str] | None = None,
        under: str | None = None,
        limit: int = 10,
        query: str = "",
    ) -> None:
        super().__init__()
        self.kb = kb
        self._filters: dict[str, Any] = {"kind": kind, "tag": tag, "under": under, "limit": limit}
        self._open_callbacks: list[Callable[[Node], None]] = []
        self.observe(self._on_query, names="query")
        self.observe(self._on_opened, names="opened")
        self.query = query

    def on_open(self, callback: Callable[[Node], None]) -> Callable[[], None]:
        """Call `callback(node)` when a result is opened; returns a function that stops it."""
        self._open_callbacks.append(callback)
        return lambda: self._open_callbacks.remove(callback)

    def open_node(self, node_id: str) -> None:
        """Open the node `node_id` as if its result had been clicked."""
        self.opened = node_id

    def _on_query(self, change: dict[str, Any]) -> None:
        text = change["new"].strip()
        hits = self.kb.search(text, **self._filters) if text else []
        with self.hold_sync():
            self.results = [
                {
                    "id": hit.id,
                    "kind": hit.kind,
                    "title": hit.title,
                    "snippet": hit.snippet,
                    "highlights": [list(span) for span in hit.highlights],
                    "score": round(hit.score, 3),
                }
                for hit in hits
            ]
            self.results_for = change["new"]
            self.error = ""

    def _on_opened(self, change: dict[str, Any]) -> None:
        if not change["new"]:
            self.preview = {}
            return
        node = self.kb.get(change["new"])
        self.preview = {
            "id": node.id,
            "kind": node.kind,
            "title": node.title,
            "html": render_markdown(node.content),
        }
        for callback in list(self._open_callbacks):
            callback(node)

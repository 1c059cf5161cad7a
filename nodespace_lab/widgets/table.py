"""`LiveTable`: a live query as a sortable, paged table with editable cells."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._base import static_text
from ._rows import LiveRowsWidget

if TYPE_CHECKING:
    from ..kb.facets import KnowledgeBaseAPI
    from ..nodes.query import Find


class LiveTable(LiveRowsWidget):
    """A live query as a table: click a header to sort, page through large results,
    double-click an editable cell to change it (written back through the API;
    a rejected value is shown in the cell). `table.selected` holds the ids of
    the ticked rows.
    """

    _esm = static_text("common.js", "table.js")
    _css = static_text("common.css", "table.css")

    @classmethod
    def of(cls, kb: KnowledgeBaseAPI, query: Find | str, **params: Any) -> LiveTable:
        """A table over `kb.live(query, **params)`."""
        return cls(kb.live(query, **params))

"""`TaskList`: tasks with checkboxes that set their status, overdue dates marked."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import traitlets

from ._base import static_text
from ._rows import LiveRowsWidget

if TYPE_CHECKING:
    from ..kb.facets import KnowledgeBaseAPI
    from ..nodes.query import Find

TASK_COLUMNS = ("title", "task_status", "priority", "due")


class TaskList(LiveRowsWidget):
    """A live list of tasks. Ticking a box marks the task done (unticking: todo);
    a due date before `today` is highlighted while the task is open.
    """

    _esm = static_text("common.js", "tasks.js")
    _css = static_text("common.css", "tasks.css")

    today = traitlets.Unicode("").tag(sync=True)

    def __init__(self, live: Any, *, today: dt.date | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("columns", TASK_COLUMNS)
        kwargs.setdefault("page_size", 50)
        super().__init__(live, **kwargs)
        self.today = (today or dt.date.today()).isoformat()

    @classmethod
    def of(cls, kb: KnowledgeBaseAPI, query: Find | None = None, **kwargs: Any) -> TaskList:
        """Tasks of `kb` (default: open ones, soonest due first)."""
        if query is None:
            query = (
                kb.find("task")
                .where("task_status", "in", ["todo", "doing"])
                .order_by("due")
                .order_by("priority")
            )
        return cls(kb.live(query), **kwargs)

"""Live widgets for notebooks (anywidget): tables, task lists, outlines, graphs, search, chat.

Importing this module imports anywidget; `import nodespace_lab` does not.
"""

from ._rows import LiveRowsWidget
from .chat import ChatWidget
from .graph import GraphView
from .outline import Outline
from .search import SearchBox
from .table import LiveTable
from .tasks import TaskList

__all__ = [
    "ChatWidget",
    "GraphView",
    "LiveRowsWidget",
    "LiveTable",
    "Outline",
    "SearchBox",
    "TaskList",
]

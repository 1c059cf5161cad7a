"""A task draft shown in a notebook with buttons to add it or drop it."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..ai.tasks import TaskDraft


def confirm_task(draft: TaskDraft) -> Any:
    """The draft (as a table of fields and where each came from) and Add / Discard buttons."""
    import ipywidgets as widgets  # type: ignore[import-untyped]
    from IPython.display import Markdown, display

    summary = widgets.Output()
    with summary:
        summary_md = Markdown(draft._repr_markdown_().rsplit("\n\n", 1)[0])  # type: ignore[no-untyped-call]
        display(summary_md)  # type: ignore[no-untyped-call]
    add = widgets.Button(description="Add task", button_style="primary", icon="check")
    discard = widgets.Button(description="Discard")
    result = widgets.HTML()

    def on_add(_button: Any) -> None:
        node = draft.create()
        add.disabled = discard.disabled = True
        result.value = f"Added task <code>{html.escape(node.id)}</code>."

    def on_discard(_button: Any) -> None:
        add.disabled = discard.disabled = True
        result.value = "Discarded; nothing was written."

    add.on_click(on_add)
    discard.on_click(on_discard)
    box = widgets.VBox([summary, widgets.HBox([add, discard]), result])
    box.draft = draft  # for scripts and tests
    return box

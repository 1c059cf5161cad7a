"""A task draft shown in a notebook with buttons to add it or drop it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..markdown import display_bundle, escape_html

if TYPE_CHECKING:
    from ..ai.tasks import TaskDraft


def confirm_task(draft: TaskDraft) -> Any:
    """The draft (as a table of fields and where each came from) and Add / Discard buttons."""
    import ipywidgets as widgets  # type: ignore[import-untyped]
    from IPython.display import display

    summary = widgets.Output()
    with summary:
        # Sanitised HTML, never Markdown: the sentence and fields are user text
        # (see nodespace_lab.markdown).
        display(display_bundle(draft._markdown(), draft._plain()), raw=True)  # type: ignore[no-untyped-call]
    add = widgets.Button(description="Add task", button_style="primary", icon="check")
    discard = widgets.Button(description="Discard")
    result = widgets.HTML()

    def on_add(_button: Any) -> None:
        node = draft.create()
        add.disabled = discard.disabled = True
        result.value = f"Added task <code>{escape_html(node.id)}</code>."

    def on_discard(_button: Any) -> None:
        add.disabled = discard.disabled = True
        result.value = "Discarded; nothing was written."

    add.on_click(on_add)
    discard.on_click(on_discard)
    box = widgets.VBox([summary, widgets.HBox([add, discard]), result])
    box.draft = draft  # for scripts and tests
    return box

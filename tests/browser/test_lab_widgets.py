"""The widgets in a real JupyterLab: a notebook's kernel and the page talk both ways."""

from __future__ import annotations

from typing import Any

import nbformat

from .conftest import Lab
from .sidebar_helpers import run_all_cells

CELLS = [
    "import nodespace_lab as ns\n"
    "from nodespace_lab.widgets import TaskList\n"
    "kb = ns.open('kb')\n"
    "for i in range(3):\n"
    "    kb.create('task', f'task {i}', priority=1 + i)",
    "TaskList.of(kb)",
    "kb.live(kb.find('task').order_by('title'))",
]


def _write_notebook(lab: Lab, name: str) -> None:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in CELLS]
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(notebook, lab.root / name)


def test_widgets_render_and_write_back_in_jupyterlab(lab: Lab, lab_page: Any) -> None:
    _write_notebook(lab, "widgets.ipynb")
    page = lab_page
    page.goto(lab.page_url("widgets.ipynb"))
    run_all_cells(page)

    tasks = page.locator(".ns-tasks")
    table = page.locator(".ns-table")
    tasks.locator(".ns-task").first.wait_for(timeout=60_000)
    table.locator("tbody tr").first.wait_for(timeout=30_000)
    assert tasks.locator(".ns-task-title").all_inner_texts() == ["task 0", "task 1", "task 2"]
    assert table.locator("td[data-column=title]").all_inner_texts() == [
        "task 0",
        "task 1",
        "task 2",
    ]

    # Browser -> kernel -> knowledge base -> live query -> both widgets.
    first = tasks.locator(".ns-task").filter(has_text="task 0")
    # click, not check(): the row leaves the list once done, which check() would retry.
    first.locator("input[type=checkbox]").click()
    page.wait_for_function(
        "() => ![...document.querySelectorAll('.ns-tasks .ns-task-title')]"
        ".some(el => el.textContent === 'task 0')",
        timeout=30_000,
    )
    status = (
        table.locator("tbody tr").filter(has_text="task 0").locator("td[data-column=task_status]")
    )
    status.filter(has_text="done").wait_for(timeout=30_000)
    assert tasks.locator(".ns-task-title").all_inner_texts() == ["task 1", "task 2"]

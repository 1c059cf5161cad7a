"""The NodeSpace sidebar (the JupyterLab extension) in a real JupyterLab.

The page and Python write to the same knowledge base (the one the server
extension serves): what one writes, the other sees, live.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from typing import Any

import nbformat
import pytest

from nodespace_lab.service.client import RemoteKnowledgeBase
from nodespace_lab.service.runtime import read_info, runtime_file

from .conftest import Lab
from .sidebar_helpers import (
    connect_remote,
    focus_row,
    open_palette,
    run_all_cells,
    start_rename,
)
from .sidebar_helpers import eventually as _eventually
from .sidebar_helpers import open_sidebar as _open_sidebar
from .sidebar_helpers import row as _row


@pytest.fixture
def remote(lab: Lab) -> Iterator[RemoteKnowledgeBase]:
    """A Python client of the service the lab's server extension runs."""
    client = connect_remote(lab)
    yield client
    client.close()


def test_the_sidebar_edits_the_knowledge_base_and_follows_python(
    lab: Lab, lab_page: Any, remote: RemoteKnowledgeBase
) -> None:
    remote.create("text", "Existing note", "written before the page opened")
    sidebar = _open_sidebar(lab, lab_page)
    assert sidebar.locator(".ns-kb-name").inner_text() == lab.kb_path.name
    _row(sidebar, "Existing note").wait_for()

    # Create, then rename inline (double-click, type, Enter).
    sidebar.locator(".ns-create-input").fill("Sidebar note")
    sidebar.locator(".ns-create-input").press("Enter")
    _row(sidebar, "Sidebar note").wait_for()
    [created] = [n for n in remote.children(None) if n.title == "Sidebar note"]
    _row(sidebar, "Sidebar note").locator(".ns-title").dblclick()
    sidebar.locator(".ns-title-input").fill("Renamed in the sidebar")
    sidebar.locator(".ns-title-input").press("Enter")
    _row(sidebar, "Renamed in the sidebar").wait_for()
    _eventually(lambda: remote.get(created.id).title == "Renamed in the sidebar")

    # Search as you type: hits with highlighted snippets.
    sidebar.locator(".ns-search-input").fill("renamed")
    hit = sidebar.locator(".ns-hit").filter(has_text="Renamed in the sidebar")
    hit.wait_for()
    assert hit.locator("mark").first.inner_text().lower() == "renamed"

    # A task written from Python shows under Tasks; ticking it there marks it done.
    task = remote.create("task", "Pay the rent", due="2026-12-01")
    entry = sidebar.locator(".ns-task").filter(has_text="Pay the rent")
    entry.wait_for(timeout=2_000)
    entry.locator("input[type=checkbox]").click()
    _eventually(lambda: remote.get(task.id).task_status == "done")
    entry.wait_for(state="detached", timeout=2_000)

    # Changes made in Python appear within a couple of seconds.
    started = time.monotonic()
    remote.update(created.id, title="Renamed from Python")
    _row(sidebar, "Renamed from Python").wait_for(timeout=2_000)
    latency = time.monotonic() - started
    print(f"a title changed in Python reached the sidebar in {latency * 1000:.0f} ms")
    # User content is text, never markup.
    markup = "<img src=x onerror=\"document.title='pwned'\"> <b>bold</b>"
    remote.create("text", markup)
    _row(sidebar, "<b>bold</b>").wait_for(timeout=2_000)
    assert sidebar.locator(".ns-tree img, .ns-tree b").count() == 0
    assert lab_page.title() != "pwned"

    _row(sidebar, "Renamed from Python").locator(".ns-toggle").click()  # expand (empty)
    child = remote.create("text", "Child from Python", parent=created.id)
    _row(sidebar, "Child from Python").wait_for(timeout=2_000)

    # Tab indents under the previous sibling; Shift-Tab outdents again.
    top = [n.id for n in remote.children(None)]
    previous = top[top.index(created.id) - 1]
    _row(sidebar, "Renamed from Python").click()
    _row(sidebar, "Renamed from Python").press("Tab")
    _eventually(lambda: remote.get(created.id).parent_id == previous)
    nested = f".ns-item[data-id='{previous}'] .ns-row[data-id='{created.id}']"
    sidebar.locator(nested).wait_for()
    _row(sidebar, "Renamed from Python").press("Shift+Tab")
    _eventually(lambda: remote.get(created.id).parent_id is None)

    # Delete, then Undo brings the node (and its child) back.
    _row(sidebar, "Renamed from Python").locator(".ns-delete").click()
    _row(sidebar, "Renamed from Python").wait_for(state="detached")
    assert remote.get(child.id).status == "deleted"
    sidebar.locator(".ns-undo-button").click()
    _row(sidebar, "Renamed from Python").wait_for()
    _eventually(lambda: remote.get(child.id).status == "active")


def test_a_change_made_in_a_kernel_appears_in_the_sidebar(lab: Lab, lab_page: Any) -> None:
    """A notebook's kernel (started by this JupyterLab) writes through the same service."""
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell(
            "import nodespace_lab as ns\nkb = ns.connect()\nprint(type(kb).__name__)"
        ),
        nbformat.v4.new_code_cell("kb.create('text', 'Written by a kernel')\nprint('written')"),
    ]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    nbformat.write(notebook, lab.root / "kernel.ipynb")
    sidebar = _open_sidebar(lab, lab_page, "kernel.ipynb")
    run_all_cells(lab_page)
    outputs = lab_page.locator(".jp-OutputArea-output")
    _eventually(lambda: "written" in " ".join(outputs.all_inner_texts()), 60)
    assert "RemoteKnowledgeBase" in outputs.first.inner_text()  # the service, not a lock
    _row(sidebar, "Written by a kernel").wait_for(timeout=2_000)


def test_the_commands_are_in_the_palette(lab: Lab, lab_page: Any) -> None:
    page = lab_page
    sidebar = _open_sidebar(lab, page)
    palette = open_palette(page, "NodeSpace")
    labels = palette.locator(".lm-CommandPalette-itemLabel").all_inner_texts()
    assert {"NodeSpace: Open sidebar", "NodeSpace: New note", "NodeSpace: Search"} <= set(labels)
    palette.locator("input").fill("NodeSpace: Search")
    page.keyboard.press("Enter")  # runs the first (active) match
    _eventually(
        lambda: page.evaluate("document.activeElement?.classList.contains('ns-search-input')")
    )
    assert sidebar.is_visible()


def test_the_sidebar_reconnects_after_the_service_restarts(
    lab: Lab, lab_page: Any, remote: RemoteKnowledgeBase
) -> None:
    sidebar = _open_sidebar(lab, lab_page)
    runtime = runtime_file(lab.kb_path, lab.service_runtime)
    before = read_info(runtime)
    assert before is not None
    os.kill(before.pid, signal.SIGKILL)
    sidebar.locator(".ns-live-off").wait_for(timeout=10_000)

    # The server extension starts a new service; the feed resumes after the last seq
    # it saw, so a write made before or after it reconnects shows up all the same.
    _eventually(lambda: (read_info(runtime) or before).pid != before.pid, timeout=60)
    after = read_info(runtime)
    assert after is not None
    with RemoteKnowledgeBase(after) as client:
        client.create("text", "Written after the restart")
    _row(sidebar, "Written after the restart").wait_for(timeout=15_000)
    sidebar.locator(".ns-live-on").wait_for(timeout=15_000)


def test_the_outline_works_from_the_keyboard(
    lab: Lab, lab_page: Any, remote: RemoteKnowledgeBase
) -> None:
    page = lab_page
    sidebar = _open_sidebar(lab, page)
    open_palette(page, "NodeSpace: New note")
    page.keyboard.press("Enter")
    _eventually(
        lambda: page.evaluate("document.activeElement?.classList.contains('ns-create-input')")
    )
    page.keyboard.type("Keyboard note")
    page.keyboard.press("Enter")
    _row(sidebar, "Keyboard note").wait_for()
    [node] = [n for n in remote.children(None) if n.title == "Keyboard note"]

    # Enter renames the focused row; Escape leaves the title as it was.
    start_rename(page, sidebar, "Keyboard note")
    page.keyboard.type("Typed title")
    page.keyboard.press("Enter")
    _row(sidebar, "Typed title").wait_for()
    _eventually(lambda: remote.get(node.id).title == "Typed title")
    start_rename(page, sidebar, "Typed title")
    page.keyboard.type("Not kept")
    page.keyboard.press("Escape")
    _row(sidebar, "Typed title").wait_for()
    assert remote.get(node.id).title == "Typed title"

    # The Delete key deletes; the Undo button brings it back.
    focus_row(page, sidebar, "Typed title")
    page.keyboard.press("Delete")
    _row(sidebar, "Typed title").wait_for(state="detached")
    _eventually(lambda: remote.get(node.id).status == "deleted")
    sidebar.locator(".ns-undo-button").click()
    _row(sidebar, "Typed title").wait_for()
    assert remote.get(node.id).status == "active"

    # Entries typed under Today go to today's journal page.
    sidebar.locator(".ns-today-input").fill("Written today")
    sidebar.locator(".ns-today-input").press("Enter")
    sidebar.locator(".ns-entry", has_text="Written today").wait_for()
    assert "Written today" in [n.title for n in remote.children(remote.journal().id)]

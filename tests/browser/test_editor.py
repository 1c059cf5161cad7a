"""Node editors, the selected node's tags and backlinks, the outline's context menu,
drag and drop, settings and live queries inserted into notebooks, in a real JupyterLab.

Python writes through the same service as the page (`RemoteKnowledgeBase` on the
lab's runtime file), so "someone else" is a Python client here.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import nbformat
import pytest

from nodespace_lab.service.client import RemoteKnowledgeBase

from .conftest import Lab
from .sidebar_helpers import (
    connect_remote,
    context_menu,
    eventually,
    open_palette,
    open_sidebar,
    row,
    settle,
    start_rename,
)

# Rendering this would run script if the preview let markup through.
XSS = (
    "Safe **bold** text.\n\n"
    "<script>window.__nsPwned = 'script'</script>\n\n"
    '<img src="x" onerror="window.__nsPwned = \'onerror\'">\n\n'
    "[a link](javascript:window.__nsPwned='href')\n\n"
    "End of the payload."
)


@pytest.fixture
def remote(lab: Lab) -> Iterator[RemoteKnowledgeBase]:
    client = connect_remote(lab)
    yield client
    client.close()


def _editor(page: Any, node_id: str) -> Any:
    editor = page.locator(f".ns-editor[data-id='{node_id}']")
    editor.wait_for(timeout=10_000)
    return editor


def _state(editor: Any, state: str) -> None:
    editor.page.wait_for_function(
        "([el, state]) => el.dataset.state === state",
        arg=[editor.element_handle(), state],
        timeout=10_000,
    )


def _value(page: Any, locator: Any, expected: str) -> None:
    eventually(lambda: locator.input_value() == expected)


def test_a_node_opens_in_an_editor_saves_and_follows_python(
    lab: Lab, lab_page: Any, remote: RemoteKnowledgeBase
) -> None:
    page = lab_page
    node = remote.create("text", "Editor note", "Hello **world**")
    sidebar = open_sidebar(lab, page)

    # A click on the title opens it in the main area, with a rendered preview.
    row(sidebar, "Editor note").locator(".ns-title").click()
    editor = _editor(page, node.id)
    assert editor.locator(".ns-editor-title").input_value() == "Editor note"
    assert editor.locator(".ns-editor-content").input_value() == "Hello **world**"
    editor.locator(".ns-editor-preview strong", has_text="world").wait_for()
    panel = page.locator(".ns-editor-panel", has=editor).get_attribute("id")
    tab = page.locator(f".lm-DockPanel-tabBar .lm-TabBar-tab[data-id='{panel}']")
    assert tab.inner_text() == "Editor note"

    # No unsaved edits: a change made in Python shows up live.
    remote.update(node.id, content="Changed in *Python*")
    _value(page, editor.locator(".ns-editor-content"), "Changed in *Python*")
    editor.locator(".ns-editor-preview em", has_text="Python").wait_for()

    # Edit and save with Ctrl+S: written with the version loaded.
    editor.locator(".ns-editor-title").fill("Edited title")
    editor.locator(".ns-editor-content").fill("Typed in the **browser**")
    _state(editor, "dirty")
    assert "jp-mod-dirty" in (tab.get_attribute("class") or "")
    editor.locator(".ns-editor-content").press("Control+s")
    _state(editor, "saved")
    saved = remote.get(node.id)
    assert (saved.title, saved.content) == ("Edited title", "Typed in the **browser**")
    assert saved.version == node.version + 2
    row(sidebar, "Edited title").wait_for()
    assert "jp-mod-dirty" not in (tab.get_attribute("class") or "")

    # Opening it again (here from the palette, with the row selected) reuses the tab.
    open_palette(page, "NodeSpace: Open node")
    page.keyboard.press("Enter")
    assert page.locator(f".ns-editor[data-id='{node.id}']").count() == 1


def test_the_preview_does_not_run_markup_from_the_content(
    lab: Lab, lab_page: Any, remote: RemoteKnowledgeBase
) -> None:
    page = lab_page
    node = remote.create("text", "Payload note", XSS)
    sidebar = open_sidebar(lab, page)
    row(sidebar, "Payload note").locator(".ns-title").click()
    editor = _editor(page, node.id)
    preview = editor.locator(".ns-editor-preview")
    preview.locator("strong", has_text="bold").wait_for()
    preview.get_by_text("End of the payload.").wait_for()

    # Typed in the editor (not saved) it is just as inert.
    editor.locator(".ns-editor-content").fill(XSS.replace("End of", "Typed end of"))
    preview.get_by_text("Typed end of the payload.").wait_for()
    page.wait_for_timeout(300)  # time for an image error handler to run, if there were one
    assert page.evaluate("window.__nsPwned") is None
    assert preview.locator("script, [onerror], a[href^='javascript']").count() == 0
    assert page.locator("[onerror]").count() == 0
    if preview.locator("a", has_text="a link").count():
        preview.locator("a", has_text="a link").click(modifiers=["Control"])
    assert page.evaluate("window.__nsPwned") is None


def test_a_conflicting_save_shows_both_versions(
    lab: Lab, lab_page: Any, remote: RemoteKnowledgeBase
) -> None:
    page = lab_page
    node = remote.create("text", "Contested note", "original")
    sidebar = open_sidebar(lab, page)
    row(sidebar, "Contested note").locator(".ns-title").click()
    editor = _editor(page, node.id)
    content = editor.locator(".ns-editor-content")
    _value(page, content, "original")

    # I edit; meanwhile Python changes the node. Saving shows both, writes nothing.
    content.fill("mine")
    remote.update(node.id, content="theirs", expected_version=node.version)
    editor.locator(".ns-editor-banner").wait_for()  # told before saving, too
    content.press("Control+s")
    _state(editor, "conflict")
    conflict = editor.locator(".ns-conflict")
    assert conflict.locator(".ns-conflict-theirs .ns-conflict-content").inner_text() == "theirs"
    assert conflict.locator(".ns-conflict-mine .ns-conflict-content").inner_text() == "mine"
    assert remote.get(node.id).content == "theirs"

    # Reload theirs: my edit is dropped, theirs is loaded.
    conflict.locator(".ns-reload-theirs").click()
    _state(editor, "saved")
    assert content.input_value() == "theirs"
    assert conflict.is_hidden()

    # Again, and this time overwrite with mine (their version is what gets replaced).
    content.fill("mine again")
    theirs = remote.update(node.id, content="theirs again")
    content.press("Control+s")
    _state(editor, "conflict")
    assert "theirs again" in conflict.locator(".ns-conflict-theirs").inner_text()
    conflict.locator(".ns-overwrite").click()
    _state(editor, "saved")
    final = remote.get(node.id)
    assert final.content == "mine again"
    assert final.version == theirs.version + 1

    # Closing with unsaved edits asks first; Discard closes without writing.
    content.fill("never saved")
    panel = page.locator(".ns-editor-panel", has=editor).get_attribute("id")
    page.locator(f".lm-TabBar-tab[data-id='{panel}'] .lm-TabBar-tabCloseIcon").click()
    dialog = page.locator(".jp-Dialog", has_text="Unsaved changes")
    dialog.locator("button", has_text="Discard").click()
    editor.wait_for(state="detached")
    assert remote.get(node.id).content == "mine again"


def test_the_selected_node_shows_tags_and_backlinks(
    lab: Lab, lab_page: Any, remote: RemoteKnowledgeBase
) -> None:
    page = lab_page
    target = remote.create("text", "Backlinked target", tags=["idea"])
    source = remote.create("text", "Linking source", "See [[Backlinked target]].")
    other = remote.create("text", "Another idea", tags=["idea"])
    sidebar = open_sidebar(lab, page)
    row(sidebar, "Backlinked target").click(position={"x": 5, "y": 5})  # select, no title

    details = sidebar.locator(".ns-details")
    details.locator(".ns-details-title", has_text="Backlinked target").wait_for()
    details.locator(".ns-tag", has_text="#idea").wait_for()
    assert details.locator(".ns-backlink").all_inner_texts() == ["Linking source"]

    # Live: a new link from Python shows up under Backlinks.
    remote.create("text", "Second source", "Also [[Backlinked target]].")
    details.locator(".ns-backlink", has_text="Second source").wait_for(timeout=5_000)

    # A tag lists the nodes carrying it; each opens.
    details.locator(".ns-tag", has_text="#idea").click()
    tagged = details.locator(".ns-tagged")
    tagged.filter(has_text="Another idea").wait_for()
    assert set(tagged.all_inner_texts()) == {"Backlinked target", "Another idea"}
    tagged.filter(has_text="Another idea").click()
    _editor(page, other.id)

    # A backlink opens its source.
    row(sidebar, "Backlinked target").click(position={"x": 5, "y": 5})
    details.locator(".ns-backlink", has_text="Linking source").click()
    editor = _editor(page, source.id)

    # In the preview, [[Backlinked target]] is a link that opens the target.
    editor.locator(".ns-editor-preview .ns-wikilink", has_text="Backlinked target").click()
    _editor(page, target.id)


def test_the_context_menu_renames_adds_deletes_and_undoes(
    lab: Lab, lab_page: Any, remote: RemoteKnowledgeBase
) -> None:
    page = lab_page
    node = remote.create("text", "Menu note")
    sidebar = open_sidebar(lab, page)
    row(sidebar, "Menu note").wait_for()

    context_menu(page, row(sidebar, "Menu note"), "New child")
    sidebar.locator(".ns-new-child-input").fill("Child from the menu")
    sidebar.locator(".ns-new-child-input").press("Enter")
    nested = f".ns-item[data-id='{node.id}'] .ns-row"
    sidebar.locator(nested, has_text="Child from the menu").wait_for()
    assert [c.title for c in remote.children(node.id)] == ["Child from the menu"]

    start_rename(page, sidebar, "Menu note", menu=True)
    page.keyboard.press("Control+A")
    page.keyboard.type("Renamed from the menu")
    page.keyboard.press("Enter")
    eventually(lambda: remote.get(node.id).title == "Renamed from the menu")

    context_menu(page, row(sidebar, "Renamed from the menu"), "Delete")
    row(sidebar, "Renamed from the menu").wait_for(state="detached")
    assert remote.get(node.id).status == "deleted"
    sidebar.locator(".ns-undo-button").click()
    row(sidebar, "Renamed from the menu").wait_for()
    eventually(lambda: remote.get(node.id).status == "active")
    assert [c.status for c in remote.children(node.id)] == ["active"]

    context_menu(page, row(sidebar, "Renamed from the menu"), "Open")
    editor = _editor(page, node.id)
    eventually(
        lambda: bool(page.evaluate("document.activeElement?.closest('.ns-editor') !== null"))
    )
    assert editor.locator(".ns-editor-title").input_value() == "Renamed from the menu"


def test_drag_and_drop_and_alt_arrows_move_nodes(
    lab: Lab, lab_page: Any, remote: RemoteKnowledgeBase
) -> None:
    page = lab_page
    first = remote.create("text", "Drag first")
    second = remote.create("text", "Drag second")
    third = remote.create("text", "Drag third")
    sidebar = open_sidebar(lab, page)
    row(sidebar, "Drag third").wait_for()
    settle(sidebar)
    # Nodes without children show a dot, not an expand arrow.
    assert row(sidebar, "Drag first").locator(".ns-toggle").inner_text() == "•"

    def top() -> list[str]:
        return [n.id for n in remote.children(None)]

    # Onto the middle of a row: the node becomes its last child.
    row(sidebar, "Drag third").drag_to(row(sidebar, "Drag first"))
    eventually(lambda: remote.get(third.id).parent_id == first.id)
    nested = f".ns-item[data-id='{first.id}'] .ns-row[data-id='{third.id}']"
    sidebar.locator(nested).wait_for()
    assert row(sidebar, "Drag first").locator(".ns-toggle").inner_text() == "▾"
    settle(sidebar)

    # Onto the top edge of a row: just before it.
    target = row(sidebar, "Drag first")
    row(sidebar, "Drag second").drag_to(target, target_position={"x": 30, "y": 2})
    eventually(lambda: top().index(second.id) == top().index(first.id) - 1)
    settle(sidebar)

    # Alt+Down / Alt+Up move among the siblings.
    row(sidebar, "Drag second").click(position={"x": 5, "y": 5})
    page.keyboard.press("Alt+ArrowDown")
    eventually(lambda: top().index(second.id) == top().index(first.id) + 1)
    page.keyboard.press("Alt+ArrowUp")
    eventually(lambda: top().index(second.id) == top().index(first.id) - 1)


def _write_notebook(lab: Lab, name: str) -> None:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell("print('first cell')")]
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(notebook, lab.root / name)


def test_a_live_query_goes_into_the_notebook_and_stays_live(
    lab: Lab, lab_page: Any, remote: RemoteKnowledgeBase
) -> None:
    page = lab_page
    parent = remote.create("text", "Live parent")
    remote.create("text", "First live child", parent=parent.id)
    remote.create("task", "Live query task")
    _write_notebook(lab, "live.ipynb")
    sidebar = open_sidebar(lab, page, "live.ipynb")
    page.locator("#jp-main-statusbar", has_text="Idle").wait_for(timeout=60_000)

    context_menu(page, row(sidebar, "Live parent"), "Insert live query into notebook and run it")
    cells = page.locator(".jp-Notebook .jp-Cell")
    eventually(lambda: cells.count() == 2)
    assert f'kb.find().under("{parent.id}")' in cells.nth(1).locator(".jp-InputArea").inner_text()
    table = cells.nth(1).locator(".ns-table")
    table.locator("td[data-column=title]", has_text="First live child").wait_for(timeout=60_000)

    # A change made in Python reaches the widget in the notebook.
    remote.create("text", "Second live child", parent=parent.id)
    table.locator("td[data-column=title]", has_text="Second live child").wait_for(timeout=15_000)

    # The Tasks section's menu inserts the task list (here without running it).
    tasks = sidebar.locator(".ns-tasks-section")
    tasks.locator(".ns-task", has_text="Live query task").wait_for()
    context_menu(page, tasks.locator(".ns-section-title"), "Insert live task list into notebook")
    eventually(lambda: cells.count() == 3)
    source = cells.nth(2).locator(".jp-InputArea").inner_text()
    assert "TaskList.of(ns.connect())" in source


def _research_nodes(lab: Lab) -> list[Any]:
    """The top-level nodes of the second knowledge base, read through its service."""
    with connect_remote(lab, (lab.root / "projects" / "research").resolve()) as other:
        return other.children(None)


def _settings_form(page: Any) -> Any:
    page.keyboard.press("Control+,")  # the settings editor
    page.locator(".jp-PluginList-entry", has_text="NodeSpace").first.click()
    return page.locator(".jp-SettingsForm", has_text="Knowledge base").first


def test_settings_choose_the_sections(lab: Lab, lab_page: Any, remote: RemoteKnowledgeBase) -> None:
    page = lab_page
    for title in ("Limited task 1", "Limited task 2"):
        remote.create("task", title, due="2000-01-01")  # overdue: first in the list
    sidebar = open_sidebar(lab, page)
    form = _settings_form(page)

    # Hiding a section hides it at once; showing it again brings it back, loaded.
    tasks = sidebar.locator(".ns-tasks-section")
    assert tasks.is_visible()
    checkbox = form.locator("input[id$='_sections_tasks']")
    checkbox.uncheck()
    tasks.wait_for(state="hidden", timeout=10_000)
    checkbox.check()
    tasks.wait_for(state="visible", timeout=10_000)
    tasks.locator(".ns-task, .ns-empty").first.wait_for()

    # The number of tasks shown follows the setting.
    shown = tasks.locator(".ns-task")
    eventually(lambda: shown.count() >= 2)
    limit = form.locator("input[id$='_tasksLimit']")
    limit.fill("1")
    limit.press("Tab")
    eventually(lambda: shown.count() == 1)
    limit.fill("50")
    limit.press("Tab")
    eventually(lambda: shown.count() >= 2)


def test_settings_switch_the_knowledge_base(
    lab: Lab, lab_page: Any, remote: RemoteKnowledgeBase
) -> None:
    page = lab_page
    remote.create("text", "Lives in the first knowledge base")
    sidebar = open_sidebar(lab, page)
    row(sidebar, "Lives in the first").wait_for()
    row(sidebar, "Lives in the first").locator(".ns-title").click()  # opens an editor
    page.locator(".ns-editor").first.wait_for()
    kb_name = sidebar.locator(".ns-kb-name")
    assert kb_name.inner_text() == lab.kb_path.name
    form = _settings_form(page)
    field = form.locator("input[id$='_knowledgeBase']")
    assert field.input_value() == ""
    try:
        # A new folder under the Jupyter root becomes a knowledge base; the sidebar,
        # its feed and new kernels move to it, and the old one's editors close.
        field.fill("projects/research")
        field.press("Tab")
        eventually(lambda: kb_name.is_visible() and kb_name.inner_text() == "research", 60)
        sidebar.locator(".ns-live-on").wait_for(timeout=30_000)
        # The new knowledge base holds at most today's journal page (the sidebar makes it).
        sidebar.locator(".ns-today-list, .ns-today").first.wait_for()
        eventually(lambda: row(sidebar, "Lives in the first").count() == 0)
        assert {n.kind for n in _research_nodes(lab)} <= {"date"}
        assert page.locator(".ns-editor").count() == 0
        sidebar.locator(".ns-create input").fill("Research question")
        sidebar.locator(".ns-create input").press("Enter")
        row(sidebar, "Research question").wait_for()
        assert "Research question" in {n.title for n in _research_nodes(lab)}
        assert not remote.search("Research question")  # not written to the first one

        # A path outside the Jupyter root is refused; the sidebar stays where it is.
        field.fill("/etc")
        field.press("Tab")
        sidebar.locator(".ns-note", has_text="Knowledge base not changed").wait_for()
        assert "outside the Jupyter root" in sidebar.locator(".ns-note").inner_text()
        assert kb_name.inner_text() == "research"
    finally:
        field.fill("")
        field.press("Tab")
    eventually(lambda: kb_name.is_visible() and kb_name.inner_text() == lab.kb_path.name, 60)
    row(sidebar, "Lives in the first").wait_for()
    assert row(sidebar, "Research question").count() == 0

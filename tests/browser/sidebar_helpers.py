"""Helpers of the sidebar and editor tests: a Python client of the lab's service, the
sidebar on a page, waiting for a condition."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nodespace_lab.service.client import RemoteKnowledgeBase
from nodespace_lab.service.runtime import read_info, runtime_file

from .conftest import Lab


def connect_remote(lab: Lab, kb_path: Path | None = None) -> RemoteKnowledgeBase:
    """A Python client of the service the lab's server extension runs (for its
    knowledge base, or for `kb_path`, one chosen in the settings)."""
    deadline = time.monotonic() + 60
    info = None
    while info is None and time.monotonic() < deadline:
        info = read_info(runtime_file(kb_path or lab.kb_path, lab.service_runtime))
        time.sleep(0.1)
    assert info is not None, "the server extension did not start the service"
    return RemoteKnowledgeBase(info)


def eventually(check: Callable[[], bool], timeout: float = 10) -> None:
    """Wait until `check()` is true; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"{check} stayed false for {timeout} s"
        time.sleep(0.05)


def open_sidebar(lab: Lab, page: Any, path: str = "") -> Any:
    """Open JupyterLab (at `path`, a file under /lab/tree, if given) and the sidebar, live."""
    if path:
        page.goto(lab.page_url(path))
    else:
        page.goto(f"{lab.url}/lab?reset&token={lab.token}")
    page.locator(".jp-SideBar [data-id='nodespace-sidebar']").click(timeout=60_000)
    sidebar = page.locator("#nodespace-sidebar")
    sidebar.locator(".ns-live-on").wait_for(timeout=60_000)
    # The first loads and the feed's catch-up re-render the outline: a click that lands
    # in the middle of one selects a row that is then replaced.
    settle(sidebar)
    return sidebar


def row(sidebar: Any, title: str) -> Any:
    """The outline row whose title contains `title`."""
    return sidebar.locator(".ns-row").filter(has=sidebar.page.locator(".ns-title", has_text=title))


def focus_row(page: Any, sidebar: Any, title: str) -> None:
    """Focus a row; the outline may re-render meanwhile (a change arriving), so retry."""

    def focused() -> bool:
        row(sidebar, title).focus()
        return bool(
            page.evaluate(
                "(t) => document.activeElement?.classList.contains('ns-row') && "
                "document.activeElement.textContent.includes(t)",
                title,
            )
        )

    eventually(focused)


def context_menu(page: Any, target: Any, item: str) -> None:
    """Right-click `target` and choose the context-menu item labelled `item`."""
    target.click(button="right")
    label = page.locator(".lm-Menu-itemLabel", has_text=re.compile(f"^{re.escape(item)}$"))
    page.locator(".lm-Menu .lm-Menu-item", has=label).first.click()


def settle(sidebar: Any) -> None:
    """Wait until the outline has no reload or move under way (twice, 150 ms apart: a
    change from the feed can start one right after)."""
    tree = sidebar.locator(".ns-tree")

    def idle() -> bool:
        if tree.get_attribute("aria-busy") != "false":
            return False
        sidebar.page.wait_for_timeout(150)
        return tree.get_attribute("aria-busy") == "false"

    eventually(idle)


def start_rename(page: Any, sidebar: Any, title: str, *, menu: bool = False) -> None:
    """Open the title field of the row titled `title` (Enter, or Rename in its context
    menu) and check that it keeps the focus for a moment.

    The field used to close again at once when a closing menu or palette gave the
    focus back (fixed: `bindTitleField` in the sidebar). Rarely, on a loaded CI
    machine, the field still does not open on the first Enter right after the note
    was created (cause not found; see the issue note): that case is tried again,
    and printed, rather than hidden.
    """
    has_field = "() => document.activeElement?.classList.contains('ns-title-input')"
    for attempt in range(3):
        if menu:
            context_menu(page, row(sidebar, title), "Rename")
        else:
            focus_row(page, sidebar, title)
            page.keyboard.press("Enter")
        try:
            page.wait_for_function(has_field, timeout=3_000)
        except Exception:  # playwright's TimeoutError: the field did not open
            print(f"start_rename: the title field of {title!r} did not open (try {attempt + 1})")
            continue
        page.wait_for_timeout(300)
        assert page.evaluate(has_field), f"the title field of {title!r} closed again at once"
        return
    raise AssertionError(f"the title field of {title!r} did not open in 3 tries")


def run_all_cells(page: Any) -> None:
    """Run every cell of the open notebook once its kernel is idle."""
    page.locator(".jp-Notebook").first.wait_for()
    # The status bar names the kernel state; cells run before "Idle" would be lost.
    page.locator("#jp-main-statusbar", has_text="Idle").wait_for(timeout=60_000)
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()


def open_palette(page: Any, text: str) -> Any:
    """Open JupyterLab's command palette and type `text`; returns the palette.

    The shortcut does not always reach JupyterLab from the bare <body> a fresh
    page has focused: when the palette does not show, the sidebar's heading is
    clicked (focusing JupyterLab) and the shortcut pressed again. Not clicking
    first keeps the focus where the test left it, which the palette restores.
    """
    palette = page.locator(".lm-CommandPalette")
    field = palette.locator("input")
    for attempt in range(5):
        if attempt:
            page.locator("#nodespace-sidebar .ns-heading").click()
        page.keyboard.press("Control+Shift+C")
        try:
            field.wait_for(state="visible", timeout=2_000)
            break
        except Exception:  # playwright's TimeoutError: press again
            continue
    field.fill(text)
    return palette

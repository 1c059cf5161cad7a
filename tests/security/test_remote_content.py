"""Remote content in a real JupyterLab: opening a note must not tell any server.

A local "pixel" server counts the requests for each path. Notes point at it through
the ways a note can ask the browser for a URL (Markdown images, raw HTML images,
srcset, media posters, CSS, SVG, prefetch links, plain links). Shown in the node
editor's preview and in the widgets that render note content (search and chat), no
request may arrive by default; "Load images" loads the images of that view and
nothing else; the `loadRemoteImages` setting loads the editor's images unasked (the
widgets live in notebook outputs and do not read JupyterLab's settings: they keep
asking).

One lab and one page serve the module; the tests run in order.
"""

from __future__ import annotations

import base64
import json
import threading
import urllib.parse
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from nodespace_lab.service.client import RemoteKnowledgeBase

from ..browser.conftest import Lab, start_lab
from ..browser.sidebar_helpers import connect_remote, eventually, open_sidebar, run_all_cells

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII="
)
# Long enough for an image, a poster or a prefetch that was going to be requested.
QUIET_MS = 1_200
# Vectors whose request is an image the user may choose to load, per renderer: the
# editor renders raw HTML (then sanitises it); the widgets' Markdown has raw HTML off.
EDITOR_IMAGES = {"md.png", "ref.png", "raw.png"}
WIDGET_IMAGES = {"md.png", "ref.png"}
SETTINGS_FILE = ("nodespace-lab", "sidebar.jupyterlab-settings")  # plugin nodespace-lab:sidebar


class Pixels:
    """A server on loopback that answers every GET with a 1x1 PNG and counts paths."""

    def __init__(self) -> None:
        self.hits: Counter[str] = Counter()
        lock = threading.Lock()
        hits = self.hits

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with lock:
                    hits[self.path] += 1
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.send_header("Content-Length", str(len(PNG)))
                self.send_header("Cache-Control", "no-store")  # every load is a request
                self.end_headers()
                self.wfile.write(PNG)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def paths(self, phase: str) -> set[str]:
        """The file names requested under /`phase`/."""
        prefix = f"/{phase}/"
        return {p.removeprefix(prefix) for p in list(self.hits) if p.startswith(prefix)}


def note_content(pixels: Pixels, phase: str) -> str:
    """A note that asks for /`phase`/<vector> in every way we know of."""
    base = f"{pixels.url}/{phase}"
    svg = f"<svg xmlns='http://www.w3.org/2000/svg'><image href='{base}/datasvg.png'/></svg>"
    data_svg = "data:image/svg+xml," + urllib.parse.quote(svg)
    dot = "data:image/png;base64," + base64.b64encode(PNG).decode()
    return "\n\n".join(
        [
            f"pixelmark {phase}",
            f"![md]({base}/md.png)",
            f"![ref][pix]\n\n[pix]: {base}/ref.png",
            f'<img src="{base}/raw.png" alt="raw">',
            f'<img src="{dot}" srcset="{base}/srcset.png 2x" alt="srcset">',
            f'<picture><source srcset="{base}/source.png"><img src="{dot}" alt="pic"></picture>',
            f'<video poster="{base}/poster.png" src="{base}/video.mp4"></video>',
            f'<div style="background-image: url({base}/css.png)">styled</div>',
            f"<style>@import url({base}/import.css); p {{ background: url({base}/style.png) }}"
            "</style>",
            f'<link rel="prefetch" href="{base}/prefetch">',
            f'<link rel="stylesheet" href="{base}/x.css">',
            f'<svg><image href="{base}/svg.png" width="1" height="1"/></svg>',
            f"![datasvg]({data_svg})",
            f'<table background="{base}/bg.png"><tr><td>cell</td></tr></table>',
            f'<input type="image" src="{base}/input.png">',
            f"[a link]({base}/link) <{base}/autolink>",
            f"pixelend {phase}",
        ]
    )


@pytest.fixture(scope="module")
def pixels() -> Iterator[Pixels]:
    server = Pixels()
    yield server
    server.server.shutdown()
    server.server.server_close()


@pytest.fixture(scope="module")
def remote_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    with start_lab(tmp_path_factory.mktemp("remote-lab")) as lab:
        yield lab


@pytest.fixture(scope="module")
def notes(remote_lab: Lab, pixels: Pixels) -> dict[str, str]:
    """One note per phase (fresh URLs, so nothing is served from a cache): phase -> id."""
    client: RemoteKnowledgeBase = connect_remote(remote_lab)
    try:
        phases = ("editor", "search", "chat", "setting-editor", "setting-search")
        return {p: client.create("text", f"Pixel {p}", note_content(pixels, p)).id for p in phases}
    finally:
        client.close()


@pytest.fixture(scope="module")
def page(chromium: Any, remote_lab: Lab, pixels: Pixels) -> Iterator[Any]:
    """One page; requests to anything but the lab and the pixel server are refused."""
    context = chromium.new_context(viewport={"width": 1400, "height": 1000})
    allowed = (remote_lab.url, pixels.url)
    context.route(lambda url: not url.startswith(allowed), lambda route: route.abort())
    page = context.new_page()
    yield page
    context.close()


def _open_in_editor(page: Any, sidebar: Any, note: str, phase: str) -> Any:
    """Open `note` from the outline; returns its editor once the preview shows it all."""
    sidebar.locator(f".ns-row[data-id='{note}'] .ns-title").dispatch_event("click")
    editor = page.locator(f".ns-editor[data-id='{note}']")
    editor.locator(".ns-editor-preview").get_by_text(f"pixelend {phase}").wait_for(timeout=15_000)
    return editor


def _quiet(page: Any) -> None:
    page.wait_for_timeout(QUIET_MS)


def test_the_editor_preview_loads_nothing_until_asked_then_only_images(
    remote_lab: Lab, page: Any, pixels: Pixels, notes: dict[str, str]
) -> None:
    sidebar = open_sidebar(remote_lab, page)
    editor = _open_in_editor(page, sidebar, notes["editor"], "editor")
    _quiet(page)
    assert pixels.paths("editor") == set()
    note = editor.locator(".ns-remote-note")
    assert note.is_visible()
    assert f"({len(EDITOR_IMAGES)})" in note.inner_text()

    editor.locator(".ns-remote-load").click()
    eventually(lambda: pixels.paths("editor") >= EDITOR_IMAGES)
    _quiet(page)
    assert pixels.paths("editor") == EDITOR_IMAGES
    assert editor.locator(".ns-editor-preview img[src^='http']").count() == len(EDITOR_IMAGES)


def _write_widget_notebook(lab: Lab, name: str, search_phase: str, chat_note: str | None) -> None:
    setup = "import nodespace_lab as ns\nfrom nodespace_lab.widgets import ChatWidget, SearchBox\n"
    setup += "kb = ns.connect()"
    cells = [setup, f"SearchBox(kb, query='pixelmark {search_phase}', limit=5)"]
    if chat_note:
        cells.append(f"chat = ChatWidget(kb, save=False)\nchat.opened = {chat_note!r}\nchat")
    (lab.root / name).write_text(json.dumps(_notebook(cells)))


def _notebook(cells: list[str]) -> dict[str, Any]:
    """A notebook (format 4) of code cells `cells`, for the Python 3 kernel."""
    code: list[dict[str, Any]] = [
        {"cell_type": "code", "id": f"c{n}", "metadata": {}, "source": c, "outputs": []}
        | {"execution_count": None}
        for n, c in enumerate(cells)
    ]
    kernel = {"name": "python3", "display_name": "Python 3"}
    return {"cells": code, "metadata": {"kernelspec": kernel}, "nbformat": 4, "nbformat_minor": 5}


def _show_search_preview(page: Any, phase: str) -> Any:
    root = page.locator(".jp-OutputArea-output .ns-search")
    root.locator("li[data-id]").first.click(timeout=60_000)
    root.locator(".ns-preview").get_by_text(f"pixelend {phase}").wait_for(timeout=15_000)
    return root


def test_the_widgets_load_nothing_until_asked_then_only_images(
    remote_lab: Lab, page: Any, pixels: Pixels, notes: dict[str, str]
) -> None:
    _write_widget_notebook(remote_lab, "pixels.ipynb", "search", notes["chat"])
    page.goto(remote_lab.page_url("pixels.ipynb"))
    run_all_cells(page)
    search = _show_search_preview(page, "search")
    chat = page.locator(".jp-OutputArea-output .ns-chat")
    chat.locator(".ns-preview").get_by_text("pixelend chat").wait_for(timeout=30_000)
    _quiet(page)
    assert (pixels.paths("search"), pixels.paths("chat")) == (set(), set())

    for phase, root in (("search", search), ("chat", chat)):
        assert f"({len(WIDGET_IMAGES)})" in root.locator(".ns-remote-note").inner_text()
        root.locator(".ns-remote-load").click()
        eventually(lambda p=phase: pixels.paths(p) >= WIDGET_IMAGES)  # type: ignore[misc]
    _quiet(page)
    assert (pixels.paths("search"), pixels.paths("chat")) == (WIDGET_IMAGES, WIDGET_IMAGES)


def test_the_setting_loads_the_editors_images_unasked_and_only_images(
    remote_lab: Lab, page: Any, pixels: Pixels, notes: dict[str, str]
) -> None:
    # The server reads the settings file on each request: a reload picks it up.
    assert remote_lab.settings_dir is not None
    path = remote_lab.settings_dir.joinpath(*SETTINGS_FILE)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"loadRemoteImages": True}))

    sidebar = open_sidebar(remote_lab, page)
    editor = _open_in_editor(page, sidebar, notes["setting-editor"], "setting-editor")
    eventually(lambda: pixels.paths("setting-editor") >= EDITOR_IMAGES)
    _quiet(page)
    assert pixels.paths("setting-editor") == EDITOR_IMAGES
    assert editor.locator(".ns-remote-note").is_hidden()

    # The widgets are notebook outputs: they keep asking, setting or not.
    _write_widget_notebook(remote_lab, "pixels-setting.ipynb", "setting-search", None)
    page.goto(remote_lab.page_url("pixels-setting.ipynb"))
    run_all_cells(page)
    search = _show_search_preview(page, "setting-search")
    _quiet(page)
    assert pixels.paths("setting-search") == set()
    assert search.locator(".ns-remote-load").is_visible()

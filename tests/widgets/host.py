"""Run a widget's real ESM in headless Chromium against its real Python object.

`WidgetHost` plays the part of Jupyter's widget manager, so the browser tests
need no notebook server: it renders the widget's shipped module and CSS in a
page with a small model object that has anywidget's model interface (get, set,
save_changes, send, on, off), and relays messages both ways:

- what the page sends (`save_changes` updates, `model.send` messages) goes to
  the Python widget through ipywidgets' own message handler;
- what the Python widget sends (state updates, custom messages; also from the
  live-query worker thread) goes to the page's model.

`settle()` relays until both sides are quiet and live queries have re-run.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from pathlib import Path
from typing import Any

from ipywidgets import Widget

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
_CANDIDATES = (
    "chromium",
    "chromium-browser",
    "google-chrome",
    "/Applications/Google Chrome.app/Contents/MacOS/Google Chrome",
    "/Applications/Chromium.app/Contents/MacOS/Chromium",
)

# The fake model: anywidget's model interface over a plain object.
_PAGE_SETUP = """
() => {
  class HostModel {
    constructor(id, state) {
      this.id = id; this.state = { ...state }; this.listeners = new Map(); this.dirty = new Set();
    }
    get(name) { return this.state[name]; }
    set(name, value) {
      const changes = typeof name === "object" ? name : { [name]: value };
      this.apply(changes, true);
    }
    apply(changes, fromPage) {
      const changed = [];
      for (const [k, v] of Object.entries(changes)) {
        if (JSON.stringify(this.state[k]) === JSON.stringify(v)) continue;
        this.state[k] = v; changed.push(k);
        if (fromPage) this.dirty.add(k);
      }
      for (const k of changed) this.trigger(`change:${k}`);
      if (changed.length) this.trigger("change");
    }
    save_changes() {
      if (!this.dirty.size) return;
      const state = {};
      for (const k of this.dirty) state[k] = this.state[k];
      this.dirty.clear();
      window.__ns.outbox.push({ model: this.id, method: "update", state });
    }
    send(content) { window.__ns.outbox.push({ model: this.id, method: "custom", content }); }
    on(events, cb) {
      for (const e of events.split(/\\s+/)) {
        if (!this.listeners.has(e)) this.listeners.set(e, []);
        this.listeners.get(e).push(cb);
      }
    }
    off(events, cb) {
      for (const e of (events ?? "").split(/\\s+/)) {
        const list = this.listeners.get(e) ?? [];
        this.listeners.set(e, cb ? list.filter((f) => f !== cb) : []);
      }
    }
    trigger(event, ...args) {
      for (const cb of [...(this.listeners.get(event) ?? [])]) cb(...args);
    }
  }
  window.__ns = { outbox: [], models: {}, cleanups: {}, errors: [], HostModel };
  window.addEventListener("error", (e) => window.__ns.errors.push(String(e.message)));
}
"""

_MOUNT = """
async ([id, esm, css, state]) => {
  const style = document.createElement("style");
  style.textContent = css;
  document.head.append(style);
  const url = URL.createObjectURL(new Blob([esm], { type: "text/javascript" }));
  const module = (await import(url)).default;
  const model = new window.__ns.HostModel(id, state);
  window.__ns.models[id] = model;
  if (module.initialize) await module.initialize({ model });
  const el = document.createElement("div");
  el.id = id;
  el.className = "ns-host";
  document.body.append(el);
  window.__ns.cleanups[id] = await module.render({ model, el });
}
"""

_DELIVER = """
([id, method, payload]) => {
  const model = window.__ns.models[id];
  if (method === "custom") model.trigger("msg:custom", payload, []);
  else model.apply(payload, false);
}
"""


def find_chromium() -> str:
    """Path of a Chromium or Chrome binary, or an AssertionError saying how to get one."""
    named = os.environ.get("NODESPACE_CHROMIUM")
    if named:
        return named
    for candidate in _CANDIDATES:
        found = shutil.which(candidate) or (candidate if Path(candidate).exists() else None)
        if found:
            return found
    raise AssertionError(
        "The browser tests need Chromium: install it (Debian: apt-get install -y chromium; "
        ".ci/run does this) or set NODESPACE_CHROMIUM to a Chrome/Chromium binary."
    )


class WidgetHost:
    """One page hosting any number of widgets; see the module docstring."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self._widgets: dict[str, Widget] = {}
        self._from_python: list[tuple[str, dict[str, Any]]] = []
        self._lock = threading.Lock()
        self.sent_bytes = 0  # JSON bytes Python sent to the page
        page.set_content("<!doctype html><html><head><meta charset='utf-8'></head><body></body>")
        page.evaluate(_PAGE_SETUP)

    def show(self, widget: Widget) -> Any:
        """Render `widget` in the page; returns a locator of its element."""
        model_id = widget.model_id
        self._widgets[model_id] = widget
        self._tap(widget)
        state = json.loads(json.dumps(widget.get_state(), default=str))
        self.page.evaluate(_MOUNT, [model_id, widget._esm, widget._css, state])
        self.settle()
        return self.page.locator(f"[id='{model_id}']")

    def hide(self, widget: Widget) -> None:
        """Remove the widget's view from the page, as clearing a cell's output does."""
        self.page.evaluate(
            "(id) => { window.__ns.cleanups[id]?.(); document.getElementById(id).remove(); }",
            widget.model_id,
        )
        self.settle()

    def _tap(self, widget: Widget) -> None:
        """Queue what the widget sends to the browser (from any thread)."""
        comm = widget.comm
        model_id = widget.model_id

        def send(data: Any = None, metadata: Any = None, buffers: Any = None) -> None:
            with self._lock:
                self.sent_bytes += len(json.dumps(data))
                self._from_python.append((model_id, data))

        comm.send = send

    def settle(self, timeout: float = 10.0) -> None:
        """Relay messages until neither side has anything left to say."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            moved = self._page_to_python() + self._python_to_page()
            for widget in self._widgets.values():
                kb = getattr(getattr(widget, "live", None), "kb", None) or getattr(
                    widget, "kb", None
                )
                if kb is not None and kb._live is not None:
                    kb.live_registry.flush()
                flush = getattr(widget, "flush", None)  # widgets following changes themselves
                if callable(flush):
                    flush()
            moved += self._python_to_page()
            if not moved:
                self.page.evaluate("() => new Promise(requestAnimationFrame)")
                if not self._pending_in_page() and not self._from_python:
                    return
        raise AssertionError("widget messages did not settle")

    def _pending_in_page(self) -> int:
        return int(self.page.evaluate("() => window.__ns.outbox.length"))

    def _page_to_python(self) -> int:
        messages = self.page.evaluate("() => window.__ns.outbox.splice(0)")
        for message in messages:
            widget = self._widgets[message["model"]]
            data: dict[str, Any] = {"method": message["method"]}
            if message["method"] == "update":
                data.update(state=message["state"], buffer_paths=[])
            else:
                data["content"] = message["content"]
            widget._handle_msg({"content": {"data": data}, "buffers": []})
        return len(messages)

    def _python_to_page(self) -> int:
        with self._lock:
            batch, self._from_python = self._from_python, []
        for model_id, data in batch:
            method = data.get("method")
            if method == "custom":
                self.page.evaluate(_DELIVER, [model_id, "custom", data["content"]])
            elif method in {"update", "echo_update"}:
                self.page.evaluate(_DELIVER, [model_id, "update", data["state"]])
        return len(batch)

    def page_errors(self) -> list[str]:
        """Uncaught errors the page reported."""
        return list(self.page.evaluate("() => window.__ns.errors"))

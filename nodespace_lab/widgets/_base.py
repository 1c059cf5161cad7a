"""What every NodeSpace widget shares: shipped ESM/CSS, messages, quiet state updates."""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache
from importlib import resources
from typing import Any

import anywidget
import traitlets

from ..errors import NodespaceError

log = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any]], None]


@cache
def static_text(*names: str) -> str:
    """The files `names` of `widgets/static/`, joined (one ESM module or one stylesheet).

    Helpers shared by several widgets live in `common.js`; joining it in front
    of a widget's module keeps each widget one self-contained ESM string, which
    every anywidget host can load without a bundler.
    """
    folder = resources.files(__package__).joinpath("static")
    return "\n".join(folder.joinpath(name).read_text(encoding="utf-8") for name in names)


def json_value(value: Any) -> Any:
    """A value as the browser receives it: dates and datetimes as ISO strings."""
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    return value


def json_row(row: dict[str, Any]) -> dict[str, Any]:
    """A result row with every value JSON-safe."""
    return {key: json_value(value) for key, value in row.items()}


class NodespaceWidget(anywidget.AnyWidget):
    """Base class: routes `{"type": ...}` messages from the browser to `_on_<type>`.

    A failing handler does not kill the widget: the error's message is shown
    in the widget (`error` trait) and logged.
    """

    error = traitlets.Unicode("").tag(sync=True)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._quiet = threading.local()
        self._state_lock = threading.RLock()
        self.on_msg(self._dispatch)

    def _dispatch(self, _widget: Any, content: Any, _buffers: Any) -> None:
        if not isinstance(content, dict):
            return
        handler = getattr(self, f"_on_{content.get('type', '')}", None)
        if handler is None:
            log.warning("%s: unknown message %r", type(self).__name__, content.get("type"))
            return
        try:
            with self._state_lock:
                handler(content)
            self.error = ""
        except NodespaceError as exc:
            self.error = str(exc)
        except Exception as exc:  # a bug must show, not freeze the widget
            log.exception("%s: %s failed", type(self).__name__, content.get("type"))
            self.error = f"{type(exc).__name__}: {exc}"

    @contextmanager
    def _quietly(self) -> Iterator[None]:
        """Change synced traits without sending them (the browser was sent a diff)."""
        self._quiet.active = True
        try:
            yield
        finally:
            self._quiet.active = False

    def _should_send_property(self, key: str, value: Any) -> bool:
        if getattr(self._quiet, "active", False):
            return False
        return bool(super()._should_send_property(key, value))

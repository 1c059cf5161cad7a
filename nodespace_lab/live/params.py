"""Query parameters that can change: `param` parameters, `param.rx` values, widgets.

A live query resolves them at each run and re-runs when one of them changes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import param


def resolve(value: Any) -> Any:
    """The current value of a parameter source (plain values pass through)."""
    if isinstance(value, param.reactive.rx):
        return value.rx.value
    if isinstance(value, param.Parameter) and value.owner is not None and value.name:
        return getattr(value.owner, value.name)
    if _is_widget(value):
        return value.value
    return value


def watch(value: Any, callback: Callable[[], None]) -> Callable[[], None] | None:
    """Call `callback()` when `value` changes; returns an unwatch function (None: static)."""
    if isinstance(value, param.reactive.rx):
        value.rx.watch(lambda _new: callback())  # type: ignore[no-untyped-call]
        return lambda: None  # param.rx offers no unwatch; the callback holds no strong ref
    if isinstance(value, param.Parameter) and value.owner is not None and value.name:
        owner = value.owner
        watcher = owner.param.watch(lambda _event: callback(), [value.name])
        return lambda: owner.param.unwatch(watcher)
    if _is_widget(value):

        def handler(_change: Any) -> None:
            callback()

        value.observe(handler, names="value")
        return lambda: value.unobserve(handler, names="value")
    return None


def _is_widget(value: Any) -> bool:
    # ipywidgets (and anywidget) values: a traitlets `value` with observe().
    return hasattr(value, "observe") and hasattr(value, "value") and hasattr(value, "unobserve")

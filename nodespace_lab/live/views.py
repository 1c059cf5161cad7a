"""Views of live queries, found by name: live/ feeds views and never imports them.

A view is any callable taking a `LiveQuery` and options (a widget class
is one). The built-in ones are declared by dotted name and imported on
first use, like default plugins, so `live/` stays below `widgets/` and
importing it never imports anywidget.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..errors import ValidationError

if TYPE_CHECKING:
    from .query import LiveQuery

View = Callable[..., Any]
#: Built-in views: name -> "module:attribute", imported when first asked for.
DEFAULT_VIEWS = {"table": "nodespace_lab.widgets.table:LiveTable"}
_views: dict[str, View] = {}


def register_view(name: str, view: View) -> None:
    """Make `view(live, **options)` the view called `name` (replacing any before)."""
    _views[name] = view


def view_of(name: str, live: LiveQuery, **options: Any) -> Any:
    """The view `name` of the live query `live`."""
    found = _views.get(name)
    if found is None:
        found = _load(name)
    return found(live, **options)


def _load(name: str) -> View:
    target = DEFAULT_VIEWS.get(name)
    if target is None:
        known = ", ".join(sorted({*DEFAULT_VIEWS, *_views}))
        raise ValidationError(
            f"No view {name!r} of live queries is registered; use one of {known} "
            "or register one with nodespace_lab.live.views.register_view()."
        )
    module, _, attribute = target.partition(":")
    found: View = getattr(importlib.import_module(module), attribute)
    _views[name] = found
    return found

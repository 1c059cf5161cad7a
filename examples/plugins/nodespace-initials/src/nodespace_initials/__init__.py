"""A NodeSpace Lab plugin: `initials(text)` for calculated fields.

Install it, allow it (`[plugins] allow = ["initials"]`), then use it in an
entity kind: `kb.define("person", {"name": "text", "short": {"expression":
"initials(name)"}})`. It declares no capability: a pure function of its
argument needs none.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from nodespace_lab.entities.calc.functions import TEXT, Function
from nodespace_lab.plugins import Manifest, hookimpl

__version__ = "1.0.0"

MANIFEST = Manifest("initials", __version__, api=(1, 1), summary="initials(text) for expressions.")


def initials(text: Any) -> Any:
    """'Ada King Lovelace' -> 'AKL'; null for anything but text."""
    if not isinstance(text, str):
        return None
    return "".join(word[0].upper() for word in text.replace("-", " ").split() if word[0].isalpha())


INITIALS = Function(
    name="initials",
    signature="initials(text)",
    params=(TEXT,),
    result="text",
    impl=initials,
    min_args=1,
    max_args=1,
)


@hookimpl
def nodespace_calc_functions() -> Sequence[Function]:
    """initials(text)."""
    return [INITIALS]

"""Name registries that fill themselves from the plugins on first read.

The node kinds, calculated-field functions and model backends each live in a
`Registry`. Its built-in entries come from the default plugin like any other
plugin's, so a registry is empty until plugin discovery runs; discovery is
installed by `nodespace_lab.plugins` (which sits above the layers that own the
registries) and runs on the first read of any registry, never at
`import nodespace_lab` (pluggy and the entry-point scan cost ~30 ms).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, MutableMapping
from typing import Any, TypeVar

T = TypeVar("T")

_discover: Callable[[], None] | None = None
_lock = threading.RLock()
_state = "waiting"  # waiting -> running -> done (reset by plugins.registry.reload)
_doctor_checks: Callable[[Any], list[tuple[str, str, str]]] | None = None


def set_discovery(function: Callable[[], None]) -> None:
    """Install the function that fills every registry (called by `nodespace_lab.plugins`)."""
    global _discover
    _discover = function


def ensure_discovered() -> None:
    """Run plugin discovery once; reads during discovery (same thread) see what is there."""
    global _state
    if _state == "done" or _discover is None:
        return
    with _lock:  # another thread waits here until the first discovery finished
        if _state != "waiting":
            return  # done, or this thread is inside discovery already
        _state = "running"
        try:
            _discover()
        finally:
            _state = "done"


def set_doctor_checks(function: Callable[[Any], list[tuple[str, str, str]]]) -> None:
    """Install what runs the plugins' doctor checks (called by `nodespace_lab.plugins`)."""
    global _doctor_checks
    _doctor_checks = function


def run_doctor_checks(kb: Any) -> list[tuple[str, str, str]]:
    """(check, node id, message) for each problem the plugins' doctor checks find in `kb`.

    `kb/doctor.py` asks here because `nodespace_lab.plugins` sits above `kb`.
    """
    return [] if _doctor_checks is None else _doctor_checks(kb)


def discovery_lock() -> threading.RLock:
    """The lock discovery runs under (hold it to change what discovery found)."""
    return _lock


def forget_discovery() -> None:
    """Make the next read discover again (after the plugin settings changed)."""
    global _state
    with _lock:
        _state = "waiting"


class Registry(MutableMapping[str, T]):
    """A `dict` of named entries whose every read first makes sure plugins were discovered."""

    def __init__(self, what: str) -> None:
        self.what = what
        self._entries: dict[str, T] = {}

    def __getitem__(self, name: str) -> T:
        ensure_discovered()
        return self._entries[name]

    def __setitem__(self, name: str, value: T) -> None:
        self._entries[name] = value

    def __delitem__(self, name: str) -> None:
        del self._entries[name]

    def __iter__(self) -> Iterator[str]:
        ensure_discovered()
        return iter(list(self._entries))

    def __len__(self) -> int:
        ensure_discovered()
        return len(self._entries)

    def __contains__(self, name: object) -> bool:
        ensure_discovered()
        return name in self._entries

    def __repr__(self) -> str:
        return f"Registry({self.what}: {', '.join(sorted(self._entries))})"

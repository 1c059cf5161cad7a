"""What a plugin's hooks return, besides kinds (`KindSpec`) and functions (`Function`)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .manifest import PluginHandle


@dataclass(frozen=True)
class BackendEntry:
    """A model backend: `factory(ai_settings)` builds it; `installed()` says if it can run here."""

    name: str
    factory: Callable[[Any], Any]
    installed: Callable[[], bool] = lambda: True
    summary: str = ""


@dataclass(frozen=True)
class Importer:
    """Reads `source` (a file or folder) into the knowledge base through `handle`.

    `run(handle, source)` returns what it made (e.g. the new node ids); the
    handle allows only what the plugin's manifest declares.
    """

    format: str
    summary: str
    run: Callable[[PluginHandle, Path], Any]
    suffixes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Exporter:
    """Writes (part of) the knowledge base to `target` through `handle`."""

    format: str
    summary: str
    run: Callable[[PluginHandle, Path], Any]
    suffixes: tuple[str, ...] = ()


@dataclass(frozen=True)
class DoctorCheck:
    """A `nodespace doctor` check: `run(handle)` yields `(node_id, message)` per problem."""

    name: str
    run: Callable[[PluginHandle], Iterable[tuple[str, str]]]

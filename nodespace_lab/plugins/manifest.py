"""A plugin's manifest (name, version, plugin-API range, capabilities) and its scoped handle.

A plugin never gets the knowledge base itself: it gets a `PluginHandle`, which
lets through only the operations of the operation table whose capability the
manifest declares (`OPERATIONS[name].capability`: read, write, ai, files),
files under the folders it declares, and `require("network")` for code that
goes online. Anything else raises `PluginCapabilityError` naming the plugin
and the capability. This is a contract checked at the door, not a sandbox: a
plugin is Python code running with the user's rights, which is why only the
plugins the user allows (`plugins.allow`) load at all.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import PluginCapabilityError, PluginError
from ..kb.facets import OPERATIONS
from ..kb.operations import Operation
from . import PLUGIN_API

#: What a manifest may declare.
CAPABILITIES = ("read", "write", "network", "ai", "files")


@dataclass(frozen=True)
class Manifest:
    """What a plugin is and what it may do.

    `api` is the inclusive range of plugin-API versions (`PLUGIN_API`) the
    plugin works with; `files` the folders it may read and write (needs the
    `files` capability; `~` is expanded).
    """

    name: str
    version: str
    api: tuple[int, int]
    capabilities: frozenset[str] = frozenset()
    files: tuple[str, ...] = ()
    summary: str = ""
    _folders: tuple[Path, ...] = field(default=(), init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "capabilities", frozenset(self.capabilities))
        unknown = sorted(self.capabilities - set(CAPABILITIES))
        if unknown:
            raise PluginError(
                f"Plugin {self.name!r} declares unknown capabilities {unknown}; "
                f"use any of {', '.join(CAPABILITIES)}."
            )
        low, high = self.api
        if not (isinstance(low, int) and isinstance(high, int) and 1 <= low <= high):
            raise PluginError(
                f"Plugin {self.name!r} declares plugin API range {self.api!r}; "
                "use (lowest, highest) whole numbers, e.g. api=(1, 1)."
            )
        if self.files and "files" not in self.capabilities:
            raise PluginError(
                f"Plugin {self.name!r} names folders {list(self.files)} but not the 'files' "
                "capability; add 'files' to its capabilities."
            )
        folders = tuple(Path(f).expanduser().resolve() for f in self.files)
        object.__setattr__(self, "_folders", folders)

    def supports(self, api: int = PLUGIN_API) -> bool:
        """True when plugin-API version `api` is inside the declared range."""
        return self.api[0] <= api <= self.api[1]

    def check_api(self, api: int = PLUGIN_API) -> None:
        """Raise `PluginError` naming both versions when `api` is outside the declared range."""
        if not self.supports(api):
            low, high = self.api
            span = f"plugin API {low}" if low == high else f"plugin API {low} to {high}"
            raise PluginError(
                f"Plugin {self.name!r} {self.version} supports {span}, but this NodeSpace Lab "
                f"has plugin API {api}; install a release of {self.name!r} made for plugin "
                f"API {api}, or a NodeSpace Lab whose plugin API it supports."
            )

    def may_use(self, path: str | Path) -> bool:
        """True when `path` is inside one of the declared folders."""
        resolved = Path(path).expanduser().resolve()
        return any(resolved.is_relative_to(folder) for folder in self._folders)


class PluginHandle:
    """The knowledge base as one plugin may see it: its declared capabilities, nothing more."""

    def __init__(self, kb: Any, manifest: Manifest, *, grant: Iterable[str | Path] = ()) -> None:
        # Attribute names with a leading underscore are this class's own: __getattr__
        # never forwards them, so a plugin cannot reach the knowledge base through them.
        self._kb = kb
        self._manifest = manifest
        # Paths the user handed over for this call (an importer's source).
        self._granted = tuple(Path(p).expanduser().resolve() for p in grant)

    @property
    def manifest(self) -> Manifest:
        """The manifest the handle enforces."""
        return self._manifest

    def allowed(self, capability: str) -> bool:
        """True when the manifest declares `capability`."""
        return capability in self._manifest.capabilities

    def require(self, capability: str, action: str = "") -> None:
        """Raise `PluginCapabilityError` unless the manifest declares `capability`."""
        if not self.allowed(capability):
            raise _refused(self._manifest, capability, action or f"use {capability!r}")

    def path(self, path: str | Path) -> Path:
        """`path` resolved, if the plugin may read and write it (declared folder or granted)."""
        resolved = Path(path).expanduser().resolve()
        granted = any(resolved.is_relative_to(p) for p in self._granted)
        if granted:
            return resolved
        if not self.allowed("files") or not self._manifest.may_use(resolved):
            raise _refused(self._manifest, "files", f"use the file {resolved}")
        return resolved

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        op = OPERATIONS.get(name)
        if op is None:
            raise PluginCapabilityError(
                f"Plugin {self._manifest.name!r} cannot use kb.{name}: plugins reach the "
                "knowledge base only through its operations (nodespace_lab.kb.facets)."
            )
        self.require(op.capability, f"call kb.{name}")
        value = getattr(self._kb, name)
        if op.is_property:
            return self if value is self._kb else value
        return self._checked(op, value)

    def _checked(self, op: Operation, method: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(method)
        def call(*args: Any, **kwargs: Any) -> Any:
            if op.name == "cypher" and kwargs.get("write"):
                self.require("write", "call kb.cypher(write=True)")
            target = args[0] if args else kwargs.get("path")
            if op.capability == "files" and target is not None:
                self.path(target)
            if op.name == "transaction":
                return self._transaction(method(*args, **kwargs))
            result = method(*args, **kwargs)
            return self if result is self._kb else result

        return call

    @contextmanager
    def _transaction(self, manager: Any) -> Iterator[PluginHandle]:
        # The transaction yields the knowledge base: hand out the handle instead.
        with manager:
            yield self

    def __repr__(self) -> str:
        caps = ", ".join(sorted(self._manifest.capabilities)) or "none"
        return f"<PluginHandle of {self._manifest.name!r} ({caps})>"


def _refused(manifest: Manifest, capability: str, action: str) -> PluginCapabilityError:
    return PluginCapabilityError(
        f"Plugin {manifest.name!r} may not {action}: that needs the {capability!r} "
        f"capability, which its manifest does not declare (it declares "
        f"{', '.join(sorted(manifest.capabilities)) or 'none'}). The plugin's author must "
        f"add {capability!r} to its Manifest."
    )

"""Plugins: node kinds, functions, backends, importers, commands and checks from outside.

A plugin is found through the `nodespace_lab` entry-point group, loads only
when the `plugins.allow` setting names it (and `plugins.deny` does not), and
declares a `Manifest`. The built-ins are the default plugin and use the same
hooks (`hookspecs.py`). Discovery is lazy: it runs on the first read of a
registry (the node kinds, the calculated-field functions, the model backends),
never at `import nodespace_lab`, and this module imports nothing heavy.

For plugin authors::

    from nodespace_lab.plugins import Manifest, hookimpl

    MANIFEST = Manifest("paper", "1.0", api=(1, 1), capabilities={"read", "write"})

    @hookimpl
    def nodespace_kinds():
        return [KindSpec("paper", "A paper: authors, year, venue.")]
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import _registry

if TYPE_CHECKING:  # the real names for type checkers; at run time __getattr__ loads them
    from .contributions import BackendEntry, DoctorCheck, Exporter, Importer
    from .hookspecs import hookimpl
    from .manifest import Manifest, PluginHandle

#: The version of the plugin API (the hooks, the manifest and the handle). A
#: plugin's manifest names the range it supports; one outside it is refused.
PLUGIN_API = 1

#: The entry-point group third-party plugins register under.
ENTRY_POINT_GROUP = "nodespace_lab"

_LAZY = {
    "hookimpl": "hookspecs",
    "Manifest": "manifest",
    "PluginHandle": "manifest",
    "BackendEntry": "contributions",
    "DoctorCheck": "contributions",
    "Exporter": "contributions",
    "Importer": "contributions",
}


def __getattr__(name: str) -> Any:
    # Authors write `from nodespace_lab.plugins import hookimpl`; pluggy loads only then.
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module

    return getattr(import_module(f"{__name__}.{module}"), name)


def _discover() -> None:
    from .registry import discover

    discover()


def _doctor_checks(kb: Any) -> list[tuple[str, str, str]]:
    from .registry import run_doctor_checks

    return run_doctor_checks(kb)


_registry.set_discovery(_discover)
_registry.set_doctor_checks(_doctor_checks)  # kb/doctor.py asks through _registry: kb is below

__all__ = [
    "ENTRY_POINT_GROUP",
    "PLUGIN_API",
    "BackendEntry",
    "DoctorCheck",
    "Exporter",
    "Importer",
    "Manifest",
    "PluginHandle",
    "hookimpl",
]

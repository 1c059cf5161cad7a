"""The plugin manager: the default plugin, allowed entry points, and what their hooks add.

`discover()` runs once per process, on the first read of a registry (see
`nodespace_lab._registry`): it registers the default plugin, then every
entry point of the `nodespace_lab` group that `plugins.allow` names and
`plugins.deny` does not (read from your config file and `NODESPACE_PLUGINS_*`,
never from a knowledge base's own `nodespace.toml`: plugins are per process),
refusing those without a valid manifest or outside the plugin-API range.
Each plugin's hooks are called one plugin at a time: one that raises is
disabled and reported (log and `nodespace plugins list`), its additions are
withdrawn, and the rest carry on.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pluggy

from .. import _registry
from ..errors import ConfigError, NodespaceError, PluginCapabilityError, PluginError
from . import ENTRY_POINT_GROUP, PLUGIN_API, builtins, hookspecs
from .contributions import BackendEntry, DoctorCheck, Exporter, Importer
from .manifest import Manifest, PluginHandle

if TYPE_CHECKING:
    import click

    from ..config import Settings
    from ..entities.calc.functions import Function
    from ..nodes.kinds import KindSpec

log = logging.getLogger("nodespace_lab.plugins")

BUILTIN = "built-in"
#: What `nodespace plugins list` shows as a plugin's state.
ACTIVE, NOT_ALLOWED, DENIED, REFUSED, DISABLED = (
    "active",
    "not allowed",
    "denied",
    "refused",
    "disabled",
)
_BUILTIN_MANIFEST = Manifest(
    builtins.NAME,
    "",
    api=(PLUGIN_API, PLUGIN_API),
    capabilities=frozenset({"read", "write", "ai", "files", "network"}),
    summary="The built-in kinds, calculated-field functions and model backends.",
)


@dataclass
class PluginRecord:
    """One plugin as found: where from, its state, and why when it is not active."""

    name: str
    version: str
    source: str
    status: str
    error: str = ""
    manifest: Manifest | None = None
    hooks: tuple[str, ...] = ()
    #: (registry, name) pairs it added, withdrawn when it is disabled.
    added: list[tuple[str, str]] = field(default_factory=list)

    @property
    def active(self) -> bool:
        """True while its hooks are used."""
        return self.status == ACTIVE

    @property
    def capabilities(self) -> tuple[str, ...]:
        """The capabilities its manifest declares."""
        return tuple(sorted(self.manifest.capabilities)) if self.manifest else ()


class Plugins:
    """The plugins of this process and the pluggy manager calling their hooks."""

    def __init__(self, allow: Sequence[str] = (), deny: Sequence[str] = ()) -> None:
        self.allow = tuple(allow)
        self.deny = tuple(deny)
        self.records: dict[str, PluginRecord] = {}
        self.manager = pluggy.PluginManager(hookspecs.PROJECT)
        self.manager.add_hookspecs(hookspecs)
        self._lock = threading.RLock()

    # -- loading --------------------------------------------------------------

    def load(self) -> None:
        """Register the default plugin and the allowed entry points; apply their additions."""
        self.manager.register(builtins, name=builtins.NAME)
        self.records[builtins.NAME] = PluginRecord(
            builtins.NAME, _own_version(), BUILTIN, ACTIVE, manifest=_BUILTIN_MANIFEST,
            hooks=self._hooks_of(builtins),
        )  # fmt: skip
        for entry in _entry_points():
            self._load_entry_point(entry)
        self._apply(_kinds_hook())
        self._apply(_functions_hook())
        self._apply(_backends_hook())

    def _load_entry_point(self, entry: metadata.EntryPoint) -> None:
        name = entry.name
        dist = entry.dist
        version = dist.version if dist is not None else ""
        source = f"{dist.name if dist else '?'} ({entry.value})"
        record = PluginRecord(name, version, source, ACTIVE)
        if name in self.records:
            record.status, record.error = REFUSED, f"the name {name!r} is taken by another plugin"
            self.records[f"{name} ({source})"] = record
            return
        self.records[name] = record
        if name in self.deny:
            record.status, record.error = DENIED, f"plugins.deny names {name!r}"
        elif name not in self.allow and "*" not in self.allow:
            record.status = NOT_ALLOWED
            record.error = f"add {name!r} to plugins.allow in your config file to load it"
        else:
            self._register(entry, record)

    def _register(self, entry: metadata.EntryPoint, record: PluginRecord) -> None:
        try:
            plugin = entry.load()
            manifest = _manifest_of(plugin, record.name)
            record.manifest, record.version = manifest, manifest.version
            manifest.check_api()
            self.manager.register(plugin, name=record.name)
            record.hooks = self._hooks_of(plugin)
        except Exception as exc:  # any failure of foreign code refuses just this plugin
            record.status, record.error = REFUSED, _describe(exc)
            if self.manager.has_plugin(record.name):
                self.manager.unregister(name=record.name)
            log.error("Plugin %r refused: %s", record.name, record.error)

    def _hooks_of(self, plugin: object) -> tuple[str, ...]:
        callers = self.manager.get_hookcallers(plugin) or []
        return tuple(sorted(caller.name for caller in callers))

    # -- calling hooks one plugin at a time --------------------------------------

    def results(self, hook: str, **kwargs: Any) -> Iterator[tuple[PluginRecord, Any]]:
        """(plugin, what it returned) for each active plugin implementing `hook`.

        A plugin whose implementation raises is disabled and skipped.
        """
        caller = getattr(self.manager.hook, hook)
        for impl in caller.get_hookimpls():  # registration order: the built-ins first
            record = self.records.get(impl.plugin_name)
            if record is None or not record.active:
                continue
            try:
                found = impl.function(**kwargs)
                yield record, list(found or ())
            except Exception as exc:
                self.disable(record, exc, f"its hook {hook} raised")

    def disable(self, record: PluginRecord, exc: BaseException, where: str) -> None:
        """Stop using `record`: withdraw its additions, log and keep the error for the list."""
        with self._lock:
            if record.name == builtins.NAME:
                raise exc  # a bug of ours: nothing sensible to fall back on
            if not record.active:
                return
            record.status, record.error = DISABLED, f"{where}: {_describe(exc)}"
            _withdraw(record)
            if self.manager.has_plugin(record.name):
                self.manager.unregister(name=record.name)
        log.error("Plugin %r disabled: %s", record.name, record.error)

    def _apply(self, hook: _Hook) -> None:
        for record, items in self.results(hook.name):
            try:
                for item in items:
                    hook.add(self, record, item)
            except Exception as exc:
                self.disable(record, exc, f"what its hook {hook.name} returned was refused")

    # -- what the plugins add, read on demand -----------------------------------------

    def importers(self) -> dict[str, tuple[PluginRecord, Importer]]:
        """Importers by format name."""
        return self._by_name("nodespace_importers", Importer, "format")

    def exporters(self) -> dict[str, tuple[PluginRecord, Exporter]]:
        """Exporters by format name."""
        return self._by_name("nodespace_exporters", Exporter, "format")

    def doctor_checks(self) -> dict[str, tuple[PluginRecord, DoctorCheck]]:
        """Doctor checks by name."""
        return self._by_name("nodespace_doctor_checks", DoctorCheck, "name")

    def cli_commands(self) -> dict[str, tuple[PluginRecord, click.Command]]:
        """Plugin commands by name."""
        import click

        return self._by_name("nodespace_cli_commands", click.Command, "name")

    def _by_name(self, hook: str, kind: type, key: str) -> dict[str, tuple[PluginRecord, Any]]:
        found: dict[str, tuple[PluginRecord, Any]] = {}
        for record, items in self.results(hook):
            bad = [item for item in items if not isinstance(item, kind)]
            if bad:
                error = TypeError(f"{hook} returned {bad[0]!r}, not a {kind.__name__}")
                self.disable(record, error, "what its hook returned was refused")
                continue
            for item in items:
                found.setdefault(str(getattr(item, key)), (record, item))
        return found


# -- the registries the discovered hooks fill ---------------------------------------


@dataclass(frozen=True)
class _Hook:
    name: str
    add: Callable[[Plugins, PluginRecord, Any], None]


def _kinds_hook() -> _Hook:
    from ..nodes.kinds import KindSpec, register_kind

    def add(plugins: Plugins, record: PluginRecord, spec: Any) -> None:
        if not isinstance(spec, KindSpec):
            raise TypeError(f"nodespace_kinds returned {spec!r}, not a KindSpec")
        if record.name != builtins.NAME:
            spec = _guarded_kind(plugins, record, spec)
        register_kind(spec, replace=record.name == builtins.NAME)
        record.added.append(("kind", spec.name))

    return _Hook("nodespace_kinds", add)


def _guarded_kind(plugins: Plugins, record: PluginRecord, spec: KindSpec) -> KindSpec:
    """`spec` whose `prepare` disables the plugin when it raises anything but ValidationError."""
    import dataclasses

    from ..errors import ValidationError

    prepare = spec.prepare
    if prepare is None:
        return spec

    @functools.wraps(prepare)
    def guarded(values: Any, old: Any) -> Any:
        if not record.active:
            raise PluginError(_inactive(record, f"kind {spec.name!r}"))
        try:
            return prepare(values, old)
        except ValidationError:
            raise  # the kind refusing a value is its job
        except Exception as exc:
            plugins.disable(record, exc, f"kind {spec.name!r} raised while preparing a node")
            raise PluginError(_inactive(record, f"kind {spec.name!r}")) from exc

    return dataclasses.replace(spec, prepare=guarded)


def _functions_hook() -> _Hook:
    from ..entities.calc.functions import Function, register_function

    def add(plugins: Plugins, record: PluginRecord, function: Any) -> None:
        if not isinstance(function, Function):
            raise TypeError(f"nodespace_calc_functions returned {function!r}, not a Function")
        if record.name != builtins.NAME:  # impl None (compiled by the evaluator) is ours only
            if function.impl is None:
                raise TypeError(f"function {function.name!r} has no implementation (impl)")
            function = _guarded_function(plugins, record, function)
        register_function(function, replace=record.name == builtins.NAME)
        record.added.append(("function", function.name))

    return _Hook("nodespace_calc_functions", add)


def _guarded_function(plugins: Plugins, record: PluginRecord, function: Function) -> Function:
    """`function` giving null (and disabling the plugin) instead of raising."""
    import dataclasses

    impl = function.impl
    assert impl is not None

    @functools.wraps(impl)
    def guarded(*args: Any) -> Any:
        if not record.active:
            return None  # stored expressions keep parsing; their value is null
        try:
            return impl(*args)
        except Exception as exc:
            plugins.disable(record, exc, f"function {function.name}() raised")
            return None

    return dataclasses.replace(function, impl=guarded)


def _backends_hook() -> _Hook:
    from ..models.backend import _BACKENDS, register_backend

    def add(plugins: Plugins, record: PluginRecord, entry: Any) -> None:
        if not isinstance(entry, BackendEntry):
            raise TypeError(f"nodespace_model_backends returned {entry!r}, not a BackendEntry")
        if record.name != builtins.NAME and entry.name in _BACKENDS:
            raise PluginError(f"model backend {entry.name!r} is already registered")
        register_backend(
            entry.name, entry.factory, installed=entry.installed, summary=entry.summary
        )
        record.added.append(("backend", entry.name))

    return _Hook("nodespace_model_backends", add)


def _withdraw(record: PluginRecord) -> None:
    """Remove what `record` added to the registries."""
    from ..entities.calc.functions import FUNCTIONS
    from ..models.backend import _BACKENDS
    from ..nodes.kinds import KINDS

    registries: dict[str, Any] = {"kind": KINDS, "function": FUNCTIONS, "backend": _BACKENDS}
    for what, name in record.added:
        registries[what].pop(name, None)
    if any(what == "function" for what, _ in record.added):
        from ..entities.calc.plan import parsed

        parsed.cache_clear()  # parsed expressions may name a function that is gone now
    record.added.clear()


# -- the process's plugins ------------------------------------------------------------

_current: Plugins | None = None
_settings: Settings | None = None


def discover() -> None:
    """Find and load the plugins (run once, by the first read of a registry)."""
    global _current
    allow, deny = _plugin_settings()
    plugins = Plugins(allow, deny)
    _current = plugins  # visible while loading, so a hook may look at the others
    plugins.load()


def _plugin_settings() -> tuple[list[str], list[str]]:
    settings = _settings
    if settings is None:
        from ..config import load_settings

        try:
            settings = load_settings()  # your config file and environment, no knowledge base
        except ConfigError as exc:
            log.error("Plugins: settings cannot be read, loading none: %s", exc)
            return [], []
    return list(settings.plugins.allow), list(settings.plugins.deny)


def plugin_manager() -> Plugins:
    """The plugins of this process (discovering them first if needed)."""
    _registry.ensure_discovered()
    if _current is None:  # discovery was not installed: nodespace_lab.plugins not imported
        discover()
    assert _current is not None
    return _current


def reload(settings: Settings | None = None) -> Plugins:
    """Discover again with `settings` (default: your config file and environment)."""
    global _settings
    reset()
    _settings = settings
    return plugin_manager()


def reset() -> None:
    """Withdraw every plugin's additions; the next read of a registry discovers again."""
    global _settings, _current
    with _registry.discovery_lock():
        if _current is not None:
            for record in _current.records.values():
                _withdraw(record)
        _settings, _current = None, None
        _registry.forget_discovery()


def plugins() -> list[PluginRecord]:
    """Every plugin found, the built-in one first."""
    return list(plugin_manager().records.values())


def importers() -> dict[str, Importer]:
    """The importers of the active plugins, by format name."""
    return {fmt: item for fmt, (_, item) in plugin_manager().importers().items()}


def exporters() -> dict[str, Exporter]:
    """The exporters of the active plugins, by format name."""
    return {fmt: item for fmt, (_, item) in plugin_manager().exporters().items()}


def run_importer(kb: Any, fmt: str, source: str | Path) -> Any:
    """Import `source` with the importer of format `fmt`, all or nothing."""
    found = plugin_manager().importers()
    return _run(kb, fmt, Path(source), found, "importer")


def run_exporter(kb: Any, fmt: str, target: str | Path) -> Any:
    """Export to `target` with the exporter of format `fmt`."""
    found = plugin_manager().exporters()
    return _run(kb, fmt, Path(target), found, "exporter")


def _run(
    kb: Any, fmt: str, path: Path, found: dict[str, tuple[PluginRecord, Any]], what: str
) -> Any:
    if fmt not in found:
        known = ", ".join(sorted(found)) or "none (no plugin adds one)"
        raise PluginError(f"No {what} for format {fmt!r}; the formats are {known}.")
    record, item = found[fmt]
    assert record.manifest is not None
    handle = PluginHandle(kb, record.manifest, grant=(path,))
    try:
        with kb.transaction(f"{what} {fmt}"):  # a failing plugin leaves nothing half written
            return item.run(handle, path)
    except NodespaceError:
        raise  # refused input or an undeclared capability: the plugin stays
    except Exception as exc:
        plugin_manager().disable(record, exc, f"its {what} {fmt!r} raised")
        raise PluginError(_inactive(record, f"{what} {fmt!r}")) from exc


def run_doctor_checks(kb: Any) -> list[tuple[str, str, str]]:
    """(check, node id, message) for each problem the plugins' doctor checks find."""
    problems: list[tuple[str, str, str]] = []
    manager = plugin_manager()
    for name, (record, check) in manager.doctor_checks().items():
        assert record.manifest is not None
        read_only = Manifest(record.name, record.version, record.manifest.api, frozenset({"read"}))
        try:
            for node_id, message in check.run(PluginHandle(kb, read_only)):
                problems.append((f"plugin:{name}", str(node_id), str(message)))
        except PluginCapabilityError:
            raise
        except Exception as exc:
            manager.disable(record, exc, f"its doctor check {name!r} raised")
    return problems


# -- helpers ------------------------------------------------------------------------


def _entry_points() -> list[metadata.EntryPoint]:
    return sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name)


def _manifest_of(plugin: object, name: str) -> Manifest:
    manifest = getattr(plugin, "MANIFEST", None)
    if not isinstance(manifest, Manifest):
        raise PluginError(
            f"Plugin {name!r} declares no MANIFEST (a nodespace_lab.plugins.Manifest naming "
            "its version, plugin-API range and capabilities)."
        )
    if manifest.name != name:
        raise PluginError(
            f"Plugin {name!r} is installed under that name but its MANIFEST says "
            f"{manifest.name!r}; they must be the same."
        )
    return manifest


def _inactive(record: PluginRecord, what: str) -> str:
    return (
        f"Plugin {record.name!r} is disabled ({record.error}), so its {what} cannot run; "
        "`nodespace plugins list` shows it. Fix or update the plugin, or deny it with "
        "plugins.deny."
    )


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _own_version() -> str:
    from .._version import __version__

    return __version__

"""Layered settings: defaults, user file, project file, environment."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import param

from ..errors import ConfigError
from . import trust
from .sections import (
    SECTIONS,
    SECURITY_RELEVANT,
    AISettings,
    LoggingSettings,
    PerformanceSettings,
    PluginSettings,
    SearchSettings,
    SecuritySettings,
    ServiceSettings,
    StorageSettings,
)

ENV_PREFIX = "NODESPACE_"
PROJECT_FILE = "nodespace.toml"


@dataclass
class Settings:
    """All settings sections, as loaded for one knowledge base."""

    storage: StorageSettings = field(default_factory=StorageSettings)
    search: SearchSettings = field(default_factory=SearchSettings)
    performance: PerformanceSettings = field(default_factory=PerformanceSettings)
    security: SecuritySettings = field(default_factory=SecuritySettings)
    ai: AISettings = field(default_factory=AISettings)
    service: ServiceSettings = field(default_factory=ServiceSettings)
    logging: LoggingSettings = field(default_factory=LoggingSettings)
    plugins: PluginSettings = field(default_factory=PluginSettings)
    sources: list[str] = field(default_factory=list)
    #: Warnings about security settings of an untrusted knowledge base that were ignored.
    ignored: list[str] = field(default_factory=list)

    def section(self, name: str) -> param.Parameterized:
        """Return the section object called `name`."""
        section: param.Parameterized = getattr(self, name)
        return section

    def as_dict(self) -> dict[str, dict[str, Any]]:
        """Return every setting as plain values, by section."""
        return {name: _values(self.section(name)) for name in SECTIONS}


def user_config_path(env: Mapping[str, str] | None = None) -> Path:
    """The user config file: $NODESPACE_CONFIG, else the XDG config folder."""
    env = os.environ if env is None else env
    explicit = env.get(ENV_PREFIX + "CONFIG")
    if explicit:
        return Path(explicit).expanduser()
    return trust.config_folder(env) / "config.toml"


def load_settings(
    kb_path: str | Path | None = None,
    *,
    env: Mapping[str, str] | None = None,
    user_file: Path | None = None,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
    trust_file: Path | None = None,
) -> Settings:
    """Load settings in layers; later layers win.

    Order: defaults, the user config file, the project file
    (`<kb>/nodespace.toml`), `NODESPACE_<SECTION>_<NAME>` environment
    variables, then explicit `overrides`. The project file's security-relevant
    settings (`SECURITY_RELEVANT`) apply only when the knowledge base is in
    the trust list (`trust_file`, default `trust_list_path(env)`); otherwise
    each is ignored with an `UntrustedSettingWarning`.
    """
    env = os.environ if env is None else env
    settings = Settings()
    settings.sources.append("defaults")
    _apply_file(settings, user_file if user_file is not None else user_config_path(env))
    if kb_path is not None:
        trusted_list = trust_file if trust_file is not None else trust.trust_list_path(env)
        _apply_project_file(settings, Path(kb_path), trusted_list)
    _apply_env(settings, env)
    if overrides:
        _apply_mapping(settings, overrides, "arguments")
    return settings


def _values(section: param.Parameterized) -> dict[str, Any]:
    return {name: getattr(section, name) for name in section.param if name != "name"}


def _read_toml(path: Path) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"Config file {path} cannot be read: {exc}. Fix or remove it.") from exc


def _apply_file(settings: Settings, path: Path) -> None:
    data = _read_toml(path)
    if data is not None:
        _apply_mapping(settings, data, str(path))


def _apply_project_file(settings: Settings, kb_path: Path, trust_file: Path) -> None:
    """The project file, without its security settings unless the knowledge base is trusted."""
    path = kb_path / PROJECT_FILE
    data = _read_toml(path)
    if data is None:
        return
    held = [name for name in _dotted_names(data) if name in SECURITY_RELEVANT]
    if held:
        verdict = trust.check(kb_path, path, trust_file)
        if not verdict.trusted:
            for name in held:
                why = SECURITY_RELEVANT[name]
                settings.ignored.append(trust.warn_ignored(name, why, path, kb_path, verdict))
            data = _without(data, held)
    _apply_mapping(settings, data, str(path))


def _dotted_names(data: Mapping[str, Any]) -> list[str]:
    return [
        f"{section}.{name}"
        for section, values in data.items()
        if isinstance(values, Mapping)
        for name in values
    ]


def _without(data: Mapping[str, Any], names: list[str]) -> dict[str, Any]:
    """`data` without the settings `names` (dotted), leaving other values as they are."""
    kept: dict[str, Any] = {}
    for section, values in data.items():
        if isinstance(values, Mapping):
            values = {k: v for k, v in values.items() if f"{section}.{k}" not in names}
        kept[section] = values
    return kept


def _apply_mapping(settings: Settings, data: Mapping[str, Any], source: str) -> None:
    for section_name, values in data.items():
        if section_name not in SECTIONS:
            raise ConfigError(
                f"{source}: unknown settings section [{section_name}]; "
                f"known sections are {', '.join(SECTIONS)}."
            )
        if not isinstance(values, Mapping):
            raise ConfigError(f"{source}: [{section_name}] must be a table of settings.")
        for name, value in values.items():
            _set(settings, section_name, name, value, source)
    settings.sources.append(source)


def _apply_env(settings: Settings, env: Mapping[str, str]) -> None:
    applied = False
    for key, raw in env.items():
        if not key.startswith(ENV_PREFIX) or key == ENV_PREFIX + "CONFIG":
            continue
        rest = key[len(ENV_PREFIX) :].lower()
        section_name, _, name = rest.partition("_")
        if section_name not in SECTIONS or not name:
            continue  # other NODESPACE_* variables (e.g. NODESPACE_KB) are not settings
        _set(settings, section_name, name, _parse_env(settings, section_name, name, raw, key), key)
        applied = True
    if applied:
        settings.sources.append("environment")


def _parse_env(settings: Settings, section_name: str, name: str, raw: str, key: str) -> Any:
    section = settings.section(section_name)
    parameter = _parameter(section, name)
    if parameter is None:
        return raw  # _set reports the unknown name
    if isinstance(parameter, param.Boolean):
        lowered = raw.strip().lower()
        if lowered in {"1", "true", "yes", "on"}:
            return True
        if lowered in {"0", "false", "no", "off"}:
            return False
        raise ConfigError(f"{key}={raw!r} is not a boolean; use true or false.")
    if isinstance(parameter, param.List):  # NODESPACE_PLUGINS_ALLOW=paper,initials
        return [item.strip() for item in raw.split(",") if item.strip()]
    if isinstance(parameter, param.Integer):
        try:
            return int(raw)
        except ValueError:
            raise ConfigError(f"{key}={raw!r} is not an integer; {_allowed(parameter)}.") from None
    if isinstance(parameter, param.Number):  # after Integer, which is a Number too
        try:
            return float(raw)
        except ValueError:
            raise ConfigError(f"{key}={raw!r} is not a number; {_allowed(parameter)}.") from None
    return raw


def _allowed(parameter: param.Parameter[Any]) -> str:
    if isinstance(parameter, param.Selector):
        return "allowed values are " + ", ".join(repr(o) for o in parameter.objects)
    bounds = getattr(parameter, "bounds", None)
    if bounds:
        return f"allowed range is {bounds[0]} to {bounds[1]}"
    return f"expected a {type(parameter).__name__.lower()}"


def _set(settings: Settings, section_name: str, name: str, value: Any, source: str) -> None:
    section = settings.section(section_name)
    parameter = _parameter(section, name)
    if parameter is None or name == "name":
        known = ", ".join(n for n in section.param if n != "name")
        raise ConfigError(
            f"{source}: unknown setting {section_name}.{name}; "
            f"settings in [{section_name}] are {known}."
        )
    try:
        setattr(section, name, value)
    except (ValueError, TypeError):
        raise ConfigError(
            f"{source}: setting {section_name}.{name} cannot be {value!r}; {_allowed(parameter)}."
        ) from None


def _parameter(section: param.Parameterized, name: str) -> param.Parameter[Any] | None:
    params: dict[str, param.Parameter[Any]] = section.param.objects("existing")
    return params.get(name)

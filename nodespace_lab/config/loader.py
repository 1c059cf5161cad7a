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
from .sections import (
    SECTIONS,
    AISettings,
    LoggingSettings,
    PerformanceSettings,
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
    sources: list[str] = field(default_factory=list)

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
    base = env.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "nodespace" / "config.toml"


def load_settings(
    kb_path: str | Path | None = None,
    *,
    env: Mapping[str, str] | None = None,
    user_file: Path | None = None,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
) -> Settings:
    """Load settings in layers; later layers win.

    Order: defaults, the user config file, the project file
    (`<kb>/nodespace.toml`), `NODESPACE_<SECTION>_<NAME>` environment
    variables, then explicit `overrides`.
    """
    env = os.environ if env is None else env
    settings = Settings()
    settings.sources.append("defaults")
    _apply_file(settings, user_file if user_file is not None else user_config_path(env))
    if kb_path is not None:
        _apply_file(settings, Path(kb_path) / PROJECT_FILE)
    _apply_env(settings, env)
    if overrides:
        _apply_mapping(settings, overrides, "arguments")
    return settings


def _values(section: param.Parameterized) -> dict[str, Any]:
    return {name: getattr(section, name) for name in section.param if name != "name"}


def _apply_file(settings: Settings, path: Path) -> None:
    if not path.is_file():
        return
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"Config file {path} cannot be read: {exc}. Fix or remove it.") from exc
    _apply_mapping(settings, data, str(path))


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
    if isinstance(parameter, param.Integer):
        try:
            return int(raw)
        except ValueError:
            raise ConfigError(f"{key}={raw!r} is not an integer; {_allowed(parameter)}.") from None
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

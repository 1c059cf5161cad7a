"""Schema files: entity kinds written in TOML (stdlib) or YAML (with PyYAML).

One file may define several kinds, as a table per kind under `kinds`:

    [kinds.paper]
    description = "A published paper"
    [kinds.paper.fields]
    year = { type = "integer", required = true }
    venue = "text"
    authors = { type = "ref", to = "person", many = true }

The same shape in YAML (`kinds: {paper: {fields: {year: integer}}}`).
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import ValidationError
from .schema import KindSchema, make_schema, short

SUFFIXES = (".toml", ".yaml", ".yml")


def load_schema_file(path: Path) -> list[KindSchema]:
    """The checked kinds of a schema file (ValidationError naming the file on any fault)."""
    data = _read(path)
    kinds = data.get("kinds") if isinstance(data, Mapping) else None
    if not isinstance(kinds, Mapping) or not kinds:
        raise ValidationError(
            f"Schema file {path} defines no kinds; write a table per kind under 'kinds', "
            "e.g. [kinds.paper.fields] with year = 'integer'."
        )
    schemas = []
    for name, body in kinds.items():
        schemas.append(_schema(path, name, body))
    return schemas


def _schema(path: Path, name: str, body: object) -> KindSchema:
    if not isinstance(body, Mapping):
        raise ValidationError(
            f"Schema file {path}: kind {name!r} must be a table, not {short(body)}."
        )
    extra = sorted(set(body) - {"description", "fields"})
    if extra:
        raise ValidationError(
            f"Schema file {path}: kind {name!r} has unknown key {extra[0]!r}; "
            "a kind has 'description' and 'fields'."
        )
    try:
        return make_schema(name, body.get("fields") or {}, body.get("description") or "")
    except ValidationError as exc:
        raise ValidationError(f"Schema file {path}: {exc}") from None


def _read(path: Path) -> Any:
    if path.suffix.lower() not in SUFFIXES:
        raise ValidationError(
            f"Schema file {path} has suffix {path.suffix!r}; use .toml, .yaml or .yml."
        )
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ValidationError(f"Schema file {path} cannot be read: {exc.strerror}.") from None
    if path.suffix.lower() == ".toml":
        try:
            return tomllib.loads(raw.decode("utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ValidationError(f"Schema file {path} is not valid TOML: {exc}.") from None
    return _read_yaml(path, raw)


def _read_yaml(path: Path, raw: bytes) -> Any:
    try:
        import yaml  # type: ignore[import-untyped]
    except ImportError:
        raise ValidationError(
            f"Schema file {path} is YAML, which needs PyYAML: pip install pyyaml "
            "(or write the schema in TOML)."
        ) from None
    try:
        return yaml.safe_load(raw.decode("utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ValidationError(f"Schema file {path} is not valid YAML: {exc}.") from None

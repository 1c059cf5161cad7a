"""Schema files in TOML and YAML."""

from __future__ import annotations

from pathlib import Path

import pytest

from nodespace_lab import KnowledgeBase
from nodespace_lab.errors import ValidationError

TOML = """
[kinds.person]
description = "Someone"
fields = { name = "text" }

[kinds.paper]
description = "A published paper"
[kinds.paper.fields]
year = { type = "integer", required = true }
published = { type = "date", default = 2024-01-01 }
authors = { type = "ref", to = "person", many = true }
stage = { type = "enum", choices = ["draft", "published"], default = "draft" }
"""

YAML = """
kinds:
  dataset:
    description: A data set
    fields:
      rows: integer
      collected: {type: date, default: 2023-05-06}
      keywords: {type: list, of: text}
"""


def test_toml_file(kb: KnowledgeBase, tmp_path: Path) -> None:
    path = tmp_path / "schema.toml"
    path.write_text(TOML, encoding="utf-8")
    schemas = kb.define_file(path)
    assert [s.name for s in schemas] == ["person", "paper"]
    paper = kb.schema("paper")
    assert paper.names() == ["year", "published", "authors", "stage"]
    assert paper.field("published").default == "2024-01-01"
    assert kb.define_file(path) == schemas  # again: nothing changes


def test_yaml_file(kb: KnowledgeBase, tmp_path: Path) -> None:
    path = tmp_path / "schema.yaml"
    path.write_text(YAML, encoding="utf-8")
    (schema,) = kb.define_file(path)
    assert schema.field("collected").default == "2023-05-06"
    node = kb.create("dataset", "D", rows=3)
    assert node.properties == {"rows": 3, "collected": "2023-05-06"}


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("s.json", "{}", "use .toml, .yaml or .yml"),
        ("s.toml", "kinds = 3", "defines no kinds"),
        ("s.toml", "[kinds", "is not valid TOML"),
        ("s.yaml", "kinds: [", "is not valid YAML"),
        ("s.toml", "[kinds.paper]\ncolour = 1", "unknown key 'colour'"),
        ("s.toml", "kinds.paper = 3", "must be a table"),
        ("s.toml", "[kinds.paper.fields]\nyear = 'int'", r"s.toml: Kind 'paper' field 'year'"),
    ],
)
def test_bad_files(kb: KnowledgeBase, tmp_path: Path, name: str, text: str, message: str) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValidationError, match=message):
        kb.define_file(path)
    assert kb.schemas() == []


def test_missing_file(kb: KnowledgeBase, tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="cannot be read"):
        kb.define_file(tmp_path / "nope.toml")


def test_file_is_all_or_nothing(kb: KnowledgeBase, tmp_path: Path) -> None:
    kb.define("paper", {"year": "text"})
    path = tmp_path / "schema.toml"
    path.write_text(TOML, encoding="utf-8")
    with pytest.raises(ValidationError, match="already defined with other fields"):
        kb.define_file(path)
    assert [s.name for s in kb.schemas()] == ["paper"]

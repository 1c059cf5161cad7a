"""The `nodespace kind` commands."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from nodespace_lab.cli import cli

# cli_env (tests/entities/conftest.py) sets isolated NODESPACE_* variables with monkeypatch.
pytestmark = pytest.mark.usefixtures("cli_env")

SCHEMA = """
[kinds.paper]
description = "A paper"
[kinds.paper.fields]
year = { type = "integer", required = true }
stage = { type = "enum", choices = ["draft", "done"], default = "draft" }
"""


def test_define_list_show(tmp_path: Path) -> None:
    kb = tmp_path / "kb"
    schema = tmp_path / "schema.toml"
    schema.write_text(SCHEMA, encoding="utf-8")
    runner = CliRunner()
    assert runner.invoke(cli, ["--kb", str(kb), "init"]).exit_code == 0
    result = runner.invoke(cli, ["--kb", str(kb), "kind", "define", "--file", str(schema)])
    assert result.exit_code == 0, result.output
    assert result.output == "paper\n"
    listed = runner.invoke(cli, ["--kb", str(kb), "kind", "list"])
    assert listed.output.startswith("paper\t2 fields\tA paper")
    shown = runner.invoke(cli, ["--kb", str(kb), "kind", "show", "paper"])
    assert "year: integer [required]" in shown.output
    assert "stage: enum [default 'draft'; choices draft, done]" in shown.output
    as_json = runner.invoke(cli, ["--kb", str(kb), "kind", "show", "paper", "--json"])
    assert '"name": "paper"' in as_json.output


def test_errors_reach_the_shell(tmp_path: Path) -> None:
    kb = tmp_path / "kb"
    runner = CliRunner()
    runner.invoke(cli, ["--kb", str(kb), "init"])
    missing = runner.invoke(cli, ["--kb", str(kb), "kind", "show", "paper"])
    assert missing.exit_code == 1 and "not defined" in missing.output
    bad = tmp_path / "bad.toml"
    bad.write_text("[kinds.paper.fields]\nyear = 'int'\n", encoding="utf-8")
    result = runner.invoke(cli, ["--kb", str(kb), "kind", "define", "--file", str(bad)])
    assert result.exit_code == 1 and "has type 'int'" in result.output

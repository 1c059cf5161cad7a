"""The layout the maps describe is the layout of the code, and the layers point down.

Two maps name every top-level part of the package: the "Source layout" section of
docs/architecture.md and the "Project layout" section of the README. A new
subpackage missing from either fails here. The import-linter contracts of
pyproject.toml (the same ones `make check` runs) are run here too, so that
`make test` catches an upward import as well.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import nodespace_lab

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = Path(nodespace_lab.__file__).resolve().parent
CONTRACTS = ("layers", "base", "acyclic")  # the ones DESIGN.md asks for; more may be added


def top_level_parts() -> list[str]:
    """Every subpackage (as `name/`) and module (as `name.py`) directly under the package."""
    packages = [f"{p.name}/" for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()]
    modules = [p.name for p in PACKAGE.glob("*.py") if p.name not in {"__init__.py", "__main__.py"}]
    return sorted(packages + modules)


def section(path: Path, heading: str) -> str:
    """The text of the Markdown section `heading` (up to the next heading of its level)."""
    text = path.read_text(encoding="utf-8")
    level = heading.split(" ", 1)[0]
    start = text.index(heading + "\n")
    rest = text[start + len(heading) + 1 :]
    end = re.search(rf"^{level} ", rest, flags=re.MULTILINE)
    return rest[: end.start()] if end else rest


def missing(part: str, text: str) -> bool:
    # `cli.py` must not be found inside `_cli.py`, nor `nodes/` inside `xnodes/`.
    return re.search(rf"(?<![\w.]){re.escape(part)}", text) is None


def test_the_package_has_the_parts_the_check_looks_for() -> None:
    parts = top_level_parts()
    assert {"kb/", "graph/", "nodes/", "entities/", "errors.py", "cli.py"} <= set(parts)


@pytest.mark.parametrize(
    ("document", "heading"),
    [("docs/architecture.md", "## Source layout"), ("README.md", "## Project layout")],
)
def test_every_top_level_part_is_on_the_map(document: str, heading: str) -> None:
    text = section(ROOT / document, heading)
    absent = [part for part in top_level_parts() if missing(part, text)]
    assert absent == [], (
        f"{document} ({heading!r}) does not describe nodespace_lab's {', '.join(absent)}: "
        "add one line each on what it owns and what it may import, in both "
        "docs/architecture.md and README.md, and give it its layer in pyproject.toml"
    )


def test_the_map_check_notices_a_missing_part() -> None:
    text = section(ROOT / "README.md", "## Project layout")
    assert not missing("entities/", text)
    assert missing("entities/", text.replace("entities/", "entity/"))
    assert missing("cli.py", "  _cli.py   not the command")


def contract_ids() -> list[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return [c["id"] for c in config["tool"]["importlinter"]["contracts"]]


def test_the_contracts_design_asks_for_are_declared() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = {c["id"]: c for c in config["tool"]["importlinter"]["contracts"]}
    assert set(CONTRACTS) <= set(contracts)
    # Exhaustive: a new subpackage without a layer breaks the contract instead of escaping it.
    assert contracts["layers"]["exhaustive"] is True
    assert contracts["layers"]["layers"][-2:] == ["config", "errors"]


@pytest.mark.parametrize("contract", contract_ids())
def test_import_contract_is_kept(contract: str) -> None:
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(lint), "--no-cache", "--no-logo", "--contract", contract, "pyproject.toml"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr

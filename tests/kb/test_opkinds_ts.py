"""The lab extension's op kinds are generated from the Python declaration."""

from __future__ import annotations

import re
from pathlib import Path

from nodespace_lab.graph.opkinds import KINDS
from nodespace_lab.kb.typescript_opkinds import TARGET, render

ROOT = Path(__file__).resolve().parents[2]


def test_the_committed_opkinds_ts_is_current() -> None:
    committed = (ROOT / TARGET).read_text(encoding="utf-8")
    assert committed == render(), "run `python -m nodespace_lab.kb.typescript_opkinds`"


def test_every_kind_is_in_the_typescript_with_its_category() -> None:
    text = render()
    found = dict(re.findall(r"^  '([^']+)': \{ category: '(\w+)'", text, flags=re.M))
    assert found == {name: kind.category for name, kind in KINDS.items()}

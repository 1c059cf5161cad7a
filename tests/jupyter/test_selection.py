"""Choosing the knowledge base of a Jupyter server (`KnowledgeBases`), in process."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from nodespace_lab.errors import DatabaseLocked
from nodespace_lab.jupyter.selection import KnowledgeBases
from nodespace_lab.kb import KnowledgeBase
from nodespace_lab.service.runtime import ENV_SERVICE

from ..processes import run_in_own_loop
from ..service.running import service_env


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name, value in service_env(tmp_path).items():
        monkeypatch.setenv(name, value)
    # select() exports these for new kernels; set-then-delete makes monkeypatch restore
    # them (unset) afterwards, or later notebooks under nbval would open this test's KB.
    for name in ("NODESPACE_KB", ENV_SERVICE):
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    root = tmp_path / "root"
    root.mkdir()
    return root


def test_new_kernels_inherit_the_chosen_knowledge_base(env: Path) -> None:
    kbs = KnowledgeBases(env, None, logging.getLogger("test"))
    assert kbs.current is None
    try:
        chosen = run_in_own_loop(kbs.select("notes"))
        assert chosen.kb_path == env / "notes" and chosen.info is not None
        assert kbs.generation == 1
        assert os.environ["NODESPACE_KB"] == str(env / "notes")
        assert os.environ[ENV_SERVICE] == str(chosen.runtime)
    finally:
        kbs.stop()


def test_a_knowledge_base_open_elsewhere_is_refused_by_name(env: Path) -> None:
    kbs = KnowledgeBases(env, None, logging.getLogger("test"))
    refused = pytest.raises(DatabaseLocked, match=r"busy.*open in another process.*not opened")
    with KnowledgeBase(env / "busy"), refused:
        run_in_own_loop(kbs.select("busy"))
    assert kbs.current is None and kbs.generation == 0

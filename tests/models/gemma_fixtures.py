"""Shared model fixtures: the packaged Gemma GGUF, loaded once per test session.

Loading costs ~0.5 s and ~375 MB, so every test file that needs the real model
through llama.cpp shares `llama_backend` (it is not thread-safe: tests use it
one call at a time, which pytest does). Test modules load this as a plugin
(`pytest_plugins = ["tests.models.gemma_fixtures"]`), in tests/models and
tests/ai alike, so each fixture exists once per session.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from nodespace_lab.config.sections import AISettings
from nodespace_lab.models.files import default_gguf
from nodespace_lab.models.llamacpp import LlamaCppBackend

# Before anything loads llama.cpp or could reach Hugging Face (tests never download).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

TEST_CONTEXT = 2048


@pytest.fixture(scope="session")
def gemma_gguf() -> Path:
    """The packaged Gemma 3 270M GGUF (assembled and verified on first use)."""
    return default_gguf()


@pytest.fixture(scope="session")
def llama_backend(gemma_gguf: Path) -> Iterator[LlamaCppBackend]:
    """The packaged Gemma loaded in llama.cpp, 1 thread, a 2048-token context."""
    settings = AISettings(  # type: ignore[no-untyped-call]  # param is unannotated
        backend="llamacpp", model_path=str(gemma_gguf), context_length=TEST_CONTEXT, threads=1
    )
    backend = LlamaCppBackend.from_settings(settings)
    backend.load()
    yield backend
    backend.unload()

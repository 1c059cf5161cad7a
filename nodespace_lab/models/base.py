"""What every backend that loads one model shares: its lock, its loaded state, its info.

llama.cpp and MLX models are not thread-safe, so each loaded model has one lock
(NOTES.md), and every call that touches the model (loading, generating, scoring,
unloading) holds it; a call waits at most `busy_timeout_s` for the one before,
then says so. A subclass says only how to open its model and how to free it;
it imports its heavy library there, never at module import.
"""

from __future__ import annotations

import threading
from abc import abstractmethod
from contextlib import AbstractContextManager

from .backend import Backend, ModelInfo, held


class LoadedBackend(Backend):
    """A backend whose model loads on first use and stays loaded until `unload()`."""

    def __init__(self, *, label: str, busy_timeout_s: float) -> None:
        # `label` names the model in the "still busy" error, e.g. "Model 'x.gguf'".
        self._label = label
        self._busy_timeout_s = busy_timeout_s
        self._lock = threading.Lock()
        self._info: ModelInfo | None = None

    @property
    def info(self) -> ModelInfo | None:
        """The loaded model, or None before `load()`."""
        return self._info

    def load(self) -> ModelInfo:
        """Load the model (idempotent); `ModelUnavailable` names what is missing and the fix."""
        with self._locked():
            return self._ensure_loaded()

    def unload(self) -> None:
        """Free the model's memory; `load()` brings it back."""
        with self._locked():
            self._info = None
            self._release()

    def _ensure_loaded(self) -> ModelInfo:
        """The loaded model's info, opening it first if needed (the caller holds the lock)."""
        if self._info is None:
            self._info = self._open()
        return self._info

    def _locked(self) -> AbstractContextManager[None]:
        """Hold the model's lock, or raise `ModelUnavailable` after `busy_timeout_s`."""
        return held(self._lock, self._busy_timeout_s, self._label)

    @abstractmethod
    def _open(self) -> ModelInfo:
        """Load the model with the lock held, keep its handles, and describe it."""

    @abstractmethod
    def _release(self) -> None:
        """Drop the model's handles with the lock held (also called when none is loaded)."""

"""The AI of one knowledge base: the chat model, started in its own process on
first use, and a summary of what works (for `kb.ai_status()`, the CLI and the
sidebar)."""

from __future__ import annotations

import threading
from typing import Any

from ..models.backend import resolve_backend_name
from ..models.worker import ModelWorker


class Assistant:
    """Holds the chat model of a knowledge base (one worker process, made lazily)."""

    def __init__(self, settings: Any) -> None:
        self.settings = settings
        self._model: ModelWorker | None = None
        self._lock = threading.Lock()

    @property
    def model(self) -> ModelWorker:
        """The chat model (its process starts on the first call that needs it)."""
        with self._lock:
            if self._model is None:
                self._model = ModelWorker(self.settings.ai)
            return self._model

    def status(self) -> dict[str, Any]:
        """Which backend and model, whether it is loaded, and why AI is unavailable if so."""
        ai = self.settings.ai
        worker = self._model
        status: dict[str, Any] = {
            "backend": resolve_backend_name(ai.backend),
            "model_path": ai.model_path or "(packaged Gemma 3 270M)",
            "loaded": bool(worker and worker.info),
            "state": worker.describe() if worker else "not started",
            "restarts": worker.restarts if worker else 0,
            "available": not (worker and worker.breaker.is_open),
        }
        if worker and worker.breaker.last_error:
            status["last_error"] = worker.breaker.last_error
        return status

    def check(self) -> dict[str, Any]:
        """Load the model and generate a token: `status()` plus the health answer."""
        health = self.model.health()
        return {**self.status(), "ok": health.ok, "detail": health.detail}

    def require(self) -> ModelWorker:
        """The model, or `ModelUnavailable` at once when the circuit breaker is open."""
        model = self.model
        model.breaker.check()
        return model

    def close(self) -> None:
        """Stop the model's process."""
        with self._lock:
            model, self._model = self._model, None
        if model is not None:
            model.close()

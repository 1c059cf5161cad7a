"""The built-in backends, registered like a plugin's: their modules load on first use."""

from __future__ import annotations

from importlib.util import find_spec
from typing import Any

from .backend import Backend, register_backend


def _llamacpp(settings: Any) -> Backend:
    from .llamacpp import LlamaCppBackend

    return LlamaCppBackend.from_settings(settings)


def _mlx(settings: Any) -> Backend:
    from .mlx import MlxBackend

    return MlxBackend.from_settings(settings)


def _openai(settings: Any) -> Backend:
    from .openai_http import OpenAIBackend

    return OpenAIBackend.from_settings(settings)


def register() -> None:
    """Register llamacpp, mlx and openai."""
    register_backend(
        "llamacpp",
        _llamacpp,
        installed=lambda: find_spec("llama_cpp") is not None,
        summary="llama.cpp through llama-cpp-python: any GGUF file (default: Gemma 3 270M)",
    )
    register_backend(
        "mlx",
        _mlx,
        installed=lambda: find_spec("mlx_lm") is not None,
        summary="MLX through mlx-lm: any MLX model folder (Apple Silicon; CPU on Linux)",
    )
    register_backend(
        "openai",
        _openai,
        summary="An OpenAI-compatible HTTP server (llama-server, Ollama, LM Studio, vLLM)",
    )

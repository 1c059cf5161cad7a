"""The built-in backends, added by the default plugin: their modules load on first use."""

from __future__ import annotations

from collections.abc import Callable
from importlib.util import find_spec
from typing import Any

from .backend import Backend, BackendFactory


def _llamacpp(settings: Any) -> Backend:
    from .llamacpp import LlamaCppBackend

    return LlamaCppBackend.from_settings(settings)


def _mlx(settings: Any) -> Backend:
    from .mlx import MlxBackend

    return MlxBackend.from_settings(settings)


def _openai(settings: Any) -> Backend:
    from .openai_http import OpenAIBackend

    return OpenAIBackend.from_settings(settings)


#: (name, factory, installed, summary) of llamacpp, mlx and openai; the default
#: plugin (`nodespace_lab.plugins.builtins`) adds them through its hook.
BUILTINS: tuple[tuple[str, BackendFactory, Callable[[], bool], str], ...] = (
    (
        "llamacpp",
        _llamacpp,
        lambda: find_spec("llama_cpp") is not None,
        "llama.cpp through llama-cpp-python: any GGUF file (default: Gemma 3 270M)",
    ),
    (
        "mlx",
        _mlx,
        lambda: find_spec("mlx_lm") is not None,
        "MLX through mlx-lm: any MLX model folder (Apple Silicon; CPU on Linux)",
    ),
    (
        "openai",
        _openai,
        lambda: True,
        "An OpenAI-compatible HTTP server (llama-server, Ollama, LM Studio, vLLM)",
    ),
)

"""Model runtime: backends and their registry, the worker process, embeddings.

Nothing here knows a knowledge base (it imports only config, errors and
third-party libraries); `ai/` builds the knowledge-base features on it.
Nothing heavy is imported here: llama_cpp, mlx and onnxruntime load only when
a model is first used.
"""

from __future__ import annotations

from .backend import (
    Backend,
    CancelToken,
    Generation,
    GenerationOptions,
    Health,
    Message,
    ModelInfo,
    backend_names,
    create_backend,
    register_backend,
)

__all__ = [
    "Backend",
    "CancelToken",
    "Generation",
    "GenerationOptions",
    "Health",
    "Message",
    "ModelInfo",
    "backend_names",
    "create_backend",
    "register_backend",
]

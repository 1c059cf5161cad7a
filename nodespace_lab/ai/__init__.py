"""Local AI: model backends, embeddings, semantic search, answers with citations.

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

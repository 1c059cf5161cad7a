"""Settings sections: one `param.Parameterized` class per concern.

Each setting is declared once, with its documentation and bounds; the docs
page and the loader are generated from these declarations.
"""

from __future__ import annotations

import param


class StorageSettings(param.Parameterized):
    """Where and how the graph is stored."""

    engine: param.Selector[str] = param.Selector(
        default="ladybug",
        objects=["ladybug", "kuzu"],
        doc="Graph engine: 'ladybug' (LadybugDB, default) or 'kuzu' (Kùzu 0.11.3, archived).",
    )
    buffer_pool_mb = param.Integer(
        default=1024,
        bounds=(16, 262144),
        doc="Engine buffer pool size in MiB (a 1M-node import needs about 1 GiB).",
    )
    max_db_size_gb = param.Integer(
        default=64,
        bounds=(1, 16384),
        doc="Largest database size in GiB (address space the engine reserves).",
    )
    max_content_bytes = param.Integer(
        default=1_000_000,
        bounds=(1_000, 64_000_000),
        doc="Largest node content accepted, in UTF-8 bytes.",
    )
    max_title_chars = param.Integer(
        default=1_000, bounds=(10, 100_000), doc="Longest node title accepted, in characters."
    )


class SearchSettings(param.Parameterized):
    """The full-text search sidecar index."""

    writer_heap_mb = param.Integer(
        default=128, bounds=(16, 4096), doc="Memory the full-text index writer may use, in MiB."
    )
    snippet_chars = param.Integer(
        default=160, bounds=(20, 2000), doc="Longest snippet returned with a search hit."
    )


class PerformanceSettings(param.Parameterized):
    """Threads and time limits."""

    query_threads = param.Integer(
        default=0, bounds=(0, 256), doc="Threads per query (0 lets the engine choose)."
    )
    query_timeout_ms = param.Integer(
        default=30_000,
        bounds=(0, 3_600_000),
        doc="Time limit for user Cypher queries in milliseconds (0 means none).",
    )


class SecuritySettings(param.Parameterized):
    """What user-supplied queries may do."""

    allow_cypher_writes = param.Boolean(
        default=False,
        doc="Let kb.cypher() write when called with write=True. Reads are always allowed.",
    )


class AISettings(param.Parameterized):
    """Local models (used by the AI features)."""

    backend: param.Selector[str] = param.Selector(
        default="auto",
        objects=["auto", "llamacpp", "mlx", "openai"],
        doc="Model backend; 'auto' picks MLX on Apple Silicon and llama.cpp elsewhere.",
    )
    model_path = param.String(
        default="", doc="Path to a GGUF file or MLX folder; empty uses the packaged Gemma 3 270M."
    )
    threads = param.Integer(default=1, bounds=(1, 256), doc="Threads used for inference.")


class ServiceSettings(param.Parameterized):
    """The knowledge-base service process."""

    host = param.String(default="127.0.0.1", doc="Address the service listens on (loopback).")
    port = param.Integer(
        default=0, bounds=(0, 65535), doc="Port of the service (0 picks a free one)."
    )
    runtime_dir = param.String(
        default="",
        doc="Folder of the runtime files that tell clients where a service runs "
        "(empty: the platform's user runtime folder).",
    )
    transaction_timeout_s = param.Number(
        default=30.0,
        bounds=(1.0, 3600.0),
        doc="A client transaction idle this long is rolled back, so a client that "
        "died cannot hold the writer.",
    )


class LoggingSettings(param.Parameterized):
    """Log output."""

    level: param.Selector[str] = param.Selector(
        default="WARNING",
        objects=["DEBUG", "INFO", "WARNING", "ERROR"],
        doc="Log level of the nodespace_lab loggers.",
    )


SECTIONS: dict[str, type[param.Parameterized]] = {
    "storage": StorageSettings,
    "search": SearchSettings,
    "performance": PerformanceSettings,
    "security": SecuritySettings,
    "ai": AISettings,
    "service": ServiceSettings,
    "logging": LoggingSettings,
}

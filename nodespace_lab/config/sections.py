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

    backend = param.String(
        default="auto",
        doc="Model backend: 'llamacpp', 'mlx', 'openai' or a plugin's; 'auto' picks MLX on "
        "Apple Silicon (when mlx-lm is installed) and llama.cpp elsewhere.",
    )
    model_path = param.String(
        default="",
        doc="GGUF file (llama.cpp) or MLX model folder; empty uses the packaged Gemma 3 270M "
        "(for MLX, converted from the packaged GGUF once and cached).",
    )
    context_length = param.Integer(
        default=4096, bounds=(256, 131_072), doc="Context window of the chat model, in tokens."
    )
    threads = param.Integer(default=1, bounds=(1, 256), doc="Threads used for inference.")
    timeout_s = param.Number(
        default=120.0,
        bounds=(1.0, 3600.0),
        doc="Longest one model call may take before it is stopped (the model is reloaded).",
    )
    load_timeout_s = param.Number(
        default=180.0, bounds=(5.0, 3600.0), doc="Longest loading a model may take."
    )
    failure_threshold = param.Integer(
        default=3,
        bounds=(1, 100),
        doc="Failed calls in a row after which AI calls are refused for `cooldown_s`.",
    )
    cooldown_s = param.Number(
        default=30.0,
        bounds=(0.0, 3600.0),
        doc="How long AI calls are refused after repeated failures (the circuit breaker).",
    )
    openai_url = param.String(
        default="",
        doc="Base URL of an OpenAI-compatible server for backend 'openai', e.g. "
        "http://127.0.0.1:8080/v1 (llama-server, Ollama, LM Studio, vLLM).",
    )
    openai_model = param.String(
        default="", doc="Model name sent to the OpenAI-compatible server (backend 'openai')."
    )
    openai_api_key_env = param.String(
        default="OPENAI_API_KEY",
        doc="Environment variable holding the API key for backend 'openai' (the key itself "
        "is never stored in a settings file).",
    )
    embedding_model = param.String(
        default="minilm",
        doc="Sentence-embedding model for semantic search: 'minilm' (the packaged "
        "all-MiniLM-L6-v2, ONNX int8, 384 dimensions) or a folder with model.onnx and "
        "tokenizer.json. Changing it re-embeds every node.",
    )
    answer_tokens = param.Integer(
        default=384, bounds=(16, 8192), doc="Longest answer `ask()` generates, in tokens."
    )
    context_nodes = param.Integer(
        default=8, bounds=(1, 100), doc="How many retrieved nodes `ask()` gives the model."
    )


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
    feed_max_pending_mb = param.Integer(
        default=16,
        bounds=(1, 1024),
        doc="Change-feed data (MB) the service holds for one websocket client that has "
        "not read it yet; past this the client is disconnected (close code 4002, with "
        "its last sequence number) and resumes from the change log.",
    )
    feed_max_pending_messages = param.Integer(
        default=1000,
        bounds=(1, 1_000_000),
        doc="Change sets the service holds for one websocket client that has not read "
        "them yet; past this the client is disconnected as for feed_max_pending_mb.",
    )
    max_body_mb = param.Integer(
        default=8,
        bounds=(1, 1024),
        doc="Largest request body (MB) the service reads; a larger one is refused with "
        "413 (imports have their own limit, max_import_mb). Bodies are read only "
        "after the token was checked.",
    )
    max_import_mb = param.Integer(
        default=1024,
        bounds=(1, 16384),
        doc="Largest request body (MB) of an import (kb/import_nodes), which is read "
        "in pieces as it arrives.",
    )


class LoggingSettings(param.Parameterized):
    """Log output."""

    level: param.Selector[str] = param.Selector(
        default="WARNING",
        objects=["DEBUG", "INFO", "WARNING", "ERROR"],
        doc="Log level of the nodespace_lab loggers.",
    )


class PluginSettings(param.Parameterized):
    """Which installed plugins (entry-point group `nodespace_lab`) may load."""

    allow = param.List(
        default=[],
        item_type=str,
        doc="Names of the installed plugins that may load (their entry-point names, as "
        '`nodespace plugins list` shows them); `["*"]` allows every installed plugin. '
        "Empty (the default): none loads. Plugins run in this process with your rights; "
        "chosen once per process from your config file and environment (a knowledge "
        "base's nodespace.toml is not consulted).",
    )
    deny = param.List(
        default=[],
        item_type=str,
        doc="Names of installed plugins that never load, even when `allow` names them or is "
        '`["*"]`.',
    )


SECTIONS: dict[str, type[param.Parameterized]] = {
    "storage": StorageSettings,
    "search": SearchSettings,
    "performance": PerformanceSettings,
    "security": SecuritySettings,
    "ai": AISettings,
    "service": ServiceSettings,
    "logging": LoggingSettings,
    "plugins": PluginSettings,
}

#: The settings that a knowledge base's own `nodespace.toml` may set only when
#: the user trusts that knowledge base (`nodespace trust PATH`), each with the
#: reason. They choose where notes, keys or tokens go, what native code parses,
#: where the service listens and what queries may do. The user's config file,
#: `NODESPACE_*` variables and explicit overrides always apply.
#: tests/config/test_trust.py lists every setting as reviewed for this: a new
#: setting fails that test until it is classified here or there.
SECURITY_RELEVANT: dict[str, str] = {
    "security.allow_cypher_writes": "lets Cypher queries write to the graph",
    "performance.query_timeout_ms": "can lift the time limit of queries",
    "ai.backend": "chooses the code that runs the model and where your notes go",
    "ai.model_path": "names a model file, which native code parses",
    "ai.openai_url": "names the server that receives your questions and notes",
    "ai.openai_api_key_env": "names the environment variable whose value is sent as the API key",
    "ai.embedding_model": "names a model folder, which native code parses",
    "service.host": "chooses the address the service listens on",
    "service.port": "chooses the port the service listens on",
    "service.runtime_dir": "chooses where clients find the service and its token",
    "plugins.allow": "chooses which installed code runs in this process with your rights",
    "plugins.deny": "can turn off a plugin you rely on (an audit or access-control plugin)",
}

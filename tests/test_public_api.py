"""The public surface: `__all__`, the error tree, and what `import nodespace_lab` costs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import nodespace_lab
from nodespace_lab import errors

ROOT = Path(__file__).resolve().parents[1]

# Modules that must never load at `import nodespace_lab` (DESIGN.md, AI: heavy
# imports happen lazily). The graph engines load on first open, not at import.
HEAVY = (
    "llama_cpp",
    "mlx",
    "mlx_lm",
    "onnxruntime",
    "tokenizers",
    "torch",
    "transformers",
    "anywidget",
    "ipywidgets",
    "fastapi",
    "uvicorn",
    "tornado",
    "usearch",
    "hnswlib",
    "faiss",
    "ladybug",
    "kuzu",
    "pluggy",  # plugin discovery is lazy: first read of a registry, not import
)


def test_all_is_the_agreed_public_api() -> None:
    # Changing the public API is a decision: update this snapshot on purpose.
    assert sorted(nodespace_lab.__all__) == [
        "KindSpec",
        "KnowledgeBase",
        "Node",
        "NodespaceError",
        "Settings",
        "__version__",
        "connect",
        "load_settings",
        "open",
        "register_kind",
    ]
    for name in nodespace_lab.__all__:
        assert hasattr(nodespace_lab, name), name


def test_open_is_open_kb() -> None:
    assert nodespace_lab.open is nodespace_lab.kb.open_kb


def test_version_is_a_string() -> None:
    assert isinstance(nodespace_lab.__version__, str)
    assert nodespace_lab.__version__.count(".") >= 1


def test_every_error_is_in_one_tree() -> None:
    assert set(errors.__all__) == {
        "BodyTooLarge",
        "ConfigError",
        "ConflictError",
        "DatabaseLocked",
        "HierarchyError",
        "ModelUnavailable",
        "NodespaceError",
        "NotFound",
        "NothingToUndo",
        "PluginCapabilityError",
        "PluginError",
        "QueryError",
        "ServiceUnavailable",
        "StorageError",
        "ValidationError",
    }
    for name in errors.__all__:
        assert issubclass(getattr(errors, name), errors.NodespaceError), name
    # Familiar bases, so generic handlers also catch them.
    assert issubclass(errors.ValidationError, ValueError)
    assert issubclass(errors.NotFound, KeyError)
    assert issubclass(errors.HierarchyError, errors.ValidationError)
    assert issubclass(errors.DatabaseLocked, errors.StorageError)


def test_not_found_message_is_not_quoted_like_a_key_error() -> None:
    assert str(errors.NotFound("Node 'x' does not exist")) == "Node 'x' does not exist"


def _fresh_import() -> dict[str, object]:
    code = (
        "import json, sys, time\n"
        "start = time.perf_counter()\n"
        "import nodespace_lab\n"
        "elapsed = time.perf_counter() - start\n"
        "names = sorted({m.split('.')[0] for m in sys.modules})\n"
        "print(json.dumps({'modules': names, 'seconds': elapsed}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_import_loads_no_heavy_module() -> None:
    result = _fresh_import()
    loaded = set(result["modules"])  # type: ignore[arg-type]
    assert "nodespace_lab" in loaded
    assert sorted(loaded & set(HEAVY)) == []


def test_import_is_quick() -> None:
    # ~0.2 s when quiet (polars is part of the API); a heavy import would add seconds.
    seconds = _fresh_import()["seconds"]
    assert isinstance(seconds, float)
    assert seconds < 3.0

"""What the service offers: the KnowledgeBase methods callable over HTTP, and its OpenAPI.

One route per method, `POST /api/v1/kb/<method>` with the keyword arguments as
a JSON object, so the API a notebook uses embedded is the API it uses over the
service, and the browser sees the same. Methods that take Python callables
(subscribe, follow, live) are not here: the change feed is a websocket, and
the client builds live queries on it.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

PROTOCOL_VERSION = 1
PREFIX = "/api/v1"

READS = (
    "get", "exists", "children", "child_counts", "subtree", "ancestors", "backlinks", "links",
    "tags", "members", "collections", "search", "changes", "seq", "cypher", "engine",
    "open_tasks", "schema", "schemas", "entity_values", "find_frame", "check_calculated",
)  # fmt: skip
# `define_file` is not here: the client reads the file (the service may run in another
# folder) and sends its kinds to `define` inside one transaction.
WRITES = (
    "create", "update", "move", "delete", "restore", "purge", "tag", "untag", "add_to",
    "remove_from", "journal", "import_nodes", "undo", "sync_search", "reindex",
    "define", "add_field", "rename_field", "change_field", "remove_field", "delete_kind",
    "recalculate",
)  # fmt: skip
METHODS = READS + WRITES
# Imports carry whole DataFrames: their bodies have their own, larger, limit.
IMPORTS = frozenset({"import_nodes"})
# Properties of KnowledgeBase, read with a call like the methods.
PROPERTIES = frozenset({"seq", "engine"})


def _ai_paths() -> dict[str, Any]:
    """The AI routes (their work runs off the write queue; see service/ai_routes.py)."""

    def post(summary: str, fields: dict[str, str]) -> dict[str, Any]:
        properties = {name: {"type": kind} for name, kind in fields.items()}
        return {
            "post": {
                "summary": summary,
                "requestBody": {
                    "content": {
                        "application/json": {"schema": {"type": "object", "properties": properties}}
                    }
                },
                "responses": {"200": {"description": "ok"}},
            }
        }

    return {
        f"{PREFIX}/ai/ask": post(
            "Answer a question from the notes; streams newline-delimited JSON: "
            '{"piece"} lines, then {"answer", "seq"} or {"error", "message"}.',
            {"question": "string", "conversation": "string", "save": "boolean", "limit": "integer"},
        ),
        f"{PREFIX}/ai/draft_task": post(
            "A task read from a sentence (nothing is written).",
            {"sentence": "string", "today": "string", "use_model": "boolean"},
        ),
        f"{PREFIX}/ai/draft_query": post(
            "A checked read-only query from a question (nothing runs).",
            {"question": "string", "mode": "string", "today": "string", "use_model": "boolean"},
        ),
        f"{PREFIX}/ai/status": {
            "get": {
                "summary": "The model: backend, state, why unavailable (?check=1 tests it).",
                "parameters": [_query_param("check", "boolean")],
                "responses": {"200": {"description": "ok"}},
            }
        },
    }


def too_large(size: int, limit: int, setting: str) -> str:
    """The message of a body of `size` bytes over `limit` bytes (`setting`: max_body_mb ...)."""
    return (
        f"Request body of {size} bytes is over the service's limit of {limit / 2**20:g} MB "
        f"({limit} bytes); send less, or raise service.{setting} "
        f"(NODESPACE_SERVICE_{setting.upper()})."
    )


def method_route(name: str) -> str:
    """The route of one method."""
    return f"{PREFIX}/kb/{name}"


def openapi(kb_class: type) -> dict[str, Any]:
    """An OpenAPI 3.1 description of every route, built from the methods themselves."""
    paths: dict[str, Any] = {
        f"{PREFIX}/info": {
            "get": {
                "summary": "Protocol version, knowledge base path, newest sequence number and "
                "the body limits in bytes (max_body_bytes, max_import_bytes).",
                "responses": {"200": {"description": "service information"}},
            }
        },
        f"{PREFIX}/openapi.json": {
            "get": {"summary": "This description.", "responses": {"200": {"description": "ok"}}}
        },
        f"{PREFIX}/feed": {
            "get": {
                "summary": "Websocket: every change set after `since`, then each new one.",
                "parameters": [_query_param("since", "integer")],
                "responses": {"101": {"description": "switching to the websocket protocol"}},
            }
        },
        f"{PREFIX}/transactions": {
            "post": {
                "summary": "Begin a transaction; calls carrying its id run inside it.",
                "responses": {"200": {"description": "the transaction id"}},
            }
        },
        f"{PREFIX}/transactions/{{id}}/commit": {
            "post": {"summary": "Commit.", "responses": {"200": {"description": "ok"}}}
        },
        f"{PREFIX}/transactions/{{id}}/rollback": {
            "post": {"summary": "Roll back.", "responses": {"200": {"description": "ok"}}}
        },
    }
    paths.update(_ai_paths())
    for name in METHODS:
        paths[method_route(name)] = {"post": _operation(kb_class, name)}
    return {
        "openapi": "3.1.0",
        "info": {"title": "NodeSpace Lab service", "version": str(PROTOCOL_VERSION)},
        "components": {
            "securitySchemes": {
                "token": {"type": "apiKey", "in": "header", "name": "Authorization"}
            }
        },
        "security": [{"token": []}],
        "paths": paths,
    }


def _operation(kb_class: type, name: str) -> dict[str, Any]:
    member = inspect.getattr_static(kb_class, name)
    function: Callable[..., Any] = (
        member.fget if isinstance(member, property) and member.fget else member
    )
    doc = inspect.getdoc(function) or name
    properties = {
        p.name: {"description": _annotation(p)}
        for p in inspect.signature(function).parameters.values()
        if p.name != "self"
    }
    return {
        "summary": doc.splitlines()[0],
        "tags": ["read" if name in READS else "write"],
        "requestBody": {
            "content": {
                "application/json": {"schema": {"type": "object", "properties": properties}}
            }
        },
        "responses": {
            "200": {"description": '`{"result": ...}`'},
            "400": {"description": 'invalid input: `{"error": class, "message": ...}`'},
            "404": {"description": "not found"},
            "409": {"description": "version conflict"},
        },
    }


def _annotation(parameter: inspect.Parameter) -> str:
    extra: dict[inspect._ParameterKind, str] = {
        inspect.Parameter.VAR_POSITIONAL: "list (under the key 'args')",
        inspect.Parameter.VAR_KEYWORD: "more fields, by name",
    }
    kind = extra.get(parameter.kind, "")
    text = str(parameter.annotation) if parameter.annotation is not inspect.Parameter.empty else ""
    return " ".join(part for part in (text, kind) if part) or "any"


def _query_param(name: str, kind: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "schema": {"type": kind}}

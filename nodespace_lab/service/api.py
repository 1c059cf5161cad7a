"""What the service offers: the operations of the table over HTTP, and its OpenAPI.

One route per operation of transport `call` (see nodespace_lab/kb/facets.py),
`POST /api/v1/kb/<name>` with the keyword arguments as a JSON object, so the API
a notebook uses embedded is the API it uses over the service, and the browser
sees the same. Operations that take Python callables (subscribe, follow, live)
ride the websocket feed; the AI ones have their own streaming routes; the
client builds query builders and transactions from the others.
"""

from __future__ import annotations

import inspect
from typing import Any

from ..kb.facets import OPERATIONS

PROTOCOL_VERSION = 1
PREFIX = "/api/v1"

_CALLS = [op for op in OPERATIONS.values() if op.transport == "call"]
READS = tuple(op.name for op in _CALLS if not op.writes)
WRITES = tuple(op.name for op in _CALLS if op.writes)
METHODS = READS + WRITES
# Imports carry whole DataFrames: their bodies have their own, larger, limit.
IMPORTS = frozenset({"import_nodes"})
# Properties of the API (seq, engine), read with a call like the methods.
PROPERTIES = frozenset(op.name for op in _CALLS if op.is_property)


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
            {
                "question": "string",
                "conversation": "string",
                "save": "boolean",
                "limit": "integer",
                "ask_id": "string",
            },
        ),
        f"{PREFIX}/ai/cancel": post(
            "Stop the answer started with this ask_id; it ends with finish_reason cancelled.",
            {"ask_id": "string"},
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


def openapi() -> dict[str, Any]:
    """An OpenAPI 3.1 description of every route, built from the operation table."""
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
        paths[method_route(name)] = {"post": _operation(name)}
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


def _operation(name: str) -> dict[str, Any]:
    op = OPERATIONS[name]
    properties = {
        p.name: {"description": _annotation(p)}
        for p in op.signature.parameters.values()
        if p.name != "self"
    }
    return {
        "summary": op.summary,
        "tags": [op.access, op.facet],
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

"""One error tree for NodeSpace Lab.

Every message names the object, the bad value and what to do about it, so a
user can fix the problem without reading the source.
"""

from __future__ import annotations


class NodespaceError(Exception):
    """Root of every error raised on purpose by NodeSpace Lab."""


class ConfigError(NodespaceError):
    """A setting has a bad value or a config file cannot be read."""


class ValidationError(NodespaceError, ValueError):
    """Input that the data model refuses: a bad kind, field value or text."""


class NotFound(NodespaceError, KeyError):
    """A node (or other object) that does not exist was asked for."""

    def __str__(self) -> str:
        # KeyError would quote the message; a plain sentence reads better.
        return str(self.args[0]) if self.args else ""


class ConflictError(NodespaceError):
    """An optimistic-concurrency check failed: someone else changed the node."""


class BodyTooLarge(ValidationError):
    """A request body over the service's limit (`service.max_body_mb` or `max_import_mb`)."""


class HierarchyError(ValidationError):
    """A move or create would break the tree (cycle, missing parent)."""


class QueryError(NodespaceError):
    """A query was refused or failed in the engine."""


class StorageError(NodespaceError):
    """The database could not be opened or written."""


class DatabaseLocked(StorageError):
    """Another process holds the database open for writing."""


class NothingToUndo(NodespaceError):
    """`undo()` was called with no change set left to revert."""


class ModelUnavailable(NodespaceError):
    """No local model could be loaded for an AI feature."""


class ServiceUnavailable(NodespaceError):
    """The knowledge-base service could not be reached."""


class PluginError(NodespaceError):
    """A plugin cannot be loaded or used (bad manifest, unsupported plugin API, its hook failed)."""


class PluginCapabilityError(PluginError, PermissionError):
    """A plugin did something its manifest does not declare (write, ai, network, files...)."""


__all__ = [
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
]

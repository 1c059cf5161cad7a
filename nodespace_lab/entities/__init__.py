"""Typed entities: user-defined kinds with schemas stored in the graph (DESIGN.md, data model)."""

from . import imports as imports  # registers the bulk-import check of entity rows
from .schema import FIELD_TYPES, Field, KindSchema

__all__ = ["FIELD_TYPES", "Field", "KindSchema"]

"""Node kinds, hierarchy, links, tags and the query builder."""

from .kinds import KINDS, KindSpec, register_kind
from .model import Node
from .query import Find

__all__ = ["KINDS", "Find", "KindSpec", "Node", "register_kind"]

"""The operation table: every knowledge-base operation declared once.

An operation is a method of one of the facet protocols (`kb/facets.py`)
marked with `@operation(...)`: its name, whether it reads or writes, the
capability a caller needs, and how the service carries it. The table is read
from those protocols, so the signature in the protocol is the one contract:
the embedded facade and the remote client implement it, the service routes,
its OpenAPI and the lab extension's TypeScript list come from it, and a parity
test holds both transports to it.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

Access = Literal["read", "write"]
#: What a caller must be allowed to do (plugins and access control check this).
Capability = Literal["read", "write", "ai", "files"]
#: How the service carries it: `call` is `POST /api/v1/kb/<name>`, `ai` its own
#: route under `/api/v1/ai/`, `feed` the websocket change feed, and `client` an
#: operation a client builds from the others (query builders, transactions).
Transport = Literal["call", "ai", "feed", "client"]

F = TypeVar("F", bound=Callable[..., Any])
_MARK = "__nodespace_operation__"


@dataclass(frozen=True)
class Operation:
    """One knowledge-base operation, as declared on its facet protocol."""

    name: str
    facet: str
    access: Access
    capability: Capability
    transport: Transport
    is_property: bool
    summary: str
    signature: inspect.Signature

    @property
    def writes(self) -> bool:
        """True when the operation may change the knowledge base."""
        return self.access == "write"


@dataclass(frozen=True)
class _Mark:
    access: Access
    capability: Capability
    transport: Transport


def operation(
    access: Access,
    capability: Capability | None = None,
    *,
    transport: Transport = "call",
) -> Callable[[F], F]:
    """Declare a facet protocol method as an operation (the capability defaults to `access`)."""
    mark = _Mark(access, capability or access, transport)

    def declare(method: F) -> F:
        setattr(method, _MARK, mark)
        return method

    return declare


def facet_operations(facet: type) -> Iterator[Operation]:
    """The operations declared on one facet protocol, in declaration order."""
    for name, member in vars(facet).items():
        function = member.fget if isinstance(member, property) else member
        mark = getattr(function, _MARK, None)
        if mark is None or not callable(function):
            continue
        yield Operation(
            name=name,
            facet=facet.__name__,
            access=mark.access,
            capability=mark.capability,
            transport=mark.transport,
            is_property=isinstance(member, property),
            summary=(inspect.getdoc(function) or name).splitlines()[0],
            signature=inspect.signature(function),
        )


def build_table(facets: tuple[type, ...]) -> dict[str, Operation]:
    """Every operation of `facets` by name; a name declared twice is a programming error."""
    table: dict[str, Operation] = {}
    for facet in facets:
        for op in facet_operations(facet):
            if op.name in table:
                raise TypeError(f"operation {op.name!r} is declared in two facets")
            table[op.name] = op
    return table

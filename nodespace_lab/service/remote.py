"""Client methods made from the operation table, so no signature is copied by hand.

`remote(NodesAPI.get)` is a method with the protocol's own signature, type
and docstring that checks its arguments here (a wrong call raises TypeError,
as in-process) and sends them to `POST /api/v1/kb/get`; the codec brings the
result back with its type (nodes, frames, change sets...).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from ..kb.facets import OPERATIONS

F = TypeVar("F", bound=Callable[..., Any])


def remote(method: F) -> F:
    """The client's implementation of the `call` operation declared by `method`."""
    op = OPERATIONS[method.__name__]
    if op.transport != "call" or op.is_property:
        raise TypeError(f"operation {op.name!r} is not a plain call ({op.transport})")
    signature = op.signature

    @functools.wraps(method)
    def call(self: Any, *args: Any, **kwargs: Any) -> Any:
        signature.bind(self, *args, **kwargs)  # the TypeError Python would raise embedded
        return self._call(op.name, *args, **kwargs)

    return call  # type: ignore[return-value]

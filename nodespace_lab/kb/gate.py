"""The one place every knowledge-base operation passes.

Both transports route each operation of the table through `OperationGate.run`,
so a span, a metric, a cache lookup, a capability check or an audit record is
written once, as a hook, for every operation:

    def timed(call: OperationCall, proceed: Proceed) -> Any:
        start = time.perf_counter()
        try:
            return proceed()
        finally:
            durations[call.operation.name].append(time.perf_counter() - start)

    kb.gate.add(timed)

A hook may return without calling `proceed` (a cache hit) or raise (a
refused capability). Only the outermost operation of a call passes the hooks:
`open_tasks` running a `find` internally is one operation, not two.
"""

from __future__ import annotations

import contextvars
import functools
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from .operations import Operation

Proceed = Callable[[], Any]
#: A hook gets the call and a function running the rest of the chain.
Hook = Callable[["OperationCall", Proceed], Any]
T = TypeVar("T")
C = TypeVar("C", bound=type)

# The operation this context is inside of, per gate: nested ones skip the hooks.
_inside: contextvars.ContextVar[frozenset[int]] = contextvars.ContextVar(
    "nodespace_operation", default=frozenset()
)


@dataclass(frozen=True)
class OperationCall:
    """One call of an operation: which, with what, through which transport."""

    operation: Operation
    args: tuple[Any, ...]
    kwargs: Mapping[str, Any]
    transport: str


class OperationGate:
    """The hooks every operation of one knowledge base (or client) runs through."""

    def __init__(self, transport: str) -> None:
        self.transport = transport
        self._hooks: tuple[Hook, ...] = ()
        self._lock = threading.Lock()

    @property
    def hooks(self) -> tuple[Hook, ...]:
        """The hooks, outermost first."""
        return self._hooks

    def add(self, hook: Hook) -> Callable[[], None]:
        """Run `hook` around every operation from now on; returns a function removing it."""
        with self._lock:
            self._hooks = (*self._hooks, hook)

        def remove() -> None:
            with self._lock:
                self._hooks = tuple(h for h in self._hooks if h is not hook)

        return remove

    def run(
        self,
        op: Operation,
        function: Callable[..., T],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> T:
        """Call `function(*args, **kwargs)` as operation `op`, through the hooks."""
        hooks = self._hooks
        inside = _inside.get()
        if not hooks or id(self) in inside:
            return function(*args, **kwargs)
        call = OperationCall(op, args[1:], kwargs, self.transport)  # args[0] is self
        token = _inside.set(inside | {id(self)})
        try:
            return _chain(hooks, call, lambda: function(*args, **kwargs))  # type: ignore[no-any-return]
        finally:
            _inside.reset(token)


def _chain(hooks: tuple[Hook, ...], call: OperationCall, last: Proceed) -> Any:
    """Run `hooks[0]` with a `proceed` that runs the others, then `last`."""
    if not hooks:
        return last()
    first, rest = hooks[0], hooks[1:]
    return first(call, lambda: _chain(rest, call, last))


def gated(operations: Mapping[str, Operation]) -> Callable[[C], C]:
    """Class decorator: every operation the class implements runs through `self.gate`.

    Inherited implementations (the facade's mixins) are wrapped too; the
    class must set `self.gate` in `__init__` (calls before that run directly).
    """

    def decorate(cls: C) -> C:
        for name, op in operations.items():
            member = _find(cls, name)
            if isinstance(member, property) and member.fget is not None:
                setattr(cls, name, property(_wrap(op, member.fget), doc=member.__doc__))
            elif callable(member):
                setattr(cls, name, _wrap(op, member))
        return cls

    return decorate


def _find(cls: type, name: str) -> Any:
    for klass in cls.__mro__:
        if name in vars(klass):
            return vars(klass)[name]
    return None


def _wrap(op: Operation, function: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(function)
    def through_gate(*args: Any, **kwargs: Any) -> Any:
        gate: OperationGate | None = getattr(args[0], "gate", None)
        if gate is None:
            return function(*args, **kwargs)
        return gate.run(op, function, args, kwargs)

    return through_gate

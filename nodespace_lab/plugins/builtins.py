"""The default plugin: the built-in node kinds, calculated-field functions and model backends.

They reach their registries through the same hooks as a third-party plugin's
(datasette and llm do the same), so the hook path is the one every kind,
function and backend takes. The modules of the heavy backends stay unloaded:
only their factories are registered.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from .hookspecs import hookimpl

if TYPE_CHECKING:
    from ..entities.calc.functions import Function
    from ..nodes.kinds import KindSpec
    from .contributions import BackendEntry

NAME = "nodespace_lab"


@hookimpl
def nodespace_kinds() -> Sequence[KindSpec]:
    """text, task, date, tag, collection, chat."""
    from ..nodes.kinds import BUILTIN_KINDS

    return BUILTIN_KINDS


@hookimpl
def nodespace_calc_functions() -> Sequence[Function]:
    """round, floor, ..., add_months: the expression language's scalar functions."""
    from ..entities.calc.functions import BUILTIN_FUNCTIONS

    return BUILTIN_FUNCTIONS


@hookimpl
def nodespace_model_backends() -> Sequence[BackendEntry]:
    """llamacpp, mlx and openai."""
    from ..models._builtin import BUILTINS
    from .contributions import BackendEntry

    return [BackendEntry(name, f, installed=i, summary=s) for name, f, i, s in BUILTINS]

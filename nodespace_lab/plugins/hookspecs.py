"""The hook specifications: everything a plugin can add to NodeSpace Lab.

A plugin is a module or object with functions marked `@hookimpl` whose names
are the hooks below; the built-ins are the default plugin
(`nodespace_lab.plugins.builtins`) and use the same hooks. Each hook returns a
sequence of what it adds and takes no argument unless it says so: the
registry calls every plugin's implementation on its own, so one raising
plugin is disabled and reported while the others (and the knowledge base)
carry on.

Hooks marked "declared for issue N" have no consumer yet: their signature is
the contract the named issue builds on, and a plugin may implement them today
(`nodespace plugins list` shows them) without effect.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    import click

    from ..entities.calc.functions import Function
    from ..nodes.kinds import KindSpec
    from .contributions import BackendEntry, DoctorCheck, Exporter, Importer

PROJECT = "nodespace_lab"
hookspec = pluggy.HookspecMarker(PROJECT)
#: Mark a plugin's function as the implementation of the hook of the same name.
hookimpl = pluggy.HookimplMarker(PROJECT)


# -- consumed today ---------------------------------------------------------------


@hookspec
def nodespace_kinds() -> Sequence[KindSpec]:
    """Node kinds to add (`KindSpec`): name, description, fields, `prepare` validator.

    Registered into `nodespace_lab.nodes.kinds.KINDS` for every knowledge base of
    the process. A name already taken (a built-in, another plugin's, an entity
    kind) refuses the plugin with the clash named.
    """
    raise NotImplementedError


@hookspec
def nodespace_calc_functions() -> Sequence[Function]:
    """Scalar functions for calculated-field expressions (`entities.calc.functions.Function`).

    Each names its static argument types and result so expressions using it are
    type-checked when a schema is defined. An implementation that raises while
    a value is computed gives null (and disables the plugin); the write goes on.
    """
    raise NotImplementedError


@hookspec
def nodespace_model_backends() -> Sequence[BackendEntry]:
    """Model backends (`BackendEntry`: name, factory from the `ai` settings, installed test).

    The `ai.backend` setting chooses one by name. The factory must import its
    heavy libraries lazily (inside `load()`), as the built-in ones do.
    """
    raise NotImplementedError


@hookspec
def nodespace_importers() -> Sequence[Importer]:
    """Importers by format name (`Importer`): turn a file or folder into nodes.

    `plugins.registry.importers()` lists them; `run_importer` calls one with a
    knowledge-base handle limited to the plugin's declared capabilities. Issue
    19 builds the Obsidian, Logseq, Markdown and JSON importers on this.
    """
    raise NotImplementedError


@hookspec
def nodespace_exporters() -> Sequence[Exporter]:
    """Exporters by format name (`Exporter`): write (part of) a knowledge base out.

    The counterpart of `nodespace_importers`, also consumed by issue 19.
    """
    raise NotImplementedError


@hookspec
def nodespace_cli_commands() -> Sequence[click.Command]:
    """Commands (or groups) to add to the `nodespace` command line.

    Looked up only when a name is not a built-in command (or for `--help`), so
    the built-in commands never wait for discovery. A built-in name cannot be
    taken over.
    """
    raise NotImplementedError


@hookspec
def nodespace_doctor_checks() -> Sequence[DoctorCheck]:
    """Checks `nodespace doctor` runs after its own (`DoctorCheck`: name, function).

    The function gets a read-only knowledge-base handle and returns
    `(node_id, message)` pairs; each becomes a problem `plugin:<name>`. Doctor
    does not repair them.
    """
    raise NotImplementedError


# -- declared for the issues that consume them --------------------------------------


@hookspec
def nodespace_field_types() -> Sequence[Any]:
    """Entity field types beyond text, number, integer, bool, date, datetime, enum, ref, list.

    Declared for issue 13 (typed entities owned per folder): the schema module
    reads a fixed set today.
    """
    raise NotImplementedError


@hookspec
def nodespace_embedding_models() -> Sequence[Any]:
    """Sentence-embedding models selectable by the `ai.embedding_model` setting.

    Declared for issue 13 item 5 (`models/` with one embeddings registry).
    """
    raise NotImplementedError


@hookspec
def nodespace_search_indexes() -> Sequence[Any]:
    """Derived indexes fed from the change log (query indexes, kind-specific tables).

    Declared for issue 15 (interactive at a million nodes: property indexes).
    """
    raise NotImplementedError


@hookspec
def nodespace_views(kind: str) -> Sequence[Any]:
    """Widgets that show nodes of `kind` (the details pane, a table cell renderer).

    Declared for issue 13 item 7 (the sidebar as small widgets on one update bus).
    """
    raise NotImplementedError


@hookspec
def nodespace_service_routes() -> Sequence[Any]:
    """Extra routes of the knowledge-base service (behind its token check).

    Declared for issue 18 (`GET /metrics`) and issue 16 (`GET /health`).
    """
    raise NotImplementedError


@hookspec
def nodespace_health_checks() -> Sequence[Any]:
    """Components' health checks: ok / degraded / down, why, recovery actions.

    Declared for issue 16 (health of every component, `kb.health()`).
    """
    raise NotImplementedError


@hookspec
def nodespace_metrics() -> Sequence[Any]:
    """Metrics a plugin publishes (counters, histograms) next to the components'.

    Declared for issue 18 (metrics, traces, dashboard, alerts).
    """
    raise NotImplementedError


@hookspec
def nodespace_settings_sections() -> Sequence[Any]:
    """`param` settings sections of a plugin, loaded in layers like the built-in ones.

    Declared for issue 17 (profiles, live changes, feature flags).
    """
    raise NotImplementedError


#: Hooks with a consumer today; the others are declared for later issues.
CONSUMED = (
    "nodespace_kinds",
    "nodespace_calc_functions",
    "nodespace_model_backends",
    "nodespace_importers",
    "nodespace_exporters",
    "nodespace_cli_commands",
    "nodespace_doctor_checks",
)

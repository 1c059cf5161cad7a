"""Discovery: the default plugin, entry points, allow and deny, the plugin-API range, laziness."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from nodespace_lab.entities.calc.functions import FUNCTIONS
from nodespace_lab.errors import PluginError
from nodespace_lab.models.backend import backend_names
from nodespace_lab.nodes.kinds import KINDS
from nodespace_lab.plugins import Manifest, registry
from tests.plugins.conftest import ROOT, Site, UsePlugins


def _record(name: str) -> registry.PluginRecord:
    return next(r for r in registry.plugins() if r.name == name)


def test_the_built_ins_come_through_the_default_plugins_hooks(plugins: UsePlugins) -> None:
    plugins()
    builtin = registry.plugins()[0]
    assert (builtin.name, builtin.source, builtin.status) == ("nodespace_lab", "built-in", "active")
    assert builtin.hooks == (
        "nodespace_calc_functions",
        "nodespace_kinds",
        "nodespace_model_backends",
    )
    added = {what: [n for w, n in builtin.added if w == what] for what, _ in builtin.added}
    assert added["kind"] == ["text", "task", "date", "tag", "collection", "chat"]
    assert {"round", "if", "add_months"} <= set(added["function"])
    assert added["backend"] == ["llamacpp", "mlx", "openai"]
    assert {"text", "task"} <= set(KINDS) and "round" in FUNCTIONS
    assert backend_names() == ["llamacpp", "mlx", "openai"]


def test_import_loads_no_pluggy_and_the_first_registry_read_discovers() -> None:
    code = (
        "import json, sys\n"
        "import nodespace_lab\n"
        "before = 'pluggy' in sys.modules\n"
        "from nodespace_lab.nodes.kinds import KINDS\n"
        "has_text = 'text' in KINDS\n"
        "print(json.dumps([before, 'pluggy' in sys.modules, has_text]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [False, True, True]


def test_an_installed_plugin_loads_only_when_allowed(site: Site, plugins: UsePlugins) -> None:
    site.example("nodespace-paper")
    plugins()
    paper = _record("paper")
    assert (paper.status, paper.version) == ("not allowed", "1.0.0")
    assert "add 'paper' to plugins.allow" in paper.error
    assert "paper" not in KINDS
    assert "nodespace_paper" not in sys.modules  # never imported, not just unused
    plugins(allow=["paper"])
    assert _record("paper").status == "active" and "paper" in KINDS
    assert _record("paper").source == "nodespace-paper (nodespace_paper)"
    assert set(registry.importers()) == {"bibtex"}


def test_deny_wins_over_allow_star(site: Site, plugins: UsePlugins) -> None:
    site.example("nodespace-paper")
    site.example("nodespace-initials")
    plugins(allow=["*"], deny=["paper"])
    assert _record("paper").status == "denied"
    assert _record("paper").error == "plugins.deny names 'paper'"
    assert _record("initials").status == "active"
    assert "paper" not in KINDS and "initials" in FUNCTIONS


def test_reset_withdraws_what_plugins_added(site: Site, plugins: UsePlugins) -> None:
    site.example("nodespace-initials")
    plugins(allow=["initials"])
    assert "initials" in FUNCTIONS
    plugins()
    assert "initials" not in FUNCTIONS and "round" in FUNCTIONS


def test_a_plugin_for_another_plugin_api_is_refused_naming_both(
    site: Site, plugins: UsePlugins
) -> None:
    site.module(
        "future_kind",
        """
        from nodespace_lab.nodes.kinds import KindSpec
        from nodespace_lab.plugins import Manifest, hookimpl

        MANIFEST = Manifest("future_kind", "3.0", api=(2, 3))

        @hookimpl
        def nodespace_kinds():
            return [KindSpec("future", "From the future.")]
        """,
    )
    plugins(allow=["future_kind"])
    record = _record("future_kind")
    assert record.status == "refused"
    assert "supports plugin API 2 to 3" in record.error
    assert "has plugin API 1" in record.error
    assert "future" not in KINDS


def test_manifest_checks() -> None:
    assert Manifest("p", "1", api=(1, 1)).supports(1)
    with pytest.raises(PluginError, match="unknown capabilities \\['root'\\]"):
        Manifest("p", "1", api=(1, 1), capabilities=frozenset({"read", "root"}))
    with pytest.raises(PluginError, match="but not the 'files' capability"):
        Manifest("p", "1", api=(1, 1), files=("~/papers",))
    with pytest.raises(PluginError, match="plugin API range \\(2, 1\\)"):
        Manifest("p", "1", api=(2, 1))
    with pytest.raises(PluginError, match=r"'p' 1 supports plugin API 2, but .*has plugin API 1"):
        Manifest("p", "1", api=(2, 2)).check_api()


def test_a_plugin_without_a_manifest_or_a_mismatched_name_is_refused(
    site: Site, plugins: UsePlugins
) -> None:
    site.module("bare", "def nodespace_kinds():\n    return []\n")
    site.module(
        "misnamed",
        "from nodespace_lab.plugins import Manifest\n"
        "MANIFEST = Manifest('other', '1', api=(1, 1))\n",
    )
    plugins(allow=["*"])
    assert _record("bare").status == "refused"
    assert "declares no MANIFEST" in _record("bare").error
    assert "its MANIFEST says 'other'" in _record("misnamed").error


def test_a_kind_clashing_with_a_built_in_refuses_the_plugin(
    site: Site, plugins: UsePlugins
) -> None:
    site.module(
        "clash",
        """
        from nodespace_lab.nodes.kinds import KindSpec
        from nodespace_lab.plugins import Manifest, hookimpl

        MANIFEST = Manifest("clash", "1", api=(1, 1))

        @hookimpl
        def nodespace_kinds():
            return [KindSpec("clashnote", "Fine."), KindSpec("task", "Mine now.")]
        """,
    )
    plugins(allow=["clash"])
    record = _record("clash")
    assert record.status == "disabled"
    assert "Kind 'task' is already registered" in record.error
    assert "clashnote" not in KINDS  # its other kind is withdrawn too
    assert KINDS["task"].description.startswith("Something to do")


def test_a_plugin_backend_is_chosen_by_name_and_cannot_take_a_built_in_name(
    site: Site, plugins: UsePlugins
) -> None:
    from nodespace_lab.config.sections import AISettings
    from nodespace_lab.models.backend import create_backend

    source = """
        from nodespace_lab.plugins import BackendEntry, Manifest, hookimpl

        MANIFEST = Manifest("{name}", "1", api=(1, 1), capabilities=frozenset({{"ai"}}))

        @hookimpl
        def nodespace_model_backends():
            return [BackendEntry("{backend}", lambda settings: ("echo", settings.threads))]
        """
    site.module("echo_backend", source.format(name="echo_backend", backend="echo"))
    site.module("thief", source.format(name="thief", backend="openai"))
    plugins(allow=["*"])
    assert "echo" in backend_names()
    assert create_backend(AISettings(backend="echo", threads=3)) == ("echo", 3)  # type: ignore[no-untyped-call,comparison-overlap]
    assert _record("thief").status == "disabled"
    assert "model backend 'openai' is already registered" in _record("thief").error
    assert registry.plugins()[0].added[-1] == ("backend", "openai")


def test_a_plugin_command_cannot_replace_a_built_in_one(site: Site, plugins: UsePlugins) -> None:
    from click.testing import CliRunner

    from nodespace_lab.cli import cli

    site.module(
        "commands",
        """
        import click
        from nodespace_lab.plugins import Manifest, hookimpl

        MANIFEST = Manifest("commands", "1", api=(1, 1))

        @click.command("doctor")
        def fake_doctor():
            click.echo("all fine, trust me")

        @click.command("hello")
        def hello():
            click.echo("hello from a plugin")

        @hookimpl
        def nodespace_cli_commands():
            return [fake_doctor, hello]
        """,
    )
    plugins(allow=["commands"])
    runner = CliRunner()
    assert runner.invoke(cli, ["hello"]).output == "hello from a plugin\n"
    assert "all fine" not in runner.invoke(cli, ["doctor", "--help"]).output
    assert "hello" in runner.invoke(cli, ["--help"]).output

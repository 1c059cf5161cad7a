"""The example plugins at work in a real knowledge base; capabilities; failing plugins.

The knowledge bases here are embedded (`kb_factory`): plugins are per process,
and these tests install them into this one.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from nodespace_lab.errors import PluginCapabilityError, PluginError, ValidationError
from nodespace_lab.kb.doctor import doctor
from nodespace_lab.plugins import Manifest, PluginHandle, registry
from tests.conftest import KBFactory
from tests.plugins.conftest import ROOT, Site, UsePlugins

BIB = r"""
@comment{exported by a reference manager}
@article{vaswani2017,
  title = {Attention Is {All} You Need},
  author = "Ashish Vaswani and Noam Shazeer",
  journal = {NeurIPS},
  year = 2017,
  abstract = {The dominant sequence transduction models...},
}
@inproceedings{lovelace1843, title={Notes on the Analytical Engine}, author={Ada Lovelace},
  booktitle = {Scientific Memoirs}, year = {1843}}
"""


def _record(name: str) -> registry.PluginRecord:
    return next(r for r in registry.plugins() if r.name == name)


@pytest.fixture
def paper(site: Site, plugins: UsePlugins) -> None:
    site.example("nodespace-paper")
    plugins(allow=["paper"])


def test_the_paper_kind_folds_and_checks_its_fields(paper: None, kb_factory: KBFactory) -> None:
    kb = kb_factory()
    node = kb.create("paper", "On Computable Numbers", authors="Alan Turing", year="1936")
    assert node.kind == "paper"
    assert node.properties == {"authors": ["Alan Turing"], "year": 1936}
    with pytest.raises(ValidationError, match="field 'year' must be a year such as 2017"):
        kb.create("paper", "Undated", year="soon")
    assert kb.update(node.id, venue="Proc. LMS").properties["venue"] == "Proc. LMS"


def test_the_bibtex_importer_makes_papers_once(
    paper: None, kb_factory: KBFactory, tmp_path: Path
) -> None:
    kb = kb_factory()
    bib = tmp_path / "refs.bib"
    bib.write_text(BIB, encoding="utf-8")
    made = registry.run_importer(kb, "bibtex", bib)
    papers = {n.title: n for n in kb.find("paper").all()}
    assert sorted(papers) == ["Attention Is All You Need", "Notes on the Analytical Engine"]
    assert sorted(made) == sorted(n.id for n in papers.values())
    attention = papers["Attention Is All You Need"].properties
    assert attention == {
        "authors": ["Ashish Vaswani", "Noam Shazeer"],
        "key": "vaswani2017",
        "venue": "NeurIPS",
        "year": 2017,
    }
    assert registry.run_importer(kb, "bibtex", bib) == []  # keys already there
    with pytest.raises(PluginError, match="No importer for format 'ris'; the formats are bibtex"):
        registry.run_importer(kb, "ris", bib)


def test_bad_bibtex_is_refused_with_its_line_and_nothing_is_written(
    paper: None, kb_factory: KBFactory, tmp_path: Path
) -> None:
    kb = kb_factory()
    bib = tmp_path / "bad.bib"
    bib.write_text(BIB + "\n@article{broken, title = {never closed\n", encoding="utf-8")
    seq = kb.seq
    with pytest.raises(ValidationError, match=r"bad.bib line 1[0-9]: a '\{' is never closed"):
        registry.run_importer(kb, "bibtex", bib)
    assert kb.find("paper").count() == 0 and kb.seq == seq
    assert _record("paper").active  # refused input is not the plugin's failure


def test_the_initials_function_in_a_calculated_field(
    site: Site, plugins: UsePlugins, kb_factory: KBFactory
) -> None:
    site.example("nodespace-initials")
    plugins(allow=["initials"])
    kb = kb_factory()
    kb.define("person", {"name": "text", "short": {"expression": "initials(name)"}})
    ada = kb.create("person", "Ada", name="Ada King Lovelace")
    assert ada.properties["short"] == "AKL"
    assert kb.update(ada.id, name="Grace Brewster Hopper").properties["short"] == "GBH"
    with pytest.raises(ValidationError, match="initials"):
        kb.define("bad", {"n": "number", "s": {"expression": "initials(n)"}})  # typed: text


def test_without_the_plugin_its_function_is_unknown(kb_factory: KBFactory) -> None:
    kb = kb_factory()
    with pytest.raises(ValidationError, match="unknown function 'initials'"):
        kb.define("person", {"name": "text", "short": {"expression": "initials(name)"}})


def test_the_handle_refuses_what_the_manifest_does_not_declare(
    kb_factory: KBFactory, tmp_path: Path
) -> None:
    kb = kb_factory()
    note = kb.create("text", "Keep me")
    reader = PluginHandle(kb, Manifest("reader", "1", api=(1, 1), capabilities=frozenset({"read"})))
    assert reader.get(note.id).title == "Keep me"
    with pytest.raises(
        PluginCapabilityError, match=r"Plugin 'reader' may not call kb.delete: .*'write'"
    ):
        reader.delete(note.id)
    with pytest.raises(PluginCapabilityError, match=r"'reader' may not call kb.ask: .*'ai'"):
        reader.ask("why?")
    with pytest.raises(PluginCapabilityError, match=r"kb.cypher\(write=True\).*'write'"):
        reader.cypher("MATCH (n:Node) DETACH DELETE n", write=True)
    with pytest.raises(PluginCapabilityError, match=r"cannot use kb.store: plugins reach"):
        reader.store  # noqa: B018 (the raw store is not an operation)
    with pytest.raises(PluginCapabilityError, match=r"may not use the file .*'files'"):
        reader.path(tmp_path / "x.txt")
    assert kb.get(note.id).status == "active"


def test_files_only_under_the_declared_folders(kb_factory: KBFactory, tmp_path: Path) -> None:
    papers = tmp_path / "papers"
    papers.mkdir()
    manifest = Manifest(
        "filer", "1", api=(1, 1), capabilities=frozenset({"files"}), files=(str(papers),)
    )
    handle = PluginHandle(kb_factory(), manifest)
    assert handle.path(papers / "a.pdf") == (papers / "a.pdf").resolve()
    with pytest.raises(PluginCapabilityError, match="'filer' may not use the file"):
        handle.path(papers / ".." / "secrets.txt")
    with pytest.raises(PluginCapabilityError, match=r"'filer' may not call kb.create"):
        handle.create("text", "no write capability")


IMPORTER = """
from pathlib import Path

from nodespace_lab.plugins import Importer, Manifest, hookimpl

MANIFEST = Manifest("{name}", "1", api=(1, 1), capabilities=frozenset({caps}))


def run(kb, source):
    kb.create("text", "first, then trouble")
    {action}


@hookimpl
def nodespace_importers():
    return [Importer("{name}", "test", run)]
"""


def test_an_importer_doing_more_than_declared_is_refused_and_writes_nothing(
    site: Site, plugins: UsePlugins, kb_factory: KBFactory, tmp_path: Path
) -> None:
    action = "kb.purge(kb.find('text').ids()[0])"  # fine: purge is a write too
    site.module("sneaky", IMPORTER.format(name="sneaky", caps="{'read'}", action=action))
    plugins(allow=["sneaky"])
    kb = kb_factory()
    with pytest.raises(PluginCapabilityError, match=r"'sneaky' may not call kb.create: .*'write'"):
        registry.run_importer(kb, "sneaky", tmp_path)
    assert kb.find().count() == 0


def test_a_raising_importer_is_disabled_its_writes_rolled_back_and_the_kb_works(
    site: Site, plugins: UsePlugins, kb_factory: KBFactory, tmp_path: Path
) -> None:
    action = "raise RuntimeError('disk on fire')"
    site.module("flaky", IMPORTER.format(name="flaky", caps="{'read', 'write'}", action=action))
    plugins(allow=["flaky"])
    kb = kb_factory()
    with pytest.raises(PluginError, match=r"Plugin 'flaky' is disabled .*disk on fire"):
        registry.run_importer(kb, "flaky", tmp_path)
    assert kb.find().count() == 0  # its first create was rolled back
    record = _record("flaky")
    assert record.status == "disabled"
    assert record.error == "its importer 'flaky' raised: RuntimeError: disk on fire"
    assert "flaky" not in registry.importers()
    assert kb.create("text", "still fine").title == "still fine"


def test_a_raising_hook_disables_only_that_plugin(
    site: Site, plugins: UsePlugins, kb_factory: KBFactory
) -> None:
    site.example("nodespace-paper")
    site.module(
        "broken",
        """
        from nodespace_lab.nodes.kinds import KindSpec
        from nodespace_lab.plugins import Manifest, hookimpl

        MANIFEST = Manifest("broken", "1", api=(1, 1))

        @hookimpl
        def nodespace_kinds():
            return [KindSpec("brokennote", "Registered before the failure.")]

        @hookimpl
        def nodespace_calc_functions():
            raise ZeroDivisionError("oops")
        """,
    )
    plugins(allow=["*"])
    record = _record("broken")
    assert record.status == "disabled"
    assert record.error == "its hook nodespace_calc_functions raised: ZeroDivisionError: oops"
    assert _record("paper").active
    kb = kb_factory()
    with pytest.raises(ValidationError, match="Unknown node kind 'brokennote'"):
        kb.create("brokennote", "withdrawn")
    assert kb.create("paper", "Works", year=2020).properties == {"year": 2020}


def test_a_function_raising_while_computing_gives_null_and_disables_its_plugin(
    site: Site, plugins: UsePlugins, kb_factory: KBFactory
) -> None:
    site.module(
        "explosive",
        """
        from nodespace_lab.entities.calc.functions import TEXT, Function
        from nodespace_lab.plugins import Manifest, hookimpl

        MANIFEST = Manifest("explosive", "1", api=(1, 1))

        def boom(text):
            if text == "bad":
                raise KeyError(text)
            return text.upper()

        @hookimpl
        def nodespace_calc_functions():
            return [Function("boom", "boom(text)", (TEXT,), "text", boom, 1, 1)]
        """,
    )
    plugins(allow=["explosive"])
    kb = kb_factory()
    kb.define("thing", {"name": "text", "loud": {"expression": "boom(name)"}})
    assert kb.create("thing", "a", name="ok").properties["loud"] == "OK"
    bad = kb.create("thing", "b", name="bad")  # the write goes on
    assert bad.properties.get("loud") is None
    assert _record("explosive").status == "disabled"
    assert "function boom() raised: KeyError" in _record("explosive").error
    assert kb.create("thing", "c", name="later").properties.get("loud") is None


def test_a_plugin_doctor_check_is_reported_and_not_repaired(
    paper: None, kb_factory: KBFactory
) -> None:
    kb = kb_factory()
    undated = kb.create("paper", "Undated draft")
    kb.create("paper", "Dated", year=2001)
    report = doctor(kb)
    found = [(p.check, p.node_id) for p in report.problems]
    assert found == [("plugin:paper-year", undated.id)]
    assert "has no year" in report.problems[0].message
    repaired = doctor(kb, repair=True)
    assert [p.check for p in repaired.remaining] == ["plugin:paper-year"]


# -- the command line, as a real process ------------------------------------------


def _nodespace(site: Site, kb: Path, *args: str, allow: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NODESPACE_")}
    env.update(
        PYTHONPATH=os.pathsep.join([str(site.path), str(ROOT)]),
        NODESPACE_CONFIG=str(kb.parent / "no-config.toml"),
        NODESPACE_PLUGINS_ALLOW=allow,
        NODESPACE_STORAGE_BUFFER_POOL_MB="64",
        NODESPACE_STORAGE_MAX_DB_SIZE_GB="4",
    )
    command = [sys.executable, "-m", "nodespace_lab", "--kb", str(kb), *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)


def test_plugins_list_and_a_plugin_command_in_a_real_process(site: Site, tmp_path: Path) -> None:
    site.example("nodespace-paper")
    site.example("nodespace-initials")
    kb = tmp_path / "kb"
    assert _nodespace(site, kb, "init", allow="").returncode == 0
    listed = _nodespace(site, kb, "plugins", "list", allow="paper")
    assert listed.returncode == 0, listed.stderr
    rows = {line.split()[0]: line for line in listed.stdout.splitlines()[2:] if line[:1].isalpha()}
    assert "active" in rows["paper"] and "read, write" in rows["paper"]
    assert "not allowed" in rows["initials"]
    assert "initials (not allowed): add 'initials' to plugins.allow" in listed.stdout
    bib = tmp_path / "refs.bib"
    bib.write_text(BIB, encoding="utf-8")
    imported = _nodespace(site, kb, "bibtex", str(bib), allow="paper")
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout.strip() == f"Imported 2 papers from {bib}."
    assert "bibtex" in _nodespace(site, kb, "--help", allow="paper").stdout
    refused = _nodespace(site, kb, "bibtex", str(bib), allow="")
    assert refused.returncode == 2 and "No such command 'bibtex'" in refused.stderr


def test_a_knowledge_bases_own_config_cannot_allow_a_plugin(site: Site, tmp_path: Path) -> None:
    site.example("nodespace-paper")
    kb = tmp_path / "kb"
    assert _nodespace(site, kb, "init", allow="").returncode == 0
    (kb / "nodespace.toml").write_text('[plugins]\nallow = ["*"]\n', encoding="utf-8")
    listed = _nodespace(site, kb, "plugins", "list", "--format", "json", allow="")
    assert listed.returncode == 0, listed.stderr
    assert '"status": "not allowed"' in listed.stdout


def test_an_exporter_writes_the_target_it_was_given_and_nothing_else(
    site: Site, plugins: UsePlugins, kb_factory: KBFactory, tmp_path: Path
) -> None:
    site.module(
        "titles",
        """
        from nodespace_lab.plugins import Exporter, Manifest, hookimpl

        MANIFEST = Manifest("titles", "1", api=(1, 1), capabilities=frozenset({"read"}))

        def run(kb, target):
            titles = sorted(n.title for n in kb.find("text").all())
            kb.path(target).write_text("\\n".join(titles), encoding="utf-8")
            kb.path(target.parent / "elsewhere.txt")  # not granted: refused

        @hookimpl
        def nodespace_exporters():
            return [Exporter("titles", "one title per line", run, (".txt",))]
        """,
    )
    plugins(allow=["titles"])
    kb = kb_factory()
    kb.create("text", "b")
    kb.create("text", "a")
    target = tmp_path / "out.txt"
    with pytest.raises(PluginCapabilityError, match=r"'titles' may not use the file .*elsewhere"):
        registry.run_exporter(kb, "titles", target)
    assert target.read_text(encoding="utf-8") == "a\nb"
    assert set(registry.exporters()) == {"titles"}

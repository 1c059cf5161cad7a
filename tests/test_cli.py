"""The `nodespace` command, on real knowledge bases in temporary folders.

Most tests run the command in-process with click's CliRunner; a few run
`python -m nodespace_lab` as a real subprocess, as a shell user would.
Settings never come from the developer's own config: NODESPACE_CONFIG points
at a file that does not exist and every other NODESPACE_* variable is removed.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from nodespace_lab import KnowledgeBase
from nodespace_lab.cli import cli

ROOT = Path(__file__).resolve().parents[1]
ENGINE = os.environ.get("NODESPACE_TEST_ENGINE", "ladybug")
TODAY = dt.date.today().isoformat()

Run = Callable[..., Result]
Shell = Callable[..., "subprocess.CompletedProcess[str]"]
Rows = list[dict[str, Any]]


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Isolated settings for the command (also returned for subprocesses)."""
    for name in list(os.environ):
        if name.startswith("NODESPACE_"):
            monkeypatch.delenv(name)
    env = {
        "NODESPACE_CONFIG": str(tmp_path / "no-such-config.toml"),
        "NODESPACE_STORAGE_ENGINE": ENGINE,
        "NODESPACE_STORAGE_BUFFER_POOL_MB": "64",
        "NODESPACE_STORAGE_MAX_DB_SIZE_GB": "4",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


@pytest.fixture
def kb_path(tmp_path: Path) -> Path:
    return tmp_path / "kb"


@pytest.fixture
def run(cli_env: dict[str, str], kb_path: Path) -> Run:
    """`run(line, *args, input=None, kb=kb_path)`: `nodespace --kb KB <line> <args>` in-process.

    `line` is split like a shell would; `args` are passed as they are.
    """

    def invoke(
        line: str, *args: str, input: str | None = None, kb: Path | None = kb_path
    ) -> Result:
        prefix = ["--kb", str(kb)] if kb is not None else []
        result = CliRunner().invoke(cli, [*prefix, *shlex.split(line), *args], input=input)
        # Anything but a clean exit is a bug: a NodespaceError must never escape as a traceback.
        escaped = result.exception
        assert escaped is None or isinstance(escaped, SystemExit), repr(escaped)
        return result

    return invoke


@pytest.fixture
def kb_init(run: Run, kb_path: Path) -> Path:
    """An empty knowledge base made with `nodespace init`."""
    ok(run("init"))
    return kb_path


@pytest.fixture
def sample(run: Run, kb_path: Path) -> Path:
    """The sample knowledge base of `nodespace init --sample`."""
    ok(run("init --sample"))
    return kb_path


def ok(result: Result) -> str:
    """stdout of a successful run."""
    assert result.exit_code == 0, result.output
    return result.stdout


def failed(result: Result, code: int = 1) -> str:
    """stderr of a failed run, checked to be one `error: ...` message without a traceback."""
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    if code == 1:
        assert result.stderr.startswith("error: "), result.stderr
    return result.stderr


def find(run: Run, line: str = "", *args: str) -> Rows:
    """Rows of `nodespace find <line> <args> --format json`."""
    rows: Rows = json.loads(ok(run(f"find {line}", *args, "--format", "json")))
    return rows


def id_of(run: Run, title: str) -> str:
    rows = find(run, "--where title =", title)
    assert len(rows) == 1, rows
    return str(rows[0]["id"])


def node_count(run: Run) -> int:
    return len(find(run, "--where status != x"))  # every node, tags included


# -- init ---------------------------------------------------------------


def test_init_creates_a_knowledge_base(run: Run, kb_path: Path) -> None:
    out = ok(run("init", str(kb_path), kb=None))
    assert f"Created knowledge base {kb_path.resolve()}" in out
    assert (kb_path / "graph.lbdb").exists() or (kb_path / "graph.kuzu").exists()
    assert "Reusing empty knowledge base" in ok(run("init", str(kb_path), kb=None))
    assert ok(run("tree")).startswith("(empty knowledge base")


def test_init_sample_twice_is_idempotent(run: Run) -> None:
    first = re.search(r"Added the sample: (\d+) nodes", ok(run("init --sample")))
    assert first is not None
    added = int(first.group(1))
    assert added >= 25
    second = ok(run("init --sample"))
    assert f"already has {added} nodes: reusing it; the sample was not added" in second
    assert node_count(run) == added


def test_sample_is_small_but_realistic(run: Run, sample: Path) -> None:
    tasks = find(run, "--kind task")
    assert {t["task_status"] for t in tasks} == {"todo", "doing", "done", "cancelled"}
    assert all(t["priority"] in {1, 2, 3, 4} for t in tasks)
    assert any(t["due"] == TODAY for t in tasks)
    journal = ok(run("journal"))
    assert journal.startswith(f"# {TODAY}") and "[[Cleaning notes]]" in journal
    methods = ok(run("show", id_of(run, "Methods")))
    assert "backlinks:" in methods and "Coral reef survey" in methods
    outline = ok(run("tree"))
    assert re.search(r"^      - Cleaning notes", outline, re.MULTILINE)  # three levels deep
    assert "[x] Ask Dr. Okafor" in outline and "[ ] Clean the sonar transects" in outline
    members = "MATCH (n)-[:MEMBER_OF]->(:Node {id: $c}) RETURN n.title AS t"
    reading = id_of(run, "Reading list")
    papers = json.loads(ok(run("query --format json", members, "--param", f"c={reading}")))
    assert {p["t"] for p in papers} == {"Hughes et al. 2017", "Sully et al. 2019"}
    assert len(find(run, "--tag paper")) == 2
    assert ok(run("doctor")).startswith("ok")


# -- add, show, tree ----------------------------------------------------


def test_add_prints_the_id_and_show_prints_the_node(run: Run, kb_init: Path) -> None:
    page = ok(run("add text 'Project page' --content 'Plan: [[Budget]]'")).strip()
    budget = ok(run("add text Budget --tag money --parent", page)).strip()
    task = ok(
        run(
            "add task 'Pay invoice' --due 2026-12-01 --priority 1 --status doing "
            "--tag money --tag urgent --parent",
            page,
        )
    )
    assert re.fullmatch(r"[0-9a-z]{26}\n", task)
    shown = ok(run("show", budget))
    assert shown.splitlines()[0] == "Budget"
    assert f"parent:      Project page  ({page})" in shown
    assert "tags:        money" in shown
    assert re.search(r"backlinks:\s+1\n\s+- Project page", shown)
    assert "children:    0" in shown
    detail = json.loads(ok(run("show --format json", page)))
    assert detail["children_count"] == 2 and detail["content"] == "Plan: [[Budget]]"
    assert [link["title"] for link in detail["links"]] == ["Budget"]
    task_detail = json.loads(ok(run("show --format json", task.strip())))
    assert task_detail["due"] == "2026-12-01" and task_detail["task_status"] == "doing"
    assert task_detail["priority"] == 1 and task_detail["tags"] == ["money", "urgent"]


def test_add_reads_content_from_stdin(run: Run, kb_init: Path) -> None:
    node_id = ok(run("add text Piped --content -", input="line one\nline two\n")).strip()
    assert json.loads(ok(run("show --format json", node_id)))["content"] == "line one\nline two"


def test_bad_value_is_an_error_on_stderr_naming_value_and_fix(run: Run, kb_init: Path) -> None:
    err = failed(run("add task X --due 31/31/2026"))
    assert "'due'" in err and "'31/31/2026'" in err and "YYYY-MM-DD" in err
    assert "priority" in failed(run("add task X --priority high"))
    assert "1 (highest) to 4" in failed(run("add task X --priority 9"))
    assert "Unknown node kind 'banana'" in failed(run("add banana X"))
    assert "'nope' does not exist" in failed(run("add text X --parent nope"))
    assert find(run) == []  # nothing half-written


def test_usage_errors_exit_2(run: Run, kb_init: Path) -> None:
    failed(run("no-such-command"), code=2)
    failed(run("add task"), code=2)
    failed(run("find --limit -1"), code=2)
    failed(run("find --format xml"), code=2)
    failed(run("find --where priority ="), code=2)
    failed(run("query 'MATCH (n) RETURN n' --param novalue"), code=2)
    assert ok(run("--help")).startswith("Usage: ")


def test_show_unknown_id_exits_1(run: Run, kb_init: Path) -> None:
    assert "'nope' does not exist" in failed(run("show nope"))


def test_tree_indents_the_outline_with_task_boxes(run: Run, kb_init: Path) -> None:
    root = ok(run("add text Root")).strip()
    child = ok(run("add text Child --parent", root)).strip()
    ok(run("add task 'Open task' --priority 2 --parent", child))
    done = ok(run("add task 'Done task' --status done --parent", child)).strip()
    lines = ok(run("tree", root)).splitlines()
    assert lines[0] == f"- Root  {root}"
    assert lines[1] == f"  - Child  {child}"
    assert lines[2].startswith("    [ ] Open task  (P2)  ")
    assert lines[3] == f"    [x] Done task  {done}"
    assert ok(run("tree --depth 1", root)).splitlines() == lines[:2]
    assert ok(run("tree")).splitlines() == lines


# -- find, query, search ------------------------------------------------


def test_find_filters_orders_and_limits(run: Run, sample: Path) -> None:
    open_tasks = find(run, "--kind task --where task_status in todo,doing --order-by -priority")
    priorities = [t["priority"] for t in open_tasks]
    assert priorities == sorted(priorities, reverse=True) and len(priorities) == 4
    assert {t["task_status"] for t in open_tasks} == {"todo", "doing"}
    due_soon = find(run, "--kind task --where due '<=' today")
    assert due_soon and all(t["due"] is not None and t["due"] <= TODAY for t in due_soon)
    assert len(find(run, "--kind task --limit 2")) == 2
    sonar = find(run, "--contains 'SONAR TRANSECTS'")
    assert {r["title"] for r in sonar} == {"Sonar transects", "Clean the sonar transects"}
    assert len(find(run, "--tag fieldwork --kind task")) == 3
    tasks_page = id_of(run, "Tasks")
    children = find(run, "--under", tasks_page)
    assert children[0]["title"] == "Clean the sonar transects" and len(children) == 5


def test_find_table_json_and_csv(run: Run, sample: Path) -> None:
    table = ok(run("find --kind task --order-by due --limit 3"))
    assert table.splitlines()[0].split() == [
        "id",
        "kind",
        "title",
        "task_status",
        "priority",
        "due",
    ]
    rows = find(run, "--kind task")
    assert all(isinstance(r["created_at"], str) for r in rows)
    dt.datetime.fromisoformat(rows[0]["created_at"])
    text = ok(run("find --kind task --format csv"))
    records = list(csv.DictReader(io.StringIO(text)))
    assert len(records) == len(rows) and records[0].keys() >= {"id", "title", "due"}
    assert ok(run("find --kind collection --where title = x")) == "(no rows)\n"
    assert ok(run("find --kind collection --where title = x --format json")) == "[]\n"


def test_find_bad_where_is_a_validation_error(run: Run, sample: Path) -> None:
    assert "Unknown field 'colour'" in failed(run("find --where colour = red"))
    assert "whole number" in failed(run("find --where priority '<' high"))
    assert "YYYY-MM-DD" in failed(run("find --where due '<' soon"))
    assert "Unknown operator '~'" in failed(run("find --where title '~' x"))


def test_query_reads_with_parameters(run: Run, sample: Path) -> None:
    cypher = (
        "MATCH (n:Node) WHERE n.priority <= $p "
        "RETURN n.title AS title, n.due AS due ORDER BY n.title"
    )
    rows = json.loads(ok(run("query --param p=1 --format json", cypher)))
    assert {r["title"] for r in rows} == {"Back up the field laptop", "Clean the sonar transects"}
    assert TODAY in {r["due"] for r in rows}
    assert ok(run("query 'MATCH (n:Node) RETURN count(n) AS nodes'")).splitlines()[0] == "nodes"
    whole = json.loads(ok(run("query 'MATCH (n:Node) RETURN n LIMIT 1' --format json")))
    assert isinstance(whole[0]["n"], dict)
    assert "Query failed" in failed(run("query 'MATCH (n:Node) RETURN n.nosuchfield'"))


def test_query_refuses_writes_without_write(
    run: Run, sample: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = node_count(run)
    delete = "MATCH (n:Node) DETACH DELETE n"
    refused = failed(run("query", delete))
    assert "read-only" in refused and "--write" in refused
    assert "security.allow_cypher_writes" in failed(run("query --write", delete))
    assert "'COPY'" in failed(run("query --write", "COPY Node FROM 'x.csv'"))
    assert node_count(run) == before
    monkeypatch.setenv("NODESPACE_SECURITY_ALLOW_CYPHER_WRITES", "true")
    ok(run("query --write", "MATCH (n:Node {title: 'Goals'}) SET n.title = 'Aims' RETURN n.id"))
    assert len(find(run, "--where title = Aims")) == 1


def test_search_with_filters(run: Run, sample: Path) -> None:
    assert "Bleaching index" in ok(run("search bleaching"))

    def hits(line: str, *args: str) -> Rows:
        found: Rows = json.loads(ok(run(f"search {line}", *args, "--format", "json")))
        return found

    top = hits("bleaching --limit 3")
    assert 0 < len(top) <= 3 and top[0]["snippet"]
    assert {h["kind"] for h in hits("bleaching --kind task")} == {"task"}
    papers = {h["title"] for h in hits("bleaching --tag paper")}
    assert papers == {"Hughes et al. 2017", "Sully et al. 2019"}
    inside = {h["title"] for h in hits("photo --under", id_of(run, "Methods"))}
    assert inside == {"Bleaching index", "Sampling design"}
    assert ok(run("search xylophone")) == "(no matches)\n"


# -- journal ------------------------------------------------------------


def test_journal_prints_and_appends(run: Run, kb_init: Path) -> None:
    assert ok(run("journal")) == f"# {TODAY}\n"
    assert ok(run("journal --append 'Met [[Ada]] about the budget'")) == f"{TODAY}\n"
    ok(run("journal today --append 'Second line'"))
    assert ok(run("journal")) == f"# {TODAY}\n\nMet [[Ada]] about the budget\nSecond line\n"
    ada = ok(run("add text Ada")).strip()
    assert TODAY in ok(run("show", ada))  # the journal page links to Ada
    yesterday = (dt.date.today() - dt.timedelta(days=1)).isoformat()
    assert ok(run("journal yesterday")).startswith(f"# {yesterday}")
    assert ok(run("journal 2026-01-31")).startswith("# 2026-01-31")
    assert "YYYY-MM-DD" in failed(run("journal 31.01.2026"))


# -- doctor, reindex, undo, changes ---------------------------------------


def test_doctor_finds_and_repairs_a_missing_link(run: Run, sample: Path) -> None:
    assert ok(run("doctor")) == "ok: no problems found.\n"
    with KnowledgeBase(sample) as kb:
        kb.store._writer.execute(
            "MATCH (:Node {title: 'Coral reef survey'})-[e:LINKS_TO]->(:Node {title: 'Methods'}) "
            "DELETE e"
        )
    broken = run("doctor")
    assert "LINKS_TO edges differ from the content" in broken.stdout
    assert "--repair" in failed(broken)
    assert "repaired: 1 of 1 problem(s) fixed." in ok(run("doctor --repair"))
    assert ok(run("doctor")) == "ok: no problems found.\n"
    assert "Coral reef survey" in ok(run("show", id_of(run, "Methods")))


def test_reindex_prints_count_and_time(run: Run, sample: Path) -> None:
    expected = rf"Reindexed {node_count(run)} documents in \d+\.\d\d s\.\n"
    assert re.fullmatch(expected, ok(run("reindex")))
    assert "Bleaching index" in ok(run("search bleaching"))


def test_undo_and_changes(run: Run, kb_init: Path) -> None:
    assert "nothing to undo" in failed(run("undo"))
    node = ok(run("add text Draft")).strip()
    ok(run("add task Later --tag x"))
    table = ok(run("changes")).splitlines()
    assert table[0].split() == ["seq", "at", "label", "undoes", "ops"]
    assert "create text" in table[2] and "create task" in table[3]
    assert ok(run("undo")).startswith("Undid change set 2 (create task)")
    assert find(run, "--kind task") == []
    records = json.loads(ok(run("changes --since 1 --format json")))
    assert [r["seq"] for r in records] == [2, 3] and records[1]["undoes"] == 2
    assert records[0]["ops"][0]["op"] == "create"
    assert [r["seq"] for r in json.loads(ok(run("changes --limit 1 --format json")))] == [3]
    assert ok(run("show", node)).startswith("Draft")


# -- bench, config, knowledge-base selection ------------------------------


def test_bench_small(run: Run) -> None:
    out = ok(run("bench --size 300 --repeat 5", kb=None))
    assert out.splitlines()[0].split()[:3] == ["operation", "p50", "ms"]
    for name in ("import 300 nodes", "get by id", "children in order", "find task by priority"):
        assert name in out
    assert re.search(r"search \(rare word\)\s+\d+\.\d\d\s+\d+\.\d\d", out)


def test_config_prints_settings_and_layers(
    run: Run, kb_init: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = kb_init / "nodespace.toml"
    project.write_text("[search]\nsnippet_chars = 99\n", encoding="utf-8")
    monkeypatch.setenv("NODESPACE_PERFORMANCE_QUERY_THREADS", "2")
    out = ok(run("config"))
    assert f"Layers applied, later ones win: defaults, {project}, environment" in out
    assert "User config file:" in out and "(not found)" in out
    assert "snippet_chars = 99" in out and "query_threads = 2" in out
    data = json.loads(ok(run("config --format json")))
    assert data["settings"]["search"]["snippet_chars"] == 99
    assert data["layers"] == ["defaults", str(project), "environment"]
    monkeypatch.setenv("NODESPACE_STORAGE_BUFFER_POOL_MB", "1")
    err = failed(run("config"))
    assert "storage.buffer_pool_mb cannot be 1; allowed range is 16" in err


def test_knowledge_base_selection(
    run: Run, kb_init: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    err = failed(run("tree", kb=None))
    assert "--kb PATH" in err and "NODESPACE_KB" in err and "nodespace init" in err
    assert "(none selected" in ok(run("config", kb=None))
    monkeypatch.setenv("NODESPACE_KB", str(kb_init))
    node = ok(run("add text 'Via env'", kb=None)).strip()
    monkeypatch.delenv("NODESPACE_KB")
    monkeypatch.chdir(kb_init)
    assert node in ok(run("tree", kb=None))
    missing = failed(run("tree", kb=tmp_path / "missing"))
    assert "does not exist" in missing and "nodespace init" in missing
    assert "is not a knowledge base" in failed(run("tree", kb=tmp_path))
    assert not (tmp_path / "graph.lbdb").exists()  # never created by accident


# -- documentation --------------------------------------------------------


def test_every_command_is_documented() -> None:
    text = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    documented = re.findall(r"^## nodespace (\S+)$", text, re.MULTILINE)
    assert sorted(documented) == sorted(cli.commands)


# -- as a real process ----------------------------------------------------


@pytest.fixture
def shell(cli_env: dict[str, str], kb_path: Path) -> Shell:
    """`shell(line, *args)`: `python -m nodespace_lab --kb KB <line> <args>` in a subprocess."""
    env = {**os.environ, **cli_env, "PYTHONPATH": str(ROOT)}

    def nodespace(line: str, *args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "nodespace_lab", "--kb", str(kb_path)]
        command += [*shlex.split(line), *args]
        return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)

    return nodespace


def test_subprocess_init_add_find(shell: Shell) -> None:
    assert shell("init --sample").returncode == 0
    again = shell("init --sample")
    assert again.returncode == 0 and "reusing it" in again.stdout
    added = shell("add task 'Ship it' --due 2026-12-24 --priority 1")
    assert added.returncode == 0 and re.fullmatch(r"[0-9a-z]{26}\n", added.stdout)
    found = shell("find --kind task --where due = 2026-12-24 --format json")
    assert found.returncode == 0
    rows = json.loads(found.stdout)
    assert [(r["id"], r["due"]) for r in rows] == [(added.stdout.strip(), "2026-12-24")]
    usage = shell("find --bogus")
    assert usage.returncode == 2 and "Usage: nodespace find" in usage.stderr


def test_subprocess_errors_have_no_traceback(shell: Shell, kb_path: Path) -> None:
    assert shell("init").returncode == 0
    bad = shell("add task X --due 31/31/2026")
    assert bad.returncode == 1 and bad.stdout == ""
    assert bad.stderr.startswith("error: ") and "'31/31/2026'" in bad.stderr
    assert "Traceback" not in bad.stderr and len(bad.stderr.splitlines()) == 1
    with KnowledgeBase(kb_path):  # this process now holds the knowledge base
        locked = shell("tree")
    assert locked.returncode == 1 and "Traceback" not in locked.stderr
    assert f"pid {os.getpid()}" in locked.stderr

"""kill -9 a process while it writes; after every kill, nothing acknowledged is lost.

A child process (`writer_child.py`) writes in a loop: creates, updates with
`expected_version`, moves, transactions of several creates, and imports of ~50
rows; it journals an intent before and an acknowledgement after each write.
The parent kills it with SIGKILL at a random moment, reopens the knowledge base
and checks it against the journal, then starts the next child on the same
folder so that state (and WAL recovery, index catch-up) accumulates.

After every kill:
- every acknowledged write is present, with at least the acknowledged version;
- an unacknowledged write is either wholly present or wholly absent (all rows of
  a transaction or import, or none; old or new content of an update, never a mix);
- every node has its change-log record, the change log is contiguous 1..N, and
  every created id of every change set exists;
- `doctor` finds no problem (hierarchy, order, links, full-text index), and the
  full-text index finds exactly the nodes whose text holds a marker.
"""

from __future__ import annotations

import json
import os
import random
import re
import select
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from nodespace_lab import KnowledgeBase, load_settings
from nodespace_lab.kb.doctor import find_problems

ENGINE = os.environ.get("NODESPACE_TEST_ENGINE", "ladybug")
CHILD = Path(__file__).with_name("writer_child.py")
REPO = Path(__file__).resolve().parents[2]
KILLS_PER_CASE = 11
# What a write puts first in content: "note <marker>" (after "row <i> " for imports).
_CONTENT_MARKER = re.compile(r"(?:row \d+ )?note (mk\w+) ")
MIXES = ["mixed", "updates", "transactions", "imports", "reopen"]


@dataclass
class Write:
    """One journalled write: its intent and, if it was acknowledged, the ack."""

    intent: dict[str, Any]
    ack: dict[str, Any] | None = None

    @property
    def ids(self) -> list[str]:
        return list(self.intent["ids"])


@dataclass
class Journal:
    writes: list[Write] = field(default_factory=list)

    @classmethod
    def read(cls, path: Path) -> Journal:
        journal, by_key = cls(), {}
        if not path.exists():
            return journal
        for line in path.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            key = (record["run"], record["n"])
            if record["t"] == "intent":
                by_key[key] = Write(record)
                journal.writes.append(by_key[key])
            else:
                assert by_key[key].ack is None, f"two acks for {key}"
                by_key[key].ack = record
        return journal


def drop_partial_line(path: Path) -> None:
    """A kill can cut the last record short: drop it (an ack cut short is no ack)."""
    if not path.exists():
        return
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        path.write_bytes(data[: data.rfind(b"\n") + 1])


def settings_for(kb_dir: Path) -> Any:
    return load_settings(
        kb_dir,
        env={},
        user_file=kb_dir.parent / "no-user-config.toml",
        overrides={"storage": {"engine": ENGINE, "buffer_pool_mb": 64, "max_db_size_gb": 4}},
    )


def run_child_and_kill(kb_dir: Path, journal: Path, run: int, mix: str, rng: random.Random) -> str:
    """Start a writer, kill it at a random moment; returns when it happened, for messages."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env = {k: v for k, v in env.items() if not k.startswith("NODESPACE_")}
    command = [
        sys.executable,
        str(CHILD),
        str(kb_dir),
        str(journal),
        str(run),
        str(rng.randrange(2**31)),
        mix,
        ENGINE,
    ]
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    try:
        if rng.random() < 0.2:
            # Early (start-up takes ~0.7 s): while it imports, opens the database,
            # replays the WAL, catches up the search index or writes its first rows.
            delay = rng.uniform(0.2, 1.0)
            time.sleep(delay)
            when = f"{delay:.2f}s after start"
        else:
            ready, _, _ = select.select([child.stdout], [], [], 60)
            assert ready and child.stdout is not None, "writer never became ready"
            line = child.stdout.readline()
            assert line == b"ready\n", _failure(child, f"unexpected output {line!r}")
            delay = rng.uniform(0.05, 0.6)
            time.sleep(delay)
            when = f"{delay:.2f}s after ready"
        assert child.poll() is None, _failure(child, f"writer exited by itself ({when})")
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
        assert child.returncode == -signal.SIGKILL, _failure(child, "not killed by SIGKILL")
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        for stream in (child.stdout, child.stderr):
            if stream is not None:
                stream.close()
    return when


def _failure(child: subprocess.Popen[bytes], message: str) -> str:
    if child.poll() is None:
        child.kill()
        child.wait()
    stderr = child.stderr.read().decode(errors="replace") if child.stderr else ""
    return f"{message}; exit code {child.returncode}; stderr:\n{stderr[-4000:]}"


def check_after_kill(kb_dir: Path, journal: Journal, run: int) -> dict[str, int]:
    """Reopen the knowledge base and check it against the journal; returns counts."""
    with KnowledgeBase(kb_dir, settings=settings_for(kb_dir)) as kb:
        rows = kb.store.rows(
            "MATCH (n:Node) RETURN n.id, n.version, n.title, n.content, n.parent_id, n.created_seq"
        )
        nodes = {
            r[0]: {
                "version": r[1],
                "title": r[2],
                "content": r[3],
                "parent": r[4],
                "created_seq": r[5],
            }
            for r in rows
        }
        changes = kb.changes()
        check_change_log(kb, nodes, changes)
        check_journal(nodes, changes, journal, run)
        problems = find_problems(kb)
        assert problems == [], "\n".join(map(str, problems[:20]))
        assert kb.fulltext.applied_seq == kb.seq
        assert kb.fulltext.doc_ids() == set(nodes)
        check_search(kb, nodes, journal, run)
    acked = sum(w.ack is not None for w in journal.writes)
    return {"nodes": len(nodes), "changes": len(changes), "acked": acked}


def check_change_log(kb: KnowledgeBase, nodes: dict[str, Any], changes: list[Any]) -> None:
    seqs = [c.seq for c in changes]
    assert seqs == list(range(1, len(seqs) + 1)), f"change log has gaps: {seqs[-10:]}"
    assert kb.seq == len(seqs)
    by_seq = {c.seq: c for c in changes}
    imported: dict[int, int] = {}
    for node_id, node in nodes.items():
        change = by_seq.get(node["created_seq"])
        assert change is not None, f"{node_id} has no change set {node['created_seq']}"
        created = {op.id for op in change.ops if op.op == "create"}
        if node_id not in created:
            assert any(op.op == "import" for op in change.ops), (
                f"change set {change.seq} does not record the creation of {node_id}"
            )
            imported[change.seq] = imported.get(change.seq, 0) + 1
    for change in changes:
        for op in change.ops:
            if op.op == "create":  # this workload never purges or undoes
                assert op.id in nodes, f"change set {change.seq} created {op.id}, now missing"
            elif op.op == "import":
                assert imported.get(change.seq, 0) == op.count, f"import {change.seq} is partial"


def check_journal(nodes: dict[str, Any], changes: list[Any], journal: Journal, run: int) -> None:
    by_seq = {c.seq: c for c in changes}
    announced = {i for w in journal.writes for i in w.ids if w.intent["op"] != "update"}
    assert set(nodes) <= announced, f"nodes nobody announced: {sorted(set(nodes) - announced)}"
    # Per node: the writes touching it, in order.
    history: dict[str, list[Write]] = {}
    for write in journal.writes:
        op = write.intent["op"]
        if write.ack is not None:
            seq = write.ack["seq"]
            change = by_seq.get(seq)
            assert change is not None, f"acknowledged change set {seq} is missing"
            if op in {"update", "move"}:
                assert any(o.id == write.ids[0] and o.op == op for o in change.ops)
            for node_id, version in write.ack["versions"].items():
                assert node_id in nodes, f"acknowledged {op} of {node_id} (seq {seq}) is lost"
                assert nodes[node_id]["version"] >= version
            if op in {"create", "transaction", "import"}:
                assert {nodes[i]["created_seq"] for i in write.ids} == {seq}
        elif op in {"create", "transaction", "import"}:
            present = [i for i in write.ids if i in nodes]
            assert present in ([], write.ids), (
                f"unacknowledged {op} (run {write.intent['run']}) is half-present: "
                f"{len(present)} of {len(write.ids)} rows"
            )
            if present:
                assert len({nodes[i]["created_seq"] for i in present}) == 1
        for node_id in write.ids:
            history.setdefault(node_id, []).append(write)
    for node_id, writes in history.items():
        if node_id in nodes:
            check_node_history(node_id, nodes[node_id], writes)


def check_node_history(node_id: str, node: dict[str, Any], writes: list[Write]) -> None:
    """Version, content and parent are those of the node's last acknowledged write,
    or of an unacknowledged write after it (which may or may not have committed)."""
    assert writes[0].intent["op"] in {"create", "transaction", "import"}, node_id
    acked = [w for w in writes if w.ack is not None]
    low = acked[-1].ack["versions"][node_id] if acked else 1  # type: ignore[index]
    pending = len(writes) - (writes.index(acked[-1]) + 1 if acked else 1)
    assert low <= node["version"] <= low + pending, (
        f"{node_id} at version {node['version']}, the journal allows {low}..{low + pending}"
    )
    markers = _since_last_ack(
        [w for w in writes if w.intent["op"] != "move"], lambda w: w.intent["marker"]
    )
    written = _CONTENT_MARKER.match(node["content"])
    assert written is not None and written[1] in markers, (
        f"{node_id} content {node['content'][:80]!r}, allowed markers {markers}"
    )
    parents = _since_last_ack(
        [w for w in writes if w.intent["op"] != "update"], lambda w: _parent_of(node_id, w)
    )
    assert node["parent"] in parents, f"{node_id} parent {node['parent']!r}, allowed {parents}"


def _since_last_ack(writes: list[Write], value: Any) -> set[Any]:
    """Values of the last acknowledged write and of every write after it."""
    acked = [n for n, w in enumerate(writes) if w.ack is not None]
    return {value(w) for w in writes[acked[-1] if acked else 0 :]}


def _parent_of(node_id: str, write: Write) -> str | None:
    intent = write.intent
    if intent["op"] in {"create", "move"}:
        return intent["parent"]  # type: ignore[no-any-return]
    return intent["parents"][intent["ids"].index(node_id)]  # type: ignore[no-any-return]


def check_search(kb: KnowledgeBase, nodes: dict[str, Any], journal: Journal, run: int) -> None:
    """Markers of the newest writes (and a few older ones) find exactly their nodes."""
    writes = [w for w in journal.writes if "marker" in w.intent]
    recent = [w for w in writes if w.intent["run"] == run]
    sample = recent[-12:] + random.Random(run).sample(writes, min(8, len(writes)))
    for write in sample:
        marker = write.intent["marker"]
        expected = {
            i for i, n in nodes.items() if marker in _words(n["title"]) | _words(n["content"])
        }
        hits = {h.id for h in kb.search(marker, limit=500)}
        assert hits == expected, f"search {marker!r}: {len(hits)} hits, {len(expected)} expected"


def _words(text: str) -> set[str]:
    # The index splits text at every character that is not a letter or digit.
    return set(re.findall(r"[^\W_]+", text.lower()))


@pytest.mark.slow
@pytest.mark.parametrize("mix", MIXES)
def test_kill9_loses_no_acknowledged_write(mix: str, tmp_path: Path) -> None:
    seed = int.from_bytes(os.urandom(4))
    rng = random.Random(seed)
    kb_dir, journal_path = tmp_path / "kb", tmp_path / "journal.jsonl"
    moments = []
    for run in range(1, KILLS_PER_CASE + 1):
        moments.append(run_child_and_kill(kb_dir, journal_path, run, mix, rng))
        drop_partial_line(journal_path)
        journal = Journal.read(journal_path)
        try:
            counts = check_after_kill(kb_dir, journal, run)
        except AssertionError as exc:
            raise AssertionError(
                f"after kill {run} ({moments[-1]}), mix {mix!r}, seed {seed}: {exc}"
            ) from exc
    # The kills must have landed while real work was going on.
    assert counts["acked"] >= KILLS_PER_CASE, (counts, moments)
    assert counts["changes"] >= counts["acked"]  # one change set per acknowledged write

"""The full-text index reopens after its writer died between writing files and committing.

Killed mid-commit, tantivy leaves the files of the unfinished commit behind;
the `meta.json` still names the previous commit. Reopening redoes the same
catch-up, which wants to create the same file again (`FileAlreadyExists`
"<segment>.<opstamp>.del") and failed every later open of the knowledge base.

The crash is replayed deterministically: a child process writes and exits
without closing (the index is left behind the graph); the catch-up on the next
open is run once and its `meta.json` put back as it was before, which is the
state a kill between the files and the meta leaves; then the folder is opened.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from nodespace_lab import KnowledgeBase, load_settings
from nodespace_lab.kb.doctor import find_problems

ENGINE = os.environ.get("NODESPACE_TEST_ENGINE", "ladybug")
REPO = Path(__file__).resolve().parents[2]

_CHILD = """
import os, sys
from pathlib import Path
from nodespace_lab import KnowledgeBase, load_settings
kb_dir = Path(sys.argv[1])
settings = load_settings(kb_dir, env={}, user_file=kb_dir.parent / "none.toml",
                         overrides={"storage": {"engine": sys.argv[2]}})
kb = KnowledgeBase(kb_dir, settings=settings)
ids = [kb.create("text", f"Note {i}", f"word{i} common").id for i in range(20)]
kb.sync_search()
kb.update(ids[3], content="gamma words")
kb.update(ids[7], content="delta words")
print(ids[3], ids[7])
os._exit(0)  # no close: the index stays behind the graph
"""


def _open(kb_dir: Path) -> KnowledgeBase:
    settings = load_settings(
        kb_dir,
        env={},
        user_file=kb_dir.parent / "none.toml",
        overrides={"storage": {"engine": ENGINE, "buffer_pool_mb": 64, "max_db_size_gb": 4}},
    )
    return KnowledgeBase(kb_dir, settings=settings)


def test_index_reopens_after_a_commit_cut_short(tmp_path: Path) -> None:
    kb_dir = tmp_path / "kb"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, str(kb_dir), ENGINE],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    gamma, delta = out.stdout.split()
    meta = kb_dir / "fulltext" / "meta.json"
    before = meta.read_bytes()
    with _open(kb_dir) as kb:  # the catch-up on open commits the two updates
        assert {h.id for h in kb.search("gamma")} == {gamma}
    assert meta.read_bytes() != before
    meta.write_bytes(before)  # ... but "died" before its meta.json was written

    with _open(kb_dir) as kb:
        assert find_problems(kb) == []
        assert {h.id for h in kb.search("gamma")} == {gamma}
        assert {h.id for h in kb.search("delta")} == {delta}
        assert len(kb.search("common", limit=50)) == 18
        kb.update(gamma, content="epsilon words")
        assert {h.id for h in kb.search("epsilon")} == {gamma}

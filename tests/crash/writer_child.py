"""Child process of the crash tests: write to a knowledge base until killed.

    python writer_child.py KB_DIR JOURNAL RUN SEED MIX ENGINE

Before each write it appends an *intent* record to JOURNAL (what it is about to
write: ids, marker token, versions); after the write returns, an *ack* record
(the change-log seq and the new versions). Each record is one JSON line,
flushed and fsynced before the next step, so the parent knows exactly which
writes were acknowledged when it killed this process with SIGKILL.

Every id this process creates is announced in an intent first, and every
content it writes carries a unique marker token, so the parent can tell each
write apart after reopening the database. It prints "ready" once the knowledge
base is open.
"""

from __future__ import annotations

import json
import os
import random
import sys
from pathlib import Path
from typing import Any

import polars as pl

from nodespace_lab import KnowledgeBase, load_settings
from nodespace_lab.nodes.ids import new_id

# Relative weights of each kind of write, per test case.
MIXES: dict[str, dict[str, float]] = {
    "mixed": {"create": 3, "update": 3, "move": 2, "transaction": 1, "import": 0.3},
    "updates": {"create": 1, "update": 6, "move": 1, "transaction": 0.5, "import": 0.1},
    "transactions": {"create": 1, "update": 1, "move": 1, "transaction": 4, "import": 0.5},
    "imports": {"create": 1, "update": 1, "move": 0.5, "transaction": 1, "import": 2},
    "reopen": {"create": 2, "update": 2, "move": 1, "transaction": 1, "import": 0.5, "reopen": 1},
}


class Writer:
    def __init__(self, kb_dir: Path, journal: Path, run: int, seed: int, mix: str, engine: str):
        self.kb_dir = kb_dir
        self.run = run
        self.rng = random.Random(seed)
        self.weights = MIXES[mix]
        self.settings = load_settings(
            kb_dir,
            env={},
            user_file=kb_dir.parent / "no-user-config.toml",
            overrides={"storage": {"engine": engine, "buffer_pool_mb": 64, "max_db_size_gb": 4}},
        )
        self.journal = journal.open("a", encoding="utf-8")
        self.step = 0
        self.kb = self.open()
        # The child is the only writer: what it reads now stays true until it writes.
        rows = self.kb.store.rows("MATCH (n:Node) RETURN n.id, n.version, n.title")
        self.version = {r[0]: r[1] for r in rows}
        self.titles = [r[2] for r in rows if r[2]]

    def open(self) -> KnowledgeBase:
        return KnowledgeBase(self.kb_dir, settings=self.settings)

    def log(self, record: dict[str, Any]) -> None:
        self.journal.write(json.dumps(record, ensure_ascii=False) + "\n")
        self.journal.flush()
        os.fsync(self.journal.fileno())

    def marker(self) -> str:
        return f"mk{self.run}x{self.step}x{self.rng.randrange(36**3):03x}"

    def content(self, marker: str) -> str:
        count = self.rng.randrange(3) if self.titles else 0
        refs = " ".join(f"[[{self.rng.choice(self.titles)}]]" for _ in range(count))
        return f"note {marker} 📝 Grüße {refs}"

    def known(self) -> list[str]:
        return sorted(self.version)

    def parent(self) -> str | None:
        ids = self.known()
        return self.rng.choice(ids) if ids and self.rng.random() < 0.7 else None

    # -- writes: intent, write, ack ---------------------------------------------------------------

    def create(self) -> None:
        node_id, marker, parent = new_id(), self.marker(), self.parent()
        index = self.rng.choice([None, None, 0, 1])
        self.log(
            {
                "t": "intent",
                "run": self.run,
                "n": self.step,
                "op": "create",
                "ids": [node_id],
                "marker": marker,
                "parent": parent,
            }
        )
        node = self.kb.create(
            "text", f"T {marker}", self.content(marker), parent=parent, index=index, id=node_id
        )
        self.version[node.id] = node.version
        self.titles.append(node.title)
        self.log(
            {
                "t": "ack",
                "run": self.run,
                "n": self.step,
                "seq": self.kb.seq,
                "versions": {node.id: node.version},
            }
        )

    def update(self) -> None:
        if not self.version:
            return self.create()
        node_id = self.rng.choice(self.known())
        marker, before = self.marker(), self.version[node_id]
        self.log(
            {
                "t": "intent",
                "run": self.run,
                "n": self.step,
                "op": "update",
                "ids": [node_id],
                "marker": marker,
                "from_version": before,
            }
        )
        node = self.kb.update(node_id, expected_version=before, content=self.content(marker))
        self.version[node_id] = node.version
        self.log(
            {
                "t": "ack",
                "run": self.run,
                "n": self.step,
                "seq": self.kb.seq,
                "versions": {node_id: node.version},
            }
        )
        return None

    def move(self) -> None:
        if len(self.version) < 2:
            return self.create()
        node_id, parent = self.rng.choice(self.known()), self.parent()
        if parent is not None and (
            parent == node_id or node_id in {a.id for a in self.kb.ancestors(parent)}
        ):
            parent = None  # under its own subtree would be refused
        before = self.version[node_id]
        self.log(
            {
                "t": "intent",
                "run": self.run,
                "n": self.step,
                "op": "move",
                "ids": [node_id],
                "parent": parent,
                "from_version": before,
            }
        )
        node = self.kb.move(node_id, parent, self.rng.choice([None, 0, 2]))
        self.version[node_id] = node.version
        self.log(
            {
                "t": "ack",
                "run": self.run,
                "n": self.step,
                "seq": self.kb.seq,
                "versions": {node_id: node.version},
            }
        )
        return None

    def transaction(self) -> None:
        count, marker = self.rng.randint(2, 6), self.marker()
        ids = [new_id() for _ in range(count)]
        parents = [self.parent()] + [self.rng.choice(ids[:i]) for i in range(1, count)]
        self.log(
            {
                "t": "intent",
                "run": self.run,
                "n": self.step,
                "op": "transaction",
                "ids": ids,
                "marker": marker,
                "parents": parents,
            }
        )
        with self.kb.transaction():
            for node_id, parent in zip(ids, parents, strict=True):
                self.kb.create(
                    "text",
                    f"T {marker} {node_id[-4:]}",
                    self.content(marker),
                    parent=parent,
                    id=node_id,
                )
        self.version.update(dict.fromkeys(ids, 1))
        self.titles.append(f"T {marker} {ids[0][-4:]}")
        self.log(
            {
                "t": "ack",
                "run": self.run,
                "n": self.step,
                "seq": self.kb.seq,
                "versions": dict.fromkeys(ids, 1),
            }
        )

    def import_(self) -> None:
        count, marker = self.rng.randint(40, 60), self.marker()
        ids = [new_id() for _ in range(count)]
        top = self.parent()
        parents = [
            top if i % 7 == 0 else ids[self.rng.randrange(i)] if i else top for i in range(count)
        ]
        self.log(
            {
                "t": "intent",
                "run": self.run,
                "n": self.step,
                "op": "import",
                "ids": ids,
                "marker": marker,
                "parents": parents,
            }
        )
        frame = pl.DataFrame(
            {
                "id": ids,
                "title": [f"I {marker} {i}" for i in range(count)],
                "content": [f"row {i} {self.content(marker)}" for i in range(count)],
                "parent_id": pl.Series(parents, dtype=pl.String),
            }
        )
        self.kb.import_nodes(frame)
        self.version.update(dict.fromkeys(ids, 1))
        self.titles.append(f"I {marker} 0")
        self.log(
            {
                "t": "ack",
                "run": self.run,
                "n": self.step,
                "seq": self.kb.seq,
                "versions": dict.fromkeys(ids, 1),
            }
        )

    def reopen(self) -> None:
        # Closing checkpoints the database: a kill may land in the middle of it.
        self.kb.close()
        self.kb = self.open()

    def loop(self) -> None:
        print("ready", flush=True)
        names = list(self.weights)
        weights = [self.weights[n] for n in names]
        while True:
            self.step += 1
            op = self.rng.choices(names, weights)[0]
            getattr(self, "import_" if op == "import" else op)()


def main() -> None:
    kb_dir, journal, run, seed, mix, engine = sys.argv[1:7]
    Writer(Path(kb_dir), Path(journal), int(run), int(seed), mix, engine).loop()


if __name__ == "__main__":
    main()

"""Random sequences of writes against the real engine keep every invariant.

A Hypothesis rule-based state machine drives one knowledge base in a temporary
folder with creates, moves (valid and invalid), updates with `[[references]]`,
deletes, restores, purges, tags, imports, undo and transactions (committed and
failing midway). A plain-Python model predicts every outcome: which calls fail
and how, the hierarchy, the sibling order, the tags, and the change-log
sequence. After every step the knowledge base must equal the model, links must
equal the references in content (computed here with our own parser, not the
library's), `doctor` must find nothing, and the full-text index must agree with
the graph.
"""

from __future__ import annotations

import copy
import os
import re
import shutil
from dataclasses import dataclass, field
from typing import Any

import polars as pl
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from nodespace_lab.errors import (
    ConflictError,
    HierarchyError,
    NothingToUndo,
    ValidationError,
)
from nodespace_lab.kb.doctor import find_problems

from .scratch import scratch_kb

# -- our own reading of the reference syntax: [[target]] or [[target|alias]] ------------------

_REF = re.compile(r"\[\[([^\[\]\n]+?)\]\]")


def fold(text: str) -> str:
    """Case- and spacing-insensitive key (DESIGN: titles match case and spacing folded)."""
    return " ".join(text.split()).casefold()


def reference_keys(content: str) -> set[str]:
    keys = {fold(target.split("|", 1)[0]) for target in _REF.findall(content)}
    keys.discard("")
    return keys


# -- strategies ---------------------------------------------------------------------------------

TITLES = [
    "Alpha",
    "alpha",
    "ALPHA ",
    "Beta  Gamma",
    "beta gamma",
    "Straße",
    "STRASSE",
    "Δέλτα",
    "日本語 ノート",
    "Ünïcødé 🙂",
    "",
    "x",
    "Release v1.0",
    "a|b",
    "[x]",
]
_TEXT_CHARS = st.characters(codec="utf-8", exclude_characters="\x00")
# Free text may contain brackets, pipes and newlines: the parser must cope with all of it.
FREE_TEXT = st.text(_TEXT_CHARS, max_size=12)
TITLE = st.one_of(
    st.sampled_from(TITLES),
    st.text(st.characters(codec="utf-8", exclude_characters="\x00\n\r"), max_size=15),
)
TRICKY = st.sampled_from(
    ["[[", "]]", "[[]]", "[[ | ]]", "[[a\nb]]", "[[[[alpha]]]]", "[[|alpha]]", "`[[x]]`", "] [["]
)
# A reference is resolved when the step runs: to a node's title (in some spelling),
# its id, a tag, or nothing at all.
REF_PART = st.tuples(
    st.sampled_from(["title", "id", "tag", "missing"]),
    st.integers(0, 10_000),
    st.sampled_from(["exact", "upper", "lower", "spaced", "padded"]),
    st.booleans(),
)
CONTENT = st.lists(st.one_of(FREE_TEXT, REF_PART, TRICKY), max_size=5)
PICK = st.integers(0, 10_000)
PARENT = st.one_of(st.none(), PICK.map(lambda i: ("node", i)), st.just(("missing", 0)))
INDEX = st.one_of(st.none(), st.integers(-1, 6))
TAG_NAMES = ["Alpha", "ideas", "Straße", "STRASSE", " spaced  out ", "日本"]
TAGS = st.lists(st.sampled_from(TAG_NAMES), max_size=2)
TAG_LIST = st.lists(st.sampled_from(TAG_NAMES), min_size=1, max_size=2)
VALID_IDS = ["alpha", "beta-2", "日本"]
INVALID_IDS = ["Alpha", "straße", "a  b", "x\ty"]
TASK_STATUS = st.sampled_from(["todo", "doing", "done", "cancelled"])


class Boom(Exception):
    """Raised on purpose inside a transaction."""


# How a transaction fails midway, and the error that must come out of it.
_FAILURES: dict[str, type[Exception]] = {
    "exception": Boom,
    "cycle": HierarchyError,
    "stale": ConflictError,
    "missing-parent": HierarchyError,
    "bad-kind": ValidationError,
}


@dataclass
class MNode:
    """What the model knows about one text or task node."""

    kind: str
    title: str
    content: str
    parent: str | None
    status: str = "active"
    tags: set[str] = field(default_factory=set)


@dataclass
class Model:
    nodes: dict[str, MNode] = field(default_factory=dict)
    # Children of each parent (None: top level) in order, deleted ones included.
    order: dict[str | None, list[str]] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)  # tag id -> title

    def visible(self, parent: str | None) -> list[str]:
        return [i for i in self.order.get(parent, []) if self.nodes[i].status != "deleted"]

    def place(self, node_id: str, parent: str | None, index: int | None) -> None:
        """Insert at `index` among the non-deleted siblings; None or past the end: last."""
        full = self.order.setdefault(parent, [])
        visible = self.visible(parent)
        if index is None or index >= len(visible):
            full.append(node_id)
        else:
            full.insert(full.index(visible[index]), node_id)

    def unplace(self, node_id: str) -> None:
        self.order[self.nodes[node_id].parent].remove(node_id)

    def descendants(self, node_id: str) -> list[str]:
        out: list[str] = []
        frontier = [node_id]
        while frontier:
            frontier = [c for p in frontier for c in self.order.get(p, [])]
            out += frontier
        return out

    def ancestors(self, node_id: str) -> list[str]:
        chain = []
        parent = self.nodes[node_id].parent
        while parent is not None:
            chain.append(parent)
            parent = self.nodes[parent].parent
        return chain

    def all_titles(self) -> dict[str, str]:
        """Every node id of the graph (tags included) with its title."""
        return {i: n.title for i, n in self.nodes.items()} | self.tags


def tag_id(name: str) -> str:
    return "tag:" + fold(name.strip())


def _token(n: int) -> str:
    """The n-th marker word: letters only, so no tokenizer splits it."""
    letters, word = "bcdfghjklmnpqrstvwx", ""
    while n:
        n, digit = divmod(n, len(letters))
        word += letters[digit]
    return f"zq{word}zk"


def _has_nodes(machine: KBMachine) -> bool:
    return bool(machine.model.nodes)


class KBMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.folder, self.kb = scratch_kb("ns-prop-")
        self.model = Model()
        self.seq = 0
        self.history: list[tuple[int, Model]] = []  # (seq, model before) per undoable change
        self.fresh: list[str] = []  # markers written by the last step
        self.counter = 0

    def teardown(self) -> None:
        try:
            if hasattr(self, "kb"):
                self._check_all_markers()
                seqs = [c.seq for c in self.kb.changes()]
                assert seqs == list(range(1, self.seq + 1)), "change log must be contiguous"
                self.kb.close()
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)

    # -- helpers --------------------------------------------------------------------------------

    def ids(self) -> list[str]:
        return sorted(self.model.nodes)

    def pick(self, i: int) -> str | None:
        ids = self.ids()
        return ids[i % len(ids)] if ids else None

    def marker(self) -> str:
        """A word written nowhere else, to find this write with a search."""
        self.counter += 1
        self.fresh.append(_token(self.counter))
        return self.fresh[-1]

    def content(self, parts: list[Any]) -> str:
        titles = self.model.all_titles()
        ordered = sorted(titles)
        tag_ids = sorted(self.model.tags)
        out = []
        for part in parts:
            if not isinstance(part, tuple):
                out.append(part)
                continue
            what, i, spelling, alias = part
            if what == "missing" or not ordered:
                target = f"no such note {i}"
            elif what == "tag" and tag_ids:
                target = titles[tag_ids[i % len(tag_ids)]]
            elif what == "id":
                target = ordered[i % len(ordered)]
            else:
                target = titles[ordered[i % len(ordered)]]
            target = {
                "exact": target,
                "upper": target.upper(),
                "lower": target.lower(),
                "spaced": "  ".join(target.split()),
                "padded": f" {target}\t",
            }[spelling]
            out.append(f"[[{target}{'|an alias' if alias else ''}]]")
        out.insert(len(out) // 2, f" {self.marker()} ")
        return "".join(out)

    def parent_target(self, choice: tuple[str, int] | None) -> str | None:
        if choice is None:
            return None
        what, i = choice
        return self.pick(i) if what == "node" else "missing-parent-id"

    def parent_error(self, parent: str | None) -> type[Exception] | None:
        if parent is None:
            return None
        node = self.model.nodes.get(parent)
        if node is None or node.status == "deleted":
            return HierarchyError
        return None

    def committed(self, before: Model) -> None:
        """One change set was committed; `before` is the state it can be undone to."""
        self.seq += 1
        self.history.append((self.seq, before))

    def snapshot(self) -> Model:
        return copy.deepcopy(self.model)

    def raw_state(self) -> Any:
        """Every column of every node and every edge: 'nothing changed' means this is equal."""
        kb = self.kb
        nodes = kb.store.rows("MATCH (n:Node) RETURN n ORDER BY n.id")
        edges = {
            name: sorted(map(tuple, kb.store.rows(f"MATCH (a)-[:{name}]->(b) RETURN a.id, b.{k}")))
            for name, k in [
                ("CHILD_OF", "id"),
                ("LINKS_TO", "id"),
                ("MEMBER_OF", "id"),
                ("REFERS", "key"),
                ("TITLED", "key"),
            ]
        }
        refs = sorted(r[0] for r in kb.store.rows("MATCH (r:Ref) RETURN r.key"))
        return nodes, edges, refs, kb.seq

    def refused(self, error: type[Exception], call: Any) -> None:
        """`call()` must raise `error` and leave the database exactly as it was."""
        before = self.raw_state()
        with pytest.raises(error):
            call()
        assert self.raw_state() == before
        self.fresh = []

    # -- rules ----------------------------------------------------------------------------------

    @rule(
        kind=st.sampled_from(["text", "task"]),
        title=TITLE,
        parts=CONTENT,
        parent=PARENT,
        index=INDEX,
        custom=st.one_of(st.none(), st.none(), st.sampled_from(VALID_IDS + INVALID_IDS)),
        tags=TAGS,
        task_status=TASK_STATUS,
    )
    def create(
        self,
        kind: str,
        title: str,
        parts: list[Any],
        parent: Any,
        index: int | None,
        custom: str | None,
        tags: list[str],
        task_status: str,
    ) -> None:
        content = self.content(parts)
        parent_id = self.parent_target(parent)
        extra = {"task_status": task_status} if kind == "task" else {}
        call = lambda: self.kb.create(  # noqa: E731
            kind, title, content, parent=parent_id, index=index, id=custom, tags=tags, **extra
        )
        if custom in INVALID_IDS or custom in self.model.all_titles():
            self.refused(ValidationError, call)
            return
        error = self.parent_error(parent_id)
        if error is None and index is not None and index < 0:
            error = ValidationError
        if error is not None:
            self.refused(error, call)
            return
        before = self.snapshot()
        node = call()
        assert custom is None or node.id == custom
        assert (node.kind, node.title, node.content, node.parent_id) == (
            kind,
            title,
            content,
            parent_id,
        )
        assert node.version == 1
        self.model.nodes[node.id] = MNode(kind, title, content, parent_id)
        self.model.place(node.id, parent_id, index)
        self._tag_model(node.id, tags)
        self.committed(before)

    def _tag_model(self, node_id: str, names: list[str]) -> bool:
        changed = False
        for name in names:
            tid = tag_id(name)
            if tid not in self.model.tags:
                self.model.tags[tid] = name.strip()
                changed = True
            if tid not in self.model.nodes[node_id].tags:
                self.model.nodes[node_id].tags.add(tid)
                changed = True
        return changed

    @precondition(_has_nodes)
    @rule(
        which=PICK,
        parent=st.one_of(PARENT, st.just(("self", 0)), PICK.map(lambda i: ("descendant", i))),
        index=INDEX,
    )
    def move(self, which: int, parent: Any, index: int | None) -> None:
        node_id = self.pick(which)
        assert node_id is not None
        node = self.model.nodes[node_id]
        if parent is not None and parent[0] == "self":
            parent_id: str | None = node_id
        elif parent is not None and parent[0] == "descendant":
            below = self.model.descendants(node_id)
            parent_id = below[parent[1] % len(below)] if below else node_id
        else:
            parent_id = self.parent_target(parent)
        call = lambda: self.kb.move(node_id, parent_id, index)  # noqa: E731
        if node.status == "deleted":
            self.refused(ValidationError, call)
            return
        error = self.parent_error(parent_id)
        if (
            error is None
            and parent_id is not None
            and (parent_id == node_id or parent_id in self.model.descendants(node_id))
        ):
            error = HierarchyError
        if error is None and index is not None and index < 0:
            error = ValidationError
        if error is not None:
            self.refused(error, call)
            return
        before = self.snapshot()
        moved = call()
        assert moved.parent_id == parent_id
        self.model.unplace(node_id)
        node.parent = parent_id
        self.model.place(node_id, parent_id, index)
        self.committed(before)

    @precondition(_has_nodes)
    @rule(
        which=PICK,
        title=st.one_of(st.none(), TITLE),
        parts=st.one_of(st.none(), CONTENT),
        version=st.sampled_from(["none", "current", "stale", "future"]),
        status=st.sampled_from([None, None, None, "archived", "active"]),
    )
    def update(
        self,
        which: int,
        title: str | None,
        parts: list[Any] | None,
        version: str,
        status: str | None,
    ) -> None:
        node_id = self.pick(which)
        assert node_id is not None
        node = self.model.nodes[node_id]
        fields: dict[str, Any] = {}
        if title is not None:
            fields["title"] = title
        if parts is not None or title is None:
            fields["content"] = self.content(parts or [])
        if status is not None:
            fields["status"] = status
        current = self.kb.get(node_id).version
        expected = {"none": None, "current": current, "stale": current - 1, "future": current + 1}[
            version
        ]
        call = lambda: self.kb.update(node_id, expected_version=expected, **fields)  # noqa: E731
        if node.status == "deleted":
            self.refused(ValidationError, call)
            return
        if version in {"stale", "future"}:
            self.refused(ConflictError, call)
            return
        before = self.snapshot()
        updated = call()
        assert updated.version == current + 1
        node.title = fields.get("title", node.title)
        node.content = fields.get("content", node.content)
        node.status = fields.get("status", node.status)
        self.committed(before)

    @precondition(_has_nodes)
    @rule(which=PICK)
    def delete(self, which: int) -> None:
        node_id = self.pick(which)
        assert node_id is not None
        if self.model.nodes[node_id].status == "deleted":
            self.refused(ValidationError, lambda: self.kb.delete(node_id))
            return
        before = self.snapshot()
        ids = [node_id, *self.model.descendants(node_id)]
        changed = [i for i in ids if self.model.nodes[i].status != "deleted"]
        assert sorted(self.kb.delete(node_id)) == sorted(changed)
        for i in changed:
            self.model.nodes[i].status = "deleted"
        self.committed(before)

    @precondition(_has_nodes)
    @rule(which=PICK)
    def restore(self, which: int) -> None:
        node_id = self.pick(which)
        assert node_id is not None
        before = self.snapshot()
        ids = [*self.model.ancestors(node_id), node_id, *self.model.descendants(node_id)]
        changed = [i for i in ids if self.model.nodes[i].status == "deleted"]
        assert sorted(self.kb.restore(node_id)) == sorted(changed)
        for i in changed:
            self.model.nodes[i].status = "active"
        if changed:
            self.committed(before)

    @precondition(_has_nodes)
    @rule(which=PICK)
    def purge(self, which: int) -> None:
        node_id = self.pick(which)
        assert node_id is not None
        if self.model.nodes[node_id].status != "deleted":
            self.refused(ValidationError, lambda: self.kb.purge(node_id))
            return
        before = self.snapshot()
        ids = [node_id, *self.model.descendants(node_id)]
        assert sorted(self.kb.purge(node_id)) == sorted(ids)
        self.model.unplace(node_id)
        for i in ids:
            self.model.order.pop(i, None)
            del self.model.nodes[i]
        self.committed(before)

    @precondition(_has_nodes)
    @rule(which=PICK, names=TAG_LIST)
    def tag(self, which: int, names: list[str]) -> None:
        node_id = self.pick(which)
        assert node_id is not None
        if self.model.nodes[node_id].status == "deleted":
            self.refused(ValidationError, lambda: self.kb.tag(node_id, *names))
            return
        before = self.snapshot()
        assert self.kb.tag(node_id, *names) == [tag_id(n) for n in names]
        if self._tag_model(node_id, names):
            self.committed(before)

    @precondition(_has_nodes)
    @rule(which=PICK, names=TAG_LIST)
    def untag(self, which: int, names: list[str]) -> None:
        node_id = self.pick(which)
        assert node_id is not None
        before = self.snapshot()
        self.kb.untag(node_id, *names)
        node = self.model.nodes[node_id]
        gone = node.tags & {tag_id(n) for n in names}
        node.tags -= gone
        if gone:
            self.committed(before)

    @rule()
    def undo(self) -> None:
        if not self.history:
            self.refused(NothingToUndo, self.kb.undo)
            return
        seq, before = self.history.pop()
        assert self.kb.undo().seq == seq
        self.model = before
        self.seq += 1

    @rule(
        rows=st.lists(
            st.tuples(
                st.sampled_from(["text", "task"]),
                TITLE,
                CONTENT,
                st.one_of(st.none(), PICK.map(lambda i: ("row", i)), PARENT),
            ),
            min_size=1,
            max_size=5,
        )
    )
    def import_rows(self, rows: list[Any]) -> None:
        self.counter += 1
        ids = [f"imp-{self.counter}-{n}" for n in range(len(rows))]
        parents: list[str | None] = []
        error: type[Exception] | None = None
        for n, (_, _, _, choice) in enumerate(rows):
            if choice is not None and choice[0] == "row":
                parents.append(ids[choice[1] % n] if n else None)
            else:
                parents.append(self.parent_target(choice))
                error = error or self.parent_error(parents[-1])
        contents = [self.content(parts) for _, _, parts, _ in rows]
        frame = pl.DataFrame(
            {
                "id": ids,
                "kind": [r[0] for r in rows],
                "title": [r[1] for r in rows],
                "content": contents,
                "parent_id": pl.Series(parents, dtype=pl.String),
            }
        )
        if error is not None:
            self.refused(error, lambda: self.kb.import_nodes(frame))
            return
        before = self.snapshot()
        assert self.kb.import_nodes(frame) == len(rows)
        for n, (kind, title, _, _) in enumerate(rows):
            self.model.nodes[ids[n]] = MNode(kind, title, contents[n], parents[n])
            self.model.place(ids[n], parents[n], None)
        self.committed(before)

    @rule(
        creates=st.lists(st.tuples(TITLE, CONTENT, PARENT, INDEX), min_size=1, max_size=3),
        edit=st.tuples(PICK, CONTENT),
    )
    def transaction_commits(self, creates: list[Any], edit: tuple[int, list[Any]]) -> None:
        before = self.snapshot()
        with self.kb.transaction():
            self._transaction_body(creates, edit)
        self.committed(before)

    @rule(
        creates=st.lists(st.tuples(TITLE, CONTENT, PARENT, INDEX), min_size=1, max_size=3),
        edit=st.tuples(PICK, CONTENT),
        failure=st.sampled_from(sorted(_FAILURES)),
    )
    def transaction_fails_midway(
        self, creates: list[Any], edit: tuple[int, list[Any]], failure: str
    ) -> None:
        state = self.raw_state()
        model = self.snapshot()
        expected = _FAILURES[failure]
        with pytest.raises(expected), self.kb.transaction():
            created = self._transaction_body(creates, edit)
            assert created, "the body always writes something before failing"
            if failure == "exception":
                raise Boom
            if failure == "cycle":
                self.kb.move(created[0], created[0])
            elif failure == "stale":
                self.kb.update(created[0], expected_version=7, content="never")
            elif failure == "missing-parent":
                self.kb.create("text", "orphan", parent="missing-parent-id")
            else:
                self.kb.create("no-such-kind", "x")
        self.model = model
        self.fresh = []
        assert self.raw_state() == state
        assert self.kb.seq == self.seq

    def _transaction_body(self, creates: list[Any], edit: tuple[int, list[Any]]) -> list[str]:
        created: list[str] = []
        for title, parts, parent, index in creates:
            parent_id = self.parent_target(parent)
            if self.parent_error(parent_id) is not None:
                parent_id = created[-1] if created else None
            index = None if index is not None and index < 0 else index
            content = self.content(parts)
            node = self.kb.create("text", title, content, parent=parent_id, index=index)
            self.model.nodes[node.id] = MNode("text", title, content, parent_id)
            self.model.place(node.id, parent_id, index)
            created.append(node.id)
        target = self.pick(edit[0])
        if target is not None and self.model.nodes[target].status != "deleted":
            content = self.content(edit[1])
            self.kb.update(target, content=content)
            self.model.nodes[target].content = content
        return created

    # -- invariants -----------------------------------------------------------------------------

    @invariant()
    def graph_matches_model(self) -> None:
        kb, model = self.kb, self.model
        assert kb.seq == self.seq
        rows = kb.store.rows(
            "MATCH (n:Node) RETURN n.id, n.kind, n.title, n.content, n.parent_id, n.status"
        )
        actual = {r[0]: tuple(r[1:]) for r in rows}
        expected = {
            i: (n.kind, n.title, n.content, n.parent, n.status) for i, n in model.nodes.items()
        }
        expected |= {i: ("tag", title, "", None, "active") for i, title in model.tags.items()}
        assert actual == expected

        # A forest: the parent column equals the one CHILD_OF edge, and no chain loops.
        edges = kb.store.rows("MATCH (c:Node)-[:CHILD_OF]->(p:Node) RETURN c.id, p.id")
        parent_of = {i: row[3] for i, row in actual.items()}
        assert sorted(map(tuple, edges)) == sorted(
            (i, p) for i, p in parent_of.items() if p is not None
        )
        for start in parent_of:
            seen, current = set(), parent_of[start]
            while current is not None:
                assert current not in seen and current != start, f"cycle through {start}"
                seen.add(current)
                current = parent_of[current]
            # Soft delete covers a whole subtree: no live node below a deleted one.
            if actual[start][4] != "deleted":
                assert all(actual[a][4] != "deleted" for a in seen), start

        # Sibling order equals the model's, with and without deleted siblings.
        for parent in [None, *(p for p in model.order if p is not None and model.order[p])]:
            assert [n.id for n in kb.children(parent)] == model.visible(parent)
            full = kb.children(parent, include_deleted=True)
            assert [n.id for n in full] == model.order.get(parent, [])

        # LINKS_TO equals the references in content, resolved by title or id.
        answers: dict[str, set[str]] = {}
        for node_id, title in model.all_titles().items():
            answers.setdefault(fold(title), set()).add(node_id)
            answers.setdefault(node_id, set()).add(node_id)
        wanted = sorted(
            (source, target)
            for source, node in model.nodes.items()
            for key in reference_keys(node.content)
            for target in answers.get(key, ())
        )
        links = kb.store.rows("MATCH (a:Node)-[:LINKS_TO]->(b:Node) RETURN a.id, b.id")
        assert sorted(map(tuple, links)) == sorted(set(wanted))

        members = kb.store.rows("MATCH (a:Node)-[:MEMBER_OF]->(t:Node) RETURN a.id, t.id")
        assert sorted(map(tuple, members)) == sorted(
            (i, t) for i, n in model.nodes.items() for t in n.tags
        )

    @invariant()
    def doctor_and_search_agree(self) -> None:
        kb = self.kb
        problems = find_problems(kb)  # brings the search index up to date first
        assert problems == [], [str(p) for p in problems[:10]]
        assert kb.fulltext.applied_seq == kb.seq
        assert kb.fulltext.doc_ids() == set(self.model.nodes) | set(self.model.tags)
        for token in self.fresh:
            self._check_marker(token)
        self.fresh = []

    def _check_marker(self, token: str) -> None:
        hits = {h.id for h in self.kb.search(token, include_deleted=True, limit=50)}
        holders = {i for i, n in self.model.nodes.items() if f" {token} " in n.content}
        assert hits == holders, f"search for {token!r}: hits {hits}, holders {holders}"
        live = {h.id for h in self.kb.search(token, limit=50)}
        assert live == {i for i in holders if self.model.nodes[i].status != "deleted"}

    def _check_all_markers(self) -> None:
        for n in range(1, self.counter + 1):
            self._check_marker(_token(n))

    @precondition(_has_nodes)
    @invariant()
    def backlinks_api_agrees(self) -> None:
        node_id = self.ids()[self.seq % len(self.model.nodes)]
        backlinks = {n.id for n in self.kb.backlinks(node_id, include_deleted=True)}
        edges = self.kb.store.rows(
            "MATCH (a:Node)-[:LINKS_TO]->(:Node {id: $id}) RETURN a.id", {"id": node_id}
        )
        assert backlinks == {r[0] for r in edges}
        tags = self.kb.tags(node_id)
        assert tags == sorted(self.model.tags[t] for t in self.model.nodes[node_id].tags)


KBMachine.TestCase.settings = settings(
    max_examples=int(os.environ.get("NODESPACE_PROPERTY_EXAMPLES", "25")),
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_random_write_sequences_keep_invariants = KBMachine.TestCase

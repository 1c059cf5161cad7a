"""Bad input: a clear error from the NodespaceError tree, and the database exactly as before.

One test per case. Each asserts the error type, that the message names the
object, the bad value and a fix, and that a full snapshot (every node row,
every edge, the Refs, the change log and `kb.seq`) is unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import polars as pl
import pytest

from nodespace_lab import KnowledgeBase, NodespaceError
from nodespace_lab.errors import ConflictError, HierarchyError, NotFound, ValidationError

INJECTION = "x'}) MATCH (n) DETACH DELETE n //"


@pytest.fixture
def ids(kb: KnowledgeBase) -> dict[str, str]:
    """A populated knowledge base (tree, links, tags, task, journal); returns name -> id."""
    root = kb.create("text", "Root", "see [[Leaf]]")
    mid = kb.create("text", "Mid", parent=root.id)
    leaf = kb.create("text", "Leaf", "back to [[Root]]", parent=mid.id, tags=["t"])
    task = kb.create("task", "Task", priority=2, due="2026-12-01", parent=root.id)
    kb.journal("2026-11-25")
    return {"root": root.id, "mid": mid.id, "leaf": leaf.id, "task": task.id}


@pytest.fixture
def refused(kb: KnowledgeBase, snapshot) -> Callable[..., Any]:
    """`with refused(ErrorType, *fragments):` the block must raise that error, whose
    message contains every fragment, and must leave the database exactly as before."""

    @contextmanager
    def check(error: type[NodespaceError], *fragments: str) -> Iterator[None]:
        before = snapshot(kb)
        with pytest.raises(error) as caught:
            yield
        assert isinstance(caught.value, NodespaceError)
        message = str(caught.value)
        for fragment in fragments:
            assert fragment in message, f"{fragment!r} not in {message!r}"
        assert snapshot(kb) == before

    return check


# -- unknown kind ----------------------------------------------------------------


def test_unknown_kind(kb: KnowledgeBase, ids, refused) -> None:
    with refused(ValidationError, "Unknown node kind", "'recipe'", "use one of", "register_kind"):
        kb.create("recipe", "Pancakes")


# -- invalid field values ------------------------------------------------------


def test_invalid_due_date(kb: KnowledgeBase, ids, refused) -> None:
    with refused(ValidationError, "New task", "'due'", "'31/31/2026'", "YYYY-MM-DD"):
        kb.create("task", "x", due="31/31/2026")


def test_invalid_due_date_on_update(kb: KnowledgeBase, ids, refused) -> None:
    with refused(ValidationError, ids["task"], "'due'", "'31/31/2026'", "YYYY-MM-DD"):
        kb.update(ids["task"], due="31/31/2026")


def test_invalid_priority(kb: KnowledgeBase, ids, refused) -> None:
    with refused(ValidationError, ids["task"], "'priority'", "9", "1 (highest) to 4"):
        kb.update(ids["task"], priority=9)


def test_invalid_task_status(kb: KnowledgeBase, ids, refused) -> None:
    with refused(ValidationError, "'task_status'", "'later'", "'todo', 'doing', 'done'"):
        kb.create("task", "x", task_status="later")


def test_task_field_on_text_node(kb: KnowledgeBase, ids, refused) -> None:
    with refused(ValidationError, ids["leaf"], "'priority'", "only tasks", "kind='task'"):
        kb.update(ids["leaf"], priority=1)


def test_unknown_field(kb: KnowledgeBase, ids, refused) -> None:
    with refused(ValidationError, ids["leaf"], "'colour'", "editable fields are"):
        kb.update(ids["leaf"], colour="red")


def test_properties_not_json(kb: KnowledgeBase, ids, refused) -> None:
    with refused(ValidationError, ids["leaf"], "properties", "use JSON values"):
        kb.update(ids["leaf"], properties={"when": object()})


def test_multiline_title(kb: KnowledgeBase, ids, refused) -> None:
    with refused(ValidationError, "title", "'two\\nlines'", "put extra lines in the content"):
        kb.create("text", "two\nlines")


def test_nul_character(kb: KnowledgeBase, ids, refused) -> None:
    with refused(ValidationError, ids["leaf"], "'content'", "NUL", "remove it"):
        kb.update(ids["leaf"], content="a\x00b")


def test_bad_position_index(kb: KnowledgeBase, ids, refused) -> None:
    with refused(ValidationError, "Position index -1", "integer >= 0"):
        kb.move(ids["leaf"], ids["root"], -1)


# -- hierarchy --------------------------------------------------------------------


def test_missing_parent_on_create(kb: KnowledgeBase, ids, refused) -> None:
    with refused(HierarchyError, "Parent 'no-such-node'", "does not exist", "create it first"):
        kb.create("text", "orphan", parent="no-such-node")


def test_missing_parent_on_move(kb: KnowledgeBase, ids, refused) -> None:
    with refused(HierarchyError, "Parent 'no-such-node'", "does not exist", "parent=None"):
        kb.move(ids["leaf"], "no-such-node")


def test_deleted_parent(kb: KnowledgeBase, ids, refused) -> None:
    kb.delete(ids["mid"])
    with refused(ValidationError, f"Parent {ids['mid']!r}", "deleted", "kb.restore"):
        kb.create("text", "x", parent=ids["mid"])


def test_move_under_own_descendant(kb: KnowledgeBase, ids, refused) -> None:
    with refused(HierarchyError, ids["root"], ids["leaf"], "cycle", "Move it elsewhere"):
        kb.move(ids["root"], ids["leaf"])


def test_move_under_itself(kb: KnowledgeBase, ids, refused) -> None:
    with refused(HierarchyError, ids["mid"], "cycle"):
        kb.move(ids["mid"], ids["mid"])


def test_move_of_missing_node(kb: KnowledgeBase, ids, refused) -> None:
    with refused(NotFound, "'ghost'", "does not exist", "check the id"):
        kb.move("ghost", ids["root"])


# -- size and text ------------------------------------------------------------------


def test_content_over_the_size_limit(kb_factory, snapshot) -> None:
    kb = kb_factory(storage={"max_content_bytes": 1000})
    node = kb.create("text", "note", "small")
    before = snapshot(kb)
    # 501 characters but 1002 bytes: the limit is in UTF-8 bytes.
    with pytest.raises(ValidationError) as caught:
        kb.update(node.id, content="é" * 501)
    message = str(caught.value)
    for fragment in (node.id, "'content'", "1,002 bytes", "1,000", "storage.max_content_bytes"):
        assert fragment in message
    with pytest.raises(ValidationError, match="over the limit"):
        kb.create("text", "big", "x" * 1001)
    assert snapshot(kb) == before
    assert kb.create("text", "exact", "x" * 1000).content == "x" * 1000


def test_title_over_the_length_limit(kb: KnowledgeBase, ids, refused) -> None:
    with refused(ValidationError, "1,001 characters", "storage.max_title_chars"):
        kb.create("text", "x" * 1001)


def test_lone_surrogate_in_title(kb: KnowledgeBase, ids, refused) -> None:
    with refused(
        ValidationError, "'title'", "lone surrogate", "'\\ud800'", "replace the character"
    ):
        kb.create("text", "bad \ud800 title")


def test_lone_surrogate_in_content(kb: KnowledgeBase, ids, refused) -> None:
    with refused(
        ValidationError, ids["leaf"], "'content'", "'\\udfff'", "position 3", "decode the text"
    ):
        kb.update(ids["leaf"], content="abc\udfff")


def test_lone_surrogate_in_tag_name(kb: KnowledgeBase, ids, refused) -> None:
    with refused(ValidationError, "lone surrogate"):
        kb.tag(ids["leaf"], "bad\ud800")


# -- concurrency --------------------------------------------------------------------


def test_stale_expected_version(kb: KnowledgeBase, ids, refused) -> None:
    kb.update(ids["leaf"], content="someone else's edit")
    with refused(ConflictError, ids["leaf"], "version 2, not 1", "Reload it"):
        kb.update(ids["leaf"], expected_version=1, content="my edit")


# -- Cypher injection ---------------------------------------------------------------


def test_cypher_in_title_and_content_is_stored_verbatim(kb: KnowledgeBase, ids, snapshot) -> None:
    before = snapshot(kb)
    node = kb.create("text", INJECTION, f"{INJECTION}\n[[{INJECTION}]] MATCH (n) DELETE n")
    after = snapshot(kb)
    got = kb.get(node.id)
    assert got.title == INJECTION
    assert got.content.startswith(INJECTION)
    # Exactly one node more; every earlier row and edge untouched.
    assert [row for row in after["nodes"] if row[0] != node.id] == before["nodes"]
    for name, edges in before["edges"].items():
        assert set(edges) <= set(after["edges"][name])
    assert after["seq"] == before["seq"] + 1
    # The reference resolves to the node itself: a self-link, nothing else.
    assert [n.id for n in kb.links(node.id)] == [node.id]


def test_cypher_in_update_tag_and_find_is_inert(kb: KnowledgeBase, ids, snapshot) -> None:
    kb.update(ids["leaf"], title=INJECTION)
    kb.tag(ids["root"], INJECTION)
    assert kb.get(ids["leaf"]).title == INJECTION
    assert kb.tags(ids["root"]) == [INJECTION]
    before = snapshot(kb)
    assert kb.find("text").where(title=INJECTION).ids() == [ids["leaf"]]
    assert kb.find("text").contains(INJECTION).ids() == [ids["leaf"]]
    assert kb.find().tagged(INJECTION).ids() == [ids["root"]]
    assert kb.search("DETACH DELETE")  # found as words, not run as Cypher
    found = kb.cypher("MATCH (n:Node {title: $t}) RETURN n.id AS id", {"t": INJECTION})
    assert sorted(found["id"]) == sorted([ids["leaf"], "tag:" + INJECTION.casefold()])
    assert snapshot(kb) == before
    assert kb.find().count() == 7  # five nodes, the journal page and the new tag


# -- bad import frames --------------------------------------------------------------


def test_import_with_duplicate_ids(kb: KnowledgeBase, ids, refused) -> None:
    frame = pl.DataFrame({"id": ["dup", "dup", "ok"], "title": ["a", "b", "c"]})
    with refused(ValidationError, "column 'id'", "'dup'", "unique", "nothing was imported"):
        kb.import_nodes(frame)


def test_import_with_existing_id(kb: KnowledgeBase, ids, refused) -> None:
    frame = pl.DataFrame({"id": ["new-one", ids["leaf"]], "title": ["a", "b"]})
    with refused(ValidationError, ids["leaf"], "already exists", "drop the id column"):
        kb.import_nodes(frame)


def test_import_with_unknown_column(kb: KnowledgeBase, ids, refused) -> None:
    frame = pl.DataFrame({"title": ["a"], "colour": ["red"]})
    with refused(ValidationError, "unknown column 'colour'", "accepted columns are"):
        kb.import_nodes(frame)


def test_import_with_cycle_in_frame(kb: KnowledgeBase, ids, refused) -> None:
    frame = pl.DataFrame(
        {"id": ["c1", "c2", "c3"], "title": ["a", "b", "c"], "parent_id": ["c3", "c1", "c2"]}
    )
    with refused(HierarchyError, "cycle", "parent_id", "must end at a root or an existing node"):
        kb.import_nodes(frame)


def test_import_with_bad_kind(kb: KnowledgeBase, ids, refused) -> None:
    frame = pl.DataFrame({"title": ["a", "b"], "kind": ["text", "recipe"]})
    with refused(ValidationError, "row 1", "'recipe'", "kind must be one of"):
        kb.import_nodes(frame)


def test_import_with_missing_parent(kb: KnowledgeBase, ids, refused) -> None:
    frame = pl.DataFrame({"title": ["a"], "parent_id": ["nowhere"]})
    with refused(HierarchyError, "'nowhere'", "neither in the frame", "fix parent_id"):
        kb.import_nodes(frame)


def test_import_with_bad_task_field(kb: KnowledgeBase, ids, refused) -> None:
    frame = pl.DataFrame({"title": ["a"], "kind": ["task"], "priority": [9]})
    with refused(ValidationError, "column 'priority'", "9", "1 (highest) to 4"):
        kb.import_nodes(frame)


def test_import_with_content_over_limit(kb_factory, snapshot) -> None:
    kb = kb_factory(storage={"max_content_bytes": 1000})
    kb.create("text", "existing")
    before = snapshot(kb)
    frame = pl.DataFrame({"title": ["a", "b"], "content": ["ok", "x" * 1001]})
    with pytest.raises(ValidationError, match="at most 1,000 bytes"):
        kb.import_nodes(frame)
    assert snapshot(kb) == before


def test_import_with_wrong_column_type(kb: KnowledgeBase, ids, refused) -> None:
    frame = pl.DataFrame({"title": ["a"], "kind": ["task"], "due": ["31/31/2026"]})
    with refused(ValidationError, "wrong type"):
        kb.import_nodes(frame)

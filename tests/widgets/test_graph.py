"""GraphView in Python: neighbourhood extraction, state, messages, live refresh."""

from __future__ import annotations

import json
from typing import Any

import pytest

from nodespace_lab import KnowledgeBase
from nodespace_lab.errors import NotFound, ValidationError
from nodespace_lab.widgets import GraphView
from nodespace_lab.widgets.graph import Neighbourhood, neighbourhood, ref_id

from .graph_bench import build_graph


def ids(found: Neighbourhood | GraphView) -> set[str]:
    nodes = found.nodes
    return {node["id"] for node in nodes}


def edges(found: Neighbourhood) -> set[tuple[str, str, str]]:
    return found.edge_set()


def message(widget: Any, content: dict[str, Any]) -> None:
    """Deliver `content` as the browser's `model.send(content)` would."""
    data = {"method": "custom", "content": content}
    widget._handle_msg({"content": {"data": data}, "buffers": []})


def test_links_and_backlinks_at_depth_one(kb: KnowledgeBase) -> None:
    b = kb.create("text", "Beta")
    a = kb.create("text", "Alpha", "see [[Beta]]")
    c = kb.create("text", "Gamma", "back to [[alpha]]")
    far = kb.create("text", "Far", "[[Gamma]]")
    found = neighbourhood(kb, a.id)
    assert ids(found) == {a.id, b.id, c.id}
    assert edges(found) == {(a.id, b.id, "LINKS_TO"), (c.id, a.id, "LINKS_TO")}
    assert found.nodes[0] == {"id": a.id, "title": "Alpha", "kind": "text", "hop": 0}
    assert not found.truncated
    assert far.id in ids(neighbourhood(kb, a.id, depth=2))


def test_hierarchy_parent_children_and_siblings(kb: KnowledgeBase) -> None:
    top = kb.create("text", "Top")
    a = kb.create("text", "A", parent=top.id)
    sibling = kb.create("text", "Sibling", parent=top.id)
    kids = [kb.create("text", f"kid {i}", parent=a.id).id for i in range(3)]
    grandkid = kb.create("text", "grandkid", parent=kids[0])
    one = neighbourhood(kb, a.id, depth=1)
    assert ids(one) == {a.id, top.id, *kids}
    assert (a.id, top.id, "CHILD_OF") in edges(one)
    assert {(k, a.id, "CHILD_OF") for k in kids} <= edges(one)
    two = neighbourhood(kb, a.id, depth=2)
    assert ids(two) == {a.id, top.id, sibling.id, *kids, grandkid.id}
    hops = {node["id"]: node["hop"] for node in two.nodes}
    assert hops[sibling.id] == 2 and hops[grandkid.id] == 2 and hops[top.id] == 1


def test_tags_and_collections_are_member_edges(kb: KnowledgeBase) -> None:
    a = kb.create("text", "A", tags=["green"])
    b = kb.create("text", "B", tags=["green"])
    shelf = kb.create("collection", "Shelf")
    kb.add_to(a.id, shelf.id)
    found = neighbourhood(kb, a.id)
    assert ids(found) == {a.id, "tag:green", shelf.id}
    assert edges(found) == {(a.id, "tag:green", "MEMBER_OF"), (a.id, shelf.id, "MEMBER_OF")}
    kinds = {node["id"]: node["kind"] for node in found.nodes}
    assert kinds["tag:green"] == "tag" and kinds[shelf.id] == "collection"
    assert b.id in ids(neighbourhood(kb, a.id, depth=2))  # via the shared tag


def test_unresolved_references_become_ref_nodes(kb: KnowledgeBase) -> None:
    b = kb.create("text", "Beta")
    a = kb.create("text", "Alpha", "[[Beta]], [[Missing Page]] and [[" + b.id + "]]")
    other = kb.create("text", "Other", "also [[missing  page]]")
    found = neighbourhood(kb, a.id)
    missing = ref_id("missing page")
    assert ids(found) == {a.id, b.id, missing}
    # A resolved reference is a LINKS_TO edge only, never also a REFERS edge.
    assert edges(found) == {(a.id, b.id, "LINKS_TO"), (a.id, missing, "REFERS")}
    assert next(n for n in found.nodes if n["id"] == missing)["kind"] == "ref"
    two = neighbourhood(kb, a.id, depth=2)
    assert other.id in ids(two)
    assert (other.id, missing, "REFERS") in edges(two)
    # A reference can be the centre too.
    assert ids(neighbourhood(kb, missing)) == {missing, a.id, other.id}


def test_edges_among_the_last_level_are_included(kb: KnowledgeBase) -> None:
    b = kb.create("text", "B")
    c = kb.create("text", "C", "[[B]]")
    a = kb.create("text", "A", "[[B]] [[C]]")
    found = neighbourhood(kb, a.id, depth=1)
    assert (c.id, b.id, "LINKS_TO") in edges(found)
    assert neighbourhood(kb, a.id, depth=0).edges == []
    assert ids(neighbourhood(kb, a.id, depth=0)) == {a.id}


def test_deleted_neighbours_are_left_out(kb: KnowledgeBase) -> None:
    a = kb.create("text", "A")
    gone = kb.create("text", "Gone", parent=a.id)
    kept = kb.create("text", "Kept", parent=a.id)
    kb.delete(gone.id)
    assert ids(neighbourhood(kb, a.id)) == {a.id, kept.id}


def test_truncation_keeps_the_nearest_and_says_so(kb: KnowledgeBase) -> None:
    top = kb.create("text", "Top")
    a = kb.create("text", "A", parent=top.id, tags=["big"])
    for i in range(30):
        kb.create("text", f"kid {i:02d}", parent=a.id)
    found = neighbourhood(kb, a.id, depth=1, limit=10)
    assert len(found.nodes) == 10 and found.truncated
    # The parent outranks children, children outrank a tag.
    assert top.id in ids(found) and "tag:big" not in ids(found)
    assert not neighbourhood(kb, a.id, depth=1, limit=100).truncated
    assert len(neighbourhood(kb, a.id, depth=1, limit=1).nodes) == 1


def test_bad_arguments_say_what_to_do(kb: KnowledgeBase) -> None:
    a = kb.create("text", "A")
    with pytest.raises(NotFound, match="does not exist"):
        neighbourhood(kb, "no-such-node")
    with pytest.raises(NotFound):
        neighbourhood(kb, ref_id("nothing refers to this"))
    with pytest.raises(ValidationError, match="depth"):
        GraphView(kb, a.id, depth=-1)
    with pytest.raises(ValidationError, match="limit"):
        GraphView(kb, a.id, limit=0)


def test_state_is_compact(kb: KnowledgeBase) -> None:
    center = build_graph(kb, 300, sections=10)
    graph = GraphView(kb, center, depth=2, limit=300)
    try:
        assert len(graph.nodes) == 300 and not graph.truncated
        assert graph.nodes[0]["id"] == center and graph.center == center
        assert set(graph.nodes[0]) == {"id", "title", "kind", "hop"}
        assert all(
            isinstance(s, int) and isinstance(t, int) and isinstance(k, str)
            for s, t, k in graph.edges
        )
        assert {k for _, _, k in graph.edges} == {"CHILD_OF", "LINKS_TO"}
        # An edge costs about 20 bytes on the wire, a node about 100.
        size = len(json.dumps({"nodes": graph.nodes, "edges": graph.edges}))
        assert size < 300 * 100 + len(graph.edges) * 25
    finally:
        graph.close()


def test_center_message_recomputes(kb: KnowledgeBase) -> None:
    a = kb.create("text", "A")
    b = kb.create("text", "B", "[[A]]")
    c = kb.create("text", "C", parent=b.id)
    graph = GraphView(kb, a.id)
    try:
        assert ids(graph) == {a.id, b.id}
        message(graph, {"type": "center", "id": b.id})
        assert graph.center == b.id and graph.selected == b.id
        assert graph.nodes[0]["id"] == b.id
        assert ids(graph) == {a.id, b.id, c.id}
        message(graph, {"type": "center", "id": "no-such-node"})
        assert "does not exist" in graph.error
        assert graph.center == b.id
    finally:
        graph.close()


def test_depth_change_from_the_browser_recomputes(kb: KnowledgeBase) -> None:
    a = kb.create("text", "A")
    b = kb.create("text", "B", parent=a.id)
    c = kb.create("text", "C", parent=b.id)
    graph = GraphView(kb, a.id)
    try:
        graph.set_state({"depth": 2})
        assert graph.depth == 2 and c.id in ids(graph)
    finally:
        graph.close()


def test_live_changes_touching_the_view_refresh_it(kb: KnowledgeBase) -> None:
    a = kb.create("text", "Alpha", "[[Missing]]")
    b = kb.create("text", "Beta", parent=a.id)
    graph = GraphView(kb, a.id)
    try:
        seq = graph.seq
        newcomer = kb.create("text", "Newcomer", "links to [[Alpha]]")
        assert graph.flush()
        assert newcomer.id in ids(graph) and graph.seq > seq
        kb.update(b.id, title="Beta renamed")
        assert graph.flush()
        assert {n["title"] for n in graph.nodes} >= {"Beta renamed"}
        # A node titled like the missing reference resolves it: the Ref node goes.
        named = kb.create("text", "Missing")
        assert graph.flush()
        assert ref_id("missing") not in ids(graph)
        assert (a.id, named.id, "LINKS_TO") in edges(graph.neighbourhood)
        kid = kb.create("text", "Kid", parent=a.id)
        kb.delete(b.id)
        assert graph.flush()
        assert kid.id in ids(graph) and b.id not in ids(graph)
    finally:
        graph.close()


def test_unrelated_changes_do_not_refetch(kb: KnowledgeBase) -> None:
    a = kb.create("text", "Alpha")
    graph = GraphView(kb, a.id)
    try:
        seq = graph.seq
        other = kb.create("text", "Elsewhere", "[[Nowhere]]")
        kb.update(other.id, content="still [[nowhere]]")
        assert graph.flush()
        assert graph.seq == seq
    finally:
        graph.close()


def test_selection_of_a_node_that_leaves_is_cleared(kb: KnowledgeBase) -> None:
    a = kb.create("text", "A")
    b = kb.create("text", "B", parent=a.id)
    graph = GraphView(kb, a.id)
    try:
        graph.set_state({"selected": b.id})
        kb.move(b.id, None)
        assert graph.flush()
        assert b.id not in ids(graph) and graph.selected == ""
    finally:
        graph.close()


def test_without_views_changes_wait(kb: KnowledgeBase) -> None:
    a = kb.create("text", "A")
    graph = GraphView(kb, a.id)
    try:
        message(graph, {"type": "view", "shown": True})
        message(graph, {"type": "view", "shown": False})
        kid = kb.create("text", "Kid", parent=a.id)
        assert graph.flush()
        assert kid.id not in ids(graph)  # nobody looks: not fetched yet
        message(graph, {"type": "view", "shown": True})
        assert graph.flush()
        assert kid.id in ids(graph)
    finally:
        graph.close()


def test_close_unsubscribes(kb: KnowledgeBase) -> None:
    a = kb.create("text", "A")
    watchers, subscribers = kb.live_registry.watchers, len(kb.store._subscribers)
    before = len(watchers)
    graph = GraphView(kb, a.id)
    # A watcher of the one live thread, not a commit subscriber of its own.
    assert len(watchers) == before + 1 and len(kb.store._subscribers) == subscribers
    graph.close()
    assert len(watchers) == before
    seq = graph.seq
    kb.create("text", "Kid", parent=a.id)
    assert graph.flush()
    assert graph.seq == seq

"""`GraphView`: the neighbourhood of a node, drawn and laid out in the browser.

Python finds the neighbourhood (a breadth-first search over every edge type
of the schema) and sends it compactly: nodes as `{id, title, kind, hop}` and
edges as `[source index, target index, type]`, so 2,000 nodes stay a few
hundred kilobytes. The browser lays it out (force-directed, Barnes–Hut) and
draws it on a canvas.

Edge types, each in its stored direction:

- `CHILD_OF`: child -> parent (hierarchy);
- `LINKS_TO`: a -> b when a's content has a `[[reference]]` b answers to;
- `MEMBER_OF`: node -> tag or collection;
- `REFERS`: node -> an unresolved reference (a `[[Missing page]]` no node
  answers to), shown as a node of kind `ref` with id `Ref:<key>`. A resolved
  reference is exactly a LINKS_TO edge, so it is not drawn twice; the
  TITLED edges that resolve references are folded into LINKS_TO the same way.

Deleted nodes are left out (except the centre itself).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import traitlets

from ..errors import NotFound, ValidationError
from ..live.watch import Changes, Watch, watch
from ..nodes.links import normalise
from ._base import NodespaceWidget, static_text

if TYPE_CHECKING:
    from ..kb.facets import KnowledgeBaseAPI

log = logging.getLogger(__name__)

#: Widget id prefix of unresolved-reference nodes. Node ids are lowercase
#: (they equal their normalised form), so no node id can start with "Ref:".
REF_PREFIX = "Ref:"
EDGE_TYPES = ("CHILD_OF", "LINKS_TO", "MEMBER_OF", "REFERS")
MAX_DEPTH = 6
# Which neighbours are kept first when the limit cuts a level: the parent and
# links before children, and the members of a (possibly huge) tag last.
_RANK = {
    ("CHILD_OF", "out"): 0,
    ("LINKS_TO", "out"): 1,
    ("LINKS_TO", "in"): 2,
    ("CHILD_OF", "in"): 3,
    ("MEMBER_OF", "out"): 4,
    ("REFERS", "out"): 5,
    ("REFERS", "in"): 6,
    ("MEMBER_OF", "in"): 7,
}
# Node-to-node edges in both directions; one query per direction per level.
_NODE_EDGES = "CHILD_OF|LINKS_TO|MEMBER_OF"
_OUT = (
    f"UNWIND $ids AS i MATCH (:Node {{id: i}})-[e:{_NODE_EDGES}]->(b:Node) "
    "WHERE b.status <> 'deleted' "
    "RETURN i AS src, label(e) AS type, b.id AS id, b.kind AS kind, b.title AS title LIMIT $cap"
)
_IN = (
    f"UNWIND $ids AS i MATCH (:Node {{id: i}})<-[e:{_NODE_EDGES}]-(b:Node) "
    "WHERE b.status <> 'deleted' "
    "RETURN i AS src, label(e) AS type, b.id AS id, b.kind AS kind, b.title AS title LIMIT $cap"
)
_REFERS = (
    "UNWIND $ids AS i MATCH (:Node {id: i})-[:REFERS]->(r:Ref) "
    "OPTIONAL MATCH (r)<-[:TITLED]-(t:Node) "
    "RETURN i AS src, r.key AS key, count(t) AS titled"
)
_REFERRED_BY = (
    "UNWIND $keys AS k MATCH (b:Node)-[:REFERS]->(:Ref {key: k}) WHERE b.status <> 'deleted' "
    "RETURN k AS key, b.id AS id, b.kind AS kind, b.title AS title LIMIT $cap"
)
# Unseen neighbours by id: (best rank, row).
Candidates = dict[str, tuple[int, dict[str, Any]]]
_IDS_EXISTING = "UNWIND $keys AS k MATCH (n:Node {id: k}) RETURN n.id AS id"
_NODE = "MATCH (n:Node {id: $id}) RETURN n.id AS id, n.kind AS kind, n.title AS title"
_REF = "MATCH (r:Ref {key: $key}) RETURN r.key AS key"


@dataclass
class Neighbourhood:
    """Nodes around a centre and the typed edges between them.

    `nodes` are `{id, title, kind, hop}` (hop: distance from the centre), the
    centre first; `edges` are `[source index, target index, type]`.
    `keys` are the reference keys a change must touch to alter the result
    (titles and ids of the nodes, keys they refer to).
    """

    center: str
    nodes: list[dict[str, Any]] = field(default_factory=list)
    edges: list[list[Any]] = field(default_factory=list)
    truncated: bool = False
    keys: set[str] = field(default_factory=set)

    @property
    def ids(self) -> list[str]:
        """Ids of the nodes, in order."""
        return [node["id"] for node in self.nodes]

    def edge_set(self) -> set[tuple[str, str, str]]:
        """Edges as (source id, target id, type), handy for tests and diffs."""
        ids = self.ids
        return {(ids[s], ids[t], kind) for s, t, kind in self.edges}


def ref_id(key: str) -> str:
    """The widget id of the unresolved reference `key`."""
    return REF_PREFIX + key


def neighbourhood(
    kb: KnowledgeBaseAPI, center: str, depth: int = 1, limit: int = 2000
) -> Neighbourhood:
    """Nodes within `depth` hops of `center` over every edge type, at most `limit` of them.

    `center` is a node id (or `Ref:<key>` for an unresolved reference). When
    the limit cuts the search short, `truncated` is True and the nearest nodes
    are kept (per level: parent and links first, members of tags last).
    """
    _check_size(depth, limit)
    return _Search(kb, depth, limit).run(center)


def _check_size(depth: int, limit: int) -> None:
    if not isinstance(depth, int) or not 0 <= depth <= MAX_DEPTH:
        raise ValidationError(f"Graph depth {depth!r} is invalid; use 0 to {MAX_DEPTH}, e.g. 2.")
    if not isinstance(limit, int) or limit < 1:
        raise ValidationError(
            f"Graph limit {limit!r} is invalid; use a positive number, e.g. 2000."
        )


class _Search:
    """One breadth-first search; a few queries per level, never one per node."""

    def __init__(self, kb: KnowledgeBaseAPI, depth: int, limit: int) -> None:
        self.kb = kb
        self.depth = depth
        self.limit = limit
        # A row cap per query keeps a tag with a million members from being
        # read whole; hitting it only means the level is truncated.
        self.cap = max(100_000, 50 * limit)
        self.found = Neighbourhood(center="")
        self.index: dict[str, int] = {}
        self.edges: set[tuple[str, str, str]] = set()

    def run(self, center: str) -> Neighbourhood:
        self.found.center = center
        self._add(self._first(center), 0)
        frontier = [center]
        for hop in range(1, self.depth + 1):
            candidates = self._expand(frontier, keep_new=True)
            frontier = self._admit(candidates, hop)
            if not frontier or len(self.found.nodes) >= self.limit:
                break
        # The last level was not expanded: add the edges among its nodes (and
        # learn which keys they refer to, for live updates).
        if frontier:
            self._expand(frontier, keep_new=False)
        # A node linking to itself draws nothing useful: self-loops are left out.
        shown = [
            (self.index[s], self.index[t], kind)
            for s, t, kind in self.edges
            if s in self.index and t in self.index and s != t
        ]
        self.found.edges = [list(edge) for edge in sorted(shown)]
        return self.found

    def _first(self, center: str) -> dict[str, Any]:
        if center.startswith(REF_PREFIX):
            key = center[len(REF_PREFIX) :]
            if self.kb.cypher(_REF, {"key": key}).height == 0:
                raise NotFound(f"No reference [[{key}]] exists; pass a node id as the centre.")
            return {"id": center, "title": key, "kind": "ref"}
        rows = self.kb.cypher(_NODE, {"id": center}).to_dicts()
        if not rows:
            raise NotFound(f"Node {center!r} does not exist; pass the id of an existing node.")
        return rows[0]

    def _add(self, row: dict[str, Any], hop: int) -> None:
        node_id = str(row["id"])
        self.index[node_id] = len(self.found.nodes)
        title = str(row.get("title") or "")
        self.found.nodes.append({"id": node_id, "title": title, "kind": row["kind"], "hop": hop})
        # A change touching one of these keys can add or remove an edge here.
        if node_id.startswith(REF_PREFIX):
            self.found.keys.add(title)
        else:
            self.found.keys |= {node_id, normalise(title)}

    def _expand(self, frontier: list[str], *, keep_new: bool) -> Candidates:
        """Edges of `frontier`; returns unseen neighbours with their best rank."""
        candidates: Candidates = {}

        def meet(row: dict[str, Any], kind: str, direction: str) -> None:
            if row["id"] in self.index or not keep_new:
                return
            rank = _RANK[(kind, direction)]
            best = candidates.get(row["id"])
            if best is None or rank < best[0]:
                candidates[row["id"]] = (rank, row)

        nodes = [i for i in frontier if not i.startswith(REF_PREFIX)]
        refs = [i[len(REF_PREFIX) :] for i in frontier if i.startswith(REF_PREFIX)]
        if nodes:
            for query, direction in ((_OUT, "out"), (_IN, "in")):
                if not keep_new and direction == "in":
                    continue  # among last-level nodes every edge is someone's out-edge
                frame = self.kb.cypher(query, {"ids": nodes, "cap": self.cap})
                self._note_cap(frame.height)
                for row in frame.to_dicts():
                    kind = row["type"]
                    ends = (row["src"], row["id"])
                    self.edges.add((*(ends if direction == "out" else ends[::-1]), kind))
                    meet(row, kind, direction)
            self._refers(nodes, meet)
        if refs and keep_new:
            frame = self.kb.cypher(_REFERRED_BY, {"keys": refs, "cap": self.cap})
            self._note_cap(frame.height)
            for row in frame.to_dicts():
                self.edges.add((row["id"], ref_id(row["key"]), "REFERS"))
                meet(row, "REFERS", "in")
        return candidates

    def _refers(self, nodes: list[str], meet: Callable[[dict[str, Any], str, str], None]) -> None:
        """REFERS edges of `nodes` to references no node answers to."""
        rows = self.kb.cypher(_REFERS, {"ids": nodes}).to_dicts()
        self.found.keys |= {row["key"] for row in rows}
        open_keys = sorted({row["key"] for row in rows if not row["titled"]})
        if not open_keys:
            return
        # A `[[id]]` reference resolves by id rather than by title.
        by_id = set(self.kb.cypher(_IDS_EXISTING, {"keys": open_keys})["id"].to_list())
        for row in rows:
            key = row["key"]
            if row["titled"] or key in by_id:
                continue
            self.edges.add((row["src"], ref_id(key), "REFERS"))
            meet({"id": ref_id(key), "title": key, "kind": "ref"}, "REFERS", "out")

    def _admit(self, candidates: Candidates, hop: int) -> list[str]:
        """Add the best candidates up to the limit; returns the ids added."""
        room = self.limit - len(self.found.nodes)
        order = sorted(
            candidates.values(),
            key=lambda item: (item[0], str(item[1].get("title") or "").casefold(), item[1]["id"]),
        )
        if len(order) > room:
            self.found.truncated = True
            order = order[: max(room, 0)]
        for _, row in order:
            self._add(row, hop)
        return [row["id"] for _, row in order]

    def _note_cap(self, height: int) -> None:
        if height >= self.cap:
            self.found.truncated = True


class GraphView(NodespaceWidget):
    """The neighbourhood of a node as an interactive graph.

    Drag the background to pan, wheel to zoom, drag a node to move it; click a
    node to select it (`graph.selected`), double-click to re-centre on it.
    The view follows changes to the knowledge base that touch what it shows.
    """

    _esm = static_text("common.js", "graph.js")
    _css = static_text("common.css", "graph.css")

    nodes = traitlets.List(traitlets.Dict()).tag(sync=True)
    edges = traitlets.List(traitlets.List()).tag(sync=True)
    center = traitlets.Unicode("").tag(sync=True)
    selected = traitlets.Unicode("").tag(sync=True)
    depth = traitlets.Int(1).tag(sync=True)
    limit = traitlets.Int(2000).tag(sync=True)
    truncated = traitlets.Bool(False).tag(sync=True)
    seq = traitlets.Int(0).tag(sync=True)

    def __init__(
        self, kb: KnowledgeBaseAPI, center: str, depth: int = 1, limit: int = 2000, **kwargs: Any
    ) -> None:
        _check_size(depth, limit)
        seen = kb.seq
        found = neighbourhood(kb, center, depth, limit)  # fails early on a bad centre
        super().__init__(center=center, depth=depth, limit=limit, **kwargs)
        self.kb = kb
        self._found = found
        self._cond = threading.Condition()
        self._dirty = False
        self._busy = False
        self._closed = False
        self._views = 0
        self._paused = False  # every view went away: mark changes, fetch when shown again
        self._show(found)
        # A change matters when it touches a shown node, a child of one, or a
        # reference key of the neighbourhood (asked afresh for each delivery).
        self._watcher: Watch | None = watch(
            kb, self._on_changes, ids=self._shown, parents=self._shown, keys=self._keys
        )
        if kb.seq != seen:  # a commit slipped in before we subscribed: fetch again
            self._on_changes(None)
        self.observe(self._on_view_change, names=["center", "depth", "limit"])

    # -- Python side -----------------------------------------------------

    @property
    def neighbourhood(self) -> Neighbourhood:
        """What the view shows now."""
        return self._found

    def refresh(self) -> None:
        """Fetch the neighbourhood again now (changes are followed without this)."""
        # Under the state lock, so a re-fetch after a change and a re-centre
        # from the browser cannot finish in the wrong order.
        with self._state_lock:
            self._show(neighbourhood(self.kb, self.center, self.depth, self.limit))

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until a pending re-fetch after a change is done; False on time-out."""
        watcher = getattr(self, "_watcher", None)
        if watcher is not None and not watcher.flush(timeout):
            return False
        with self._cond:
            return self._cond.wait_for(
                lambda: (not self._dirty or self._paused) and not self._busy, timeout
            )

    def close(self) -> None:
        """Stop following changes and close the widget."""
        # Also runs from __del__, possibly of a widget whose __init__ failed.
        watcher = getattr(self, "_watcher", None)
        if watcher is not None:
            watcher()
            self._watcher = None
        cond = getattr(self, "_cond", None)
        if cond is not None:
            with cond:
                self._closed = True
                self._dirty = False
                cond.notify_all()
        super().close()

    # -- keeping up to date ---------------------------------------------

    def _show(self, found: Neighbourhood) -> None:
        with self._state_lock:
            self._found = found
            # Read by each change delivery, so worked out once here, not per commit.
            self._watched = (
                frozenset(i for i in found.ids if not i.startswith(REF_PREFIX)),
                frozenset(found.keys),
            )
            with self.hold_sync():
                self.nodes = found.nodes
                self.edges = found.edges
                self.truncated = found.truncated
                if self.selected and self.selected not in set(found.ids):
                    self.selected = ""
                self.seq = self.seq + 1

    def _shown(self) -> frozenset[str]:
        return self._watched[0]

    def _keys(self) -> frozenset[str]:
        return self._watched[1]

    def _on_changes(self, _changes: Changes | None) -> None:
        """Re-fetch after matching changes (on the watch thread; a burst comes as one call)."""
        with self._cond:
            if self._closed:
                return
            self._dirty = True
            if self._paused:
                return  # fetched when a view is shown again
        self._fetch()

    def _fetch(self) -> None:
        with self._cond:
            if not self._dirty or self._closed:
                return
            self._dirty, self._busy = False, True
        try:
            self.refresh()
            self.error = ""
        except Exception as exc:  # the view keeps its last state and says why
            log.exception("graph view re-fetch failed")
            self.error = f"{type(exc).__name__}: {exc}"
        finally:
            with self._cond:
                self._busy = False
                self._cond.notify_all()

    def _on_view_change(self, _change: Any) -> None:
        self.refresh()

    @traitlets.validate("center")
    def _valid_center(self, proposal: dict[str, Any]) -> str:
        value = str(proposal["value"])
        kb = getattr(self, "kb", None)
        if kb is not None and not value.startswith(REF_PREFIX) and not kb.exists(value):
            raise NotFound(f"Node {value!r} does not exist; pick a node shown in the graph.")
        return value

    @traitlets.validate("depth", "limit")
    def _valid_size(self, proposal: dict[str, Any]) -> int:
        depth = proposal["value"] if proposal["trait"].name == "depth" else self.depth
        limit = proposal["value"] if proposal["trait"].name == "limit" else self.limit
        _check_size(depth, limit)
        return int(proposal["value"])

    # -- messages from the browser --------------------------------------

    def _on_view(self, msg: dict[str, Any]) -> None:
        """A view appeared or went away: with none on screen, changes wait to be fetched."""
        with self._cond:
            self._views = max(0, self._views + (1 if msg.get("shown") else -1))
            self._paused = self._views == 0
            self._cond.notify_all()
        if not self._paused:
            self._fetch()  # what changed while no view was shown

    def _on_center(self, msg: dict[str, Any]) -> None:
        """Re-centre on a node the user double-clicked."""
        node_id = str(msg.get("id", ""))
        self.center = node_id
        self.selected = node_id

"""`Outline`: a node subtree as an editable, lazily loaded tree.

Only the children of the root are loaded at first; expanding a node loads its
children (and only those). Every edit made in the browser is a message that
Python turns into one `KnowledgeBase` call (create, update, move, delete), so
the API's rules (cycles, deleted parents, ...) apply and each edit is atomic.

Live updates come from `live.watch`: on the knowledge base's watch thread,
the outline records which node ids a burst of changes touched and reloads the
loaded parents those ids belong to. A browser message first pulls what the
watch thread has not delivered yet, so it acts on current positions.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import traitlets

from ..errors import HierarchyError, NotFound, ValidationError
from ..live.watch import Changes, Watch, watch
from ._base import NodespaceWidget, static_text

if TYPE_CHECKING:
    from ..kb.facets import KnowledgeBaseAPI
    from ..nodes.model import Node

log = logging.getLogger(__name__)

Entry = dict[str, Any]


class Outline(NodespaceWidget):
    """The subtree under `root` (None: the top-level nodes) as an outline.

    Click an arrow to expand or collapse a node; its children are loaded on
    first expand. Each title is editable; in a title, Enter adds a sibling
    below, Tab indents, Shift+Tab outdents, Alt+Up/Down reorders, Up/Down moves
    between rows, Ctrl+Down/Up expands/collapses and Backspace in an empty
    title deletes the node (soft delete; `kb.restore` brings it back; a node
    with children is not deleted this way). Changes made elsewhere show up live.
    """

    _esm = static_text("common.js", "outline.js")
    _css = static_text("common.css", "outline.css")

    root = traitlets.Unicode(None, allow_none=True).tag(sync=True)
    # id -> {id, title, kind, task_status, has_children, children}; children is
    # None until loaded. The root's entry is keyed by `root_key` ("" for None).
    nodes = traitlets.Dict().tag(sync=True)
    expanded = traitlets.List(traitlets.Unicode()).tag(sync=True)
    selected = traitlets.Unicode("").tag(sync=True)  # the row the user is on
    focus = traitlets.Unicode("").tag(sync=True)  # the row being edited ("" = none)

    def __init__(
        self,
        kb: KnowledgeBaseAPI,
        root: str | None = None,
        *,
        new_kind: str = "text",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.kb = kb
        self.new_kind = new_kind
        self._cond = threading.Condition()
        self._touched: set[str] = set()  # node ids changed since the last reload
        self._everything = False  # a batch change (import, Cypher write): reload all
        self._busy = 0
        self._closed = False
        self._views = 0
        self._paused = False  # every view went away: record changes, reload when shown
        # Watch before loading: a change committed in between is then
        # reloaded once more rather than missed.
        self._watcher: Watch | None = watch(kb, self._on_changes)
        try:
            self._load_root(root)
        except BaseException:
            self._stop_following()
            raise
        self.observe(self._on_root_change, names=["root"])

    # -- Python side -----------------------------------------------------

    @property
    def root_key(self) -> str:
        """Key of the root's entry in `nodes` (the root id, or "" for the top level)."""
        return self.root or ""

    def visible(self) -> list[str]:
        """Ids of the shown rows, top to bottom (expanded nodes' children included)."""
        out: list[str] = []
        expanded = set(self.expanded)

        def walk(key: str) -> None:
            for child in self.nodes.get(key, {}).get("children") or []:
                out.append(child)
                if child in expanded:
                    walk(child)

        walk(self.root_key)
        return out

    def loaded(self) -> list[str]:
        """Keys of the entries whose children are loaded (the root's key first)."""
        return [key for key, entry in self.nodes.items() if entry["children"] is not None]

    def expand(self, node_id: str) -> None:
        """Show the children of `node_id`, loading them if this is the first time."""
        with self._state_lock:
            self._require_shown(node_id)
            if self.nodes[node_id]["children"] is None:
                self._reload([node_id])
            if node_id not in self.expanded:
                self.expanded = [*self.expanded, node_id]

    def collapse(self, node_id: str) -> None:
        """Hide the children of `node_id` (they stay loaded and up to date)."""
        with self._state_lock:
            if node_id in self.expanded:
                self.expanded = [i for i in self.expanded if i != node_id]

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until changes committed so far are shown; False on time-out."""
        watcher = self._watcher
        if watcher is not None and not watcher.flush(timeout):
            return False
        with self._cond:
            return self._cond.wait_for(
                lambda: (not self._pending() or self._paused) and not self._busy, timeout
            )

    def close(self) -> None:
        """Stop following changes and close the widget."""
        self._stop_following()
        super().close()

    def _stop_following(self) -> None:
        if not hasattr(self, "_cond"):  # close() from __del__ of a half-built widget
            return
        with self._cond:
            self._closed = True
            self._touched.clear()
            self._everything = False
            self._cond.notify_all()
        watcher = getattr(self, "_watcher", None)
        if watcher is not None:
            self._watcher = None
            with contextlib.suppress(ValueError):  # already gone (e.g. the store closed)
                watcher()

    # -- loading ---------------------------------------------------------

    def _load_root(self, root: str | None) -> None:
        with self._state_lock:
            key = root or ""
            entry: Entry = {"id": key, "title": "", "kind": "", "task_status": None}
            if root is not None:
                entry = _entry(self.kb.get(root))
            entry.update(has_children=False, children=None)
            with self.hold_sync():
                self.nodes = {key: entry}
                self.expanded, self.selected, self.focus = [], "", ""
                if self.root != root:
                    self.root = root
                self._reload([key])

    @traitlets.validate("root")
    def _check_root(self, proposal: Any) -> str | None:
        value = proposal["value"]
        if value is not None and not self.kb.exists(value):
            raise NotFound(f"Node {value!r} does not exist; it cannot be the outline's root.")
        return value  # type: ignore[no-any-return]

    def _on_root_change(self, change: Any) -> None:
        if change["new"] != change["old"] and self.root_key not in self.nodes:
            self._load_root(change["new"])

    def _reload(self, keys: Iterable[str]) -> None:
        """Reload the children of the entries `keys` and send the new `nodes` once."""
        nodes = dict(self.nodes)
        for key in dict.fromkeys(keys):
            if key not in nodes:
                continue
            try:
                kids = self.kb.children(key or None)
            except NotFound:  # purged meanwhile; pruning below drops it
                nodes.pop(key)
                continue
            counts = self.kb.child_counts(key or None) if kids else {}
            for kid in kids:
                old = nodes.get(kid.id)
                # Keep the loaded children of a node that was already shown (or
                # moved here from another loaded parent): they are still valid.
                nodes[kid.id] = {
                    **_entry(kid),
                    "has_children": counts.get(kid.id, 0) > 0,
                    "children": None if old is None else old["children"],
                }
            ids = [kid.id for kid in kids]
            nodes[key] = {**nodes[key], "children": ids, "has_children": bool(ids)}
        self._set_nodes(nodes)

    def _reload_root_entry(self, nodes: dict[str, Entry]) -> None:
        if self.root is None or self.root not in nodes:
            return
        try:
            node = self.kb.get(self.root)
        except NotFound:
            return
        nodes[self.root] = {**nodes[self.root], **_entry(node)}

    def _set_nodes(self, nodes: dict[str, Entry]) -> None:
        """Replace `nodes`, dropping entries no longer reachable from the root."""
        reachable = {self.root_key}
        stack = [self.root_key]
        while stack:
            for child in nodes.get(stack.pop(), {}).get("children") or []:
                if child not in reachable and child in nodes:
                    reachable.add(child)
                    stack.append(child)
        nodes = {key: entry for key, entry in nodes.items() if key in reachable}
        if self.root_key not in nodes:  # the root itself was purged
            nodes[self.root_key] = {
                "id": self.root_key, "title": "", "kind": "", "task_status": None,
                "has_children": False, "children": [],
            }  # fmt: skip
        with self.hold_sync():
            if nodes != self.nodes:
                self.nodes = nodes
            if any(i not in nodes for i in self.expanded):
                self.expanded = [i for i in self.expanded if i in nodes]
            if self.selected and self.selected not in nodes:
                self.selected = ""
            if self.focus and self.focus not in nodes:
                self.focus = ""

    # -- live updates ----------------------------------------------------

    def _on_changes(self, changes: Changes) -> None:
        """Reload what a burst of changes touched (on the watch thread)."""
        self._record(changes)
        if not self._paused:
            self._catch_up(pull=False)

    def _record(self, changes: Changes) -> None:
        # Parents before and after: a child appeared under, or left, a loaded node.
        touched = set(changes.ids) | {parent or "" for parent in changes.parents}
        with self._cond:
            if self._closed:
                return
            self._touched |= touched
            # A long pause (no view shown) must not grow the set without bound.
            self._everything = self._everything or changes.everything or len(self._touched) > 2000

    def _pending(self) -> bool:
        return bool(self._touched) or self._everything

    def _catch_up(self, *, pull: bool = True) -> None:
        """Reload the loaded parents that recorded changes touched.

        With `pull`, first take what the watch thread has not delivered yet
        (a browser message must see the writes made just before it).
        """
        watcher = self._watcher
        if pull and watcher is not None and (changes := watcher.pull()) is not None:
            self._record(changes)
        with self._state_lock:
            with self._cond:
                touched, everything = self._touched, self._everything
                self._touched, self._everything = set(), False
                if not touched and not everything:
                    return
                self._busy += 1
            try:
                self._reload(self._affected(touched, everything))
                if self.root in touched or everything:
                    nodes = dict(self.nodes)
                    self._reload_root_entry(nodes)
                    self._set_nodes(nodes)
            finally:
                with self._cond:
                    self._busy -= 1
                    self._cond.notify_all()

    def _affected(self, touched: set[str], everything: bool) -> list[str]:
        """Loaded parents to reload so that the `touched` ids show as they are now."""
        if everything:
            return self.loaded()
        parent_of = self._parents()
        keys: list[str] = []
        for node_id in touched:
            entry = self.nodes.get(node_id)
            if entry is not None and entry["children"] is not None:
                keys.append(node_id)  # its list of children may have changed
            if node_id in parent_of:
                keys.append(parent_of[node_id])  # its title, status or child count did
        return keys

    def _parents(self) -> dict[str, str]:
        return {
            child: key for key, entry in self.nodes.items() for child in entry["children"] or []
        }

    # -- messages from the browser --------------------------------------

    def _on_view(self, msg: dict[str, Any]) -> None:
        """A view appeared or went away: an outline nobody sees stops reloading."""
        with self._cond:
            self._views = max(0, self._views + (1 if msg.get("shown") else -1))
            if self._views == 0 and not msg.get("shown"):
                self._paused = True
            elif self._views > 0 and self._paused:
                self._paused = False
            self._cond.notify_all()
        if not self._paused:
            self._catch_up()  # what changed while hidden

    def _on_expand(self, msg: dict[str, Any]) -> None:
        self._catch_up()
        self.expand(str(msg.get("id")))

    def _on_collapse(self, msg: dict[str, Any]) -> None:
        self.collapse(str(msg.get("id")))

    def _on_refresh(self, _msg: dict[str, Any]) -> None:
        """Reload everything loaded (the browser asks after it missed something)."""
        self._reload(self.loaded())

    def _on_rename(self, msg: dict[str, Any]) -> None:
        node_id = self._shown_id(msg)
        title = msg.get("title")
        if not isinstance(title, str):
            raise ValidationError(f"Title {title!r} of node {node_id!r} must be text.")
        if title != self.nodes[node_id]["title"]:
            self.kb.update(node_id, title=title)
        self._catch_up()

    def _on_create(self, msg: dict[str, Any]) -> None:
        """A new node right after `after` (Enter), or the last child of the root."""
        self._catch_up()
        after = msg.get("after")
        if after:
            after = self._shown_id({"id": after})
            parent = self._parents()[after]
            index = self.nodes[parent]["children"].index(after) + 1
        else:
            parent, index = self.root_key, None
        node = self.kb.create(self.new_kind, "", parent=parent or None, index=index)
        self._catch_up()
        self._put_caret(node.id)

    def _on_indent(self, msg: dict[str, Any]) -> None:
        """Make the node the last child of its previous sibling."""
        node_id = self._fresh_id(msg)
        siblings = self.nodes[self._parents()[node_id]]["children"]
        at = siblings.index(node_id)
        if at == 0:
            raise HierarchyError(
                f"Cannot indent {self._label(node_id)}: it is the first of its siblings, so "
                "there is no node above it to move it under."
            )
        new_parent = siblings[at - 1]
        self.kb.move(node_id, new_parent)
        self._catch_up()
        self.expand(new_parent)
        self._put_caret(node_id)

    def _on_outdent(self, msg: dict[str, Any]) -> None:
        """Make the node the sibling right after its parent."""
        node_id = self._fresh_id(msg)
        parents = self._parents()
        parent = parents[node_id]
        if parent == self.root_key:
            raise HierarchyError(
                f"Cannot outdent {self._label(node_id)}: it is already at the top level "
                "of this outline."
            )
        grandparent = parents[parent]
        index = self.nodes[grandparent]["children"].index(parent) + 1
        self.kb.move(node_id, grandparent or None, index)
        self._catch_up()
        self._put_caret(node_id)

    def _on_move_up(self, msg: dict[str, Any]) -> None:
        self._shift(msg, -1)

    def _on_move_down(self, msg: dict[str, Any]) -> None:
        self._shift(msg, +1)

    def _shift(self, msg: dict[str, Any], step: int) -> None:
        node_id = self._fresh_id(msg)
        parent = self._parents()[node_id]
        siblings = self.nodes[parent]["children"]
        at = siblings.index(node_id) + step
        if 0 <= at < len(siblings):  # at either end there is nowhere to go: no-op
            # `index` counts the siblings without the moving node, so `at` is
            # right for both directions.
            self.kb.move(node_id, parent or None, at)
            self._catch_up()
        self._put_caret(node_id)

    def _on_delete(self, msg: dict[str, Any]) -> None:
        """Soft-delete a node without children and put the caret on the row above."""
        node_id = self._fresh_id(msg)
        if self.nodes[node_id]["has_children"]:
            raise ValidationError(
                f"{self._label(node_id).capitalize()} has children; it is not deleted from "
                f"the outline. Move or delete them first, or use kb.delete({node_id!r})."
            )
        rows = self.visible()
        at = rows.index(node_id)
        after = rows[at - 1] if at > 0 else (rows[at + 1] if at + 1 < len(rows) else "")
        self.kb.delete(node_id)
        self._catch_up()
        self._put_caret(after)

    # -- helpers ---------------------------------------------------------

    def _fresh_id(self, msg: dict[str, Any]) -> str:
        """The message's node id, after applying pending changes (positions must be current)."""
        self._catch_up()
        return self._shown_id(msg)

    def _shown_id(self, msg: dict[str, Any]) -> str:
        node_id = msg.get("id")
        if not isinstance(node_id, str):
            raise ValidationError(f"Node id {node_id!r} in an outline message must be text.")
        self._require_shown(node_id)
        return node_id

    def _require_shown(self, node_id: str) -> None:
        if node_id == self.root_key or node_id not in self.nodes:
            raise NotFound(
                f"Node {node_id!r} is not shown in this outline (it may have been moved or "
                "deleted meanwhile)."
            )

    def _label(self, node_id: str) -> str:
        title = self.nodes[node_id]["title"]
        return f"node {title!r}" if title else f"node {node_id!r}"

    def _put_caret(self, node_id: str) -> None:
        with self.hold_sync():
            self.focus = node_id
            if node_id:
                self.selected = node_id


def _entry(node: Node) -> Entry:
    """What the browser needs of a node (no content: it may be large)."""
    return {
        "id": node.id,
        "title": node.title,
        "kind": node.kind,
        "task_status": node.task_status,
    }

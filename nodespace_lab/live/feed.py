"""The change feed: committed change sets, in order, resumable from a sequence number."""

from __future__ import annotations

from collections.abc import Callable

from ..graph import ChangeSet, GraphStore

Callback = Callable[[ChangeSet], None]


def follow(store: GraphStore, callback: Callback, since: int | None = None) -> Callable[[], None]:
    """Call `callback` with every change set after `since`, then with each new one.

    Replay and subscription happen under the write lock, and commits publish
    under it too, so no change set is missed or delivered twice in between.
    Returns a function that stops the feed.
    """
    with store.engine.write_lock:
        if since is not None:
            for change in store.changes(since):
                callback(change)
        return store.subscribe(callback)

"""Shared fixtures: knowledge bases on the real engine in temporary folders.

The engine comes from the environment variable `NODESPACE_TEST_ENGINE`
(`ladybug`, the default, or `kuzu`). The two engines cannot be imported into
one Python process, so the Makefile runs the storage tests a second time in a
separate pytest process with `NODESPACE_TEST_ENGINE=kuzu`.

Settings never come from the developer's own config file or `NODESPACE_*`
variables: every fixture loads them with an explicit (empty) environment and
a user file that does not exist.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from nodespace_lab import KnowledgeBase, Settings, load_settings

TEST_ENGINE = os.environ.get("NODESPACE_TEST_ENGINE", "ladybug")
# "embedded" (default) or "service": the `kb` fixture is then a client of a service.
TEST_TRANSPORT = os.environ.get("NODESPACE_TEST_TRANSPORT", "embedded")
# Small but ample for tests: the engine does not reserve most of RAM, and a
# one-thread full-text writer opens and commits faster.
_TEST_DEFAULTS: dict[str, dict[str, Any]] = {
    "storage": {"buffer_pool_mb": 64, "max_db_size_gb": 4},
    "search": {"writer_heap_mb": 16},
}
# Edge tables of the schema and the key property of their target table.
EDGE_TARGET_KEY = {
    "CHILD_OF": "id",
    "LINKS_TO": "id",
    "MEMBER_OF": "id",
    "REFERS": "key",
    "TITLED": "key",
}

SettingsFactory = Callable[..., Settings]
KBFactory = Callable[..., KnowledgeBase]


def isolated_settings(
    kb_path: Path | None,
    user_file: Path,
    env: Mapping[str, str] | None = None,
    **sections: Mapping[str, Any],
) -> Settings:
    """Settings for tests: test engine and small sizes, then `sections` overrides."""
    overrides: dict[str, dict[str, Any]] = {
        name: dict(values) for name, values in _TEST_DEFAULTS.items()
    }
    overrides["storage"]["engine"] = TEST_ENGINE
    for name, values in sections.items():
        overrides.setdefault(name, {}).update(values)
    return load_settings(kb_path, env=dict(env or {}), user_file=user_file, overrides=overrides)


@pytest.fixture
def engine() -> str:
    """Name of the graph engine under test (`NODESPACE_TEST_ENGINE`, default 'ladybug')."""
    return TEST_ENGINE


@pytest.fixture
def make_settings(tmp_path: Path) -> SettingsFactory:
    """Build isolated `Settings` for a knowledge-base folder.

    `make_settings(kb_path=None, env=None, **sections)` loads settings that ignore
    the user's config file and the process environment; `env` supplies
    `NODESPACE_*` variables and keyword arguments are per-section overrides, e.g.
    `make_settings(security={"allow_cypher_writes": True})`. The test engine, a
    small buffer pool and a small search writer are preset as overrides (so they
    also beat `env`); your keyword overrides win over them.
    """

    def build(
        kb_path: Path | None = None,
        env: Mapping[str, str] | None = None,
        **sections: Mapping[str, Any],
    ) -> Settings:
        return isolated_settings(kb_path, tmp_path / "none.toml", env, **sections)

    return build


@pytest.fixture
def kb_factory(tmp_path: Path, make_settings: SettingsFactory) -> Iterator[KBFactory]:
    """Open knowledge bases (default folder `tmp_path / 'kb'`); all are closed at teardown.

    `kb_factory(path=None, **sections)` opens (or reopens) a folder with isolated
    settings; keyword arguments are section overrides as in `make_settings`.
    Close a knowledge base yourself before reopening its folder to test persistence.
    """
    opened: list[KnowledgeBase] = []

    def open_kb(path: Path | None = None, **sections: Mapping[str, Any]) -> KnowledgeBase:
        folder = path if path is not None else tmp_path / "kb"
        kb = KnowledgeBase(folder, settings=make_settings(folder, **sections))
        opened.append(kb)
        return kb

    yield open_kb
    for kb in reversed(opened):
        kb.close()


@pytest.fixture
def kb(kb_factory: KBFactory) -> Iterator[KnowledgeBase]:
    """A fresh, empty knowledge base in `tmp_path / 'kb'` on the engine under test.

    With `NODESPACE_TEST_TRANSPORT=service` it is a client of the service of that
    knowledge base (over real HTTP and websockets), so the same API tests run
    against both transports.
    """
    embedded = kb_factory()
    if TEST_TRANSPORT != "service":
        yield embedded
        return
    from nodespace_lab.service.client import RemoteKnowledgeBase
    from nodespace_lab.service.server import ServiceThread

    service = ServiceThread(embedded)
    client = RemoteKnowledgeBase(service.info)
    yield client  # type: ignore[misc]
    client.close()
    service.stop()


@pytest.fixture(scope="module")
def module_kb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KnowledgeBase]:
    """One knowledge base shared by every test of a module (cheaper than `kb`).

    Only for tests that leave it as they found it (reads, refused writes) or that
    do not care what other tests of the module wrote. Cypher writes are allowed.
    """
    folder = tmp_path_factory.mktemp("module-kb") / "kb"
    settings = isolated_settings(
        folder, folder.parent / "none.toml", security={"allow_cypher_writes": True}
    )
    with KnowledgeBase(folder, settings=settings) as kb:
        yield kb


@pytest.fixture
def snapshot() -> Callable[[KnowledgeBase], dict[str, Any]]:
    """`snapshot(kb)`: every node row, every edge and the sequence number, for equality checks.

    Two equal snapshots mean the database is exactly as it was (nodes with all
    columns, hierarchy/link/membership/reference edges, Refs, change log).
    """
    return db_state


def db_state(kb: KnowledgeBase) -> dict[str, Any]:
    """The complete observable state of `kb` (see the `snapshot` fixture)."""
    # Read-only Cypher only, so it works on a service client as well.
    edges = {
        name: sorted(kb.cypher(f"MATCH (a)-[:{name}]->(b) RETURN a.id, b.{key}").rows())
        for name, key in EDGE_TARGET_KEY.items()
    }
    return {
        "nodes": kb.cypher("MATCH (n:Node) RETURN n.* ORDER BY n.id").rows(),
        "refs": sorted(r[0] for r in kb.cypher("MATCH (r:Ref) RETURN r.key").rows()),
        "edges": edges,
        "changesets": kb.cypher("MATCH (c:ChangeSet) RETURN count(c)").rows()[0][0],
        "seq": kb.seq,
    }


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    """One headless Chromium for the session (Debian's build; see NOTES.md)."""
    from playwright.sync_api import sync_playwright

    from .widgets.host import CHROMIUM_FLAGS, find_chromium

    executable = find_chromium()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Iterator[None]:
    """Keep each phase's report on the item, so fixtures can screenshot failures."""
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


def screenshot_if_failed(
    page: Any,
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    full_page: bool = False,
) -> None:
    """Save a screenshot of `page` when the test of `request` failed, and say where."""
    report = getattr(request.node, "rep_call", None)
    if report is None or not report.failed:
        return
    shot = tmp_path_factory.mktemp("screenshots") / f"{request.node.name}.png"
    page.screenshot(path=str(shot), full_page=full_page)
    print(f"screenshot of the failing page: {shot}")

"""Fixtures for widget tests: a headless Chromium page hosting real widgets."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from .host import CHROMIUM_FLAGS, WidgetHost, find_chromium


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    """One headless Chromium for the whole session (Debian's build; see NOTES.md)."""
    from playwright.sync_api import sync_playwright

    executable = find_chromium()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def page(chromium: Any, request: pytest.FixtureRequest, tmp_path_factory: Any) -> Iterator[Any]:
    """A fresh page; a screenshot is saved when the test fails."""
    context = chromium.new_context(viewport={"width": 1000, "height": 700})
    page = context.new_page()
    yield page
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        shot = tmp_path_factory.mktemp("screenshots") / f"{request.node.name}.png"
        page.screenshot(path=str(shot))
        print(f"screenshot of the failing page: {shot}")
    context.close()


@pytest.fixture
def host(page: Any) -> WidgetHost:
    """A page acting as a widget manager for real Python widgets."""
    return WidgetHost(page)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)

"""Fixtures for widget tests: a headless Chromium page hosting real widgets."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from .host import WidgetHost


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

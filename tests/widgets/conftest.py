"""Fixtures for widget tests: a headless Chromium page hosting real widgets."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from ..conftest import screenshot_if_failed
from .host import WidgetHost


@pytest.fixture
def page(
    chromium: Any, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Any]:
    """A fresh page; a screenshot is saved when the test fails."""
    context = chromium.new_context(viewport={"width": 1000, "height": 700})
    page = context.new_page()
    yield page
    screenshot_if_failed(page, request, tmp_path_factory)
    context.close()


@pytest.fixture
def host(page: Any) -> WidgetHost:
    """A page acting as a widget manager for real Python widgets."""
    return WidgetHost(page)

"""A real `nodespace serve` process on a temporary knowledge base, per test module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from nodespace_lab.service.client import RemoteKnowledgeBase

from .running import RunningService, start_service


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningService]:
    """One service for the tests of a module (they share its knowledge base)."""
    running = start_service(tmp_path_factory.mktemp("service"))
    yield running
    if running.process.poll() is None:
        running.stop()


@pytest.fixture
def remote(service: RunningService) -> Iterator[RemoteKnowledgeBase]:
    """A client of the module's service."""
    client = service.client()
    yield client
    client.close()

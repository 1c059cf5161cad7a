"""Components: every long-lived part reports its health and metrics, and stops in order.

Issue 13, part 3. They run on both transports: through the service,
`kb.components()` is the service's report of its own knowledge base.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from nodespace_lab.errors import ModelUnavailable
from nodespace_lab.kb import KnowledgeBase
from nodespace_lab.kb.components import Component, ComponentReport, Status

from ..conftest import TEST_TRANSPORT, KBFactory

STANDARD = ["store", "writer", "changelog", "fulltext", "vectors", "embedder", "model", "live"]


def _by_name(kb: KnowledgeBase) -> dict[str, ComponentReport]:
    return {report.name: report for report in kb.components()}


def test_every_part_reports_its_section_health_and_metrics(kb: KnowledgeBase) -> None:
    for i in range(5):
        kb.create("text", f"Note {i}", "words to index")
    kb.sync_search()
    reports = _by_name(kb)
    assert list(reports)[: len(STANDARD)] == STANDARD
    for report in reports.values():
        assert report.section in {"storage", "search", "ai", "performance", "service"}
        assert report.health.status == "ok", report
        assert report.health.since > 0 and report.health.why
    assert reports["changelog"].metrics["seq"] == kb.seq
    assert reports["fulltext"].metrics == {"lag": 0.0, "documents": 5.0}
    assert reports["store"].metrics["files_bytes"] > 0
    assert reports["live"].metrics["queries"] == 0


def test_live_queries_and_the_vector_index_show_up_when_used(kb: KnowledgeBase) -> None:
    kb.create("text", "Sourdough", "Feed the starter twice a day.")
    live = kb.live(kb.find("text"))
    kb.search("bread", mode="semantic")
    reports = _by_name(kb)
    # Through the service, live queries run in the client: it reports them itself.
    assert reports["client-live" if TEST_TRANSPORT == "service" else "live"].metrics["queries"] == 1
    assert reports["vectors"].metrics["vectors"] >= 1
    assert "384 dimensions" in reports["embedder"].health.why
    live.close()
    if TEST_TRANSPORT == "service":
        assert reports["client-feed"].metrics["feeds"] >= 1


@pytest.mark.embedded
def test_a_model_that_fails_makes_the_model_degraded_not_the_knowledge_base(
    kb_factory: KBFactory, tmp_path: Path
) -> None:
    kb = kb_factory(ai={"model_path": f"{tmp_path}/none.gguf", "failure_threshold": 1})
    kb.create("text", "Levain", "Twice a day.")
    assert _by_name(kb)["model"].health.status == "ok"
    with pytest.raises(ModelUnavailable):
        kb.ask("How often?")
    model = _by_name(kb)["model"]
    assert model.health.status == "degraded"
    assert "none.gguf" in model.health.why and model.health.actions
    assert _by_name(kb)["store"].health.status == "ok"


class Flaky(Component):
    name, section = "flaky", "performance"

    def __init__(self) -> None:
        super().__init__()
        self.broken = False
        self.stopped = False

    def check(self) -> tuple[Status, str, tuple[str, ...]]:
        if self.broken:
            raise OSError("disk went away")
        return "ok", "fine", ()

    def stop(self) -> None:
        self.stopped = True
        raise RuntimeError("stopping failed")


@pytest.mark.embedded
def test_a_part_whose_check_raises_is_down_with_its_error_and_since(kb: KnowledgeBase) -> None:
    flaky = Flaky()
    remove = kb.add_component(flaky)
    first = _by_name(kb)["flaky"].health
    flaky.broken = True
    down = _by_name(kb)["flaky"].health
    assert down.status == "down" and down.last_error == "OSError: disk went away"
    assert down.since >= first.since
    assert _by_name(kb)["store"].health.status == "ok"  # the others still report
    remove()
    assert "flaky" not in _by_name(kb)


@pytest.mark.embedded
def test_close_stops_every_part_even_when_one_fails(kb_factory: KBFactory, tmp_path: Path) -> None:
    kb = kb_factory(tmp_path / "kb")
    note = kb.create("text", "Kept", "safe")
    flaky = Flaky()
    kb.add_component(flaky)  # stopped first, and it raises
    with pytest.raises(RuntimeError, match="stopping failed"):
        kb.close()
    assert flaky.stopped
    again = kb_factory(tmp_path / "kb")  # the store was closed: it reopens
    assert again.get(note.id).title == "Kept"
    assert [h.id for h in again.search("safe")] == [note.id]  # the index caught up on close

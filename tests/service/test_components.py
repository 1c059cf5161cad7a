"""The service reports its own parts (write queue, feed clients) with its knowledge base's."""

from __future__ import annotations

from nodespace_lab.service.client import RemoteKnowledgeBase


def test_the_service_reports_its_queue_and_feed_clients(remote: RemoteKnowledgeBase) -> None:
    live = remote.live(remote.find("text"))  # a client live query follows the service's feed
    reports = {report.name: report for report in remote.components()}
    assert reports["service"].health.status == "ok"
    assert reports["service"].metrics["write_queue"] == 0
    assert reports["service"].metrics["uptime_s"] > 0
    assert reports["feed"].metrics["clients"] >= 1
    assert reports["client-live"].metrics["queries"] == 1
    assert {"store", "fulltext", "model"} <= set(reports)  # the service's knowledge base
    live.close()

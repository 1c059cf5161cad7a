"""The service's own parts as components of its knowledge base (`kb.components()`)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from ..kb.components import Component, Status

if TYPE_CHECKING:
    from .server import Service

#: The write queue counts as degraded beyond this many waiting calls.
QUEUE_DEGRADED = 100


class ServiceComponent(Component):
    """The service process: its write queue, AI queue and open transaction."""

    name, section = "service", "service"

    def __init__(self, service: Service) -> None:
        super().__init__()
        self.service = service
        self.started = time.monotonic()

    def _waiting(self) -> int:
        # ThreadPoolExecutor keeps its queue private; qsize is all this needs.
        return int(self.service.queue._work_queue.qsize())

    def check(self) -> tuple[Status, str, tuple[str, ...]]:
        waiting = self._waiting()
        if waiting > QUEUE_DEGRADED:
            return "degraded", f"{waiting} calls wait for the writer", ()
        open_tx = " (a transaction is open)" if self.service.tx is not None else ""
        return "ok", f"serving {self.service.kb.path}{open_tx}", ()

    def metrics(self) -> dict[str, float]:
        return {
            "uptime_s": time.monotonic() - self.started,
            "write_queue": float(self._waiting()),
            "ai_queue": float(self.service.ai_queue._work_queue.qsize()),
            "transaction_open": float(self.service.tx is not None),
        }


class FeedComponent(Component):
    """The websocket change feed: its clients and their unread backlogs."""

    name, section = "feed", "service"

    def __init__(self, service: Service) -> None:
        super().__init__()
        self.service = service

    def _backlogs(self) -> list[Any]:
        return [client.backlog for client in list(self.service.feeds)]

    def check(self) -> tuple[Status, str, tuple[str, ...]]:
        return "ok", f"{len(self.service.feeds)} clients", ()

    def metrics(self) -> dict[str, float]:
        backlogs = self._backlogs()
        return {
            "clients": float(len(backlogs)),
            "pending_bytes_max": float(max((b.bytes for b in backlogs), default=0)),
            "pending_messages_max": float(max((b.messages for b in backlogs), default=0)),
        }

"""Request log lines without secrets, for the service and the Jupyter handlers.

Tornado writes the request URI, query string included, into its access log
and into the warning of every `HTTPError` with a message; a websocket sends
its token as `?token=`. Whatever the token (right, wrong, another knowledge
base's), its value is replaced before the line is written.
"""

from __future__ import annotations

import logging
import re
from types import TracebackType
from typing import Any

import tornado.web

REDACTED = "[redacted]"
# Query parameters whose values are secrets (as jupyter_server scrubs its own).
_NAME = r"[^=&;#]*(?:token|auth|key|xsrf|password|secret)[^=&;#]*"
_SECRET = re.compile(rf"(?i)([?&;]{_NAME}=)([^&;#]*)")
access_log = logging.getLogger("tornado.access")
gen_log = logging.getLogger("tornado.general")
app_log = logging.getLogger("tornado.application")


def redacted_uri(uri: str) -> str:
    """`uri` with the value of every secret-looking query parameter replaced."""
    return _SECRET.sub(lambda m: m.group(1) + REDACTED, uri)


def summary(handler: tornado.web.RequestHandler) -> str:
    """'METHOD /path?query (address)', as tornado's, with secrets redacted."""
    request = handler.request
    return f"{request.method} {redacted_uri(request.uri or '')} ({request.remote_ip})"


def log_request(handler: tornado.web.RequestHandler) -> None:
    """The `log_function` of the service's Application: tornado's access log, redacted."""
    status = handler.get_status()
    level = logging.INFO if status < 400 else logging.WARNING if status < 500 else logging.ERROR
    elapsed_ms = 1000.0 * handler.request.request_time()
    access_log.log(level, "%d %s %.2fms", status, summary(handler), elapsed_ms)


class RedactedLogs:
    """Mixin for request handlers: their own log lines never carry a query token."""

    request: Any

    def _request_summary(self) -> str:
        return summary(self)  # type: ignore[arg-type]

    def log_exception(
        self,
        typ: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """As tornado's, minus the request's repr (it holds the full URI)."""
        if isinstance(value, tornado.web.HTTPError):
            message = value.get_message()
            if message:
                gen_log.warning("%d %s: %s", value.status_code, self._request_summary(), message)
            return
        exc_info = (typ, value, tb) if typ is not None and value is not None else None
        app_log.error("Uncaught exception %s", self._request_summary(), exc_info=exc_info)

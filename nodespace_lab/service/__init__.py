"""The knowledge-base service (`nodespace serve`) and `connect()`, its client side.

Importing this package is cheap: tornado loads only when a service starts or
a client follows the change feed.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import ValidationError
from .runtime import ServiceInfo, find_service, runtime_dir

if TYPE_CHECKING:
    from ..kb import KnowledgeBase
    from .client import RemoteKnowledgeBase

ENV_KB = "NODESPACE_KB"


def connect(path: str | Path | None = None) -> KnowledgeBase | RemoteKnowledgeBase:
    """The knowledge base at `path` (default `$NODESPACE_KB`): through its running
    service if there is one (several notebooks can then share it), else opened
    embedded in this process.
    """
    from ..config import load_settings
    from ..kb import KnowledgeBase

    chosen = path if path is not None else os.environ.get(ENV_KB)
    if not chosen:
        raise ValidationError(
            "connect() needs a knowledge base: pass its path or set NODESPACE_KB."
        )
    kb_path = Path(chosen).expanduser().resolve()
    settings = load_settings(kb_path)
    info = find_service(kb_path, runtime_dir(settings.service.runtime_dir))
    if info is not None:
        from .client import RemoteKnowledgeBase

        return RemoteKnowledgeBase(info)
    return KnowledgeBase(kb_path, settings=settings)


def running_service(path: str | Path) -> ServiceInfo | None:
    """The service that runs for the knowledge base at `path`, if one does."""
    from ..config import load_settings

    kb_path = Path(path).expanduser().resolve()
    return find_service(kb_path, runtime_dir(load_settings(kb_path).service.runtime_dir))


__all__ = ["ServiceInfo", "connect", "running_service"]

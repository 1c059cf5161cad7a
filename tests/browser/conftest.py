"""A real JupyterLab, started with a token, and headless Chromium pages on it."""

from __future__ import annotations

import json
import secrets
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ..conftest import screenshot_if_failed
from ..processes import free_port, jupyter_command, wait_until_up
from ..service.running import service_env

# The news and update popups would cover the page (NOTES.md, browser tests).
_QUIET_NOTIFICATIONS = {"fetchNews": "false", "checkForUpdates": False}


@dataclass
class Lab:
    """A running `jupyter lab`: where it serves, its token and its notebook folder.

    Its server extension serves the knowledge base `kb_path` (`NODESPACE_KB`), whose
    service writes its runtime file in `service_runtime`.
    """

    url: str
    token: str
    root: Path
    kb_path: Path
    service_runtime: Path
    settings_dir: Path | None = None

    def page_url(self, path: str) -> str:
        """The URL of `path` under /lab, authenticated with the token."""
        return f"{self.url}/lab/tree/{path}?reset&token={self.token}"


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """`jupyter lab` on loopback with its own token, settings, runtime folders and
    knowledge base (empty at the start of the session)."""
    with start_lab(tmp_path_factory.mktemp("lab")) as running:
        yield running


@contextmanager
def start_lab(base: Path) -> Iterator[Lab]:
    """Run `jupyter lab` with everything of its own under the folder `base` (for
    suites that need a lab apart from the session's, e.g. a knowledge base of payloads)."""
    root, settings = base / "notebooks", base / "settings"
    root.mkdir()
    notification = settings / "@jupyterlab" / "apputils-extension"
    notification.mkdir(parents=True)
    (notification / "notification.jupyterlab-settings").write_text(json.dumps(_QUIET_NOTIFICATIONS))
    token, port = secrets.token_hex(16), free_port()
    env = {
        # Isolated settings and runtime folder (never the developer's own knowledge base).
        **service_env(base),
        "JUPYTERLAB_SETTINGS_DIR": str(settings),
        "JUPYTERLAB_WORKSPACES_DIR": str(base / "workspaces"),
        "JUPYTER_RUNTIME_DIR": str(base / "jupyter-runtime"),
        "JUPYTER_CONFIG_DIR": str(base / "config"),
        # The sidebar's knowledge base, outside the notebook folder.
        "NODESPACE_KB": str(base / "kb"),
    }
    command = jupyter_command("jupyterlab", port, token, root)
    log = (base / "lab.log").open("wb")
    process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(f"{url}/api/status?token={token}", process)
        yield Lab(url, token, root, (base / "kb").resolve(), base / "runtime", settings)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


@pytest.fixture
def lab_page(
    chromium: Any, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Any]:
    """A page for JupyterLab; a screenshot is saved when the test fails."""
    context = chromium.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    yield page
    screenshot_if_failed(page, request, tmp_path_factory, full_page=True)
    context.close()

"""Start a real `nodespace serve` process (tests and benchmarks)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

from nodespace_lab.service.client import RemoteKnowledgeBase
from nodespace_lab.service.runtime import ServiceInfo, read_info, runtime_file

from ..conftest import TEST_ENGINE


@dataclass
class RunningService:
    """A service process, its knowledge base, runtime folder and description."""

    process: subprocess.Popen[bytes]
    kb_path: Path
    runtime: Path
    info: ServiceInfo
    env: dict[str, str]

    @property
    def runtime_file(self) -> Path:
        return runtime_file(self.kb_path, self.runtime)

    def client(self) -> RemoteKnowledgeBase:
        """A new client of this service."""
        return RemoteKnowledgeBase(self.info)

    def stop(self) -> int:
        """SIGTERM the service and wait for it; its exit code."""
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=30)


def service_env(tmp: Path) -> dict[str, str]:
    """The environment of a test service: engine under test, small sizes, own folders."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NODESPACE_")}
    env.update(
        NODESPACE_CONFIG=str(tmp / "no-user-config.toml"),
        NODESPACE_STORAGE_ENGINE=TEST_ENGINE,
        NODESPACE_STORAGE_BUFFER_POOL_MB="64",
        NODESPACE_STORAGE_MAX_DB_SIZE_GB="4",
        NODESPACE_SEARCH_WRITER_HEAP_MB="16",
        NODESPACE_SERVICE_RUNTIME_DIR=str(tmp / "runtime"),
    )
    return env


def start_service(tmp: Path, *extra: str, settings: dict[str, str] | None = None) -> RunningService:
    """Start `nodespace serve` on `tmp/kb` and wait for its runtime file.

    `settings` adds or replaces `NODESPACE_*` variables of `service_env`.
    """
    env = {**service_env(tmp), **(settings or {})}
    kb_path = (tmp / "kb").resolve()
    runtime = tmp / "runtime"
    command = [sys.executable, "-m", "nodespace_lab", "serve", str(kb_path), *extra]
    log = (tmp / "service.log").open("ab")
    process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    target = runtime_file(kb_path, runtime)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(
                f"the service exited with {process.returncode}:\n"
                + (tmp / "service.log").read_text()
            )
        info = read_info(target) if target.exists() else None
        if info is not None and info.pid == process.pid:
            return RunningService(process, kb_path, runtime, info, env)
        time.sleep(0.05)
    process.kill()
    raise AssertionError("the service wrote no runtime file within 60 s")


class PeakRSS:
    """The largest resident size of a process, sampled every 20 ms on a thread."""

    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)
        self.start = self.peak = self.process.memory_info().rss
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._done.wait(0.02):
            self.peak = max(self.peak, self.process.memory_info().rss)

    def __enter__(self) -> PeakRSS:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join(5)

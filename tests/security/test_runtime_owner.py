"""Runtime files: another local user cannot plant one to stop `serve` or redirect `connect()`.

Issue 12, hole 4. Before the fix, a runtime file planted by another user in a
shared runtime folder made `nodespace serve` refuse to start ("already runs")
and made `connect()` send the token and the notes to the URL it named. Now the
folder must be ours and writable by nobody else, and the file ours with mode
0600, or both refuse with a message naming the path, owner, mode and fix.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from nodespace_lab import connect
from nodespace_lab.errors import ServiceUnavailable
from nodespace_lab.service.api import PROTOCOL_VERSION
from nodespace_lab.service.runtime import (
    ServiceInfo,
    read_info,
    runtime_dir,
    runtime_file,
    write_info,
)
from tests.conftest import TEST_ENGINE
from tests.security.local_user import READ_EACH, LocalUser, attacker, shared_root

__all__ = ["attacker", "shared_root"]  # fixtures, found by name

ROOT = Path(__file__).resolve().parents[2]

#: Run as the attacker: write argv[2] (JSON) to the path argv[1], readable by all.
PLANT = """
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
os.write(fd, sys.argv[2].encode())
os.close(fd)
print("true")
"""


def _planted_info(kb: Path) -> str:
    """What the attacker writes: their server, a live pid (1), the victim's database path."""
    info = {
        "url": "http://127.0.0.1:9",
        "token": "attacker",
        "path": str(kb.resolve()),
        "protocol": PROTOCOL_VERSION,
        "pid": 1,
    }
    return json.dumps(info)


@pytest.fixture
def victim_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The victim's own settings: no config file, no trust list, the test engine."""
    env = {
        "NODESPACE_CONFIG": str(tmp_path / "no-config.toml"),
        "XDG_CONFIG_HOME": str(tmp_path / "xdg"),
        "NODESPACE_STORAGE_ENGINE": TEST_ENGINE,
        "NODESPACE_STORAGE_BUFFER_POOL_MB": "64",
        "NODESPACE_STORAGE_MAX_DB_SIZE_GB": "4",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("NODESPACE_SERVICE", raising=False)
    monkeypatch.delenv("NODESPACE_KB", raising=False)
    return env


@pytest.fixture
def shared_runtime(
    shared_root: Path, victim_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    """A runtime folder like /tmp (root's, mode 1777) chosen in the victim's own settings."""
    folder = shared_root / "runtime"
    folder.mkdir()
    folder.chmod(0o1777)
    monkeypatch.setenv("NODESPACE_SERVICE_RUNTIME_DIR", str(folder))
    victim_env["NODESPACE_SERVICE_RUNTIME_DIR"] = str(folder)
    yield folder


def _serve(kb: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if k not in {"NODESPACE_SERVICE", "NODESPACE_KB"}}
    return subprocess.run(
        [sys.executable, "-m", "nodespace_lab", "serve", str(kb)],
        env={**full, **env, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )


# -- as a second local user ----------------------------------------------------


def test_planted_file_in_a_shared_runtime_folder_is_refused(
    attacker: LocalUser, shared_runtime: Path, tmp_path: Path, victim_env: dict[str, str]
) -> None:
    kb = tmp_path / "kb"
    target = runtime_file(kb, shared_runtime)
    assert attacker.python(PLANT, str(target), _planted_info(kb)) is True
    assert target.stat().st_uid == attacker.uid

    with pytest.raises(ServiceUnavailable) as caught:
        connect(kb)
    message = str(caught.value)
    assert f"Runtime file {target} is not used" in message
    assert f"folder {shared_runtime} is writable by other users" in message
    assert "owned by root (uid 0), mode 1777" in message
    assert f"chmod 700 {shared_runtime}" in message and "service.runtime_dir" in message

    served = _serve(kb, victim_env)
    assert served.returncode == 1, served.stdout
    assert "already runs" not in served.stderr  # the old refusal, caused by the planted file
    assert f"Runtime file {target} is not used" in served.stderr
    assert "writable by other users" in served.stderr and "Traceback" not in served.stderr
    assert json.loads(target.read_text())["token"] == "attacker"  # left alone, not trusted


def test_runtime_folder_owned_by_another_user_is_refused(
    attacker: LocalUser,
    shared_root: Path,
    tmp_path: Path,
    victim_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    folder = shared_root / "theirs"
    folder.mkdir(mode=0o755)
    os.chown(folder, attacker.uid, attacker.gid)
    monkeypatch.setenv("NODESPACE_SERVICE_RUNTIME_DIR", str(folder))
    kb = tmp_path / "kb"
    target = runtime_file(kb, folder)
    assert attacker.python(PLANT, str(target), _planted_info(kb)) is True

    with pytest.raises(ServiceUnavailable) as caught:
        connect(kb)
    message = str(caught.value)
    assert f"folder {folder} is owned by {attacker.name} (uid {attacker.uid}), mode 0755" in message
    assert "you are root (uid 0)" in message

    served = _serve(kb, {**victim_env, "NODESPACE_SERVICE_RUNTIME_DIR": str(folder)})
    assert served.returncode == 1 and f"owned by {attacker.name}" in served.stderr


def test_file_of_another_user_in_our_own_folder_is_refused(
    attacker: LocalUser, tmp_path: Path, victim_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "runtime"
    folder.mkdir(mode=0o700)
    kb = tmp_path / "kb"
    target = runtime_file(kb, folder)
    target.write_text(_planted_info(kb))
    target.chmod(0o600)
    os.chown(target, attacker.uid, attacker.gid)  # as if planted while the folder was open
    monkeypatch.setenv("NODESPACE_SERVICE_RUNTIME_DIR", str(folder))
    with pytest.raises(ServiceUnavailable) as caught:
        connect(kb)
    assert f"file {target} is owned by {attacker.name} (uid {attacker.uid}), mode 0600" in str(
        caught.value
    )


def test_nodespace_service_variable_naming_another_users_file_is_refused(
    attacker: LocalUser, shared_root: Path, tmp_path: Path, victim_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    folder = shared_root / "drop"
    folder.mkdir(mode=0o700)
    os.chown(folder, attacker.uid, attacker.gid)
    kb = tmp_path / "kb"
    planted = folder / "service.json"
    assert attacker.python(PLANT, str(planted), _planted_info(kb)) is True
    monkeypatch.setenv("NODESPACE_SERVICE", str(planted))
    with pytest.raises(ServiceUnavailable, match=f"owned by {attacker.name}"):
        connect(kb)


def test_other_users_cannot_read_the_token(
    attacker: LocalUser, shared_root: Path, tmp_path: Path
) -> None:
    folder = shared_root / "mine"  # under a folder everyone may enter
    target = runtime_file(tmp_path / "kb", folder)
    write_info(ServiceInfo("http://127.0.0.1:1", "secret", str(tmp_path), 1, os.getpid()), target)
    outcome = attacker.python(READ_EACH, str(folder), str(target))
    assert outcome == {str(folder): "PermissionError", str(target): "PermissionError"}


# -- the checks themselves (no second user needed) -------------------------------------


def _info(path: Path) -> ServiceInfo:
    return ServiceInfo("http://127.0.0.1:1", "token", str(path), PROTOCOL_VERSION, os.getpid())


def test_write_info_makes_a_private_folder_and_file_whatever_the_umask(tmp_path: Path) -> None:
    target = tmp_path / "a" / "runtime" / "service-x.json"
    old = os.umask(0)
    try:
        write_info(_info(tmp_path), target)
    finally:
        os.umask(old)
    assert target.parent.stat().st_mode & 0o777 == 0o700
    assert target.stat().st_mode & 0o777 == 0o600
    assert read_info(target) == _info(tmp_path)
    assert [p.name for p in target.parent.iterdir()] == [target.name]  # no temporary left


def test_write_info_refuses_a_shared_folder(tmp_path: Path) -> None:
    folder = tmp_path / "shared"
    folder.mkdir()
    folder.chmod(0o777)
    with pytest.raises(ServiceUnavailable, match=r"writable by other users .*mode 0777"):
        write_info(_info(tmp_path), folder / "service-x.json")
    assert list(folder.iterdir()) == []


def test_a_runtime_file_open_to_others_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "runtime" / "service-x.json"
    write_info(_info(tmp_path), target)
    target.chmod(0o644)
    with pytest.raises(ServiceUnavailable) as caught:
        read_info(target)
    assert "mode 0644" in str(caught.value) and "it must be 0600" in str(caught.value)


def test_a_symlinked_runtime_file_is_refused(tmp_path: Path) -> None:
    real = tmp_path / "elsewhere" / "service-x.json"
    write_info(_info(tmp_path), real)
    link = tmp_path / "runtime" / "service-x.json"
    link.parent.mkdir(mode=0o700)
    link.symlink_to(real)
    with pytest.raises(ServiceUnavailable, match="is a symbolic link"):
        read_info(link)


def test_a_fifo_in_place_of_the_runtime_file_is_refused_without_hanging(tmp_path: Path) -> None:
    folder = tmp_path / "runtime"
    folder.mkdir(mode=0o700)
    os.mkfifo(folder / "service-x.json", 0o600)
    with pytest.raises(ServiceUnavailable, match="is not a regular file"):
        read_info(folder / "service-x.json")


def test_missing_folder_or_file_means_no_service(tmp_path: Path) -> None:
    assert read_info(tmp_path / "none" / "service-x.json") is None
    (tmp_path / "empty").mkdir(mode=0o700)
    assert read_info(tmp_path / "empty" / "service-x.json") is None


def test_default_runtime_folder_is_private_after_a_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "run"))
    (tmp_path / "run").mkdir(mode=0o700)
    folder = runtime_dir("")
    write_info(_info(tmp_path), runtime_file(tmp_path / "kb", folder))
    assert folder.stat().st_mode & 0o777 == 0o700

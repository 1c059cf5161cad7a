"""A second local user for the tests: `nsattacker`, created and removed by the fixtures.

The tests run as root in CI, and root can read every file, so the attacker
must be another, unprivileged user and the victim's files root's own with
mode 0600/0700. The fixture skips (with the reason) only when the process is
not root or `useradd` is missing; CI is root, so the tests run there.

Folders the attacker must reach are made under `/tmp` with mode 0755 (pytest's
own temporary folders are 0700, so every attempt would fail for the wrong
reason, whatever our code did).
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

NAME = "nsattacker"


@dataclass(frozen=True)
class LocalUser:
    """The other user: run Python as them and get back what it printed as JSON."""

    name: str
    uid: int
    gid: int
    interpreter: str

    def python(self, code: str, *args: str, timeout: float = 60) -> Any:
        """Run `code` as this user (isolated Python, stdlib only); return its JSON output."""
        done = subprocess.run(
            [self.interpreter, "-I", "-c", code, *args],
            user=self.uid,
            group=self.gid,
            extra_groups=[],
            env={"PATH": "/usr/bin:/bin", "HOME": "/nonexistent"},
            cwd="/",
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)


def _interpreter() -> str | None:
    """A Python every user may run (ours may sit in root's 0700 home, as with pyenv)."""
    for candidate in (sys.executable, shutil.which("python3"), "/usr/bin/python3"):
        if candidate and _everyone_can_run(Path(candidate)):
            return candidate
    return None


def _everyone_can_run(path: Path) -> bool:
    real = path.resolve()
    if not real.is_file() or not real.stat().st_mode & 0o001:
        return False
    return all(parent.stat().st_mode & 0o001 for parent in real.parents)


def _skip_reason() -> str | None:
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return "needs root to create a second local user (useradd); CI runs as root"
    if shutil.which("useradd") is None or shutil.which("userdel") is None:
        return "useradd/userdel are not installed, so no second local user can be made"
    if _interpreter() is None:
        return "no Python interpreter that another user may run (python3 outside /root)"
    return None


def _create_user() -> str:
    """`nsattacker`, or `nsattacker<pid>` while another test run holds that name."""
    for name in (NAME, f"{NAME}{os.getpid()}"):
        made = subprocess.run(
            ["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
            capture_output=True,
            check=False,
        )
        if made.returncode == 0:
            return name
    raise AssertionError(f"useradd failed: {made.stderr.decode(errors='replace')}")


# One user per process: each test module imports the fixture, and pytest then keeps
# one instance per module, so the user is made once here and removed at the end.
_made: list[LocalUser] = []


@pytest.fixture(scope="session")
def attacker(request: pytest.FixtureRequest) -> LocalUser:
    """A throwaway unprivileged user (removed when the test session ends)."""
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    if not _made:
        interpreter = _interpreter()
        assert interpreter is not None  # checked in _skip_reason
        name = _create_user()
        request.session.addfinalizer(lambda: _remove_user(name))
        entry = pwd.getpwnam(name)
        _made.append(LocalUser(name, entry.pw_uid, entry.pw_gid, interpreter))
    return _made[0]


def _remove_user(name: str) -> None:
    subprocess.run(["userdel", name], capture_output=True, check=False)
    _made.clear()


@pytest.fixture
def shared_root() -> Iterator[Path]:
    """A fresh folder under /tmp (root's, mode 0755) that every user can enter."""
    folder = Path(tempfile.mkdtemp(prefix="ns-shared-", dir="/tmp"))
    folder.chmod(0o755)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


#: Run as the attacker: try to read each path given; print {path: outcome}.
READ_EACH = """
import json, os, sys
out = {}
for path in sys.argv[1:]:
    try:
        if os.path.isdir(path):
            os.listdir(path)
        else:
            with open(path, "rb") as handle:
                handle.read(64)
        out[path] = "read"
    except PermissionError:
        out[path] = "PermissionError"
    except OSError as exc:
        out[path] = type(exc).__name__
print(json.dumps(out))
"""

"""Trusted knowledge bases: whose own `nodespace.toml` may change security settings.

A shared or downloaded knowledge base must not point your API key at its
server or turn on Cypher writes. So its security-relevant settings
(`SECURITY_RELEVANT`) apply only when you trust it with `nodespace trust
PATH`. Like VS Code's workspace trust, the list lives outside every knowledge
base, in your config folder (`trusted.json`, mode 0600 in a 0700 folder). An
entry records the real path of the folder (symbolic links resolved) and its
device, inode and owner, so another folder later put at that path is not
trusted.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shlex
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from .private import NotPrivate, describe, read_private, user_name, write_private

TRUST_FILE = "trusted.json"
_VERSION = 1


class UntrustedSettingWarning(UserWarning):
    """A security setting of an untrusted knowledge base was ignored."""


@dataclass(frozen=True)
class TrustEntry:
    """One trusted knowledge-base folder, as it was when the user trusted it."""

    path: str
    device: int
    inode: int
    owner: int
    trusted_at: str


@dataclass(frozen=True)
class Verdict:
    """Whether a knowledge base is trusted, and if not, why (a sentence)."""

    trusted: bool
    reason: str = ""


def config_folder(env: Mapping[str, str] | None = None) -> Path:
    """The user's NodeSpace config folder: `$XDG_CONFIG_HOME/nodespace` or `~/.config/nodespace`."""
    env = os.environ if env is None else env
    base = env.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "nodespace"


def trust_list_path(env: Mapping[str, str] | None = None) -> Path:
    """The trust list file (`NODESPACE_CONFIG` does not move it: it is not a setting)."""
    return config_folder(env) / TRUST_FILE


def trust_command(folder: Path) -> str:
    """The shell command that trusts `folder`."""
    return f"nodespace trust {shlex.quote(str(folder))}"


# -- the list -------------------------------------------------------------------


def read_entries(trust_file: Path) -> list[TrustEntry]:
    """The entries of `trust_file` (none when it does not exist).

    Raises `ConfigError` when the file cannot be read or another user could
    have changed it, naming the fix.
    """
    try:
        text = read_private(trust_file)
    except NotPrivate as exc:
        raise ConfigError(
            f"Trust list {trust_file} is not used: {exc}. It decides which knowledge bases may "
            f"change security settings, so only you may write it: chmod 700 "
            f"{shlex.quote(str(trust_file.parent))}; chmod 600 {shlex.quote(str(trust_file))} "
            "(as its owner), or delete it and trust your knowledge bases again."
        ) from None
    if text is None:
        return []
    try:
        data = json.loads(text)
        return [TrustEntry(**item) for item in data["trusted"]]
    except (ValueError, TypeError, KeyError) as exc:
        raise ConfigError(
            f"Trust list {trust_file} cannot be read ({exc!r}); delete it and trust your "
            "knowledge bases again with `nodespace trust PATH`."
        ) from None


def _write_entries(trust_file: Path, entries: list[TrustEntry]) -> None:
    data = {"version": _VERSION, "trusted": [asdict(e) for e in entries]}
    try:
        write_private(trust_file, json.dumps(data, indent=2) + "\n")
    except NotPrivate as exc:
        raise ConfigError(
            f"Cannot write the trust list {trust_file}: {exc}. Make its folder yours alone: "
            f"chmod 700 {shlex.quote(str(trust_file.parent))}."
        ) from None


def fingerprint(folder: Path) -> TrustEntry:
    """An entry for the existing folder `folder` as it is now (symlinks resolved)."""
    real = folder.expanduser().resolve()
    if not real.is_dir():
        raise ConfigError(
            f"Cannot trust {folder}: it is not an existing folder; give the path of a "
            "knowledge-base folder."
        )
    st = real.stat()
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    return TrustEntry(str(real), st.st_dev, st.st_ino, st.st_uid, now)


def add(folder: Path, trust_file: Path) -> TrustEntry:
    """Trust `folder` (replacing an older entry for the same path); return the entry."""
    entry = fingerprint(folder)
    kept = [e for e in read_entries(trust_file) if e.path != entry.path]
    _write_entries(trust_file, [*kept, entry])
    return entry


def remove(folder: Path, trust_file: Path) -> TrustEntry | None:
    """Stop trusting `folder`; return the entry removed, or None if it was not trusted."""
    names = {str(folder.expanduser().absolute()), str(folder.expanduser().resolve())}
    entries = read_entries(trust_file)
    gone = [e for e in entries if e.path in names]
    if gone:
        _write_entries(trust_file, [e for e in entries if e.path not in names])
    return gone[0] if gone else None


# -- checks ---------------------------------------------------------------------


def entry_status(entry: TrustEntry) -> str:
    """'ok', 'missing' (no folder at the path) or why the folder there is another one."""
    try:
        st = Path(entry.path).stat()
    except FileNotFoundError:
        return "missing"
    if (st.st_dev, st.st_ino) != (entry.device, entry.inode):
        return (
            f"replaced: the folder at this path is not the one you trusted (device/inode "
            f"{entry.device}/{entry.inode} then, {st.st_dev}/{st.st_ino} now)"
        )
    if st.st_uid != entry.owner:
        return f"its owner changed from {user_name(entry.owner)} to {user_name(st.st_uid)}"
    return "ok"


def check(kb_path: Path, project_file: Path, trust_file: Path) -> Verdict:
    """May the security settings of `project_file` (in `kb_path`) apply?"""
    real = str(kb_path.expanduser().resolve())
    try:
        entries = read_entries(trust_file)
    except ConfigError as exc:
        return Verdict(False, str(exc))
    entry = next((e for e in entries if e.path == real), None)
    if entry is None:
        return Verdict(False, f"it is not in your trust list {trust_file}")
    status = entry_status(entry)
    if status != "ok":
        return Verdict(False, f"it was trusted, but {status}")
    return _project_file_verdict(project_file, entry)


def _project_file_verdict(project_file: Path, entry: TrustEntry) -> Verdict:
    # Trusting a folder trusts its owner; a file someone else can edit is not theirs alone.
    try:
        st = project_file.stat()
    except FileNotFoundError:
        return Verdict(True)  # nothing to apply yet
    if st.st_uid not in {os.getuid(), entry.owner}:
        return Verdict(False, f"{project_file} is {describe(st)}, not by the folder's owner")
    if st.st_mode & 0o022:
        return Verdict(
            False,
            f"{project_file} is writable by other users ({describe(st)}); "
            f"chmod go-w {shlex.quote(str(project_file))}",
        )
    return Verdict(True)


def warn_ignored(setting: str, why: str, source: Path, kb_path: Path, verdict: Verdict) -> str:
    """Warn that `setting` of `source` was ignored; return the message."""
    import warnings

    message = (
        f"{source}: {setting} is ignored: this knowledge base is not trusted "
        f"({verdict.reason}), and this setting {why}. To apply it, trust the knowledge "
        f"base: {trust_command(kb_path)}"
    )
    warnings.warn(message, UntrustedSettingWarning, stacklevel=2)
    return message


def describe_entry(entry: TrustEntry) -> dict[str, Any]:
    """An entry as a record for `nodespace trust --list`."""
    return {
        "path": entry.path,
        "owner": user_name(entry.owner),
        "trusted_at": entry.trusted_at,
        "status": entry_status(entry),
    }

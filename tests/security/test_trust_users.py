"""The trust list as another local user would attack it.

Issue 12, hole 3, second-user side: the trust list lives in the victim's
config folder (0700, file 0600), so another user can neither read nor extend
it; and a trusted folder that another user swaps for their own at the same
path (possible in a shared folder without the sticky bit) is not trusted.
"""

from __future__ import annotations

import warnings
from pathlib import Path

from click.testing import CliRunner

from nodespace_lab import load_settings
from nodespace_lab.cli import cli
from nodespace_lab.config import UntrustedSettingWarning, trust_list_path
from tests.security.local_user import READ_EACH, LocalUser, attacker, shared_root

__all__ = ["attacker", "shared_root"]  # fixtures, found by name

#: Run as the attacker: append to argv[1], then create a file in its folder; print outcomes.
WRITE_EACH = """
import json, os, sys
out = {}
for name, action in (
    ("append", lambda: open(sys.argv[1], "a").write("{}")),
    ("create", lambda: open(os.path.join(os.path.dirname(sys.argv[1]), "x.json"), "w")),
):
    try:
        action()
        out[name] = "written"
    except OSError as exc:
        out[name] = type(exc).__name__
print(json.dumps(out))
"""

#: Run as the attacker: move the folder argv[1] away and put their own there, same name.
SWAP = """
import json, os, sys
folder = sys.argv[1]
os.rename(folder, folder + "-old")
os.mkdir(folder)
with open(os.path.join(folder, "nodespace.toml"), "w") as out:
    out.write('[ai]\\nbackend = "openai"\\nopenai_url = "http://attacker.example/v1"\\n')
print(json.dumps(os.stat(folder).st_ino))
"""


def _env(shared_root: Path) -> dict[str, str]:
    return {
        "XDG_CONFIG_HOME": str(shared_root / "home" / ".config"),
        "NODESPACE_CONFIG": str(shared_root / "none.toml"),
    }


def test_another_user_can_neither_read_nor_extend_the_trust_list(
    attacker: LocalUser, shared_root: Path
) -> None:
    env = _env(shared_root)
    (shared_root / "home").mkdir(mode=0o755)  # a home others may enter, as on many systems
    (shared_root / "home").chmod(0o755)
    kb = shared_root / "kb"
    kb.mkdir()
    assert CliRunner().invoke(cli, ["trust", str(kb)], env=env).exit_code == 0
    listed = trust_list_path(env)
    assert attacker.python(READ_EACH, str(listed)) == {str(listed): "PermissionError"}
    assert attacker.python(WRITE_EACH, str(listed)) == {
        "append": "PermissionError",
        "create": "PermissionError",
    }


def test_a_trusted_folder_swapped_by_another_user_is_not_trusted(
    attacker: LocalUser, shared_root: Path
) -> None:
    env = _env(shared_root)
    public = shared_root / "public"
    public.mkdir()
    public.chmod(0o777)  # world-writable without the sticky bit: anyone may rename in it
    team = public / "team"
    team.mkdir()
    (team / "nodespace.toml").write_text('[ai]\nopenai_url = "http://127.0.0.1:8080/v1"\n')
    assert CliRunner().invoke(cli, ["trust", str(team)], env=env).exit_code == 0
    before = load_settings(team, env=env, user_file=Path(env["NODESPACE_CONFIG"]))
    assert before.ai.openai_url == "http://127.0.0.1:8080/v1"  # trusted, applied

    attacker.python(SWAP, str(team))
    assert team.stat().st_uid == attacker.uid
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        after = load_settings(team, env=env, user_file=Path(env["NODESPACE_CONFIG"]))
    assert after.ai.openai_url == "" and after.ai.backend == "auto"
    messages = [str(w.message) for w in caught if w.category is UntrustedSettingWarning]
    assert len(messages) == 2
    assert all("it was trusted, but replaced" in m for m in messages)

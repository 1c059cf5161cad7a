"""Settings: `param` sections loaded in layers, with errors that say what is allowed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import param
import pytest

from nodespace_lab import Settings, load_settings
from nodespace_lab.config import SECTIONS, user_config_path
from nodespace_lab.errors import ConfigError, NodespaceError

ROOT = Path(__file__).resolve().parents[2]


def load(tmp_path: Path, *, env: dict[str, str] | None = None, **kwargs) -> Settings:
    kwargs.setdefault("user_file", tmp_path / "user.toml")
    return load_settings(tmp_path / "kb", env=env or {}, **kwargs)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


# -- sections and defaults -----------------------------------------------------------


def test_every_section_is_parameterized_with_documented_settings() -> None:
    assert set(SECTIONS) == {
        "storage",
        "search",
        "performance",
        "security",
        "ai",
        "service",
        "logging",
        "plugins",
    }
    settings = Settings()
    for name, cls in SECTIONS.items():
        section = settings.section(name)
        assert isinstance(section, cls) and isinstance(section, param.Parameterized)
        for pname, parameter in section.param.objects("existing").items():
            if pname != "name":
                assert parameter.doc, f"{name}.{pname} has no doc string"
            if isinstance(parameter, param.Integer):
                assert parameter.bounds is not None, f"{name}.{pname} has no bounds"


def test_defaults(tmp_path: Path) -> None:
    settings = load(tmp_path)
    assert settings.storage.engine == "ladybug"
    assert settings.security.allow_cypher_writes is False
    assert settings.service.host == "127.0.0.1"
    assert settings.sources == ["defaults"]
    values = settings.as_dict()
    assert values["storage"]["buffer_pool_mb"] == 1024
    assert "name" not in values["storage"]


def test_loads_do_not_share_state(tmp_path: Path) -> None:
    first = load(tmp_path, overrides={"storage": {"buffer_pool_mb": 32}})
    second = load(tmp_path)
    assert first.storage.buffer_pool_mb == 32
    assert second.storage.buffer_pool_mb == 1024


# -- layers --------------------------------------------------------------------------


def test_layers_apply_in_order(tmp_path: Path) -> None:
    user = write(
        tmp_path / "user.toml",
        """
        [storage]
        buffer_pool_mb = 100
        max_db_size_gb = 10
        max_content_bytes = 5000
        max_title_chars = 500
        """,
    )
    write(
        tmp_path / "kb" / "nodespace.toml",
        """
        [storage]
        max_db_size_gb = 20
        max_content_bytes = 6000
        max_title_chars = 600
        """,
    )
    env = {
        "NODESPACE_STORAGE_MAX_CONTENT_BYTES": "7000",
        "NODESPACE_STORAGE_MAX_TITLE_CHARS": "700",
    }
    settings = load(
        tmp_path, env=env, user_file=user, overrides={"storage": {"max_title_chars": 800}}
    )
    storage = settings.storage
    assert storage.engine == "ladybug"  # default
    assert storage.buffer_pool_mb == 100  # user file
    assert storage.max_db_size_gb == 20  # project file beats user file
    assert storage.max_content_bytes == 7000  # environment beats project file
    assert storage.max_title_chars == 800  # overrides beat everything
    assert settings.sources == [
        "defaults",
        str(user),
        str(tmp_path / "kb" / "nodespace.toml"),
        "environment",
        "arguments",
    ]


def test_env_values_are_parsed_by_type(tmp_path: Path) -> None:
    settings = load(
        tmp_path,
        env={
            "NODESPACE_SECURITY_ALLOW_CYPHER_WRITES": "yes",
            "NODESPACE_SERVICE_PORT": "8765",
            "NODESPACE_AI_MODEL_PATH": "/models/gemma.gguf",
            "NODESPACE_LOGGING_LEVEL": "DEBUG",
            "NODESPACE_AI_TIMEOUT_S": "12.5",
            "NODESPACE_SERVICE_TRANSACTION_TIMEOUT_S": "90",
        },
    )
    assert settings.ai.timeout_s == 12.5
    assert settings.service.transaction_timeout_s == 90.0
    assert settings.security.allow_cypher_writes is True
    assert settings.service.port == 8765
    assert settings.ai.model_path == "/models/gemma.gguf"
    assert settings.logging.level == "DEBUG"
    off = load(tmp_path, env={"NODESPACE_SECURITY_ALLOW_CYPHER_WRITES": "off"})
    assert off.security.allow_cypher_writes is False


def test_non_setting_env_variables_are_ignored(tmp_path: Path) -> None:
    settings = load(
        tmp_path,
        env={"NODESPACE_KB": "/somewhere", "NODESPACE_CONFIG": "/x.toml", "HOME": "/root"},
    )
    assert settings.sources == ["defaults"]


def test_process_environment_is_used_when_env_is_not_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NODESPACE_STORAGE_BUFFER_POOL_MB", "77")
    settings = load_settings(tmp_path, user_file=tmp_path / "none.toml")
    assert settings.storage.buffer_pool_mb == 77


def test_user_config_path_follows_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NODESPACE_CONFIG", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert user_config_path() == tmp_path / "xdg" / "nodespace" / "config.toml"
    monkeypatch.setenv("NODESPACE_CONFIG", str(tmp_path / "mine.toml"))
    assert user_config_path() == tmp_path / "mine.toml"
    write(tmp_path / "mine.toml", "[search]\nsnippet_chars = 99\n")
    assert load_settings(env=dict(os.environ)).search.snippet_chars == 99
    # An explicit env mapping is the whole environment: the process's is not consulted.
    own = {"NODESPACE_CONFIG": str(tmp_path / "mine.toml")}
    assert load_settings(env=own).search.snippet_chars == 99
    assert load_settings(env={}).search.snippet_chars == 160


def test_missing_files_are_fine(tmp_path: Path) -> None:
    settings = load(tmp_path, user_file=tmp_path / "absent.toml")
    assert settings.sources == ["defaults"]


# -- validation errors -------------------------------------------------------------


def assert_config_error(error: ConfigError, *fragments: str) -> None:
    assert isinstance(error, NodespaceError)
    message = str(error)
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"


def test_bad_integer_in_file(tmp_path: Path) -> None:
    user = write(tmp_path / "user.toml", '[storage]\nbuffer_pool_mb = "lots"\n')
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, user_file=user)
    assert_config_error(
        caught.value, str(user), "storage.buffer_pool_mb", "'lots'", "allowed range is 16 to 262144"
    )


def test_bad_integer_in_environment(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, env={"NODESPACE_STORAGE_BUFFER_POOL_MB": "12.5"})
    assert_config_error(
        caught.value, "NODESPACE_STORAGE_BUFFER_POOL_MB", "'12.5'", "not an integer", "16 to 262144"
    )


def test_bad_number_in_environment(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, env={"NODESPACE_AI_TIMEOUT_S": "soon"})
    assert_config_error(caught.value, "NODESPACE_AI_TIMEOUT_S", "'soon'", "not a number")


def test_out_of_bounds_in_project_file(tmp_path: Path) -> None:
    project = write(tmp_path / "kb" / "nodespace.toml", "[storage]\nmax_db_size_gb = 0\n")
    with pytest.raises(ConfigError) as caught:
        load(tmp_path)
    assert_config_error(
        caught.value, str(project), "storage.max_db_size_gb", "cannot be 0", "1 to 16384"
    )


def test_out_of_bounds_in_environment(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, env={"NODESPACE_SERVICE_PORT": "70000"})
    assert_config_error(
        caught.value, "NODESPACE_SERVICE_PORT", "service.port", "70000", "0 to 65535"
    )


def test_out_of_bounds_in_overrides(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, overrides={"storage": {"max_content_bytes": 10}})
    assert_config_error(caught.value, "storage.max_content_bytes", "10", "1000 to 64000000")


def test_bad_selector_value(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, env={"NODESPACE_STORAGE_ENGINE": "neo4j"})
    assert_config_error(
        caught.value, "storage.engine", "'neo4j'", "allowed values are 'ladybug', 'kuzu'"
    )


def test_bad_boolean(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, env={"NODESPACE_SECURITY_ALLOW_CYPHER_WRITES": "maybe"})
    assert_config_error(
        caught.value, "NODESPACE_SECURITY_ALLOW_CYPHER_WRITES", "'maybe'", "true or false"
    )
    user = write(tmp_path / "user.toml", '[security]\nallow_cypher_writes = "yes"\n')
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, user_file=user)
    assert_config_error(caught.value, "security.allow_cypher_writes", "'yes'", "boolean")


def test_bool_is_not_an_integer(tmp_path: Path) -> None:
    user = write(tmp_path / "user.toml", "[storage]\nbuffer_pool_mb = true\n")
    with pytest.raises(ConfigError, match="buffer_pool_mb cannot be True"):
        load(tmp_path, user_file=user)


def test_unknown_section(tmp_path: Path) -> None:
    user = write(tmp_path / "user.toml", "[storgae]\nengine = 'kuzu'\n")
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, user_file=user)
    assert_config_error(
        caught.value, str(user), "unknown settings section [storgae]", "known sections are storage"
    )


def test_unknown_key(tmp_path: Path) -> None:
    project = write(tmp_path / "kb" / "nodespace.toml", "[storage]\nbuffer_pool = 64\n")
    with pytest.raises(ConfigError) as caught:
        load(tmp_path)
    assert_config_error(
        caught.value, str(project), "unknown setting storage.buffer_pool", "buffer_pool_mb"
    )


def test_unknown_key_in_environment(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, env={"NODESPACE_STORAGE_BUFFERPOOL": "64"})
    assert_config_error(caught.value, "NODESPACE_STORAGE_BUFFERPOOL", "storage.bufferpool")


def test_section_that_is_not_a_table(tmp_path: Path) -> None:
    user = write(tmp_path / "user.toml", "storage = 5\n")
    with pytest.raises(ConfigError, match=r"\[storage\] must be a table"):
        load(tmp_path, user_file=user)


def test_bad_toml(tmp_path: Path) -> None:
    user = write(tmp_path / "user.toml", "[storage\nengine = \n")
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, user_file=user)
    assert_config_error(caught.value, str(user), "cannot be read", "Fix or remove it")


def test_file_that_is_not_utf8(tmp_path: Path) -> None:
    user = tmp_path / "user.toml"
    user.write_bytes(b"[storage]\nengine = '\xff'\n")
    with pytest.raises(ConfigError, match="cannot be read"):
        load(tmp_path, user_file=user)


def test_knowledge_base_uses_the_project_file(tmp_path: Path, engine: str) -> None:
    from nodespace_lab import KnowledgeBase

    folder = tmp_path / "kb"
    write(
        folder / "nodespace.toml",
        f"[storage]\nengine = '{engine}'\nmax_content_bytes = 2000\nbuffer_pool_mb = 64\n",
    )
    settings = load_settings(folder, env={}, user_file=tmp_path / "none.toml")
    with KnowledgeBase(folder, settings=settings) as kb:
        assert kb.settings.storage.max_content_bytes == 2000
        with pytest.raises(NodespaceError, match="over the limit of 2,000"):
            kb.create("text", "x", "y" * 2001)


# -- engine selection ----------------------------------------------------------------


@pytest.mark.parametrize("engine_name", ["ladybug", "kuzu"])
def test_engine_is_selectable_by_setting(tmp_path: Path, engine_name: str) -> None:
    # Each engine in its own process: the two cannot share one.
    folder = tmp_path / "kb"
    code = textwrap.dedent(
        f"""
        import json, sys
        from pathlib import Path
        from nodespace_lab import KnowledgeBase, load_settings
        folder = Path({str(folder)!r})
        env = {{"NODESPACE_STORAGE_ENGINE": {engine_name!r},
               "NODESPACE_STORAGE_BUFFER_POOL_MB": "32"}}
        settings = load_settings(folder, env=env, user_file=folder / "none.toml")
        with KnowledgeBase(folder, settings=settings) as kb:
            kb.create("text", "hello")
            result = {{"engine": kb.engine, "count": kb.find().count(),
                      "loaded": [m for m in ("ladybug", "kuzu") if m in sys.modules],
                      "files": sorted(p.name for p in folder.iterdir())}}
        print(json.dumps(result))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["engine"] == engine_name
    assert result["loaded"] == [engine_name]
    assert result["count"] == 1
    db_file = {"ladybug": "graph.lbdb", "kuzu": "graph.kuzu"}[engine_name]
    assert db_file in result["files"]

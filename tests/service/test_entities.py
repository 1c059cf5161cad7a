"""Entity kinds through a real `nodespace serve` process (another process, another cwd).

Kind names are unique per test: the module shares one service, and kinds
registered in this pytest process by other tests must not hide what a
client that never saw the kind does.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import polars as pl
import pytest

from nodespace_lab.entities.calc.engine import Mismatch
from nodespace_lab.entities.schema import Field, KindSchema, make_schema
from nodespace_lab.errors import NotFound, ValidationError
from nodespace_lab.nodes.kinds import KINDS
from nodespace_lab.service.client import RemoteKnowledgeBase
from nodespace_lab.service.codec import decode, encode

from .running import RunningService

SCHEMA = """
[kinds.svc_person]
[kinds.svc_person.fields]
name = "text"

[kinds.svc_paper]
description = "A paper"
[kinds.svc_paper.fields]
year = { type = "integer", required = true }
published = "date"
stage = { type = "enum", choices = ["draft", "done"], default = "draft" }
authors = { type = "ref", to = "svc_person", many = true }
"""


def test_schemas_and_fields_round_trip_the_codec() -> None:
    schema = make_schema(
        "paper",
        {
            "year": {"type": "integer", "required": True, "default": 2020, "indexed": True},
            "stage": {"type": "enum", "choices": ["a", "b"], "description": "where it is"},
            "seen": {"type": "list", "of": "date"},
            "authors": {"type": "ref", "to": "person", "many": True},
        },
        description="Papers",
    )
    schema = KindSchema(schema.name, schema.description, schema.fields, version=3)
    back = decode(json.loads(json.dumps(encode([schema, schema.fields[1]]))))
    assert back == [schema, schema.fields[1]]
    assert isinstance(back[1], Field) and back[1].choices == ("a", "b")
    assert back[0].version == 3


def test_define_file_is_read_by_the_client(
    remote: RemoteKnowledgeBase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A relative path: the service runs in another folder, where this file is not.
    monkeypatch.chdir(tmp_path)
    Path("kinds.toml").write_text(SCHEMA, encoding="utf-8")
    defined = remote.define_file("kinds.toml")
    assert [s.name for s in defined] == ["svc_person", "svc_paper"]
    assert remote.schema("svc_paper") == defined[1]
    assert remote.schema("svc_paper").field("stage").choices == ("draft", "done")
    assert remote.changes(since=remote.seq - 1)[0].label == "define from kinds.toml"


def test_define_file_is_all_or_nothing_through_the_service(
    remote: RemoteKnowledgeBase, tmp_path: Path
) -> None:
    remote.define("svc_clash", {"year": "text"})
    path = tmp_path / "clash.toml"
    path.write_text(
        "[kinds.svc_fresh.fields]\nname = 'text'\n[kinds.svc_clash.fields]\nyear = 'integer'\n",
        encoding="utf-8",
    )
    seq = remote.seq
    with pytest.raises(ValidationError, match="'svc_clash' is already defined with other fields"):
        remote.define_file(path)
    assert remote.seq == seq
    assert "svc_fresh" not in [s.name for s in remote.schemas()]
    path.write_text("[kinds.svc_bad.fields]\nyear = 'int'\n", encoding="utf-8")
    with pytest.raises(ValidationError, match=r"clash\.toml: Kind 'svc_bad'"):  # read here
        remote.define_file(path)


def test_errors_arrive_with_their_class_and_message(remote: RemoteKnowledgeBase) -> None:
    with pytest.raises(ValidationError) as local:
        make_schema("svc_bad", {"year": "int"})
    with pytest.raises(ValidationError) as served:
        remote.define("svc_bad", {"year": "int"})
    assert str(served.value) == str(local.value)
    with pytest.raises(NotFound, match="Entity kind 'svc_never' is not defined"):
        remote.schema("svc_never")
    remote.define("svc_note", {"year": {"type": "integer", "required": True}})
    with pytest.raises(ValidationError, match="New svc_note 'N' field 'year' must be an integer"):
        remote.create("svc_note", "N", year="soon")


def test_entities_created_evolved_and_found_through_the_service(
    remote: RemoteKnowledgeBase,
) -> None:
    remote.define("svc_author", {"name": "text"})
    remote.define(
        "svc_book",
        {"year": "integer", "published": "date", "author": {"type": "ref", "to": "svc_author"}},
    )
    # The kind was defined in the service process only: the client never registered it.
    assert "svc_book" not in KINDS
    ada = remote.create("svc_author", "Ada", name="Ada Lovelace")
    old = remote.create("svc_book", "Old", year=1843, published="1843-10-01", author=ada.id)
    new = remote.create("svc_book", "New", year=2024)
    assert remote.entity_values(old.id)["published"] == dt.date(1843, 10, 1)
    query = remote.find("svc_book").where("year", ">", 1900)
    assert query.ids() == [new.id] and query.count() == 1
    frame = remote.find("svc_book").order_by("year", descending=True).to_polars()
    assert frame["title"].to_list() == ["New", "Old"]
    assert frame.schema["year"] == pl.Int64 and frame.schema["published"] == pl.Date

    assert (
        remote.add_field("svc_book", "pages", Field("pages", "integer", default=100)).version == 2
    )
    assert remote.get(new.id).properties["pages"] == 100
    remote.rename_field("svc_book", "pages", "length")
    changed = remote.change_field("svc_book", "length", "number")
    assert changed.field("length").type == "number"
    assert remote.get(old.id).properties["length"] == 100.0
    assert remote.remove_field("svc_book", "length").names() == ["year", "published", "author"]
    with pytest.raises(ValidationError, match="still has 2 entities"):
        remote.delete_kind("svc_book")
    assert sorted(remote.delete_kind("svc_book", cascade=True)) == sorted([old.id, new.id])
    assert "svc_book" not in [s.name for s in remote.schemas()]


def test_the_command_line_sets_entity_fields_through_the_service(
    service: RunningService, tmp_path: Path
) -> None:
    import subprocess
    import sys

    def nodespace(*args: str) -> str:
        command = [sys.executable, "-m", "nodespace_lab", "--kb", str(service.kb_path), *args]
        done = subprocess.run(
            command, env=service.env, cwd=tmp_path, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    (tmp_path / "cli.toml").write_text(
        "[kinds.svc_cli.fields]\nyear = 'integer'\ntags_ = { type = 'list', of = 'text' }\n",
        encoding="utf-8",
    )
    assert nodespace("kind", "define", "--file", "cli.toml") == "svc_cli\n"
    node_id = nodespace("add", "svc_cli", "From the shell", "--set", "year=2024").strip()
    nodespace("set", node_id, "tags_=a,b")
    assert "  year:        2024" in nodespace("show", node_id)
    rows = json.loads(
        nodespace("find", "--kind", "svc_cli", "--where", "year", ">", "2000", "--format", "json")
    )
    assert [(r["id"], r["tags_"]) for r in rows] == [(node_id, ["a", "b"])]


def test_a_calculated_value_mismatch_round_trips_the_codec() -> None:
    mismatch = Mismatch("p1", "project", "progress", 0.9, 0.25)
    assert decode(json.loads(json.dumps(encode([mismatch])))) == [mismatch]

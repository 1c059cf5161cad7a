"""A NodeSpace Lab plugin: a 'paper' node kind, a BibTeX importer and a doctor check.

Install it (`pip install ./examples/plugins/nodespace-paper`), allow it in your
config file (`[plugins] allow = ["paper"]`), then::

    kb.create("paper", "Attention Is All You Need", authors=["Vaswani", "Shazeer"], year=2017)
    run_importer(kb, "bibtex", "refs.bib")       # or: nodespace bibtex refs.bib
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import click

from nodespace_lab.errors import ValidationError
from nodespace_lab.nodes.kinds import KindSpec
from nodespace_lab.plugins import DoctorCheck, Importer, Manifest, PluginHandle, hookimpl

from .bibtex import Entry, parse

__version__ = "1.0.0"

#: Reads (to find papers already imported) and writes nodes; nothing else.
MANIFEST = Manifest(
    "paper",
    __version__,
    api=(1, 1),
    capabilities=frozenset({"read", "write"}),
    summary="A 'paper' kind with a BibTeX importer.",
)

#: The fields of a paper, kept in its properties.
FIELDS = ("key", "authors", "year", "venue", "doi")


def prepare_paper(values: dict[str, Any], old: dict[str, Any] | None) -> dict[str, Any]:
    """Fold the paper fields into `properties`, checking each."""
    given = {name: values.pop(name) for name in FIELDS if name in values}
    if "properties" in values:
        current = json.loads(values["properties"])
    else:
        current = json.loads((old or {}).get("properties") or "{}")
    for name, value in given.items():
        current[name] = _check(name, value, values.get("title") or (old or {}).get("title", ""))
    values["properties"] = json.dumps(current, ensure_ascii=False, sort_keys=True)
    return values


def _check(name: str, value: Any, title: str) -> Any:
    if name == "year":
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool) or not 1000 <= value <= 2999:
            raise ValidationError(
                f"Paper {title!r} field 'year' must be a year such as 2017, not {value!r}."
            )
        return value
    if name == "authors":
        if isinstance(value, str):
            value = [a.strip() for a in value.split(" and ") if a.strip()]
        if not isinstance(value, list) or not all(isinstance(a, str) for a in value):
            raise ValidationError(
                f"Paper {title!r} field 'authors' must be a list of names, not {value!r}."
            )
        return value
    if not isinstance(value, str):
        raise ValidationError(f"Paper {title!r} field {name!r} must be text, not {value!r}.")
    return value


PAPER = KindSpec(
    "paper",
    "A research paper: citation key, authors, year, venue, DOI (from the paper plugin).",
    prepare=prepare_paper,
    open_fields=True,
)


def import_bibtex(kb: PluginHandle, source: Path) -> list[str]:
    """One paper per BibTeX entry of `source`; entries whose key is already there are skipped."""
    entries = parse(source.read_text(encoding="utf-8"), str(source))
    known = {node.properties.get("key") for node in kb.find("paper").all()}
    made = []
    for entry in entries:
        if entry.key not in known:
            made.append(kb.create("paper", **_paper(entry)).id)
            known.add(entry.key)
    return made


def _paper(entry: Entry) -> dict[str, Any]:
    fields = entry.fields
    values: dict[str, Any] = {
        "title": fields.get("title", entry.key),
        "content": fields.get("abstract", ""),
        "key": entry.key,
        "authors": fields.get("author", ""),
    }
    venue = fields.get("journal") or fields.get("booktitle")
    for name, value in (("year", fields.get("year")), ("venue", venue), ("doi", fields.get("doi"))):
        if value:
            values[name] = value
    return values


def papers_without_year(kb: PluginHandle) -> Iterable[tuple[str, str]]:
    """Doctor check: a paper with no year cannot be cited properly."""
    for node in kb.find("paper").all():
        if "year" not in node.properties:
            yield node.id, f"paper {node.title!r} has no year; kb.update({node.id!r}, year=...)"


@click.command("bibtex")
@click.argument("source", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.pass_obj
def bibtex_command(state: Any, source: Path) -> None:
    """Import the entries of a BibTeX file as paper nodes (the paper plugin)."""
    import nodespace_lab
    from nodespace_lab.plugins.registry import run_importer

    with nodespace_lab.open(state.kb_path()) as kb:
        made = run_importer(kb, "bibtex", source)
    click.echo(f"Imported {len(made)} papers from {source}.")


@hookimpl
def nodespace_kinds() -> Sequence[KindSpec]:
    """The paper kind."""
    return [PAPER]


@hookimpl
def nodespace_importers() -> Sequence[Importer]:
    """The BibTeX importer."""
    return [Importer("bibtex", "BibTeX entries as paper nodes", import_bibtex, (".bib",))]


@hookimpl
def nodespace_doctor_checks() -> Sequence[DoctorCheck]:
    """Papers without a year."""
    return [DoctorCheck("paper-year", papers_without_year)]


@hookimpl
def nodespace_cli_commands() -> Sequence[click.Command]:
    """`nodespace bibtex FILE`."""
    return [bibtex_command]

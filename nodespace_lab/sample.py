"""The sample knowledge base of `nodespace init --sample` (and `make lab`).

A small research project: pages that link to each other, an outline three
levels deep, tasks in every status with due dates and priorities, tags, a
collection, and journal pages for yesterday and today. Due dates are relative
to the day the sample is created, so it always looks current.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .kb import KnowledgeBase

READING_LIST = "Reading list"


@dataclass(frozen=True)
class Item:
    """One node of the sample and its children; `due_in` is days from today."""

    title: str
    content: str = ""
    kind: str = "text"
    fields: tuple[tuple[str, Any], ...] = ()
    tags: tuple[str, ...] = ()
    collections: tuple[str, ...] = ()
    children: tuple[Item, ...] = ()

    def values(self, today: dt.date) -> dict[str, Any]:
        """Keyword arguments for `kb.create` (task fields, due date made absolute)."""
        values = dict(self.fields)
        if values.get("due") is not None:
            values["due"] = today + dt.timedelta(days=values["due"])
        return values


def page(title: str, content: str = "", *children: Item, **extra: Any) -> Item:
    """A text node (extra: tags, collections)."""
    return Item(title, content, children=children, **extra)


def task(
    title: str, content: str, status: str, priority: int, due_in: int | None, tag: str
) -> Item:
    """A task due `due_in` days from today (None: no due date)."""
    fields = (("task_status", status), ("priority", priority), ("due", due_in))
    return Item(title, content, "task", fields=fields, tags=(tag,))


WELCOME = """This sample knowledge base follows a small research project. Start with
[[Coral reef survey]], skim the [[Reading list]], and read today's journal page.

Things to try in a terminal:

- `nodespace tree` prints the whole outline
- `nodespace find --kind task --where task_status != done --order-by due`
- `nodespace search bleaching`
- `nodespace journal --append "Sent the site map to the team"`
"""

TASKS = page(
    "Tasks",
    "",
    task("Clean the sonar transects", "Follow the [[Cleaning notes]].", "doing", 1, 2, "data"),
    task("Draft the methods section", "Start from [[Methods]].", "todo", 2, 9, "writing"),
    task("Ask Dr. Okafor about site C permits", "Permits are fine.", "done", 2, -3, "fieldwork"),
    task("Order a spare temperature logger", "The lab has two.", "cancelled", 4, None, "fieldwork"),
    task("Make the bleaching map", "Colour by [[Bleaching index]].", "todo", 3, 14, "figures"),
)

SURVEY = page(
    "Coral reef survey",
    "Field survey of coral bleaching on three reefs. Methods are in [[Methods]]; "
    "background reading is in the [[Reading list]].",
    page(
        "Goals",
        "",
        page("Measure how far bleaching has spread at three sites"),
        page("Compare with the 2016 baseline", "Baseline figures: [[Hughes et al. 2017]]."),
    ),
    page(
        "Data",
        "",
        page(
            "Sonar transects",
            "Raw files in `data/raw/sonar/`, one folder per dive.",
            page(
                "Cleaning notes",
                "Drop pings shallower than 2 m (surface noise) and dives with GPS gaps "
                "over 30 s. See [[Methods]].",
            ),
        ),
        page("Water temperature loggers", "Hourly readings, downloaded after each trip."),
    ),
    TASKS,
    tags=("project",),
)

METHODS = page(
    "Methods",
    "How the survey is done. Every colony is scored with the [[Bleaching index]] "
    "along the transects of the [[Sampling design]].",
    page(
        "Bleaching index",
        "0 healthy, 1 pale, 2 partly bleached, 3 fully bleached, 4 recently dead, 5 dead. "
        "Two people score each photo and settle disagreements together.",
    ),
    page("Sampling design", "Three sites, ten 50 m transects per site, a photo every metre."),
)

LITERATURE = page(
    "Literature",
    "",
    page(
        "Hughes et al. 2017",
        "Global warming and recurrent mass bleaching of corals. Nature 543, 373-377. "
        "The 2016 baseline for the [[Coral reef survey]].",
        tags=("paper",),
        collections=(READING_LIST,),
    ),
    page(
        "Sully et al. 2019",
        "A global analysis of coral bleaching over the past two decades. "
        "Nature Communications 10, 1264. Bleaching thresholds by latitude.",
        tags=("paper",),
        collections=(READING_LIST,),
    ),
)

TODAY = """- Cleaned transects 1-4 of site A; the [[Cleaning notes]] work well.
- The meeting with Dr. Okafor moved to Friday.
- Idea: compare the [[Bleaching index]] with the peaks in water temperature.
"""
YESTERDAY = "Read [[Sully et al. 2019]]: their bleaching thresholds match what we see.\n"
TODAY_TASK = task("Back up the field laptop", "", "todo", 1, 0, "fieldwork")


def _create(kb: KnowledgeBase, item: Item, parent: str | None, ids: dict[str, str]) -> None:
    values = item.values(dt.date.today())
    node = kb.create(item.kind, item.title, item.content, parent=parent, tags=item.tags, **values)
    ids[item.title] = node.id
    for child in item.children:
        _create(kb, child, node.id, ids)


def _collect(kb: KnowledgeBase, items: tuple[Item, ...], ids: dict[str, str]) -> None:
    for item in items:
        for collection in item.collections:
            kb.add_to(ids[item.title], ids[collection])
        _collect(kb, item.children, ids)


def _journal(kb: KnowledgeBase, ids: dict[str, str]) -> None:
    today = dt.date.today()
    kb.update(kb.journal(today - dt.timedelta(days=1)).id, content=YESTERDAY)
    journal = kb.update(kb.journal(today).id, content=TODAY)
    kb.tag(journal.id, "idea")
    _create(kb, TODAY_TASK, journal.id, ids)


def fill_sample(kb: KnowledgeBase) -> int:
    """Add the sample to `kb` as one change set (one `undo` removes it); returns nodes added."""
    before = kb.find().include_deleted().count()
    items = (page("Welcome to NodeSpace Lab", WELCOME), SURVEY, METHODS, LITERATURE)
    ids: dict[str, str] = {}
    with kb.transaction("sample knowledge base"):
        for item in items:
            _create(kb, item, None, ids)
        reading = kb.create("collection", READING_LIST, "Papers to read before the methods draft.")
        ids[READING_LIST] = reading.id
        _collect(kb, items, ids)
        _journal(kb, ids)
    return kb.find().include_deleted().count() - before


__all__ = ["Item", "fill_sample"]

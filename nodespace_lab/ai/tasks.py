"""A sentence becomes a task: `kb.draft_task("remind me to email Ana next Friday")`.

Rules read what must not vary from run to run: the due date (relative to
today, see `dates`), an explicit priority ("high priority", "p2", "urgent"),
`#tags`, and the titles of known nodes the sentence names (which become links).
The model proposes the title and any other nodes mentioned, under a JSON
schema; a proposal is kept only when its words come from the sentence, so a
weak model cannot invent a title. Nothing is written until `draft.create()`.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import NodespaceError, ValidationError
from ..markdown import display_bundle, escape_markdown
from ..models.backend import Backend, GenerationOptions, Message
from .dates import find_date

if TYPE_CHECKING:
    from ..kb.facets import KnowledgeBaseAPI
    from ..nodes import Node

_PRIORITIES: list[tuple[int, re.Pattern[str]]] = [
    (level, re.compile(pattern, re.IGNORECASE))
    for level, pattern in [
        (0, r"[,;]?\s*\bp([1-4])\b"),
        (1, r"[,;]?\s*\b(?:it'?s\s+)?(?:urgent(?:ly)?|critical|asap|(?:top|highest)\s+priority)\b"),
        (2, r"[,;]?\s*\b(?:it'?s\s+)?(?:high\s+priority|important)\b"),
        (3, r"[,;]?\s*\b(?:medium|normal)\s+priority\b"),
        (4, r"[,;]?\s*\b(?:low\s+priority|someday|whenever)\b"),
    ]
]  # fmt: skip
_LEADS = re.compile(
    r"^\s*(?:(?:please|hey|ok|okay)[,\s]+)?(?:remind\s+me\s+to|remember\s+to|"
    r"don'?t\s+forget\s+to|i\s+(?:need|have|must|should)\s+to|i\s+must|todo:?|task:?|"
    r"we\s+(?:need|have)\s+to|need\s+to)\s+",
    re.IGNORECASE,
)
_TAG = re.compile(r"(?<![\w#])#([\w/-]+)")
_WORD = re.compile(r"[\w'-]+")
_STOP = frozenset(
    {
        "a", "an", "and", "the", "to", "of", "for", "on", "in", "at", "by", "with", "about",
        "from", "into", "my", "our", "your", "me", "us", "it", "is", "be", "that", "this",
        "these", "those",
    }
)  # fmt: skip
TASK_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "title": {"type": "string", "maxLength": 120},
        "mentions": {"type": "array", "items": {"type": "string", "maxLength": 60}, "maxItems": 5},
    },
    "required": ["title", "mentions"],
}
_EXAMPLES = [
    ("remind me to call the dentist tomorrow, it's urgent", "Call the dentist", ["dentist"]),
    (
        "review Maria's slides for the lab meeting next week",
        "Review Maria's slides for the lab meeting",
        ["Maria", "lab meeting"],
    ),
    ("buy milk", "Buy milk", []),
]  # fmt: skip


@dataclass
class TaskDraft:
    """A task proposed from a sentence, not yet written. `create()` writes it."""

    sentence: str
    title: str
    due: dt.date | None = None
    priority: int | None = None
    tags: list[str] = field(default_factory=list)
    links: list[tuple[str, str]] = field(default_factory=list)  # (node id, title)
    sources: dict[str, str] = field(default_factory=dict)  # field -> where it came from
    kb: Any = field(default=None, repr=False, compare=False)

    def fields(self) -> dict[str, Any]:
        """The keyword arguments `kb.create("task", ...)` gets."""
        content = ""
        if self.links:
            content = "Mentions: " + ", ".join(f"[[{i}|{_alias(t)}]]" for i, t in self.links)
        return {
            "title": self.title,
            "content": content,
            "due": self.due,
            "priority": self.priority,
            "tags": list(self.tags),
        }

    def create(self, kb: KnowledgeBaseAPI | None = None, *, parent: str | None = None) -> Node:
        """Write the task (after the user confirmed it); returns the new node."""
        target = kb if kb is not None else self.kb
        if target is None:
            raise ValidationError("This task draft has no knowledge base; pass create(kb).")
        return target.create("task", parent=parent, **self.fields())

    def payload(self) -> dict[str, Any]:
        """The draft as JSON-able values (the service sends this)."""
        return {
            "sentence": self.sentence,
            "title": self.title,
            "due": self.due.isoformat() if self.due else None,
            "priority": self.priority,
            "tags": self.tags,
            "links": [list(link) for link in self.links],
            "sources": self.sources,
        }

    @classmethod
    def from_payload(cls, payload: dict[str, Any], kb: Any = None) -> TaskDraft:
        """A draft received from the service, bound to the client `kb`."""
        due = payload.get("due")
        return cls(
            sentence=payload["sentence"],
            title=payload["title"],
            due=dt.date.fromisoformat(due) if due else None,
            priority=payload.get("priority"),
            tags=list(payload.get("tags") or []),
            links=[(str(i), str(t)) for i, t in payload.get("links") or []],
            sources=dict(payload.get("sources") or {}),
            kb=kb,
        )

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        """Rich display: the fields and where each came from, as sanitised HTML
        (the sentence and every field are user text)."""
        footer = "Nothing is written yet: call `.create()` to add it."
        return display_bundle(self._markdown() + "\n\n" + footer, self._plain())

    def _markdown(self) -> str:
        rows = [
            f"| {name} | {escape_markdown(value)} | {escape_markdown(self.sources.get(key, ''))} |"
            for name, value in self._rows()
            for key in [name.lower()]
        ]
        head = f"**Task from:** {escape_markdown(self.sentence)}"
        return "\n".join([head, "", "| | | from |", "|---|---|---|", *rows])

    def _plain(self) -> str:
        return "\n".join([f"Task from: {self.sentence}", *(f"{n}: {v}" for n, v in self._rows())])

    def _rows(self) -> list[tuple[str, str]]:
        return [
            ("Title", self.title),
            ("Due", self.due.isoformat() if self.due else "—"),
            ("Priority", str(self.priority) if self.priority else "—"),
            ("Tags", ", ".join(self.tags) or "—"),
            ("Links", ", ".join(title for _, title in self.links) or "—"),
        ]


def draft_task(
    kb: KnowledgeBaseAPI,
    sentence: str,
    *,
    model: Backend | None = None,
    today: dt.date | None = None,
) -> TaskDraft:
    """Read a task out of `sentence` (rules, then the model if given); nothing is written."""
    text = _check_sentence(sentence)
    day = today or dt.date.today()
    draft = TaskDraft(sentence=text, title="", kb=kb)
    rest = _take_date(draft, text, day)
    rest = _take_priority(draft, rest)
    rest = _take_tags(draft, rest)
    draft.title, draft.sources["title"] = _rule_title(rest), "the sentence, cleaned"
    mentions: list[str] = []
    if model is not None:
        mentions = _model_proposal(draft, model, text)
    draft.links = _known_nodes(kb, text, mentions)
    if draft.links:
        draft.sources["links"] = "titles of existing nodes named in the sentence"
    if not draft.title:
        raise ValidationError(
            f"No task title left in {text!r} once the date and priority are read; "
            "say what to do, e.g. 'email Ana about the draft next Friday'."
        )
    return draft


def _check_sentence(sentence: object) -> str:
    if not isinstance(sentence, str) or not sentence.strip():
        raise ValidationError(f"draft_task() needs a sentence, not {sentence!r}.")
    if len(sentence) > 1000:
        raise ValidationError("draft_task() takes a sentence of at most 1000 characters.")
    return " ".join(sentence.split())


def _take_date(draft: TaskDraft, text: str, today: dt.date) -> str:
    mention = find_date(text, today)
    if mention is None:
        return text
    draft.due = mention.date
    draft.sources["due"] = f"'{mention.text.strip()}' (relative to {today.isoformat()})"
    return text[: mention.start] + " " + text[mention.end :]


def _take_priority(draft: TaskDraft, text: str) -> str:
    for level, pattern in _PRIORITIES:
        match = pattern.search(text)
        if match:
            draft.priority = int(match.group(1)) if level == 0 else level
            draft.sources["priority"] = f"'{match.group(0).strip(' ,;')}'"
            return text[: match.start()] + " " + text[match.end() :]
    return text


def _take_tags(draft: TaskDraft, text: str) -> str:
    draft.tags = [tag.lower() for tag in _TAG.findall(text)]
    if draft.tags:
        draft.sources["tags"] = "#tags in the sentence"
    return _TAG.sub(" ", text)


def _rule_title(text: str) -> str:
    title = _LEADS.sub("", text)
    title = re.sub(r"\s+([,.;:!?])", r"\1", " ".join(title.split()))
    title = title.strip(" ,;:-").rstrip(".!")
    return title[:1].upper() + title[1:]


def _model_proposal(draft: TaskDraft, model: Backend, sentence: str) -> list[str]:
    """Ask the model for a title and mentions; keep only what the sentence supports."""
    from ..models.structured import structured

    try:
        proposal = structured(
            model, _messages(sentence), TASK_SCHEMA, GenerationOptions(max_tokens=96)
        )
    except NodespaceError as error:
        draft.sources["model"] = f"not used ({error})"
        return []
    title = " ".join(str(proposal.get("title", "")).split()).strip(" .")
    if title and _grounded(title, sentence) and find_date(title, dt.date.today()) is None:
        draft.title = title[:1].upper() + title[1:]
        draft.sources["title"] = "the model (its words are all in the sentence)"
    mentions = proposal.get("mentions") or []
    return [str(m) for m in mentions if isinstance(m, str) and _grounded(m, sentence)]


def _messages(sentence: str) -> list[Message]:
    import json

    examples = "\n".join(
        f"Sentence: {s}\nTask: {json.dumps({'title': t, 'mentions': m})}" for s, t, m in _EXAMPLES
    )
    return [
        Message(
            "system",
            "Turn the sentence into a task: a short imperative title (without the date or the "
            "priority) and the people, projects or documents it mentions.\n\n" + examples,
        ),
        Message("user", f"Sentence: {sentence}\nTask:"),
    ]


def _grounded(phrase: str, sentence: str) -> bool:
    """Every content word of `phrase` occurs in `sentence`."""
    words = {w.casefold() for w in _WORD.findall(sentence)}
    content = [w.casefold() for w in _WORD.findall(phrase) if w.casefold() not in _STOP]
    return bool(content) and all(word in words for word in content)


def _known_nodes(kb: KnowledgeBaseAPI, sentence: str, mentions: list[str]) -> list[tuple[str, str]]:
    """Existing nodes whose whole title the sentence contains (longest first, no overlap)."""
    words = [w for w in _WORD.findall(sentence) if w.casefold() not in _STOP and len(w) > 1]
    query = " OR ".join(dict.fromkeys([*words, *mentions]))
    if not query:
        return []
    found: list[tuple[str, str]] = []
    lowered = sentence.casefold()
    for hit in kb.search(query, mode="text", limit=50):
        title = hit.title.strip()
        if hit.kind in ("date", "chat", "tag") or len(title) < 2:
            continue
        if re.search(r"(?<!\w)" + re.escape(title.casefold()) + r"(?!\w)", lowered):
            found.append((hit.id, title))
    found.sort(key=lambda item: -len(item[1]))
    kept: list[tuple[str, str]] = []
    for node_id, title in found:
        if not any(title.casefold() in other.casefold() for _, other in kept):
            kept.append((node_id, title))
    return kept[:5]


def _alias(title: str) -> str:
    return " ".join(title.replace("[", "(").replace("]", ")").replace("|", "/").split())

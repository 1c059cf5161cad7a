"""`kb.ask()`: answers from the knowledge base's own notes, citing them by number.

Three steps, so the service can run the slow middle one off its write queue:
`prepare` retrieves sources (hybrid search, then one step along links and the
hierarchy) and builds the chat messages; the model answers; `finish` checks
the citations against the sources (a citation of anything not retrieved is
removed and reported) and stores the exchange as a chat node that links to
the nodes it cites.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import ValidationError
from ..markdown import display_bundle, escape_markdown
from ..models.backend import Backend, CancelToken, GenerationOptions, Message

if TYPE_CHECKING:
    from ..kb.facets import KnowledgeBaseAPI

# How much of each source the model sees (the 270M default has a small budget).
SOURCE_CHARS = 700
_CITATION = re.compile(r"\[(\d{1,3})\]")
_MAX_QUESTION = 2000

SYSTEM_PROMPT = (
    "You answer questions using only the numbered notes below, from the user's own "
    "knowledge base. After each fact, cite the note it came from by its number in square "
    "brackets, like [1]. If the notes do not contain the answer, say so plainly."
)


@dataclass(frozen=True, slots=True)
class Source:
    """A retrieved node as the model saw it: its number in the prompt, and why it is there."""

    number: int
    id: str
    title: str
    kind: str
    text: str
    reason: str  # "search" or "linked from [n]" / "parent of [n]" / "child of [n]"
    score: float = 0.0


@dataclass(frozen=True, slots=True)
class Citation:
    """One cited source: `[number]` in the answer means node `id`."""

    number: int
    id: str
    title: str


@dataclass
class Answer:
    """The model's answer with its citations, and what was retrieved for it."""

    question: str
    text: str
    citations: list[Citation]
    sources: list[Source]
    invalid_citations: list[str] = field(default_factory=list)
    chat_id: str | None = None
    model: str = ""
    seconds: float = 0.0
    finish_reason: str = "stop"

    @property
    def cited_ids(self) -> list[str]:
        """Ids of the cited nodes, in the order first cited."""
        return [c.id for c in self.citations]

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        """Rich display: the answer and its citations as sanitised HTML (never raw Markdown:
        the model repeats note text word for word, see `nodespace_lab.markdown`)."""
        return display_bundle(self._markdown(), self._plain())

    def _markdown(self) -> str:
        # The model's text keeps its Markdown (rendered without raw HTML, then
        # sanitised); titles and citation markers are user text, escaped.
        lines = [self.text.strip() or "_(no answer)_", ""]
        if self.citations:
            cited = "; ".join(
                f"\\[{c.number}\\] {escape_markdown(c.title)}" for c in self.citations
            )
            lines.append("**Cited:** " + cited)
        if self.invalid_citations:
            removed = ", ".join(escape_markdown(c) for c in self.invalid_citations)
            lines.append("**Removed citations** (not among the retrieved notes): " + removed)
        return "\n".join(lines)

    def _plain(self) -> str:
        lines = [self.text.strip() or "(no answer)"]
        if self.citations:
            lines.append("Cited: " + "; ".join(f"[{c.number}] {c.title}" for c in self.citations))
        if self.invalid_citations:
            lines.append("Removed citations: " + ", ".join(self.invalid_citations))
        return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class Prepared:
    """What `prepare` found: the sources and the messages for the model."""

    question: str
    sources: list[Source]
    messages: list[Message]
    conversation: str | None


def prepare(
    kb: KnowledgeBaseAPI,
    question: str,
    *,
    limit: int = 8,
    conversation: str | None = None,
) -> Prepared:
    """Retrieve sources for `question` and build the chat messages (no model yet)."""
    text = _check_question(question)
    sources = retrieve(kb, text, limit=limit)
    history = _history(kb, conversation) if conversation else []
    messages = [
        Message("system", SYSTEM_PROMPT + "\n\n" + _notes_block(sources)),
        *history,
        Message("user", text),
    ]
    return Prepared(text, sources, messages, conversation)


def retrieve(kb: KnowledgeBaseAPI, question: str, *, limit: int = 8) -> list[Source]:
    """Hybrid search hits, then their parents, links and children, up to `limit` sources."""
    # Earlier answers are not evidence: chat nodes are never sources.
    found = kb.search(question, mode="hybrid", limit=limit * 2)  # text alone without a model
    hits = [hit for hit in found if hit.kind != "chat"][:limit]
    chosen: dict[str, tuple[str, float]] = {hit.id: ("search", hit.score) for hit in hits}
    order = [hit.id for hit in hits]
    for number, node_id in enumerate(list(order), start=1):
        for neighbour, relation in _neighbours(kb, node_id):
            if len(order) >= limit:
                break
            if neighbour not in chosen and kb.get(neighbour).kind != "chat":
                chosen[neighbour] = (f"{relation} [{number}]", 0.0)
                order.append(neighbour)
    return [_source(kb, n, node_id, *chosen[node_id]) for n, node_id in enumerate(order, 1)]


def generate(
    model: Backend,
    prepared: Prepared,
    *,
    max_tokens: int = 384,
    cancel: CancelToken | None = None,
) -> Iterator[str]:
    """The model's answer, piece by piece."""
    options = GenerationOptions(max_tokens=max_tokens)
    return model.stream_chat(prepared.messages, options, cancel)


def finish(
    kb: KnowledgeBaseAPI | None,
    prepared: Prepared,
    text: str,
    *,
    model_name: str = "",
    seconds: float = 0.0,
    finish_reason: str = "stop",
) -> Answer:
    """Check the answer's citations and, with `kb`, store the exchange as a chat node
    (not when the answer was cancelled: a stopped answer is not kept)."""
    clean, citations, invalid = check_citations(text, prepared.sources)
    answer = Answer(
        prepared.question, clean, citations, prepared.sources, invalid,
        model=model_name, seconds=seconds, finish_reason=finish_reason,
    )  # fmt: skip
    if kb is not None and finish_reason != "cancelled":
        answer.chat_id = save_chat(kb, answer, prepared.conversation)
    return answer


def ask(
    kb: KnowledgeBaseAPI,
    model: Backend,
    question: str,
    *,
    limit: int = 8,
    max_tokens: int = 384,
    conversation: str | None = None,
    save: bool = True,
    on_piece: Callable[[str], None] | None = None,
    cancel: CancelToken | None = None,
) -> Answer:
    """Retrieve, answer and check citations in one call (streaming pieces to `on_piece`)."""
    prepared = prepare(kb, question, limit=limit, conversation=conversation)
    started = time.perf_counter()
    pieces = generate(model, prepared, max_tokens=max_tokens, cancel=cancel)
    parts: list[str] = []
    reason = "stop"
    while True:
        try:
            piece = next(pieces)
        except StopIteration as done:
            if done.value:
                reason = done.value[2]
            break
        parts.append(piece)
        if on_piece is not None:
            on_piece(piece)
    name = model.info.name if model.info else ""
    elapsed = time.perf_counter() - started
    return finish(
        kb if save else None, prepared, "".join(parts),
        model_name=name, seconds=elapsed, finish_reason=reason,
    )  # fmt: skip


def check_citations(text: str, sources: Sequence[Source]) -> tuple[str, list[Citation], list[str]]:
    """Keep citations of retrieved sources; remove the others (returned as `[n]` strings)."""
    by_number = {source.number: source for source in sources}
    cited: dict[int, Citation] = {}
    invalid: list[str] = []

    def keep(match: re.Match[str]) -> str:
        number = int(match.group(1))
        source = by_number.get(number)
        if source is None:
            invalid.append(match.group(0))
            return ""
        cited.setdefault(number, Citation(number, source.id, source.title))
        return match.group(0)

    clean = _CITATION.sub(keep, text)
    clean = re.sub(r"[ \t]+([.,;:!?])", r"\1", clean) if invalid else clean
    return clean, list(cited.values()), invalid


def save_chat(kb: KnowledgeBaseAPI, answer: Answer, conversation: str | None) -> str:
    """Append the exchange to chat node `conversation` (or a new one under today's
    journal page); `[[id|title]]` references make it link to every cited node."""
    turn = _turn_markdown(answer)
    if conversation:
        chat = kb.get(conversation)
        if chat.kind != "chat":
            raise ValidationError(
                f"Conversation {conversation!r} is a {chat.kind} node, not a chat; pass the "
                "chat_id of an earlier answer, or None to start a new conversation."
            )
        kb.update(conversation, content=chat.content.rstrip() + "\n\n" + turn)
        return conversation
    question = " ".join(answer.question.split())  # a title is one line; the content keeps all
    title = question if len(question) <= 120 else question[:119] + "…"
    return kb.create("chat", title, turn, parent=kb.journal().id).id


def _turn_markdown(answer: Answer) -> str:
    lines = [f"**Question:** {answer.question}", "", f"**Answer:** {answer.text.strip()}"]
    if answer.citations:
        lines += ["", "**Sources:**"]
        lines += [f"- [{c.number}] [[{c.id}|{_link_text(c.title)}]]" for c in answer.citations]
    if answer.invalid_citations:
        lines += ["", f"_Removed citations: {', '.join(answer.invalid_citations)}_"]
    return "\n".join(lines)


def _link_text(title: str) -> str:
    return " ".join(title.replace("[", "(").replace("]", ")").replace("|", "/").split()) or "…"


def _history(kb: KnowledgeBaseAPI, conversation: str) -> list[Message]:
    """Earlier questions and answers of a chat node, as chat turns."""
    content = kb.get(conversation).content
    messages: list[Message] = []
    for block in content.split("**Question:** ")[1:]:
        question, _, rest = block.partition("\n")
        answer = rest.split("**Answer:** ", 1)[-1].split("\n\n**Sources:**", 1)[0]
        messages += [Message("user", question.strip()), Message("assistant", answer.strip())]
    return messages[-6:]  # the last three exchanges: the context window is small


def _check_question(question: object) -> str:
    if not isinstance(question, str) or not question.strip():
        raise ValidationError(f"ask() needs a question as non-empty text, not {question!r}.")
    text = question.strip()
    if len(text) > _MAX_QUESTION:
        raise ValidationError(
            f"The question is {len(text)} characters long; ask() takes at most {_MAX_QUESTION}."
        )
    return text


def _neighbours(kb: KnowledgeBaseAPI, node_id: str) -> Iterator[tuple[str, str]]:
    node = kb.get(node_id)
    if node.parent_id and node.kind != "date":
        yield node.parent_id, "parent of"
    for linked in kb.links(node_id):
        yield linked.id, "linked from"
    for child in kb.children(node_id)[:3]:
        yield child.id, "child of"


def _source(kb: KnowledgeBaseAPI, number: int, node_id: str, reason: str, score: float) -> Source:
    node = kb.get(node_id)
    text = " ".join(node.content.split())
    if len(text) > SOURCE_CHARS:
        text = text[: SOURCE_CHARS - 1] + "…"
    return Source(number, node.id, node.title, node.kind, text, reason, score)


def _notes_block(sources: Sequence[Source]) -> str:
    if not sources:
        return "Notes: (none found for this question)"
    lines = ["Notes:"]
    for source in sources:
        body = f": {source.text}" if source.text else ""
        lines.append(f"[{source.number}] {source.title}{body}")
    return "\n".join(lines)


def answer_payload(answer: Answer) -> dict[str, Any]:
    """The answer as plain JSON-able values (service and widgets)."""
    return {
        "question": answer.question,
        "text": answer.text,
        "citations": [{"number": c.number, "id": c.id, "title": c.title} for c in answer.citations],
        "sources": [
            {"number": s.number, "id": s.id, "title": s.title, "kind": s.kind, "reason": s.reason}
            for s in answer.sources
        ],
        "invalid_citations": answer.invalid_citations,
        "chat_id": answer.chat_id,
        "model": answer.model,
        "seconds": answer.seconds,
        "finish_reason": answer.finish_reason,
    }

"""A question becomes a query: `kb.draft_query("open tasks due this week")`.

`mode="find"` builds a `kb.find(...)` query from a spec whose kinds, fields,
operators and tags are the ones this knowledge base has. Rules read statuses,
dates (relative to today), priorities, #tags, topics, order and limits; the
model (if given) may add a topic or tags under a JSON schema, kept only when
the question contains them. `mode="cypher"` asks the model for read-only Cypher
grounded in the schema; it is validated (one statement of read clauses, then
prepared by the engine without running) and repaired once from the engine's
error, or refused. Nothing runs until the user
calls `run()` or `live()`; a draft is shown first.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import NodespaceError, QueryError, ValidationError
from ..graph.cypher import check_query
from ..models.backend import Backend, GenerationOptions, Message
from .dates import find_date

if TYPE_CHECKING:
    import polars as pl

    from ..kb.facets import KnowledgeBaseAPI
    from ..live import LiveQuery
    from ..nodes.query import Find

OPEN = ["todo", "doing"]
_KIND_WORDS = {
    "task": r"tasks?|to-?dos?|reminders?",
    "text": r"notes?",
    "date": r"journal(?:\s+pages?)?|days?|daily\s+pages?",
    "chat": r"chats?|conversations?",
    "collection": r"collections?",
}
_STATUS_WORDS = [
    (["done"], r"done|finished|completed|closed"),
    (["doing"], r"in\s+progress|doing|started"),
    (["cancelled"], r"cancel+ed"),
    (OPEN, r"open|pending|unfinished|not\s+done|outstanding|to\s+do|remaining|todo"),
]
_TOPIC = re.compile(
    r"\b(?:about|mentioning|containing|regarding|on\s+the\s+topic\s+of|that\s+mention)\s+"
    r"(?P<topic>[\w'\- ]{2,60}?)(?=\s+(?:due|tagged|with|that|which|from|before|after|by|"
    r"sorted|ordered|in|this|next|overdue)\b|[,.?!;]|$)",
    re.IGNORECASE,
)
_TAGGED = re.compile(r"(?:#|\btagged\s+#?|\bwith\s+(?:the\s+)?tag\s+#?)([\w/-]+)", re.IGNORECASE)
_LIMIT = re.compile(
    r"\b(?:top|first|last|latest|newest)\s+(\d{1,3})\b"
    r"|\b(\d{1,3})\s+(?:most\s+)?(?:recent|latest|newest)\b",
    re.IGNORECASE,
)
_PRIORITY_EXACT = re.compile(r"\b(?:p|priority\s+)([1-4])\b", re.IGNORECASE)
CYPHER_EXAMPLES = [
    (
        "open tasks",
        "MATCH (n:Node) WHERE n.kind = 'task' AND n.task_status IN ['todo', 'doing'] "
        "AND n.status <> 'deleted' RETURN n.id AS id, n.title AS title, n.due AS due "
        "ORDER BY n.due",
    ),
    (
        "notes that link to Project X",
        "MATCH (n:Node)-[:LINKS_TO]->(m:Node) WHERE lower(m.title) = 'project x' "
        "AND n.status <> 'deleted' RETURN n.id AS id, n.title AS title",
    ),
]


@dataclass
class QueryDraft:
    """A query proposed from a question, not yet run: `run()`, `live()` or `.code`."""

    question: str
    mode: str
    spec: dict[str, Any] = field(default_factory=dict)
    cypher: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    kb: Any = field(default=None, repr=False, compare=False)

    @property
    def code(self) -> str:
        """The Python that runs this query (what the user reads and can edit)."""
        if self.mode == "cypher":
            return f"kb.cypher({self.cypher!r})"
        return _builder_code(self.spec)

    def find(self) -> Find:
        """The `kb.find(...)` query (find mode)."""
        if self.mode != "find":
            raise ValidationError("This draft is Cypher; use run() or live(), not find().")
        return _build(self.kb, self.spec)

    def run(self) -> pl.DataFrame:
        """Run the query read-only; one row per result."""
        if self.mode == "cypher":
            frame: pl.DataFrame = self.kb.cypher(self.cypher, self.params)
            return frame
        return self.find().to_polars()

    def live(self) -> LiveQuery:
        """The query as a live query (display it for a live table widget)."""
        if self.mode == "cypher":
            live: LiveQuery = self.kb.live(self.cypher, self.params)
            return live
        return self.kb.live(self.find())  # type: ignore[no-any-return]

    def payload(self) -> dict[str, Any]:
        """The draft as JSON-able values (the service sends this)."""
        return {
            "question": self.question,
            "mode": self.mode,
            "spec": self.spec,
            "cypher": self.cypher,
            "params": {k: _jsonable(v) for k, v in self.params.items()},
            "code": self.code,
            "sources": self.sources,
        }

    @classmethod
    def from_payload(cls, payload: dict[str, Any], kb: Any = None) -> QueryDraft:
        """A draft received from the service, bound to the client `kb`."""
        return cls(
            question=payload["question"],
            mode=payload["mode"],
            spec=payload.get("spec") or {},
            cypher=payload.get("cypher") or "",
            params={} if payload["mode"] == "find" else dict(payload.get("params") or {}),
            sources=dict(payload.get("sources") or {}),
            kb=kb,
        )

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        """Rich display: the question, the code and where each part came from, as
        sanitised HTML (the question and the model's parts are user text)."""
        from ..markdown import display_bundle

        footer = "Nothing has run yet: `.run()` for a table, `.live()` for a live widget."
        return display_bundle(self._markdown() + "\n\n" + footer, f"{self.question}\n{self.code}")

    def _markdown(self) -> str:
        from ..markdown import code_block, escape_markdown

        lines = [
            f"**Query from:** {escape_markdown(self.question)}",
            "",
            code_block(self.code, "python"),
        ]
        if self.sources:
            lines += [""]
            lines += [
                f"- {escape_markdown(part)}: {escape_markdown(how)}"
                for part, how in self.sources.items()
            ]
        return "\n".join(lines)


def draft_query(
    kb: KnowledgeBaseAPI,
    question: str,
    *,
    mode: str = "find",
    model: Backend | None = None,
    today: dt.date | None = None,
) -> QueryDraft:
    """Turn `question` into a validated, read-only query (not run)."""
    text = _check_question(question)
    if mode == "cypher":
        if model is None:
            raise ValidationError("mode='cypher' needs the model; use mode='find' without one.")
        return _cypher_draft(kb, text, model)
    if mode != "find":
        raise ValidationError(f"draft_query mode {mode!r} is not known; use 'find' or 'cypher'.")
    draft = QueryDraft(text, "find", kb=kb)
    draft.spec = _rules(kb, text, today or dt.date.today(), draft.sources)
    if model is not None:
        _model_additions(kb, draft, model)
    query = _build(kb, draft.spec)
    draft.cypher, draft.params = query.compile()
    _explain(kb, draft.cypher, draft.params)
    return draft


# -- find mode: rules --------------------------------------------------------


def _rules(
    kb: KnowledgeBaseAPI, text: str, today: dt.date, sources: dict[str, str]
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "kind": None,
        "where": [],
        "tags": [],
        "text": None,
        "order": [],
        "limit": 50,
    }
    _rule_kind(spec, text, sources)
    _rule_status(spec, text, sources)
    _rule_dates(spec, text, today, sources)
    _rule_priority(spec, text, sources)
    _rule_tags(kb, spec, text, sources)
    _rule_topic(spec, text, sources)
    _rule_order_and_limit(spec, text, sources)
    return spec


def _rule_kind(spec: dict[str, Any], text: str, sources: dict[str, str]) -> None:
    for kind, words in _KIND_WORDS.items():
        match = re.search(rf"\b(?:{words})\b", text, re.IGNORECASE)
        if match:
            spec["kind"] = kind
            sources["kind"] = f"'{match.group(0)}'"
            return


def _rule_status(spec: dict[str, Any], text: str, sources: dict[str, str]) -> None:
    if re.search(r"\boverdue\b|\blate\b", text, re.IGNORECASE):
        return  # handled with the dates
    for statuses, words in _STATUS_WORDS:
        match = re.search(rf"\b(?:{words})\b", text, re.IGNORECASE)
        if match:
            spec["kind"] = spec["kind"] or "task"
            op, value = ("in", statuses) if len(statuses) > 1 else ("=", statuses[0])
            spec["where"].append(["task_status", op, value])
            sources["status"] = f"'{match.group(0)}'"
            return


def _rule_dates(spec: dict[str, Any], text: str, today: dt.date, sources: dict[str, str]) -> None:
    if re.search(r"\boverdue\b|\blate\b", text, re.IGNORECASE):
        spec["kind"] = "task"
        spec["where"] += [["task_status", "in", OPEN], ["due", "<", today.isoformat()]]
        sources["due"] = f"'overdue': due before {today.isoformat()}, still open"
        return
    week = re.search(r"\b(this|next)\s+week\b", text, re.IGNORECASE)
    if week:
        monday = today - dt.timedelta(days=today.weekday())
        if week.group(1).lower() == "next":
            monday += dt.timedelta(weeks=1)
        start = max(monday, today) if week.group(1).lower() == "this" else monday
        end = monday + dt.timedelta(days=6)
        spec["where"] += [["due", ">=", start.isoformat()], ["due", "<=", end.isoformat()]]
        sources["due"] = f"'{week.group(0)}': {start.isoformat()} to {end.isoformat()}"
        return
    mention = find_date(text, today)
    if mention is None:
        return
    lead = mention.text.strip().split()[0].lower()
    op = {"before": "<", "by": "<=", "until": "<="}.get(lead, "=")
    spec["where"].append(["due", op, mention.date.isoformat()])
    sources["due"] = f"'{mention.text.strip()}': due {op} {mention.date.isoformat()}"


def _rule_priority(spec: dict[str, Any], text: str, sources: dict[str, str]) -> None:
    exact = _PRIORITY_EXACT.search(text)
    if exact:
        spec["where"].append(["priority", "=", int(exact.group(1))])
        sources["priority"] = f"'{exact.group(0)}'"
    elif match := re.search(r"\b(?:high(?:est)?[-\s]priority|urgent|important)\b", text, re.I):
        spec["where"].append(["priority", "<=", 2])
        sources["priority"] = f"'{match.group(0)}': priority 1 or 2"
    elif match := re.search(r"\blow[-\s]priority\b", text, re.IGNORECASE):
        spec["where"].append(["priority", ">=", 3])
        sources["priority"] = f"'{match.group(0)}': priority 3 or 4"


def _rule_tags(
    kb: KnowledgeBaseAPI, spec: dict[str, Any], text: str, sources: dict[str, str]
) -> None:
    known = _known_tags(kb)
    for name in _TAGGED.findall(text):
        if name.lower() in known:
            spec["tags"].append(name.lower())
    if spec["tags"]:
        sources["tags"] = ", ".join(f"#{t}" for t in spec["tags"])


def _rule_topic(spec: dict[str, Any], text: str, sources: dict[str, str]) -> None:
    match = _TOPIC.search(text)
    if match:
        spec["text"] = match.group("topic").strip()
        sources["text"] = f"'{match.group(0).strip()}'"


def _rule_order_and_limit(spec: dict[str, Any], text: str, sources: dict[str, str]) -> None:
    if re.search(r"\b(?:newest|latest|recent(?:ly)?|last)\b", text, re.IGNORECASE):
        spec["order"] = [["updated_at", True]]
        sources["order"] = "newest first"
    elif re.search(r"\boldest\b", text, re.IGNORECASE):
        spec["order"] = [["created_at", False]]
        sources["order"] = "oldest first"
    elif spec["kind"] == "task" or re.search(r"\b(?:soonest|due\s+first|by\s+due)\b", text, re.I):
        spec["order"] = [["due", False]]
        sources["order"] = "soonest due first"
    limit = _LIMIT.search(text)
    if limit:
        spec["limit"] = max(1, min(500, int(limit.group(1) or limit.group(2))))
        sources["limit"] = f"'{limit.group(0)}'"


# -- find mode: the model ------------------------------------------------------


def _model_additions(kb: KnowledgeBaseAPI, draft: QueryDraft, model: Backend) -> None:
    """The model may add a topic or tags; kept only when the question says them."""
    from ..models.structured import structured

    tags = sorted(_known_tags(kb))[:200]
    schema = _find_schema(tags)
    try:
        proposal = structured(
            model, _find_messages(draft.question, tags), schema, GenerationOptions(max_tokens=64)
        )
    except NodespaceError as error:
        draft.sources["model"] = f"not used ({error})"
        return
    lowered = draft.question.casefold()
    topic = str(proposal.get("topic") or "").strip()
    if not draft.spec["text"] and topic.casefold() in lowered and _new_words(topic, draft):
        draft.spec["text"] = topic
        draft.sources["text"] = "the model (the words are in the question)"
    added = [t for t in proposal.get("tags") or [] if t in tags and t not in draft.spec["tags"]]
    added = [t for t in added if re.search(rf"\b{re.escape(t)}\b", lowered)]
    if added:
        draft.spec["tags"] += added
        draft.sources["tags"] = "the model (named in the question)"


# Words that say nothing about a topic ("show me all open tasks due ...").
_FILLER = frozenset(
    {"a", "all", "an", "any", "are", "due", "find", "for", "get", "is", "list", "me", "my",
     "of", "show", "that", "the", "which", "with"}
)  # fmt: skip


def _new_words(topic: str, draft: QueryDraft) -> bool:
    """Whether `topic` says something the rules have not read already (a base model
    tends to offer the whole question, "open tasks", as its topic)."""
    read = set(re.findall(r"\w+", " ".join(draft.sources.values()).casefold()))
    return any(w not in read | _FILLER for w in re.findall(r"\w+", topic.casefold()))


def _find_schema(tags: list[str]) -> dict[str, Any]:
    tag_items: dict[str, Any] = (
        {"type": "string", "enum": tags} if tags else {"type": "string", "maxLength": 1}
    )
    return {
        "type": "object",
        "properties": {
            "topic": {"type": "string", "maxLength": 60},
            "tags": {"type": "array", "items": tag_items, "maxItems": 3},
        },
        "required": ["topic", "tags"],
    }


def _find_messages(question: str, tags: list[str]) -> list[Message]:
    shown = ", ".join(tags[:50]) or "(none)"
    return [
        Message(
            "system",
            "Read the question about a personal knowledge base. Give its topic (a few words "
            f"copied from the question, or empty) and which of these tags it names: {shown}.\n"
            'Question: notes about sourdough baking tagged kitchen\n{"topic": "sourdough baking", '
            '"tags": ["kitchen"]}',
        ),
        Message("user", f"Question: {question}"),
    ]


# -- building and checking ---------------------------------------------------------


def _build(kb: KnowledgeBaseAPI, spec: dict[str, Any]) -> Find:
    query = kb.find(spec["kind"]) if spec.get("kind") else kb.find()
    for name, op, value in spec.get("where", []):
        query = query.where(name, op, _typed(name, value))
    if spec.get("tags"):
        query = query.tagged(*spec["tags"])
    if spec.get("text"):
        query = query.contains(spec["text"])
    for name, descending in spec.get("order", []):
        query = query.order_by(name, descending=descending)
    return query.limit(int(spec.get("limit") or 50))


def _jsonable(value: Any) -> Any:
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


def _typed(name: str, value: Any) -> Any:
    if name in ("due", "scheduled") and isinstance(value, str):
        return dt.date.fromisoformat(value)
    return value


def _builder_code(spec: dict[str, Any]) -> str:
    parts = [f"kb.find({spec['kind']!r})" if spec.get("kind") else "kb.find()"]
    for name, op, value in spec.get("where", []):
        shown = f"date.fromisoformat({value!r})" if name in ("due", "scheduled") else repr(value)
        parts.append(f".where({name!r}, {op!r}, {shown})")
    if spec.get("tags"):
        parts.append(".tagged(" + ", ".join(repr(t) for t in spec["tags"]) + ")")
    if spec.get("text"):
        parts.append(f".contains({spec['text']!r})")
    for name, descending in spec.get("order", []):
        parts.append(f".order_by({name!r}" + (", descending=True)" if descending else ")"))
    parts.append(f".limit({int(spec.get('limit') or 50)})")
    return "".join(parts)


def _explain(kb: KnowledgeBaseAPI, query: str, params: dict[str, Any]) -> None:
    """Check `query` and have the engine parse, bind and plan it, never run it.

    `QueryError` (with the engine's words) if it is refused or does not bind. The
    engine only prepares the one checked statement, inside a read-only transaction.
    """
    check_query(query, write=False)
    store = getattr(kb, "store", None)
    if store is None:  # a service client: the service checks it again and runs the
        # EXPLAIN (which plans, never executes) prepared in a read-only transaction
        kb.cypher("EXPLAIN " + query, params)
        return
    store.prepare_read(query, params)


def _known_tags(kb: KnowledgeBaseAPI) -> set[str]:
    frame = kb.cypher("MATCH (t:Node) WHERE t.kind = 'tag' RETURN t.title AS title LIMIT 1000")
    return {str(title).lower() for title in frame["title"].to_list()}


def _check_question(question: object) -> str:
    if not isinstance(question, str) or not question.strip():
        raise ValidationError(f"draft_query() needs a question, not {question!r}.")
    if len(question) > 1000:
        raise ValidationError("draft_query() takes a question of at most 1000 characters.")
    return " ".join(question.split())


# -- cypher mode ---------------------------------------------------------------


def _cypher_draft(kb: KnowledgeBaseAPI, question: str, model: Backend) -> QueryDraft:
    messages = [Message("system", _schema_prompt(kb)), Message("user", question)]
    options = GenerationOptions(max_tokens=160, stop=("\n\n", ";"))
    errors: list[str] = []
    for _ in range(2):  # the first try, then one repair from the engine's error
        query = _first_statement(model.chat(messages, options).text)
        try:
            if not query:
                raise QueryError("the model wrote no query")
            _explain(kb, query, {})
        except (QueryError, ValidationError) as error:
            errors.append(f"{query or '(empty)'} -> {error}")
            messages += [
                Message("assistant", query),
                Message("user", f"That query fails: {error}. Write a corrected read-only query."),
            ]
            continue
        draft = QueryDraft(question, "cypher", cypher=query, kb=kb)
        draft.sources["cypher"] = "the model, checked: read-only, parsed and bound (not run)"
        if errors:
            draft.sources["repair"] = f"repaired after: {errors[0]}"
        return draft
    raise QueryError(
        f"Could not turn {question!r} into a valid read-only Cypher query "
        f"(tried {len(errors)} times; last: {errors[-1]}). Nothing was run. Rephrase the "
        "question, write the Cypher yourself with kb.cypher(), or use mode='find'."
    )


def _first_statement(text: str) -> str:
    body = text.strip()
    fenced = re.search(r"```(?:cypher)?\s*(.*?)```", body, re.DOTALL | re.IGNORECASE)
    if fenced:
        body = fenced.group(1)
    return " ".join(body.split(";")[0].split())


def _schema_prompt(kb: KnowledgeBaseAPI) -> str:
    from ..nodes.kinds import KINDS
    from ..nodes.query import FIELDS

    examples = "\n".join(f"Question: {q}\nCypher: {c}" for q, c in CYPHER_EXAMPLES)
    kinds = ", ".join(sorted(KINDS))
    return (
        "Write one read-only Cypher query (Kùzu dialect) for the question. Schema: node table "
        f"Node({', '.join(FIELDS)}); kind is one of {kinds}; task_status is todo, doing, done "
        "or cancelled; status is active, archived or deleted. Relationships: "
        "(Node)-[:CHILD_OF]->(Node) parent, (Node)-[:LINKS_TO]->(Node) link, "
        "(Node)-[:MEMBER_OF]->(Node) tag or collection. Never write (no CREATE, SET, DELETE, "
        "MERGE). Return columns with AS names.\n" + examples
    )

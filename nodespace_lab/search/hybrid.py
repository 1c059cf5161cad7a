"""Semantic and hybrid search results: score fusion, and snippets for vector-only hits.

Hybrid search scores a node `cosine + TEXT_WEIGHT * bm25 / (bm25 + BM25_HALF)`:
the similarity of its best chunk plus a bounded bonus for matching the words.
Measured on the labelled set of tests/search/test_semantic_search.py (12 notes,
10 paraphrase and 6 keyword queries, top-1): this fusion 10/10 and 6/6 for
TEXT_WEIGHT 0.1-0.5; reciprocal-rank fusion (k=60) 9/10 and 6/6 with ties
going to the vector ranking, 5/10 with ties going to BM25 (a paraphrase's
best BM25 hit is often a note sharing only words like "to" and "how");
vectors alone 10/10 and 5/6; BM25 alone 2/10 and 6/6. Dividing BM25 by its
maximum instead of saturating it fell to 4-7/10: the top BM25 hit of a
paraphrase gets the full bonus however weak its match.
Nothing here imports numpy: it works on hits, not vectors.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..errors import ValidationError
from .fulltext import SearchDoc, SearchHit

if TYPE_CHECKING:
    from .vectors import VectorHit

MODES = ("text", "semantic", "hybrid")
#: Largest bonus a full-text match adds to a cosine similarity in hybrid mode.
TEXT_WEIGHT = 0.3
#: BM25 score at which a full-text match earns half of TEXT_WEIGHT.
BM25_HALF = 5.0
#: Vector hits below this cosine similarity enter a hybrid ranking only with a text
#: match: with MiniLM, unrelated texts score around 0 and loose paraphrases from ~0.3.
HYBRID_MIN_SIMILARITY = 0.2

# Words too common to be worth highlighting in a semantic snippet.
_STOP = frozenset(
    {
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "but",
        "by",
        "can",
        "do",
        "does",
        "for",
        "from",
        "has",
        "have",
        "how",
        "i",
        "if",
        "in",
        "is",
        "it",
        "its",
        "me",
        "my",
        "of",
        "on",
        "or",
        "our",
        "so",
        "that",
        "the",
        "their",
        "them",
        "there",
        "these",
        "they",
        "this",
        "to",
        "was",
        "we",
        "what",
        "when",
        "where",
        "which",
        "who",
        "why",
        "will",
        "with",
        "you",
        "your",
    }
)


def check_mode(mode: object) -> str:
    """`mode` if it is one of MODES, else a ValidationError naming the allowed values."""
    if not isinstance(mode, str) or mode not in MODES:
        raise ValidationError(
            f"Search mode {mode!r} is unknown; use one of {', '.join(map(repr, MODES))}, "
            "e.g. kb.search('how to bake bread', mode='semantic')."
        )
    return mode


def query_terms(text: str) -> list[str]:
    """The words of a query worth highlighting (lowercase, no stop words, no duplicates)."""
    words = re.findall(r"\w+", text.lower())
    return list(dict.fromkeys(w for w in words if w not in _STOP and len(w) > 1))


def highlight(
    text: str, terms: Sequence[str], chars: int
) -> tuple[str, tuple[tuple[int, int], ...]]:
    """About `chars` of `text` and the ranges of the words in it starting with a term.

    The window starts at the beginning, or shortly before the first term when
    that would fall outside it; it is cut at word ends.
    """
    flat = " ".join(text.split())
    if not terms:
        return _clip(flat, chars), ()
    pattern = re.compile(r"\b(?:" + "|".join(map(re.escape, terms)) + r")\w*", re.IGNORECASE)
    first = pattern.search(flat)
    if first is not None and first.end() > chars:
        start = flat.rfind(" ", 0, max(first.start() - chars // 4, 0)) + 1
        flat = flat[start:]
    snippet = _clip(flat, chars)
    return snippet, tuple(m.span() for m in pattern.finditer(snippet))


def semantic_hit(
    doc: SearchDoc, hit: VectorHit, chunk_text: str, terms: Sequence[str], chars: int
) -> SearchHit:
    """A `SearchHit` for a vector hit: snippet from its best chunk, score = cosine."""
    snippet, highlights = highlight(chunk_text, terms, chars)
    return SearchHit(doc.id, doc.kind, doc.title, hit.score, snippet, highlights)


def fuse(
    text_hits: Sequence[SearchHit],
    vector_hits: Sequence[SearchHit],
    *,
    limit: int,
    offset: int,
) -> list[SearchHit]:
    """One page of the fused ranking (see the module doc); text hits keep their BM25 snippet.

    A text hit missing from `vector_hits` (ranked too low there) is given the
    lowest similarity seen, a bound on its own.
    """
    cosine = {h.id: h.score for h in vector_hits}
    floor = min(cosine.values(), default=0.0)
    by_id: dict[str, SearchHit] = {}
    scores: dict[str, float] = {}
    for hit in vector_hits:
        if hit.score >= HYBRID_MIN_SIMILARITY:
            by_id[hit.id], scores[hit.id] = hit, hit.score
    for hit in text_hits:
        bonus = TEXT_WEIGHT * max(hit.score, 0.0) / (max(hit.score, 0.0) + BM25_HALF)
        by_id[hit.id], scores[hit.id] = hit, cosine.get(hit.id, floor) + bonus
    ranked = sorted(scores.items(), key=lambda item: -item[1])
    return [_rescored(by_id[node_id], score) for node_id, score in ranked[offset : offset + limit]]


def _rescored(hit: SearchHit, score: float) -> SearchHit:
    return SearchHit(hit.id, hit.kind, hit.title, score, hit.snippet, hit.highlights)


def _clip(text: str, chars: int) -> str:
    if len(text) <= chars:
        return text
    cut = text[:chars]
    space = cut.rfind(" ")
    return cut[:space] if space > chars // 2 else cut


__all__ = [
    "BM25_HALF",
    "HYBRID_MIN_SIMILARITY",
    "MODES",
    "TEXT_WEIGHT",
    "check_mode",
    "fuse",
    "highlight",
    "query_terms",
    "semantic_hit",
]

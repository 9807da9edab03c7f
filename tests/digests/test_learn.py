"""Learned topics (digests/learn/): names only, precision on unrelated stories, steering."""

from __future__ import annotations

import dataclasses
import io
import random
import re
from collections.abc import Sequence

import numpy as np
import pytest
from numpy.typing import NDArray

from digests import learn
from digests.errors import InputError
from digests.learn import (
    MIN_ARTICLES,
    Correction,
    TopicModel,
    TopicSpec,
    classify,
    fit,
    fitting,
    sample,
    vectors,
)
from tests.digests.topic_corpus import corpus, story

ROWS = corpus(40)
TEXTS = [f"{title}\n{body}" for _, title, body in ROWS]
SUBJECTS = [subject for subject, _, _ in ROWS]
WANTED = {"sport": "sport", "tech": "tech"}


def _top(model: TopicModel, texts: list[str]) -> list[str | None]:
    return [tags[0][0] if tags else None for tags in model.tag(texts)]


def test_names_alone_tag_stories_that_never_say_the_name_and_leave_others_untagged() -> None:
    model = fit(TEXTS, [TopicSpec("sport"), TopicSpec("tech")])
    assert model is not None
    top = _top(model, TEXTS)
    for subject in ("sport", "tech"):
        mine = [t for t, s in zip(top, SUBJECTS, strict=True) if s == subject]
        silent = [  # the stories that never say "sport" / "technology"
            t
            for t, s, text in zip(top, SUBJECTS, TEXTS, strict=True)
            if s == subject and "big week for" not in text
        ]
        assert sum(t == subject for t in mine) >= 0.9 * len(mine)
        assert silent and sum(t == subject for t in silent) >= 0.9 * len(silent)
    cooking = [t for t, s in zip(top, SUBJECTS, strict=True) if s == "cooking"]
    # Precision first: cooking is neither topic.
    assert sum(t is not None for t in cooking) <= 0.1 * len(cooking)


def test_tags_carry_confidences_strongest_first() -> None:
    model = fit(TEXTS, [TopicSpec("sport"), TopicSpec("tech")])
    assert model is not None
    for tags in model.tag(TEXTS):
        confs = [c for _, c in tags]
        assert confs == sorted(confs, reverse=True)
        assert all(0.0 < c <= 1.0 for c in confs)


def test_a_learned_tag_stays_under_the_1_00_that_steering_gives() -> None:
    """1.00 marks a tag an example or "More like this" gave (Topics.pinned: a refit re-tags
    those no steering gives any more); a probability of 0.9996 shown to three places was 1.00
    too, so every refit re-tagged the model's surest articles (27 of AG dev's 1,740 tags)."""
    model = fit(TEXTS, [TopicSpec("sport"), TopicSpec("tech")])
    assert model is not None
    sure = np.array([0.9996, 0.0003, 0.0001])  # sport, tech, background
    assert model.tags_of(sure) == (("sport", 0.999),)
    assert model.tags_of(np.array([0.6, 0.35, 0.05])) == (("sport", 0.6), ("tech", 0.35))


def test_the_model_round_trips_through_bytes_and_rejects_garbage() -> None:
    model = fit(TEXTS, [TopicSpec("sport"), TopicSpec("tech")])
    assert model is not None
    again = TopicModel.from_bytes(model.to_bytes())
    assert again.topics == model.topics and again.tag(TEXTS[:20]) == model.tag(TEXTS[:20])
    marked = dataclasses.replace(model, named_only=("tech",))
    assert TopicModel.from_bytes(marked.to_bytes()).named_only == ("tech",)
    # A model stored before ``named_only`` existed has every topic learned.
    with np.load(io.BytesIO(marked.to_bytes())) as z:
        older = {k: z[k] for k in z.files if k != "named_only"}
    buf = io.BytesIO()
    np.savez_compressed(buf, **older)  # type: ignore[arg-type]
    assert TopicModel.from_bytes(buf.getvalue()).named_only == ()
    with pytest.raises(InputError, match="unreadable"):
        TopicModel.from_bytes(b"not a model")


def test_explanations_name_the_topic_words() -> None:
    model = fit(TEXTS, [TopicSpec("sport"), TopicSpec("tech")])
    assert model is not None
    words = {w for w, _ in model.top_terms("sport", 30)}
    assert words & {"striker", "coach", "match", "league", "stadium", "goalkeeper"}
    i = SUBJECTS.index("sport")
    why = {w for w, _ in model.why(TEXTS[i], "sport")}
    assert why and why <= set(re.findall(r"[a-z]+", TEXTS[i].lower()))


def test_too_small_a_corpus_learns_nothing() -> None:
    assert fit(TEXTS[: MIN_ARTICLES - 1], [TopicSpec("sport")]) is None
    assert fit(TEXTS, []) is None


def test_a_not_correction_removes_the_tag_from_that_article_at_refit() -> None:
    specs = [TopicSpec("sport"), TopicSpec("tech")]
    i = next(k for k, s in enumerate(SUBJECTS) if s == "sport")
    before = fit(TEXTS, specs)
    assert before is not None and _top(before, [TEXTS[i]]) == ["sport"]
    # Many "Not #sport" on sport stories: the topic learns that these are not sport.
    sport = [k for k, s in enumerate(SUBJECTS) if s == "sport"]
    after = fit(TEXTS, specs, corrections=[Correction(k, "sport", more=False) for k in sport])
    assert after is not None
    assert "sport" not in [t for t, _ in after.tag([TEXTS[i]])[0]]


def test_examples_teach_a_topic_its_name_does_not() -> None:
    rng = random.Random(3)
    examples = tuple("\n".join(story("cooking", rng, say_name=False)) for _ in range(5))
    # "kitchen" never occurs in the corpus: only the examples say what it is.
    model = fit(TEXTS, [TopicSpec("sport"), TopicSpec("kitchen", examples=examples)])
    assert model is not None
    top = _top(model, TEXTS)
    cooking = [t for t, s in zip(top, SUBJECTS, strict=True) if s == "cooking"]
    assert sum(t == "kitchen" for t in cooking) >= 0.8 * len(cooking)
    assert all(t != "kitchen" for t, s in zip(top, SUBJECTS, strict=True) if s == "sport")


def _encode() -> learn.Encode:
    from digests.encode import encoder

    model = encoder()
    assert model is not None
    return model


class _Recorder:
    """An encoder that records what it is given; every text costs ``tokens``."""

    def __init__(self, tokens: int = 64) -> None:
        self.seen: list[list[str]] = []
        self._tokens = tokens

    def tokens(self, texts: Sequence[str]) -> list[int]:
        return [self._tokens] * len(texts)

    def __call__(self, texts: Sequence[str]) -> NDArray[np.float32]:
        self.seen.append(list(texts))
        return np.eye(len(texts), 8, dtype=np.float32)


def test_the_encoder_teaches_names_the_store_never_uses() -> None:
    # "athletics" and "computing" (and their word forms) appear in no story: the words alone
    # have nothing to start from; the encoder knows a cup final is athletics' kind of news.
    rows = [r for r in corpus(30, seed=11) if r[0] != "cooking"]
    texts = [f"{title}\n{body}" for _, title, body in rows]
    subjects = [{"sport": "athletics", "tech": "computing"}[s] for s, _, _ in rows]
    specs = [TopicSpec("athletics"), TopicSpec("computing")]
    assert not any(re.search(r"athlet|comput", t, re.I) for t in texts)
    words_only = fit(texts, specs)
    top_words = _top(words_only, texts) if words_only else [None] * len(texts)
    right_words = sum(t == s for t, s in zip(top_words, subjects, strict=True))
    model = fit(texts, specs, encode=_encode())
    assert model is not None
    right = sum(t == s for t, s in zip(_top(model, texts), subjects, strict=True))
    assert right >= 0.9 * len(texts) > right_words


def _sport_and_tech_learned_and_cooking_untagged(
    top: list[str | None], subjects: list[str]
) -> None:
    for subject in ("sport", "tech"):
        mine = [t for t, s in zip(top, subjects, strict=True) if s == subject]
        assert sum(t == subject for t in mine) >= 0.9 * len(mine)
    cooking = [t for t, s in zip(top, subjects, strict=True) if s == "cooking"]
    assert sum(t is not None for t in cooking) <= 0.1 * len(cooking)


def test_with_the_encoder_stories_about_no_topic_stay_untagged() -> None:
    model = fit(TEXTS, [TopicSpec("sport"), TopicSpec("tech")], encode=_encode())
    assert model is not None
    _sport_and_tech_learned_and_cooking_untagged(_top(model, TEXTS), SUBJECTS)


def test_topics_the_store_lacks_tag_only_what_names_them_and_others_stay_untagged() -> None:
    # Weather, religion and astronomy are in no story: the encoder's nearest name and the
    # words' expansion both find *something* for each (cooking, mostly), and the two views
    # disagree on what. Such a topic keeps only the stories that name it; cooking stays
    # untagged, and sport and tech are learned as with two topics.
    named = [
        f"Religion on the curriculum\nThe religion syllabus was revised. {TEXTS[i]}"
        for i in range(3)
    ]
    texts = TEXTS + named
    subjects = SUBJECTS + ["religion"] * len(named)
    names = ("sport", "tech", "weather", "religion", "astronomy")
    model = fit(texts, [TopicSpec(n) for n in names], encode=_encode())
    assert model is not None
    top = _top(model, texts)
    _sport_and_tech_learned_and_cooking_untagged(top, subjects)
    assert {t for t, s in zip(top, subjects, strict=True) if s != "religion"} <= {
        "sport",
        "tech",
        None,
    }
    assert [t for t, s in zip(top, subjects, strict=True) if s == "religion"] == ["religion"] * 3
    assert model.named_only == ("weather", "religion", "astronomy")


def test_a_store_a_fifth_about_no_topic_still_learns_its_topics() -> None:
    # 80 sport and tech stories and 20 cooking ones: a fifth of the store is about no topic,
    # so the words' labels lead, and in so small a store the words find a third of each
    # topic's stories. The encoder finds the rest amid their own kind: they are not the
    # background (before, they were, and 74 of the 80 sport and tech stories went untagged).
    cooking = [r for r in ROWS if r[0] == "cooking"][:20]
    rows = [r for r in ROWS if r[0] != "cooking"] + cooking
    texts = [f"{title}\n{body}" for _, title, body in rows]
    subjects = [subject for subject, _, _ in rows]
    model = fit(texts, [TopicSpec("sport"), TopicSpec("tech")], encode=_encode())
    assert model is not None
    _sport_and_tech_learned_and_cooking_untagged(_top(model, texts), subjects)


def _clusters(rng: np.random.Generator, n: int, dims: int, *axes: int) -> NDArray[np.float32]:
    """``n`` unit vectors around each of the given axes."""
    out = []
    for axis in axes:
        x = rng.normal(0.0, 0.15, (n, dims))
        x[:, axis] += 1.0
        out.append(x / np.linalg.norm(x, axis=1, keepdims=True))
    return np.concatenate(out).astype(np.float32)


def test_stories_among_neighbours_no_view_labels_are_about_no_topic() -> None:
    # Sport, tech, and a third kind of story neither view gives a topic; the words reach it
    # a little (it is not under every topic's cut), so the store counts as covered and,
    # before, nothing marked it as what no topic is about: the classifier then gave it its
    # nearest topic (BBC's entertainment stories as sport).
    points = _clusters(np.random.default_rng(5), 40, 16, 0, 1, 2)
    names = np.eye(2, 16, dtype=np.float32)  # "sport" on axis 0, "tech" on axis 1
    v = vectors.Vectors(np.arange(120, dtype=np.int64), points, names)
    words = np.repeat(np.array([0, 1, -1], dtype=np.int64), 40)
    under = np.zeros((120, 2), dtype=bool)
    never_named = lambda rows, k: np.zeros(len(rows), dtype=bool)  # noqa: E731
    forced = {85: 0}  # a reader's "More like this" on one of them
    labels, background, confirmed = vectors.with_vectors(words, under, never_named, v, forced, {})
    assert confirmed.all()
    other = np.arange(80, 120) != 85
    assert background[80:][other].all() and (labels[80:][other] == -1).all()
    assert labels[85] == 0 and not background[85]
    assert not background[:80].any()
    assert (labels[:40] == 0).sum() >= 30 and (labels[40:80] == 1).sum() >= 30


def test_two_topics_the_words_named_the_other_way_round_are_still_confirmed() -> None:
    # The words' expansion can give two topics each other's stories (AG's business and
    # technology did, with 60 of 1,600 items shortened): neither view then agrees with the
    # other on either topic, and both were learned only from the few articles naming them.
    points = _clusters(np.random.default_rng(7), 40, 16, 0, 1, 2, 3)
    v = vectors.Vectors(np.arange(160, dtype=np.int64), points, np.eye(4, 16, dtype=np.float32))
    never_named = lambda rows, k: np.zeros(len(rows), dtype=bool)  # noqa: E731
    under = np.zeros((160, 4), dtype=bool)
    words = np.repeat(np.array([0, 1, 3, 2], dtype=np.int64), 40)
    words[90] = 2  # an example of topic 2 (the words' labels already carry it)
    labels, _, confirmed = vectors.with_vectors(words, under, never_named, v, {90: 2}, {})
    assert confirmed.all()
    assert (labels[80:120] == 2).sum() >= 30 and (labels[120:] == 3).sum() >= 30
    assert labels[90] == 2
    # Not the other way round: one view's topic 3 is the other's topic 2, but nothing else
    # matches (a topic the store lacks drifting to another's stories): neither is confirmed.
    lacking = np.repeat(np.array([0, 1, 3, -1], dtype=np.int64), 40)
    _, _, confirmed = vectors.with_vectors(lacking, under, never_named, v, {}, {})
    assert confirmed.tolist() == [True, True, False, False]


def test_two_topics_the_words_tell_apart_poorly_are_both_confirmed() -> None:
    # The words mix two topics the store has (AG's business and technology on some draws:
    # technology agreed 0.34-0.44); the encoder tells them apart. Before, the one under the
    # agreement line was learned only from the few articles naming it.
    points = _clusters(np.random.default_rng(11), 40, 16, 0, 1, 2, 3)
    v = vectors.Vectors(np.arange(160, dtype=np.int64), points, np.eye(4, 16, dtype=np.float32))
    never_named = lambda rows, k: np.zeros(len(rows), dtype=bool)  # noqa: E731
    words = np.repeat(np.array([0, 1, 2, 3], dtype=np.int64), 40)
    words[80:106] = 3  # of topic 2's stories the words give 14 to it, 26 to topic 3
    words[120:138] = 2  # of topic 3's, 22 to it and 18 to topic 2
    under = np.zeros((160, 4), dtype=bool)
    labels, _, confirmed = vectors.with_vectors(words, under, never_named, v, {}, {})
    assert confirmed.all()
    assert (labels[80:120] == 2).sum() >= 30 and (labels[120:] == 3).sum() >= 30


def test_neighbours_are_the_nearest_others_taken_in_blocks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rng = np.random.default_rng(2)
    points = _clusters(rng, 30, 8, 0, 1, 2, 3)
    sim = points @ points.T
    np.fill_diagonal(sim, -np.inf)
    expected = np.sort(np.argsort(-sim, axis=1)[:, : vectors._NEIGHBOURS], axis=1)
    monkeypatch.setattr(vectors, "_BLOCK", 7)  # blocks that do not divide the rows
    assert (np.sort(vectors._neighbours(points), axis=1) == expected).all()
    assert vectors._neighbours(points[:1]).shape == (1, 0)  # no neighbours
    # Too few encoded articles for neighbourhoods to mean anything: no article is set apart.
    few = vectors.Vectors(
        np.arange(20, dtype=np.int64), points[:20], np.eye(2, 8, dtype=np.float32)
    )
    unlabelled = np.full(20, -1, dtype=np.int64)
    apart, inside = vectors._by_neighbourhood(few, unlabelled, unlabelled, np.ones(2, dtype=bool))
    assert not apart.any() and not inside.any()


def test_the_encoded_sample_is_bounded_and_stable_as_the_store_grows(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    record = _Recorder()
    monkeypatch.setattr(sample, "_ENCODE_TOKENS", 20 * 64)
    monkeypatch.setattr(sample, "_TOKENS_PER_ARTICLE", 0)
    specs = [TopicSpec("sport")]
    vectors.sample_vectors(TEXTS[:100], specs, record)
    vectors.sample_vectors(TEXTS, specs, record)
    first, _, second, _ = record.seen  # articles, names, articles, names
    assert len(first) == len(second) == 20
    # 20 more stories (a fifth more) replace only a few of the sample.
    assert len(set(first) & set(second)) >= 12


def test_a_smaller_fit_encodes_more_and_its_sample_shrinks_into_itself_as_the_store_grows(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The largest fit (FIT_MAX articles) encodes 20 texts; each article fewer buys 8 tokens.
    monkeypatch.setattr(sample, "_ENCODE_TOKENS", 20 * 64)
    monkeypatch.setattr(sample, "FIT_MAX", len(TEXTS))  # 120
    monkeypatch.setattr(sample, "_TOKENS_PER_ARTICLE", 16)
    assert [sample.token_budget(n) for n in (80, 100, 120, 10_000)] == [1920, 1600, 1280, 1280]
    record = _Recorder()
    for n in (80, 100, 120):
        vectors.sample_vectors(TEXTS[:n], [], record)
    first, second, third = (set(seen) for seen in record.seen)
    assert (len(first), len(second), len(third)) == (30, 25, 20)
    # Growing, the store's sample loses texts and gains only new ones: the rest were encoded
    # by the fit before, so their kept vectors serve.
    assert second & set(TEXTS[:80]) <= first
    assert third & set(TEXTS[:100]) <= second


def test_the_encoded_sample_is_bounded_by_tokens_so_short_items_get_more_of_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sample, "_ENCODE_TOKENS", 20 * 64)
    monkeypatch.setattr(sample, "_TOKENS_PER_ARTICLE", 0)
    monkeypatch.setattr(sample, "_TOKENS_CHUNK", 7)  # the budget runs out inside a chunk
    full = vectors.sample_vectors(TEXTS, [], _Recorder(tokens=64)).rows
    short = vectors.sample_vectors(TEXTS, [], _Recorder(tokens=16)).rows
    assert (len(full), len(short)) == (20, 80)
    assert set(full) < set(short)  # one order (the hashes'): the longer sample is the start
    monkeypatch.setattr(sample, "_ENCODE_MAX", 50)  # and never more articles than this
    assert len(vectors.sample_vectors(TEXTS, [], _Recorder(tokens=1)).rows) == 50
    monkeypatch.setattr(sample, "_ENCODE_MAX", 1000)
    assert len(vectors.sample_vectors(TEXTS, [], _Recorder(tokens=1)).rows) == len(TEXTS)


def test_the_words_to_vectors_map_is_scikit_learns_ridge_solved_exactly() -> None:
    from scipy import sparse
    from sklearn.linear_model import Ridge

    rng = np.random.default_rng(3)
    x = sparse.random(300, 2000, density=0.01, format="csr", dtype=np.float32, random_state=4)
    rows = np.sort(rng.choice(300, 120, replace=False))
    targets = rng.standard_normal((120, 16)).astype(np.float32)
    coef, intercept = classify.projection(x, vectors.Vectors(rows, targets, targets[:1]))
    ridge = Ridge(alpha=classify._RIDGE_ALPHA, tol=1e-10).fit(x[rows], targets)
    assert np.allclose(coef, ridge.coef_, atol=1e-5)
    assert np.allclose(intercept, ridge.intercept_, atol=1e-5)


def test_what_the_encoder_taught_reaches_articles_outside_its_sample(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sample, "_ENCODE_MAX", 40)  # 40 of 120 stories are encoded
    monkeypatch.setattr(classify, "_DISTIL_MIN", 40)  # and the classifier is distilled from them
    rows = [r for r in corpus(60, seed=5) if r[0] != "cooking"]
    texts = [f"{title}\n{body}" for _, title, body in rows]
    subjects = [{"sport": "athletics", "tech": "computing"}[s] for s, _, _ in rows]
    model = fit(texts, [TopicSpec("athletics"), TopicSpec("computing")], encode=_encode())
    assert model is not None
    encoded = set(vectors.sample_vectors(texts, [], _Recorder()).rows)
    outside = [i for i in range(len(texts)) if i not in encoded]
    assert len(outside) == len(texts) - 40
    top = _top(model, [texts[i] for i in outside])
    assert sum(t == subjects[i] for t, i in zip(top, outside, strict=True)) >= 0.9 * len(outside)
    # It is still a word model: its strongest words say what the topic is.
    words = {w for w, _ in model.top_terms("athletics")}
    assert words & {"striker", "coach", "goalkeeper", "stadium", "league", "cup", "club"}


def test_a_large_store_is_learned_from_a_bounded_sample_that_keeps_every_correction(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sample, "FIT_MAX", 60)  # 60 of the 120 stories, and the corrected
    specs = [TopicSpec("sport"), TopicSpec("tech")]
    sport = [k for k, s in enumerate(SUBJECTS) if s == "sport"]
    corrections = [Correction(k, "sport", more=False) for k in sport]
    fitted: list[tuple[list[str], list[Correction]]] = []
    real = fitting._fit

    def spy(
        texts: Sequence[str],
        specs: Sequence[TopicSpec],
        corrections: Sequence[Correction],
        vectors: vectors.Vectors | None,
        *,
        articles: int,
    ) -> TopicModel | None:
        fitted.append((list(texts), list(corrections)))
        return real(texts, specs, corrections, vectors, articles=articles)

    monkeypatch.setattr(fitting, "_fit", spy)
    model = fit(TEXTS, specs, corrections=corrections)
    assert model is not None and model.articles == len(TEXTS)  # it stands for the whole store
    ((texts, moved),) = fitted
    hashed = set(sorted(TEXTS, key=sample.lede_hash)[:60])
    assert set(texts) == hashed | {TEXTS[k] for k in sport}  # the sample, and every corrected
    assert len(texts) < len(TEXTS)
    # Each correction still names its article, now by its place in the sample.
    assert sorted(texts[c.index] for c in moved) == sorted(TEXTS[k] for k in sport)
    outside = [k for k in sport if TEXTS[k] not in hashed]
    assert outside and all("sport" not in dict(t) for t in model.tag([TEXTS[k] for k in outside]))


def test_the_distilled_classifier_does_not_move_with_the_vectors_float_rounding() -> None:
    # Vectors that differ by float rounding (another machine's BLAS, 1e-6) must give the
    # same classifier. Its solver stopped at scikit-learn's tolerance, wherever its gradient
    # first dipped under it: the log-odds moved by 1e-3 here (BBC sport + tech: 0.01 in
    # probability, a borderline article's tag flipped), 1e-5 at the optimum.
    from scipy import sparse

    rng = np.random.default_rng(3)
    n, dims = 240, 64
    points = []
    for axis in (0, 1, 2):  # sport, tech and about neither, overlapping
        p = rng.normal(0.0, 0.5, (n // 3, dims))
        p[:, axis] += 1.0
        points.append(p / np.linalg.norm(p, axis=1, keepdims=True))
    texts = np.concatenate(points).astype(np.float32)
    x = sparse.random(n, 1500, density=0.02, format="csr", random_state=3)
    topical = np.abs(texts @ rng.standard_normal((dims, 1500))) * (rng.random((n, 1500)) < 0.01)
    x = (x + sparse.csr_matrix(topical)).tocsr()
    labels = np.repeat([0, 1, -1], n // 3)
    rows = np.arange(n, dtype=np.int64)
    names = np.eye(2, dims, dtype=np.float32)
    noise = np.random.default_rng(99).standard_normal(texts.shape).astype(np.float32)
    odds = []
    for t in (texts, texts + np.float32(1e-6) * noise):
        coef, intercept = classify.train(
            x, labels.copy(), labels == -1, 2, {}, {}, vectors.Vectors(rows, t, names)
        )
        assert coef is not None and intercept is not None
        odds.append(x @ coef.T + intercept)
    assert n >= classify._DISTIL_MIN  # the distilled classifier is the one trained
    assert np.abs(odds[0] - odds[1]).max() < 1e-4

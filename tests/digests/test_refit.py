"""Refitting learned topics from the store (digests/refit.py), on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
import logging
import random
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray
from sqlalchemy import create_engine, event, func, insert, select

from digests import encode, learn
from digests.config import Settings, SourceConfig, Topic, load_settings
from digests.ingest.sources import ingest_sources
from digests.learn import sample as learn_sample
from digests.models import SourceKind
from digests.refit import (
    FIT_LOCK,
    MIN_NEW,
    _vector_key,
    load_model,
    refresh,
    refresh_after,
    retag,
    tag_new,
)
from digests.store import Store
from digests.store.schema import text_vectors
from tests.conftest import NOW, make_processed
from tests.digests.topic_corpus import corpus, story

TOPICS = (Topic(name="sport"), Topic(name="tech"))


def _fill(store: Store, rows: list[tuple[str, str, str]]) -> dict[int, str]:
    subjects = {}
    for subject, title, body in rows:
        # Stored as ingest stores them: keyword tags (none here: names are rarely said).
        article_id = store.articles.add(make_processed(title, body), now=NOW)
        assert article_id is not None
        subjects[article_id] = subject
    return subjects


def test_first_refresh_fits_and_tags_with_confidence(any_store: Store) -> None:
    subjects = _fill(any_store, corpus(30))
    report = refresh(any_store, TOPICS, now=NOW)
    assert report.fitted and report.articles == len(subjects) and report.tagged == len(subjects)
    articles = any_store.articles.get(list(subjects))
    right = sum(
        (a.tags[:1] == (subjects[a.id],)) if subjects[a.id] != "cooking" else not a.tags
        for a in articles
    )
    assert right >= 0.9 * len(articles)
    sport = next(a.id for a in articles if a.tags[:1] == ("sport",))
    [(tag, confidence)] = any_store.topics.confidences(sport)[:1]
    assert tag == "sport" and confidence is not None and 0.5 <= confidence <= 1.0


def test_a_fit_another_process_is_running_is_not_run_again(any_store: Store) -> None:
    """Two processes on a new store: while one holds the fit (another Store on the same
    database, as a second `digestbot ingest` has), the other does not fit too, says so and
    goes on; once it is free, the next refresh fits."""
    _fill(any_store, corpus(30))
    other = Store.open(any_store.engine.url.render_as_string(hide_password=False))
    try:
        with other.exclusive(FIT_LOCK, clock=lambda: NOW) as held:
            assert held
            report = refresh(any_store, TOPICS, now=NOW)
            assert report.busy and not report.fitted
            assert report.line().startswith("a topic fit is already running in another process;")
            assert load_model(any_store) is None
            assert refresh(any_store, TOPICS, now=NOW, force=True).busy  # --refit too
    finally:
        other.close()
    report = refresh(any_store, TOPICS, now=NOW)
    assert report.fitted and not report.busy and load_model(any_store) is not None


def test_a_few_new_articles_are_tagged_by_the_model_without_a_refit(store: Store) -> None:
    _fill(store, corpus(30))
    first = refresh(store, TOPICS, now=NOW)
    assert first.fitted
    new = _fill(store, corpus(2, seed=99)[:3])
    report = refresh(store, TOPICS, now=NOW, added=list(new))
    assert not report.fitted and report.tagged == 3
    # Enough new articles: a refit.
    many = _fill(store, corpus(MIN_NEW // 3 + 1, seed=5))
    assert refresh(store, TOPICS, now=NOW, added=list(many)).fitted


def test_one_article_tagged_is_said_in_the_singular(store: Store) -> None:
    _fill(store, corpus(30))
    assert refresh(store, TOPICS, now=NOW).fitted
    new = _fill(store, corpus(2, seed=99)[:1])
    report = refresh(store, TOPICS, now=NOW, added=list(new))
    assert report.line() == "1 article tagged by the topic model"  # was "1 articles"


def test_changed_topics_refit_and_feedback_changes_a_tag_at_the_next_refit(store: Store) -> None:
    subjects = _fill(store, corpus(30))
    refresh(store, TOPICS, now=NOW)
    sport = next(i for i, s in subjects.items() if s == "sport")
    assert store.articles.get([sport])[0].tags[:1] == ("sport",)
    later = NOW + timedelta(minutes=5)
    store.topics.add_story_feedback(
        sport, "sport", "not", user_id="U1", workspace="T1", platform="slack", now=later
    )
    # Recorded, not applied: the tag changes at the refit the correction makes due.
    assert store.articles.get([sport])[0].tags[:1] == ("sport",)
    report = refresh(store, TOPICS, now=later)
    assert report.fitted
    assert "sport" not in store.articles.get([sport])[0].tags
    # "More like this" on a cooking story puts it in the topic.
    cooking = next(i for i, s in subjects.items() if s == "cooking")
    store.topics.add_story_feedback(
        cooking,
        "tech",
        "more",
        user_id="U2",
        workspace="T1",
        platform="discord",
        now=later + timedelta(seconds=30),
    )
    assert refresh(store, TOPICS, now=later + timedelta(minutes=1)).fitted
    assert "tech" in store.articles.get([cooking])[0].tags
    # Another topic list: the model in use no longer fits it, so the next refresh refits.
    model = load_model(store)
    assert model is not None and model.topics == ("sport", "tech")
    assert refresh(store, (*TOPICS, Topic(name="cooking")), now=later).fitted
    assert load_model(store).topics == ("sport", "tech", "cooking")  # type: ignore[union-attr]


def test_a_correction_given_twice_by_one_user_is_stored_once(any_store: Store) -> None:
    [article] = _fill(any_store, corpus(1)[:1])

    def say(kind: str, user: str = "U1", platform: str = "slack") -> bool:
        _, stored = any_store.topics.add_story_feedback(
            article, "sport", kind, user_id=user, workspace="T1", platform=platform, now=NOW
        )
        return bool(stored)

    assert say("not") and not say("not")  # a second click changes nothing (no refit due)
    assert say("not", user="U2") and say("not", platform="discord")  # each reader's word
    assert say("more") and say("not")  # a change of mind is stored: the newest counts
    kinds = [(f.user_id, f.platform, f.kind) for f in any_store.topics.feedback()]
    assert kinds == [("U1", "slack", "not"), ("U1", "slack", "more"), ("U1", "discord", "not"),
                     ("U2", "slack", "not"), ("U1", "slack", "not")]  # fmt: skip


def test_a_large_store_reads_whole_texts_only_for_its_sample_and_every_correction(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(learn_sample, "FIT_MAX", 40)
    subjects = _fill(store, corpus(30))  # 90 articles: a fit learns from 40 of them
    ledes = list(store.topics.corpus(limit=1000, chars=learn.LEDE_CHARS))
    sampled = {ledes[int(r)][0] for r in learn.fit_sample([t for _, t, _, _ in ledes])}
    cooking = next(i for i, s in subjects.items() if s == "cooking" and i not in sampled)
    store.topics.add_story_feedback(
        cooking, "tech", "more", user_id="U1", workspace="T1", platform="slack", now=NOW
    )
    asked: list[list[int]] = []
    texts = store.topics.texts

    def spy(ids: Sequence[int], *, chars: int | None = None) -> dict[int, str]:
        if chars is not None:  # the fit's read (re-tagging reads without a cut)
            asked.append(list(ids))
        return texts(ids, chars=chars)

    monkeypatch.setattr(store.topics, "texts", spy)
    assert refresh(store, TOPICS, now=NOW).fitted
    [read] = asked
    assert set(read) == sampled | {cooking}
    model = load_model(store)
    assert model is not None and model.articles == len(subjects)
    assert "tech" in store.articles.get([cooking])[0].tags


def test_an_article_removed_between_the_fits_two_reads_is_left_out(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Retention (or another replica) deletes a sampled article after the ledes were read and
    # before its whole text is: the fit learns from the others and keeps every correction.
    subjects = _fill(store, corpus(30))
    gone = next(iter(subjects))
    sport = next(i for i, s in subjects.items() if s == "sport" and i != gone)
    store.topics.add_story_feedback(
        sport, "sport", "not", user_id="U1", workspace="T1", platform="slack", now=NOW
    )
    texts = store.topics.texts

    def deleted(ids: Sequence[int], *, chars: int | None = None) -> dict[int, str]:
        found = texts(ids, chars=chars)
        if chars is not None:
            found.pop(gone, None)
        return found

    monkeypatch.setattr(store.topics, "texts", deleted)
    assert refresh(store, TOPICS, now=NOW).fitted
    model = load_model(store)
    assert model is not None and model.articles == len(subjects)
    assert "sport" not in store.articles.get([sport])[0].tags


def test_source_tags_survive_a_retag(store: Store) -> None:
    rows = corpus(30)
    ids = list(_fill(store, rows[:-1]))
    subject, title, body = rows[-1]
    kept = store.articles.add(make_processed(title, body, tags=(("wire-feed", 2),)), now=NOW)
    assert kept is not None
    refresh(store, TOPICS, now=NOW)
    assert "wire-feed" in store.articles.get([kept])[0].tags
    assert len(ids) == len(rows) - 1


def test_a_tag_a_source_declares_while_a_refit_runs_is_not_taken_off(
    any_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A poll re-tags a source's articles after its tags changed (``declare``) while the
    topics job's refit is computing their tags: the refit had read the declared tags before,
    and its write took off the new one for good (the source's row already said its articles
    had it). Only a reader's "Not #topic" takes a declared tag off, whenever it comes."""
    store = any_store
    subjects = _fill(store, corpus(30))
    tech = next(i for i, s in subjects.items() if s == "tech")
    read = store.topics.declared

    def then_declared(ids: Sequence[int]) -> dict[int, dict[str, str]]:
        found = read(ids)  # what the refit goes on; meanwhile the poll declares `sport`
        if tech in ids:
            store.topics.declare([tech], "desk", ["sport"], weight=2)
        return found

    monkeypatch.setattr(store.topics, "declared", then_declared)
    assert refresh(store, TOPICS, now=NOW).fitted
    monkeypatch.setattr(store.topics, "declared", read)
    assert store.topics.declared([tech]) == {tech: {"sport": "desk"}}
    assert "sport" in store.articles.get([tech])[0].tags
    # A reader's "Not #sport" still takes it off at the next refit.
    store.topics.add_story_feedback(tech, "sport", "not", user_id="U1", workspace="T1",
                              platform="slack", now=NOW)  # fmt: skip
    assert refresh(store, TOPICS, now=NOW).fitted
    assert "sport" not in store.articles.get([tech])[0].tags


def test_a_topic_learned_only_from_the_articles_naming_it_tags_only_those(store: Store) -> None:
    subjects = _fill(store, corpus(30))
    named = store.articles.add(
        make_processed(
            "Technology fair opens",
            "The technology fair opened. The chip designer launched a new processor.",
        ),
        now=NOW,
    )
    assert named is not None
    ids = [*subjects, named]
    topics = (Topic(name="sport"), Topic(name="tech", aliases=("technology",)))
    assert refresh(store, topics, now=NOW).fitted
    model = load_model(store)
    assert model is not None and model.named_only == ()

    def carrying(tag: str) -> set[int]:
        return {a.id for a in store.articles.get(ids) if tag in a.tags}

    sport, tech = carrying("sport"), carrying("tech")
    assert len(tech) >= 25 and named in tech
    # Had the fit found "tech" unconfirmed, its tags would need the article to name it.
    retag(store, dataclasses.replace(model, named_only=("tech",)), ids, topics)
    texts = store.topics.texts(ids)
    assert carrying("tech") == {i for i in tech if learn.named_in(topics[1], texts[i])}
    assert named in carrying("tech") and len(carrying("tech")) < len(tech) / 2
    assert carrying("sport") == sport


def test_a_named_only_topic_set_aside_leaves_the_others_to_face_the_background(
    store: Store,
) -> None:
    # Every text: sport 0.31, weather 0.36, none of them 0.33. Weather is named-only and
    # the article does not name it: sport alone is not likelier than "none of them".
    p = np.array([0.31, 0.36, 0.33])
    model = learn.TopicModel(
        topics=("sport", "weather"),
        vocabulary=np.array(["rain"]),
        idf=np.ones(1, dtype=np.float32),
        coef=np.zeros((3, 1), dtype=np.float32),
        intercept=np.log(p).astype(np.float32),
        articles=1,
        named_only=("weather",),
    )
    [(name, _), (second, _)] = model.tag(["Cup final\nThe striker scored twice."])[0]
    assert (name, second) == ("weather", "sport")
    ids = _fill(store, [("sport", "Cup final", "The striker scored twice. The crowd sang.")])
    topics = (Topic(name="sport"), Topic(name="weather"))
    retag(store, model, list(ids), topics)
    assert store.articles.get(list(ids))[0].tags == ()


def test_nothing_to_learn_from_keeps_keyword_tags(store: Store) -> None:
    _fill(store, corpus(5))  # 15 articles: too few
    report = refresh(store, TOPICS, now=NOW)
    assert not report.fitted and report.articles == 0 and load_model(store) is None
    assert not refresh(store, (), now=NOW).fitted


def test_a_topic_added_before_there_is_enough_to_learn_from_tags_the_stored_articles(
    store: Store,
) -> None:
    # Too few articles to learn from: tags are keyword matches, made at ingest. A topic added
    # to topics.toml then still tags the articles already stored and not yet delivered.
    body = "Dock workers closed the port on Monday. The port authority said talks go on."
    port = store.articles.add(
        make_processed("Strike in Rotterdam", body, tags=(("inbox", 2),)), now=NOW
    )
    assert port is not None
    assert not refresh(store, TOPICS, now=NOW).fitted
    assert store.articles.get([port])[0].tags == ("inbox",)
    shipping = Topic(name="shipping", aliases=("port",))
    assert not refresh(store, (*TOPICS, shipping), now=NOW).fitted
    assert set(store.articles.get([port])[0].tags) == {"inbox", "shipping"}
    assert load_model(store) is None


def test_corrections_apply_to_keyword_tags_before_there_is_enough_to_learn_from(
    store: Store,
) -> None:
    # Below 30 articles no refit ever ran, so a "Not #sport" clicked on a posted digest
    # (its story delivered) left the keyword tag in place until the store had grown.
    match = store.articles.add(
        make_processed("Sport: the final", "The final was played. Sport fans came.",
                       tags=(("sport", 5), ("inbox", 2))),
        now=NOW,
    )  # fmt: skip
    recipe = store.articles.add(make_processed("Soup", "The chef made soup. It was hot."), now=NOW)
    assert match is not None and recipe is not None
    store.outbox.enqueue("run:1", [{"text": "digest"}], platform="slack", channel="C1", now=NOW,
                         article_ids=[[match, recipe]])  # fmt: skip
    for article_id, topic, kind in ((match, "sport", "not"), (recipe, "tech", "more")):
        store.topics.add_story_feedback(article_id, topic, kind, user_id="U1", workspace="T1",
                                  platform="slack", now=NOW)  # fmt: skip
    assert not refresh(store, TOPICS, now=NOW).fitted
    assert store.articles.get([match])[0].tags == ("inbox",)  # the source's tag stays
    assert store.articles.get([recipe])[0].tags == ("tech",)
    # The keyword tags of later passes leave the refused topic out.
    assert not refresh(store, TOPICS, now=NOW).fitted
    assert store.articles.get([match])[0].tags == ("inbox",)


def test_a_sources_declared_topic_stays_through_the_keyword_re_tags_and_a_reader_takes_it_off(
    any_store: Store, settings: Settings
) -> None:
    """Below 30 articles (keyword tags): a folder source tagged `sport` gives a cooking story
    the tag; a topic added, or a reader's "More like this", re-tags it and it stays declared
    by the source; a reader's "Not #sport" takes it off, and later passes leave it off."""
    store = any_store
    desk = settings.inbox / "desk"
    desk.mkdir()
    (desk / "soup.txt").write_text("Soup of the day\n\nThe chef made soup. It was hot.\n")
    source = SourceConfig(name="desk", kind=SourceKind.FOLDER, location="seeds/desk",
                          tags=("sport",))  # fmt: skip
    configured = settings.model_copy(update={"sources": (source,), "topics": TOPICS})
    assert len(ingest_sources(store, configured, now=NOW).added) == 6  # the 5 seeds, the soup
    [soup] = [a.id for a in store.articles.since(0) if a.title == "Soup of the day"]

    def declared() -> dict[str, str]:
        return store.topics.declared([soup]).get(soup, {})

    assert declared() == {"sport": "desk"}
    assert not refresh(store, (*TOPICS, Topic(name="cooking", aliases=("soup",))), now=NOW).fitted
    assert set(store.articles.get([soup])[0].tags) == {"sport", "cooking"}
    assert declared() == {"sport": "desk"}
    for kind in ("more", "not"):
        store.topics.add_story_feedback(soup, "sport", kind, user_id="U1", workspace="T1",
                                  platform="slack", now=NOW)  # fmt: skip
        assert not refresh(store, TOPICS, now=NOW).fitted
        if kind == "more":
            assert "sport" in store.articles.get([soup])[0].tags and declared() == {"sport": "desk"}
    assert "sport" not in store.articles.get([soup])[0].tags and declared() == {}
    # The desk's tags changed: its stories are declared the new ones, but not one refused.
    more = source.model_copy(update={"tags": ("sport", "kitchen")})
    ingest_sources(store, configured.model_copy(update={"sources": (more,)}), now=NOW)
    assert declared() == {"kitchen": "desk"}


def test_recent_undelivered_reads_a_bounded_number_of_digest_parts(
    any_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a re-tag takes as not yet shown: the articles no digest part names, read from the
    newest UNSHOWN_PARTS parts only (the outbox keeps them all); past them, an article stored
    before the newest part not read counts as shown, and those stored after it are exact."""
    from digests.store import topics as store_topics

    ids = [
        any_store.articles.add(make_processed(f"Story {n}", f"Body {n} of words."), now=at)
        for n, at in enumerate(NOW + timedelta(hours=h) for h in range(4))
    ]
    for key, hours, shown in (("p1", 1.5, [ids[0]]), ("p2", 2.5, [ids[2]]), ("p3", 3.5, [])):
        any_store.outbox.enqueue(
            key, [{"text": key}], platform="slack", channel="C1",
            now=NOW + timedelta(hours=hours), article_ids=[shown],
        )  # fmt: skip
    since = NOW - timedelta(days=1)
    assert any_store.topics.recent_undelivered(since, limit=100) == [ids[3], ids[1]]
    monkeypatch.setattr(store_topics, "UNSHOWN_PARTS", 2)  # p1 is not read: p2, p3 are
    assert any_store.topics.recent_undelivered(since, limit=100) == [ids[3]]


def test_refresh_after_tags_what_came_in_since_its_watermark(store: Store) -> None:
    _fill(store, corpus(30))
    report, seen = refresh_after(store, TOPICS, now=NOW, watermark=None)
    assert report.fitted and seen == store.articles.latest_id()
    new = _fill(store, corpus(1, seed=11))
    report, again = refresh_after(store, TOPICS, now=NOW, watermark=seen)
    assert not report.fitted and report.tagged == len(new) and again == max(new)
    report, same = refresh_after(store, TOPICS, now=NOW, watermark=again)
    assert report.tagged == 0 and same == again


def test_tag_new_with_nothing_to_tag_leaves_the_watermark_unset(store: Store) -> None:
    # serve's first digest can run before its first topics job, with the topics changed since
    # the stored model was fitted: tag_new tags nothing then, and its watermark must stay
    # None ("after the model in use was fitted"). It was 0, so the topics job that followed
    # took every article ever stored as new and re-tagged the whole history, 50,000 a tick.
    for _, title, body in corpus(30):
        store.articles.add(make_processed(title, body), now=NOW - timedelta(days=30))
    assert refresh(store, TOPICS, now=NOW - timedelta(days=30)).fitted
    changed = (*TOPICS, Topic(name="cooking"))
    tagged, seen = tag_new(store, changed, watermark=None)
    assert tagged == 0 and seen is None
    report, after = refresh_after(store, changed, now=NOW, watermark=seen)
    assert report.fitted and report.tagged == 0  # last month's articles are not re-tagged
    assert after == store.articles.latest_id()


def test_examples_from_topics_toml_by_path_or_stored_url(store: Store, tmp_path: Path) -> None:
    cdir = tmp_path / "config"
    cdir.mkdir()
    rng = random.Random(5)
    (tmp_path / "ex").mkdir()
    for i in range(3):
        title, body = story("cooking", rng, say_name=False)
        (tmp_path / "ex" / f"{i}.txt").write_text(f"{title}\n{body}")
    (cdir / "topics.toml").write_text(
        '[[topic]]\nname = "sport"\n\n[[topic]]\nname = "kitchen"\n'
        'examples = ["ex/0.txt", "ex/1.txt", "ex/2.txt", "https://food.example/stew"]\n'
        'exclude = ["ex/missing.txt"]\n'
    )
    topics = load_settings({}, cdir).topics
    assert topics[1].examples[0] == str((tmp_path / "ex" / "0.txt").resolve())
    _fill(store, corpus(30))
    title, body = story("cooking", rng, say_name=False)
    stew = store.articles.add(make_processed(title, body, url="https://food.example/stew"), now=NOW)
    assert refresh(store, topics, now=NOW).fitted
    kitchen = store.articles.ids_for_tag("kitchen", limit=200)
    assert len(kitchen) >= 25 and stew in kitchen  # the 31 cooking stories, by examples alone


def test_a_topic_brief_cites_learned_articles_that_never_say_the_word(store: Store) -> None:
    from digests.brief import brief

    subjects = _fill(store, corpus(30))
    refresh(store, TOPICS, now=NOW)
    # Retrieval is by the learned tag: stories that never say "sport" are candidates too.
    tagged = store.articles.ids_for_tag("sport", limit=40)
    bodies = store.topics.texts(tagged)
    assert sum("sport" not in bodies[i].lower() for i in tagged) >= len(tagged) // 2
    result = brief(store, "sport", topics=TOPICS, now=NOW, words=120)
    assert result.articles and all(subjects[a.id] == "sport" for a in result.articles)


def test_a_refit_encodes_only_texts_the_previous_fit_did_not(
    any_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    encoded: list[str] = []
    real = encode.Encoder.encode

    def counting(self: encode.Encoder, texts: Sequence[str]) -> NDArray[np.float32]:
        encoded.extend(texts)
        return real(self, texts)

    monkeypatch.setattr(encode.Encoder, "encode", counting)
    _fill(any_store, corpus(20))
    assert refresh(any_store, TOPICS, now=NOW).fitted
    first = len(encoded)
    assert first >= 60  # every article (below the sample's cap) and the two names
    kept = any_store.topics.vectors([_vector_key(t) for t in encoded])
    assert len(kept) == first
    # A tenth more articles: the refit encodes those, not the rest again.
    _fill(any_store, corpus(MIN_NEW // 3 + 1, seed=99))
    encoded.clear()
    assert refresh(any_store, TOPICS, now=NOW).fitted
    assert 0 < len(encoded) <= 3 * (MIN_NEW // 3 + 1)
    # Topics changed: the names are new texts; vectors of the old name are dropped.
    encoded.clear()
    assert refresh(any_store, (Topic(name="sport"), Topic(name="cooking")), now=NOW).fitted
    assert encoded == ["news about cooking"]
    assert not any_store.topics.vectors([_vector_key("news about tech")])


@pytest.mark.parametrize("step", ["encode", "tokens"])
def test_an_encoder_failure_leaves_a_words_only_fit_and_one_line(
    store: Store, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, step: str
) -> None:
    # Encoding a batch, or counting the sample's tokens before it, fails.
    def broken(self: encode.Encoder, texts: Sequence[str]) -> Any:
        raise MemoryError("no room for the batch")

    monkeypatch.setattr(encode.Encoder, step, broken)
    subjects = _fill(store, corpus(30))
    with caplog.at_level(logging.WARNING, logger="digests.learn"):
        report = refresh(store, TOPICS, now=NOW)
    assert report.fitted
    [line] = [r.getMessage() for r in caplog.records if "encoder failed" in r.getMessage()]
    assert "no room for the batch" in line and "\n" not in line
    articles = store.articles.get(list(subjects))
    sport = [a for a in articles if subjects[a.id] == "sport"]
    assert sum(a.tags[:1] == ("sport",) for a in sport) >= 0.9 * len(sport)
    assert not store.topics.vectors([_vector_key("news about sport")])


def test_a_vector_cache_that_cannot_be_read_or_written_costs_only_the_encoding(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    # The cache table is gone (a damaged or half-restored database): the fit encodes what it
    # needs, saves its model and tags, and says so in one line per failure.
    subjects = _fill(store, corpus(20))
    with store.engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE text_vectors")
    with caplog.at_level(logging.WARNING):
        report = refresh(store, TOPICS, now=NOW)
    assert report.fitted and store.topics.latest_model() is not None
    lines = [r.getMessage() for r in caplog.records if "sentence vectors" in r.getMessage()]
    assert any(line.startswith("sentence vectors not read") for line in lines), lines
    assert any("could not keep sentence vectors" in line for line in lines), lines
    assert all("\n" not in line for line in lines)
    sport = [a for a in store.articles.get(list(subjects)) if subjects[a.id] == "sport"]
    assert sum(a.tags[:1] == ("sport",) for a in sport) >= 0.9 * len(sport)


def test_vectors_another_replica_keeps_at_the_same_moment_are_not_lost(pg_store: Store) -> None:
    # Replica B keeps the same text's vector between replica A's read of the table and A's
    # insert (a real unique-key clash on PostgreSQL): A writes again without it.
    other = create_engine(pg_store.engine.url)
    raced: list[str] = []

    def race(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.startswith("INSERT INTO text_vectors") and not raced:
            raced.append(statement)
            with other.begin() as b:
                b.execute(insert(text_vectors).values(key="k1", vector=b"\x00\x01"))

    event.listen(pg_store.engine, "before_cursor_execute", race)
    try:
        pg_store.topics.keep_vectors({"k1": b"\x00\x01", "k2": b"\x02\x03"}, used=[])
    finally:
        event.remove(pg_store.engine, "before_cursor_execute", race)
        other.dispose()
    assert raced
    assert pg_store.topics.vectors(["k1", "k2"]) == {"k1": b"\x00\x01", "k2": b"\x02\x03"}


def test_the_kept_vectors_stay_one_sample_as_the_store_grows(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(learn_sample, "_ENCODE_MAX", 20)
    _fill(store, corpus(15))
    assert refresh(store, TOPICS, now=NOW).fitted
    for seed in (21, 22, 23):  # three refits, each after more than a tenth more articles
        _fill(store, corpus(MIN_NEW // 3 + 1, seed=seed))
        assert refresh(store, TOPICS, now=NOW).fitted
    with store.engine.connect() as conn:
        kept = conn.scalar(select(func.count()).select_from(text_vectors))
    assert kept == 20 + len(TOPICS)  # the sample and the names, not every text ever encoded


def test_an_example_taken_out_of_topics_toml_takes_its_tag_off_before_topics_are_learned(
    store: Store,
) -> None:
    """Below 30 articles (keyword tags): an article named in a topic's `examples` gets the
    topic (1.00). Taken out of topics.toml again, the article kept the tag for good, 1.00,
    though nothing gave it any more. It now carries the topic only where its text names it."""
    soup = store.articles.add(
        make_processed("Soup of the day", "The chef made soup. It was hot.",
                       url="https://food.example/soup"), now=NOW,
    )  # fmt: skip
    final = store.articles.add(
        make_processed("Sport: the final", "The final was played. Sport fans came.",
                       tags=(("sport", 5),), url="https://games.example/final"), now=NOW,
    )  # fmt: skip
    assert soup is not None and final is not None
    examples = ("https://food.example/soup", "https://games.example/final")
    steered = (Topic(name="sport", examples=examples), Topic(name="tech"))
    assert not refresh(store, steered, now=NOW).fitted
    assert store.topics.confidences(soup) == [("sport", 1.0)]
    assert store.topics.confidences(final) == [("sport", 1.0)]
    assert not refresh(store, TOPICS, now=NOW).fitted
    assert store.topics.confidences(soup) == []
    assert store.topics.confidences(final) == [("sport", None)]  # its text names it


def test_an_example_taken_out_of_topics_toml_is_re_tagged_by_the_next_refit(
    store: Store,
) -> None:
    """A refit re-tags the examples topics.toml names and the undelivered week: an example
    taken out of `examples` after a digest showed it was neither, and kept its 1.00 for good."""
    _fill(store, corpus(30))
    title, body = story("cooking", random.Random(7), say_name=False)
    stew = store.articles.add(make_processed(title, body, url="https://food.example/stew"), now=NOW)
    assert stew is not None
    steered = (Topic(name="sport", examples=("https://food.example/stew",)), Topic(name="tech"))
    assert refresh(store, steered, now=NOW).fitted
    assert ("sport", 1.0) in store.topics.confidences(stew)
    store.outbox.enqueue("run:1", [{"text": "digest"}], platform="slack", channel="C1", now=NOW,
                         article_ids=[[stew]])  # fmt: skip
    assert refresh(store, TOPICS, now=NOW).fitted  # topics.toml changed: a refit
    assert ("sport", 1.0) not in store.topics.confidences(stew)

"""Sentences a brief can quote whole, briefs that stand alone, and one-sentence stories
(issue 25, part 1)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from digests.brief import brief
from digests.config import Settings, Topic
from digests.extract import NO_TEXT
from digests.ingest.pipeline import process
from digests.ingest.sources import ingest_sources, pipeline_options
from digests.models import RawDocument
from digests.multidoc import Source
from digests.sentences import split_sentences
from digests.store import Store
from tests.conftest import NOW, make_processed

QUOTE = (
    "Lin Jian said the sale “grossly violates the one-China principle and the three China-U.S. "
    "joint communiqués, and sends a wrong signal.” Officials in Taipei said nothing."
)


def test_a_quotation_with_an_initialism_inside_is_one_sentence() -> None:
    assert split_sentences(QUOTE) == [
        "Lin Jian said the sale “grossly violates the one-China principle and the three "
        "China-U.S. joint communiqués, and sends a wrong signal.”",
        "Officials in Taipei said nothing.",
    ]
    said = 'She said "the U.S. Officials there agree with us." Then she left.'
    assert split_sentences(said) == ['She said "the U.S. Officials there agree with us."',
                                     "Then she left."]  # fmt: skip


def test_half_a_quotation_counts_as_leaning_on_its_context() -> None:
    # A quotation of two sentences is split in two; neither half is a whole quotation, so a
    # chat answer (a sentence count) ranks each like a sentence starting with "It".
    from digests.multidoc import _CHAT, _DEFAULT, _candidates

    text = (
        "The president told reporters in Taipei: “Taiwan will keep its coast guard ready "
        "around the clock. Taiwan wants calm across the strait and no more drills.” "
        "Taiwan's coast guard tracked twelve Chinese vessels near Kinmen island on Monday."
    )
    source = Source(key=1, text=text, title="Taiwan's president on the coast guard")
    chat = {c.text[:20]: c.factor for c in _candidates([source], frozenset(), _CHAT)}
    assert chat == {"The president told r": 0.5, "Taiwan wants calm ac": 0.5,
                    "Taiwan's coast guard": 1.0}  # fmt: skip
    # Word-budget summaries (DUC-scored) are left as they were.
    assert {c.factor for c in _candidates([source], frozenset(), _DEFAULT)} == {1.0}


def test_a_stray_quote_mark_does_not_glue_sentences() -> None:
    text = 'A "stray mark here. Second one. Third one. Fourth one. Fifth one. Sixth one.'
    assert len(split_sentences(text)) == 6


def test_brief_over_the_seeds_never_cuts_a_quotation(store: Store, settings: Settings) -> None:
    ingest_sources(store, settings, now=NOW)
    for topic in ("taiwan", "china", "united-states", "trade"):
        for s in brief(store, topic, topics=settings.topics, now=NOW, sentences=6).sentences:
            assert not re.search(r"\b(?:[A-Z]\.){2,}$", s.text), s.text  # "...China-U.S."
            assert s.text.count("“") == s.text.count("”"), s.text
            assert s.text.count('"') % 2 == 0, s.text


def test_brief_prefers_a_sentence_that_stands_alone(store: Store) -> None:
    topics = (Topic(name="taiwan", aliases=("Taiwan", "Taipei")),)
    # The lone "the drills" sentence names Taiwan twice; the other stands on its own.
    store.articles.add(
        make_processed(
            "Beijing warns Taipei",
            "Taipei and Taiwan's opposition criticised the drills as provocative and dangerous. "
            "Taiwan's coast guard tracked twelve Chinese vessels near Kinmen island on Monday.",
            tags=(("taiwan", 2),),
        ),
        now=NOW,
    )
    [only] = brief(store, "taiwan", topics=topics, now=NOW, sentences=1).sentences
    assert only.text.startswith("Taiwan's coast guard"), only.text


def test_the_drills_are_fine_once_the_title_named_them(store: Store) -> None:
    topics = (Topic(name="taiwan", aliases=("Taiwan", "Taipei")),)
    store.articles.add(
        make_processed(
            "China stages drills around Taiwan",
            "Taipei and Taiwan's opposition criticised the drills as provocative and dangerous. "
            "Taiwan's weather office said it was a dry and sunny day in Taipei on Monday.",
            tags=(("taiwan", 2),),
        ),
        now=NOW,
    )
    said = [s.text for s in brief(store, "taiwan", topics=topics, now=NOW, sentences=2).sentences]
    assert any("the drills" in s for s in said), said


def test_one_sentence_stories_are_stored(tmp_path: Path, settings: Settings, store: Store) -> None:
    folder = tmp_path / "flash"
    folder.mkdir()
    (folder / "a.txt").write_text("Storm closes every port on the east coast tonight.\n")
    (folder / "b.txt").write_text(
        "Storm closes ports\n\nThe coast guard said every port would stay shut until Friday.\n"
    )
    (folder / "c.html").write_text(
        "<html><head><title>Storm closes every port on the south coast</title></head><body>"
        "<article><h1>Storm closes every port on the south coast</h1></article></body></html>"
    )
    (folder / "d.json").write_text(
        json.dumps({"title": "Ports shut", "text": "Every port on the west coast shut today."})
    )
    # A headline alone as JSON, a JSON line or Markdown, as the <h1> alone above: they were
    # refused ("the JSON object has no text", "the Markdown document has no text").
    (folder / "e.json").write_text(
        json.dumps({"title": "Earthquake shakes central Chile overnight"})
    )
    (folder / "f.jsonl").write_text(
        json.dumps({"headline": "Strike halts trains across France", "text": ""})
    )
    (folder / "g.md").write_text("# Parliament dissolved in snap vote\n")
    (folder / "h.json").write_text("{}")  # nothing at all is still nothing
    report = ingest_sources(store, settings, now=NOW, paths=[folder])
    assert [why for _, why in report.failed] == [NO_TEXT] and len(report.added) == 7
    bodies = {a.title: a for a in store.articles.get(report.added, with_body=True)}
    assert "Storm closes every port on the east coast tonight" in bodies
    for title in ("Storm closes ports", "Storm closes every port on the south coast"):
        assert title in bodies and bodies[title].body
    for title in ("Earthquake shakes central Chile overnight", "Strike halts trains across France",
                  "Parliament dissolved in snap vote"):  # fmt: skip
        assert bodies[title].body == title


def test_two_headline_fragments_are_still_not_an_article(settings: Settings) -> None:
    raw = RawDocument("m.txt", "txt", b"Breaking news\n\nHeavy rain\n", None, {})
    try:
        process(raw, pipeline_options(settings))
        raise AssertionError("stored a page with no sentence")
    except Exception as exc:  # noqa: BLE001 - InputError is the expected one
        assert "no article text" in str(exc)

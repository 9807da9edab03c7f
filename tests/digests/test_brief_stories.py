"""Briefs see stories: a sentence-count brief spreads over the main stories."""

from __future__ import annotations

from datetime import timedelta

from digests.brief import brief
from digests.config import load_settings
from digests.ingest.document import ingest
from digests.ingest.pipeline import PipelineOptions, run
from digests.store import Store
from tests.conftest import NOW, ROOT, SEEDS, make_processed


def test_brief_russia_on_the_seeds_quotes_every_story_that_speaks_of_it(store: Store) -> None:
    settings = load_settings({}, ROOT / "config")
    run(
        store,
        ingest([SEEDS], max_bytes=settings.max_file_bytes),
        PipelineOptions(topics=settings.topics),
        now=NOW,
    )
    result = brief(store, "russia", topics=settings.topics, now=NOW, sentences=4)
    assert len(result.sentences) == 4
    cited = store.articles.get([s.article_id for s in result.sentences])
    stories = {a.story for a in cited}
    tagged = store.articles.get(store.articles.ids_for_tag("russia", limit=40))
    # Before stories, all four came from one of the three articles tagged russia.
    assert len(tagged) >= 3 and len(stories) >= 3
    per_story = [sum(a.story == s for a in cited) for s in stories]
    assert max(per_story) <= 2  # an even share each


# One story told by five wires, and two unrelated stories that each share one word of the
# query ("pork-laden", "bin" in an Arabic name): the free-text brief's engine never picks them.
_INDICTMENT = (
    "A federal grand jury in Manhattan indicted Osama bin Laden on Wednesday over the embassy "
    "bombings in Kenya and Tanzania",
    "Prosecutors said bin Laden financed the training camps where the embassy bombers learned "
    "to build the bombs",
    "The indictment says bin Laden's group declared war on Americans in a 1996 statement",
    "Bin Laden is believed to be living in Afghanistan under the protection of the Taliban",
    "A reward of five million dollars was offered for information leading to bin Laden's "
    "arrest over the embassy bombings",
)
_OFF_TOPIC = (
    (
        "Budget revolt in the House",
        "A group of Republicans refused to back the speaker, citing the pork-laden budget passed "
        "last month. The speaker's allies counted votes in the House cloakroom all afternoon. "
        "Several members said the caucus vote would be close.",
    ),
    (
        "Qatar minister visits Libya",
        "Qatar's foreign minister, Sheik Hamad bin Jassem, met the Libyan leader in the desert on "
        "Saturday. The two men discussed the airline dispute and oil prices. Libyan television "
        "showed the meeting in a tent near Sirte.",
    ),
)


def test_a_free_text_brief_spreads_only_over_stories_about_it(store: Store) -> None:
    """Spreading over stories must not force in a story the query only grazes: a brief on
    "bin laden" quoted, beside the indictment, a House budget fight ("pork-laden") and a
    Qatari minister ("bin Jassem"), half of its four sentences off the subject."""
    for n, lead in enumerate(_INDICTMENT):
        others = ". ".join(s for s in _INDICTMENT if s != lead)
        store.articles.add(
            make_processed(
                f"Bin Laden indicted over embassy bombings ({n})",
                f"{lead}. {others}.",
                source=f"Wire {n}",
                published=NOW - timedelta(hours=n),
            ),
            now=NOW,
        )
    for title, body in _OFF_TOPIC:
        store.articles.add(make_processed(title, body, source="Other Wire", published=NOW), now=NOW)
    result = brief(store, "bin laden", topics=(), now=NOW, sentences=4)
    assert len(result.sentences) == 4
    texts = [s.text for s in result.sentences]
    assert all("pork-laden" not in t and "Jassem" not in t for t in texts), texts
    assert all("bin Laden" in t or "Bin Laden" in t for t in texts), texts
    # An alternative (OR) is a story's subject too; a word shared with none still is not.
    either = brief(store, "bin laden OR Qatar", topics=(), now=NOW, sentences=4)
    assert len(either.sentences) == 4
    assert all("pork-laden" not in s.text for s in either.sentences), either.sentences

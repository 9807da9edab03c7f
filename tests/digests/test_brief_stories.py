"""Briefs see stories: a sentence-count brief spreads over the main stories."""

from __future__ import annotations

from digests.brief import brief
from digests.config import load_settings
from digests.ingest.document import ingest
from digests.ingest.pipeline import PipelineOptions, run
from digests.store import Store
from tests.conftest import NOW, ROOT, SEEDS


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

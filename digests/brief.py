"""Brief stage: a short, cited, multi-source answer about a topic from the stored articles.

Articles come from the topic's tag (a configured topic or one of its aliases) or, for any
other words, from the database's full-text search. Candidate sentences are those that
mention the topic; summarize.rank_for_query ranks them by relevance and centrality; this
module favours newer articles, spreads the answer across sources, drops sentences that
repeat one already chosen (the same wire story on two sites), and cites each one.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from datetime import datetime

from digests import similar
from digests.config import Topic
from digests.models import Brief, BriefSentence, StoredArticle
from digests.store import Store
from digests.summarize import rank_for_query
from digests.tag import topic_pattern

_MAX_ARTICLES = 40  # newest matching articles considered; bounds latency at any corpus size
_PER_ARTICLE = 2  # no single source dominates the answer
_CANDIDATES_PER_ARTICLE = 8
_HALF_LIFE_DAYS = 30.0
_MIN_CHARS, _MAX_CHARS = 40, 300  # a brief sentence must read at a glance
_WORD = re.compile(r"\w+")
# A sentence that leans on the one before it ("It is...", "But...") reads badly out of
# context, and a brief is nothing but out-of-context sentences: rank it lower.
_DANGLING = re.compile(
    r"^(?:It|This|That|These|Those|He|She|They|Such|But|And|So|Yet|Or|However|Thus|Therefore|"
    r"Meanwhile|Also|Still|Instead|Here|There)\b"
)
_DANGLING_PENALTY = 0.4


def find_topic(text: str, topics: Sequence[Topic]) -> Topic | None:
    """The configured topic a user means by ``text`` (name, spaced name or alias)."""
    key = " ".join(text.lower().replace("-", " ").split())
    for topic in topics:
        if key in {p.lower() for p in topic.phrases} or key == topic.name:
            return topic
    return None


def brief(
    store: Store, text: str, *, topics: Sequence[Topic], now: datetime, sentences: int = 4
) -> Brief:
    """Answer "what do the stored articles say about ``text``?" in ``sentences`` cited sentences."""
    query = " ".join(text.split())
    topic = find_topic(query, topics)
    ids = store.articles.ids_for_tag(topic.name, limit=_MAX_ARTICLES) if topic else []
    if not ids:
        ids = store.articles.search(query, limit=_MAX_ARTICLES)
    if not ids:
        return Brief(topic=query, sentences=(), articles=(), suggestions=_suggest(query, topics))
    articles = store.articles.get(ids)
    by_id = {a.id: a for a in articles}
    mentions = topic_pattern(topic) if topic else _terms_pattern(query)
    candidates: list[tuple[int, str]] = []
    for article_id, article_sentences in store.articles.sentences(ids).items():
        hits = [
            s
            for s in article_sentences
            if _MIN_CHARS <= len(s) <= _MAX_CHARS and mentions.search(s)
        ]
        if not hits:
            hits = [s for s in by_id[article_id].summary if len(s) >= _MIN_CHARS]
        candidates.extend((article_id, s) for s in hits[:_CANDIDATES_PER_ARTICLE])
    if not candidates:
        return Brief(topic=query, sentences=(), articles=tuple(articles))
    phrases = " ".join(topic.phrases) if topic else query
    order = rank_for_query([s for _, s in candidates], phrases, limit=len(candidates))
    chosen = _choose(candidates, order, by_id, now=now, limit=sentences)
    cited = tuple(
        BriefSentence(
            text=s,
            article_id=a.id,
            title=a.title,
            source=a.source,
            url=a.url,
            published=a.published,
        )
        for a, s in ((by_id[i], s) for i, s in chosen)
    )
    used = tuple(dict.fromkeys(by_id[i] for i, _ in chosen))
    return Brief(topic=topic.name if topic else query, sentences=cited, articles=used)


def _choose(
    candidates: list[tuple[int, str]],
    order: Sequence[int],
    by_id: dict[int, StoredArticle],
    *,
    now: datetime,
    limit: int,
) -> list[tuple[int, str]]:
    # Rank position is the relevance signal; age discounts it with a half-life.
    def score(rank: int) -> float:
        article = by_id[candidates[order[rank]][0]]
        when = article.published or article.ingested_at
        age_days = max(0.0, (now - when).total_seconds() / 86400) if when else 365.0
        standalone = _DANGLING_PENALTY if _DANGLING.match(candidates[order[rank]][1]) else 1.0
        recency = 0.5 ** (age_days / _HALF_LIFE_DAYS)
        return standalone * recency / (1 + rank) + 1e-9 / (1 + rank)

    ranked = sorted(range(len(order)), key=score, reverse=True)
    chosen: list[tuple[int, str]] = []
    per_article: dict[int, int] = {}
    # First pass: one sentence per article, so the answer spans sources; then up to the cap.
    for cap in (1, _PER_ARTICLE):
        for rank in ranked:
            article_id, sentence = candidates[order[rank]]
            if len(chosen) == limit:
                return chosen
            if per_article.get(article_id, 0) >= cap or (article_id, sentence) in chosen:
                continue
            if any(similar.near_duplicate(sentence, s) for _, s in chosen):
                continue
            chosen.append((article_id, sentence))
            per_article[article_id] = per_article.get(article_id, 0) + 1
    return chosen


def _terms_pattern(query: str) -> re.Pattern[str]:
    terms = [re.escape(t) for t in _WORD.findall(query) if len(t) > 2] or [re.escape(query)]
    return re.compile(r"(?i)(?<!\w)(?:" + "|".join(terms) + r")", re.UNICODE)


def _suggest(query: str, topics: Sequence[Topic]) -> tuple[str, ...]:
    names = {t.name: t.name for t in topics}
    names.update({a.lower(): t.name for t in topics for a in t.aliases})
    close = difflib.get_close_matches(query.lower(), list(names), n=6, cutoff=0.5)
    return tuple(dict.fromkeys(names[c] for c in close))[:3] or tuple(t.name for t in topics[:3])

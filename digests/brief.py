"""Brief stage: a cited, multi-source answer about a topic from the stored articles.

Articles come from the topic's tag (a configured topic or one of its aliases) or, for any
other words, from the database's full-text search. Near-copies of one story (the same wire
story on two sites) are merged into their newest copy, so a story counts and is cited once.
Free text may name alternatives, ``EU OR NATO`` (:mod:`digests.query`). Candidate sentences
are those that mention the topic, or a content word of the query, as a whole word (a short
all-capitals word like "US" only in capitals, so "us" is not it); the multi-document engine
(:func:`digests.multidoc.summarize_sources`) then picks what several sources say, with the
topic as its query, newer articles weighing more, to a sentence count or a word budget.
With a sentence count (a chat answer) the sentences are spread over the stories
(digests/stories.py) the engine drew on: no story gets more than its share while another
has something to say.
"""

from __future__ import annotations

import difflib
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime

from digests import similar
from digests.config import Topic
from digests.models import Brief, BriefSentence, StoredArticle
from digests.multidoc import Source, summarize_sources
from digests.query import Query, parse_query
from digests.store import Store
from digests.tag import topic_pattern

_DATED = operator.attrgetter("dated")  # StoredArticle.dated: the article-time rule
_MAX_ARTICLES = 40  # newest matching articles considered; bounds latency at any corpus size
# Candidate sentences per article: a chat answer of a few sentences needs few; a word budget
# (a 250-word brief) draws on more (DUC 2006 dev through the store: 12 → 8.86 R2, 25-60 → 9.1-9.2).
_CANDIDATES_PER_ARTICLE = 12
_CANDIDATES_PER_ARTICLE_WORDS = 30
_HALF_LIFE_DAYS = 30.0
_MIN_WEIGHT = 0.05  # a year-old article still counts a little
_MIN_CHARS, _MAX_CHARS = 40, 300  # with a sentence count, a sentence must read at a glance
_SENTENCE_WORDS = 60  # word budget per requested sentence when only a count is given
_SPREAD = 3  # with a sentence count, the engine picks this many times more to spread from


def find_topic(text: str, topics: Sequence[Topic]) -> Topic | None:
    """The configured topic a user means by ``text`` (name, spaced name or alias)."""
    key = " ".join(text.lower().replace("-", " ").split())
    for topic in topics:
        if key in {p.lower() for p in topic.phrases} or key == topic.name:
            return topic
    return None


def brief(
    store: Store,
    text: str,
    *,
    topics: Sequence[Topic],
    now: datetime,
    sentences: int = 4,
    words: int | None = None,
) -> Brief:
    """Answer "what do the stored articles say about ``text``?" with cited sentences.

    ``words`` gives a word budget (whole sentences); otherwise at most ``sentences``
    sentences, each short enough to read at a glance.
    """
    query = " ".join(text.split())
    topic = find_topic(query, topics)
    ids = store.articles.ids_for_tag(topic.name, limit=_MAX_ARTICLES) if topic else []
    if not ids:
        ids = store.articles.search(query, limit=_MAX_ARTICLES)
    if not ids:
        counts = store.articles.tag_counts()
        suggestions = _suggest(query, topics, counts, asked=topic)
        known = () if suggestions else _known(topics, counts, asked=topic)
        return Brief(topic=query, sentences=(), articles=(), suggestions=suggestions,
                     words=words, known_topics=known)  # fmt: skip
    name = topic.name if topic else query
    articles = _distinct(store.articles.get(ids))
    mentions = topic_pattern(topic) if topic else _terms_pattern(query)
    stored = store.articles.sentences([a.id for a in articles])
    per_article = _CANDIDATES_PER_ARTICLE_WORDS if words else _CANDIDATES_PER_ARTICLE
    sources: list[Source] = []
    used_articles: list[StoredArticle] = []
    said: list[str] = []  # what each used article says that mentions the query
    for article in articles:
        hits = _mentioning(stored.get(article.id, []), mentions, short=words is None)
        if not hits and topic:
            # Tagged for the topic without naming it in a sentence: its summary says what it is.
            hits = list(article.summary)
        if not hits:
            continue
        used_articles.append(article)
        said.append(" ".join(hits))
        sources.append(
            Source(
                key=article.id,
                # One sentence a paragraph: a stored heading without closing punctuation stays
                # a heading, never glued to the next sentence.
                text="\n\n".join(hits[:per_article]),
                title=article.title,
                published=article.dated,
                weight=_recency(article, now),
            )
        )
    if not sources:
        return Brief(topic=name, sentences=(), articles=(), words=words)
    phrases = " ".join(topic.phrases) if topic else query
    stories = {_story(a) for a in used_articles}
    spread = words is None and len(stories) > 1
    # A sentence count: spread it over the main stories (more candidates, then a quota each).
    asked = sentences * _SPREAD if spread else sentences
    cited = summarize_sources(
        sources,
        query=phrases if topic else query,
        words=words or _SENTENCE_WORDS * asked,
        sentences=None if words else asked,
        # A topic's articles are about it by their tag, whether or not a sentence names it.
        steer=topic is None,
    )
    chosen = [(used_articles[c.source], c.text) for c in cited]
    if spread:

        def best_of(story: int) -> list[tuple[StoredArticle, str]]:
            """The engine's pick among one story's sources only."""
            mine = [i for i, a in enumerate(used_articles) if _story(a) == story]
            one = summarize_sources(
                [sources[i] for i in mine],
                query=phrases if topic else query,
                words=_SENTENCE_WORDS,
                sentences=1,
            )
            return [(used_articles[mine[c.source]], c.text) for c in one]

        about = None if topic else _about_every_word(query, used_articles, said)
        main = [a for a in used_articles if about is None or _story(a) in about]
        chosen = _spread(chosen, sentences, main, best_of, about)
    return Brief(
        topic=name,
        sentences=tuple(
            BriefSentence(
                text=s,
                article_id=a.id,
                title=a.title,
                source=a.source,
                url=a.url,
                published=a.published,
            )
            for a, s in chosen
        ),
        articles=tuple(dict.fromkeys(a for a, _ in chosen)),
        words=words,
    )


def _spread(
    chosen: Sequence[tuple[StoredArticle, str]],
    n: int,
    articles: Sequence[StoredArticle],
    best_of: Callable[[int], list[tuple[StoredArticle, str]]],
    about: set[int] | None = None,
) -> list[tuple[StoredArticle, str]]:
    """``n`` sentences spread over the main stories: the engine's picks (in its order) up to
    an even share per story (of the stories ``about`` the query, when given), then the best
    sentence of each main story it left out (the stories with most articles first), then its
    next picks."""
    by_size: dict[int, int] = {}
    for a in articles:
        by_size[_story(a)] = by_size.get(_story(a), 0) + 1
    main = sorted(by_size, key=lambda s: -by_size[s])[:n]
    quota = -(-n // len(main))  # ceil
    out: list[tuple[StoredArticle, str]] = []
    per: dict[int, int] = {}
    for a, text in chosen:
        if len(out) < n and per.get(_story(a), 0) < quota and (about is None or _story(a) in about):
            out.append((a, text))
            per[_story(a)] = per.get(_story(a), 0) + 1
    for story in main:
        if story in per:
            continue
        extra = best_of(story)[:1]
        if extra:
            if len(out) >= n:  # make room: drop the last pick of the most-quoted story
                top = max(per, key=lambda s: per[s])
                drop = max(i for i, (a, _) in enumerate(out) if _story(a) == top)
                out.pop(drop)
                per[top] -= 1
            out.extend(extra)
            per[story] = 1
    for pick in chosen:  # still short: the engine's next picks
        if len(out) >= n:
            break
        if pick not in out:
            out.append(pick)
    return out


def _about_every_word(
    query: str, articles: Sequence[StoredArticle], said: Sequence[str]
) -> set[int] | None:
    """The stories whose sentences name every content word of one of a free-text query's
    alternatives (``bin laden OR taliban``: both bin and laden, or taliban), when some do
    (None: every story, as for a one-word query): the main stories a brief spreads over. A
    story that shares one word of it ("pork-laden" for "bin laden", a "bin" in another name)
    is found by the search but is not about it: none of its sentences is taken while these
    stories have one to give."""
    groups = [
        [_terms_pattern(w) for w in Query((group,)).content_words]
        for group in parse_query(query).groups
    ]
    if all(len(terms) < 2 for terms in groups):
        return None
    found: dict[int, set[tuple[int, int]]] = {}
    for a, text in zip(articles, said, strict=True):
        found.setdefault(_story(a), set()).update(
            (g, i) for g, terms in enumerate(groups) for i, t in enumerate(terms) if t.search(text)
        )
    whole = {
        story
        for story, named in found.items()
        if any(all((g, i) in named for i in range(len(terms))) for g, terms in enumerate(groups))
    }
    return whole or None


def _story(a: StoredArticle) -> int:
    return a.story if a.story is not None else -a.id


def _mentioning(sentences: Sequence[str], mentions: re.Pattern[str], *, short: bool) -> list[str]:
    hits = [s for s in sentences if len(s) >= _MIN_CHARS and mentions.search(s)]
    if short:
        # At-a-glance sentences first; an article whose sentences are all long still speaks.
        return [s for s in hits if len(s) <= _MAX_CHARS] or hits
    return hits


def _distinct(articles: Sequence[StoredArticle]) -> list[StoredArticle]:
    """One article per story: near-copies (same title and summary words) merge into the newest."""
    texts = [f"{a.title}. {' '.join(a.summary)}" for a in articles]
    keep = [max((articles[i] for i in group), key=_DATED) for group in similar.group(texts)]
    return sorted(keep, key=_DATED, reverse=True)


def _recency(article: StoredArticle, now: datetime) -> float:
    age_days = max(0.0, (now - article.dated).total_seconds() / 86400)
    return max(_MIN_WEIGHT, 0.5 ** (age_days / _HALF_LIFE_DAYS))


def _terms_pattern(query: str) -> re.Pattern[str]:
    """Any content word of the query (OR and function words aside) as a whole word, plural
    allowed; a short word in capitals ("US", "NEAR") only in capitals."""
    terms = parse_query(query).content_words
    parts = []
    for t in terms or [query]:
        exact = t.isupper() and len(t) <= 5
        parts.append(re.escape(t) if exact else f"(?i:{re.escape(t)}(?:e?s)?)")
    return re.compile(r"(?<!\w)(?:" + "|".join(parts) + r")(?!\w)", re.UNICODE)


_CLOSE = 0.75  # difflib's ratio for "close in spelling": one or two letters off
_PREFIX = 4  # or this many first letters shared (the whole query when shorter, at least 3)
_KNOWN_LISTED = 8  # topics listed when none is close


def _useful(topics: Sequence[Topic], counts: Mapping[str, int], asked: Topic | None) -> list[Topic]:
    return [t for t in topics if counts.get(t.name, 0) > 0 and t != asked]


def _suggest(
    query: str, topics: Sequence[Topic], counts: Mapping[str, int], *, asked: Topic | None
) -> tuple[str, ...]:
    """Up to three topics the query may have meant: close in spelling (a typo, difflib's
    ratio of at least 0.75) or sharing its first letters (``tech`` → technology); only
    topics with articles, never the one asked about. Nothing close: none (a word matched by
    a 0.5 ratio, or the busiest topics, read as random: ``narnia`` → iran, ukraine)."""
    useful = _useful(topics, counts, asked)
    names = {t.name: t.name for t in useful}
    names.update({a.lower(): t.name for t in useful for a in t.aliases})
    word = query.lower()
    close = difflib.get_close_matches(word, list(names), n=6, cutoff=_CLOSE)
    shared = min(_PREFIX, len(word))
    if shared >= 3:
        close += [n for n in names if n[:shared] == word[:shared] and n not in close]
    return tuple(dict.fromkeys(names[c] for c in close))[:3]


def _known(
    topics: Sequence[Topic], counts: Mapping[str, int], *, asked: Topic | None
) -> tuple[str, ...]:
    """The topics with articles, busiest first (at most 8): listed as such, not as a guess."""
    busiest = sorted(_useful(topics, counts, asked), key=lambda t: -counts.get(t.name, 0))
    return tuple(t.name for t in busiest[:_KNOWN_LISTED])

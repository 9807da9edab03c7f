"""Render stage, the platform-neutral part: a Digest or Brief as JSON data (``data.py``) or
terminal text (``text.py``), and what every platform's renderer shares (``RenderedPart``, the
"more stories" and sources lines, counted words).

Each chat platform renders its own messages in ``bot/platforms/<name>/render.py``; Block Kit
lives only in ``bot.platforms.slack``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import regex

from digests.models import Digest, DigestItem

SHOWN_TAGS = 5  # tags shown per story, strongest first; the JSON output carries them all
# A source's or author's name in a byline or a sentence's credit, at most (longer: cut with
# "…"): a feed that puts a paragraph in its name must not push a story's summary out.
NAME_CHARS = 100
# An article URL longer than this is not linked (the label is shown alone): a link is never
# cut, so a URL of thousands of characters would otherwise crowd out the story around it.
LINK_URL_CHARS = 1000


TERMINAL_MORE = "see them all with `digestbot digest --all`, or ask `digestbot brief TOPIC`"
CHAT_MORE = "ask `/brief TOPIC` about any of them"  # Slack's and Mattermost's /brief


_GRAPHEME = regex.compile(r"\X")  # one user-perceived character (extended grapheme cluster)


def grapheme_prefix(text: str, limit: int) -> str:
    """The longest start of ``text`` of at most ``limit`` code points that ends between two
    grapheme clusters: a flag (two regional indicators), a family emoji joined by ZWJs, a
    skin tone or a letter and its combining accent is kept whole or left out, never halved.
    Reads only the first ``limit + 1`` characters, however long ``text`` is."""
    if len(text) <= limit:
        return text
    end = 0
    # The character just past the limit decides whether the limit is itself a boundary.
    for cluster in _GRAPHEME.finditer(text, 0, limit + 1):
        if cluster.end() > limit:
            break
        end = cluster.end()
    return text[:end]


def shorten(text: str, limit: int) -> str:
    """``text`` in at most ``limit`` code points: whole, or cut between two grapheme clusters
    with "…" (see :func:`grapheme_prefix`). Every chat renderer's cuts go through here."""
    if len(text) <= limit:
        return text
    return grapheme_prefix(text, limit - 1) + "…"


def nothing_about(topic: str, suggestions: Sequence[str], known: Sequence[str] = ()) -> str:
    """A brief's one line when nothing stored is about its topic, on every front end
    (``topic``, ``suggestions`` and ``known`` already in the platform's markup): the topics
    close to it to try, else the known topics listed plainly."""
    if suggestions:
        hint = f" Try: {', '.join(suggestions)}."
    elif known:
        hint = f" Topics with articles: {', '.join(known)}."
    else:
        hint = ""
    return f"Nothing stored about “{topic}”.{hint}"


ECHO_CHARS = 60  # a user's word echoed back in an error (an unknown topic or timezone)


def echoed(text: str) -> str:
    """User text quoted back in an answer: on one line, cut to ECHO_CHARS (the platform's
    ``quote`` escapes it after)."""
    return shorten(" ".join(text.split()), ECHO_CHARS)


def more_stories(more: int, how: str = TERMINAL_MORE) -> str:
    """The line that ends a capped digest: how many stories it left out and ``how`` to see
    them where it is read (a chat reader cannot run ``digestbot digest --all``)."""
    return f"+{more} more stor{'y' if more == 1 else 'ies'} — {how}"


def short_name(name: str, cut: Callable[[str, int], str]) -> str:
    """A source's or author's name on one line, cut to NAME_CHARS by the platform's ``cut``
    (which keeps its own markup whole at the cut: an escape, an entity, a character)."""
    return cut(" ".join(name.split()), NAME_CHARS)


def source_entry(
    label: str, url: str | None, *, link: Callable[[str, str | None], str], limit: int
) -> str:
    """A source in a story's list: ``label`` (its name as the platform shows it: cut to
    NAME_CHARS, escaped) made a link to its article by the platform's ``link``, or the label
    alone when the link would pass the platform's ``limit`` (a URL of hundreds of characters
    would crowd out the other sources)."""
    linked = link(label, url)
    return linked if len(linked) <= limit else label


def sources_count(item: DigestItem) -> str:
    """How a story counts its sources, on every platform: ``3 sources``; an update's articles
    are only the new ones (all it quotes), so ``New from 2 sources``, not the story's total."""
    count = counted(len(item.sources), "source")
    return f"New from {count}" if item.update else count


def sources_label(item: DigestItem) -> str:
    """``3 sources: Reuters, AP, The Times``: the story's distinct sources
    (:func:`sources_count`), those named listed; the rest are counted, not listed
    (``3 sources: Reuters and 2 not named``; ``2 sources, not named``)."""
    head, names = sources_count(item), item.named_sources
    unnamed = len(item.sources) - len(names)
    if not names:
        return f"{head}, not named"
    return f"{head}: {', '.join(names)}" + (f" and {unnamed} not named" if unnamed else "")


def story_sources(item: DigestItem) -> list[tuple[str, str | None]]:
    """The story's distinct sources (:attr:`DigestItem.sources`, first seen first), each with
    the URL of its first article that has one (a copy's source has none): one entry per
    source, so a list of them matches its "N sources" count however many articles each ran."""
    urls: dict[str, str | None] = {}
    for a in (item.article, *item.also):
        name = a.source or a.title
        if name and not urls.get(name):
            urls[name] = a.url
    return [(name, urls.get(name)) for name in item.sources]


def _whole_entries(entries: Sequence[str], limit: int, sep: str, counting: int) -> int:
    """How many of the first ``entries``, whole and joined by ``sep``, fit in ``limit``
    characters: all of them when they all fit, else those that fit in ``limit - counting``
    (the room kept for the words that count the rest). Never a part of an entry."""
    if len(sep.join(entries)) <= limit:
        return len(entries)
    used = -len(sep)
    for n, entry in enumerate(entries):
        used += len(sep) + len(entry)
        if used > limit - counting:
            return n
    return len(entries)


def fitted(entries: Sequence[str], limit: int, *, sep: str = ", ") -> str:
    """Whole ``entries`` joined by ``sep`` in at most ``limit`` characters, those that do not
    fit counted instead (``A, B and 12 more``): an entry is never cut (a link cut in half
    shows as markup garbage, or breaks the rest of the line)."""
    n = _whole_entries(entries, limit, sep, len(f" and {len(entries)} more"))
    if n == len(entries):
        return sep.join(entries)
    rest = len(entries) - n
    return f"{sep.join(entries[:n])} and {rest} more" if n else f"{rest} not shown"


def whole_lines(lines: Sequence[str], limit: int, *, noun: str = "more") -> list[str]:
    """The first ``lines`` that fit in ``limit`` characters (joined by newlines), whole, then a
    line counting the rest (``… and 120 more topics``) when some do not fit: a line is never
    cut (half a line of markup or of a link shows as garbage)."""

    def rest(n: int) -> str:
        return f"… and {n} more{' ' + noun if noun != 'more' else ''}"

    n = _whole_entries(lines, limit, "\n", len(rest(len(lines))) + 1)
    return list(lines) if n == len(lines) else [*lines[:n], rest(len(lines) - n)]


@dataclass(frozen=True, slots=True)
class RenderedPart:
    """One platform message of a digest and the articles it carries (for per-article accounting).

    The outbox keeps ``article_ids`` beside the payload: when a part can never be delivered its
    articles go to the subscription's next digest instead of being lost.
    """

    payload: dict
    article_ids: tuple[int, ...]
    # A thread's top-level message (Slack digests as threads): the other parts are its replies.
    thread_head: bool = False


def counted(n: int, singular: str, plural: str | None = None) -> str:
    """``n`` and the word in the right number: "1 story", "2 stories", "1 failure"."""
    return f"{n} {singular if n == 1 else plural or singular + 's'}"


def digest_count(digest: Digest) -> str:
    """What a digest's title counts, on every front end: the stories it shows, of how many
    when the cap held some back, and the new articles they cover ("2 of 5 stories, 7
    articles"). The articles alone ("7 articles" over two stories) read as seven items."""
    shown = sum(len(section.items) for section in digest.sections)
    articles = counted(len(digest.article_ids), "article")
    if digest.more:
        return f"{shown} of {counted(shown + digest.more, 'story', 'stories')}, {articles}"
    return f"{counted(shown, 'story', 'stories')}, {articles}"

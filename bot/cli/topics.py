"""`digestbot topics --explain NAME | --article ID | --refit`: what the learned topics mean now,
and why an article got its tags (the plain listing is in bot/cli/brief.py).

Each answer is gathered as data first (what ``--format json`` prints: one object with a key
per option given, ``refit``, ``explain`` and ``article``), then printed as text from it.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

from bot.cli._app import now, open_store
from bot.cli.output import out, safe
from digests.subscribable import source_tags

if TYPE_CHECKING:
    from digests.config import Settings, Topic
    from digests.learn.model import TopicModel
    from digests.refit import RefitReport
    from digests.store import Store
    from digests.store.topics import Feedback

_EXAMPLES = 5
_CORRECTIONS = 10


def learned_topics(
    settings: Settings,
    *,
    explain: str | None,
    article: int | None,
    refit: bool,
    as_json: bool = False,
) -> None:
    """`topics --explain NAME`, `--article ID`, `--refit` (listing: bot/cli/brief.py)."""
    from bot.cli.options import parse_topic, storable_id, unknown_topic
    from digests.errors import InputError
    from digests.refit import load_model, refresh

    names = [t.name for t in settings.topics]
    # As digests show it: #sport.
    name = parse_topic(explain, option="--explain") if explain is not None else None
    configured_tags = source_tags(settings)
    if explain is not None and name not in names and name not in configured_tags:
        store = open_store(settings)  # a tag of a source added by `digestbot sources add`?
        if name not in source_tags(settings, store):
            tags = source_tags(settings, store)
            raise unknown_topic(explain, [*names, *tags], "in topics.toml or a source's tags")
    if article is not None and not storable_id(article):  # past SQL's range: no such id
        raise InputError(f"no article {article}")
    store = open_store(settings)
    # As every command that reads articles: what is new goes in first (a fresh store's
    # --explain said "0 articles").
    from bot.cli.ingest import refresh as ingest_new

    ingest_new(store, settings, quiet=True)
    text = None
    if article is not None:  # an unknown id fails before a refit
        texts = store.topics.texts([article])
        if article not in texts:
            raise InputError(f"no article {article}")
        text = texts[article]
    data: dict[str, Any] = {}
    if refit:
        report = refresh(store, settings.topics, now=now(), force=True)
        data["refit"] = _refit_data(report)
        if not as_json:
            out.print(
                safe(
                    report.line()
                    if report.fitted or report.busy
                    else f"too few articles to learn topics from{_until_learned(store, len(names))}"
                )
            )
    model = load_model(store)
    if model is not None and set(model.topics) != set(names):
        model = None  # fitted for another topic list: the next ingest refits
    if name is not None and name not in names:  # a tag only sources give: no model of it
        data["explain"] = _source_tag_data(store, name, source_tags(settings, store)[name])
        if not as_json:
            _source_tag_text(data["explain"])
    elif name is not None:
        data["explain"] = _explain_data(store, model, name)
        if not as_json:
            _explain_text(data["explain"], until=_until_learned(store, len(names)))
    if article is not None and text is not None:
        topics = {t.name: t for t in settings.topics}
        data["article"] = _article_data(store, model, article, text, topics)
        if not as_json:
            _article_text(data["article"], until=_until_learned(store, len(names)))
    if as_json:
        out.print_json(json.dumps(data))


def _source_tag_data(store: Store, name: str, sources: list[str]) -> dict[str, Any]:
    """What a source tag is: the sources declaring it, its articles and examples (no model
    learns it: an article carries it because its source declares it, or names it)."""
    return {
        "topic": name,
        "source_tag": True,
        "sources": sources,
        "articles": store.articles.tag_counts().get(name, 0),
        "declared": store.topics.declared_counts(name),
        "examples": [
            {"id": i, "title": title, "confidence": c}
            for i, title, c in store.topics.tagged(name, limit=_EXAMPLES)
        ],
    }


def _source_tag_text(data: dict[str, Any]) -> None:
    from bot.render import counted

    name = data["topic"]
    out.print(safe(f"#{name}: {counted(data['articles'], 'article')}"))
    out.print(
        safe(
            f"  a source's tag, not a topic in topics.toml: declared by {', '.join(data['sources'])};"
            " no model learns it (digests and subscriptions take it)"
        )
    )
    if data["declared"]:
        given = ", ".join(f"{s} ({n})" for s, n in sorted(data["declared"].items()))
        out.print(safe(f"  articles by declaring source: {given}"))
    if data["examples"]:
        out.print("  example articles:")
        for e in data["examples"]:
            out.print(safe(f"    {e['id']:>7}  {e['title']}"))


def _until_learned(store: Store, topics: int) -> str:
    """When ``topics`` topics will be learned, while the store is too small to learn them
    from (else "")."""
    from digests.learn import min_articles

    stored, needed = store.articles.count(), min_articles(topics)
    if stored >= needed:
        return ""
    return f" (topics are learned once {needed} articles are stored; {stored} are)"


def _iso(value: datetime) -> str:
    from digests.store.schema import as_utc

    return (as_utc(value) or value).isoformat()  # stored as UTC: SQLite reads it back naive


def _refit_data(report: RefitReport) -> dict[str, Any]:
    return {
        "fitted": report.fitted,
        "articles": report.articles,
        "tagged": report.tagged,
        "seconds": round(report.seconds, 2),
        "named_only": list(report.named_only),
        "busy": report.busy,
        "unstored": list(report.unstored),
    }


def _corrections(store: Store, feedback: list[Feedback]) -> list[dict[str, Any]]:
    """Corrections as data; ``applied``: whether their workspace's corrections count
    (``[topics] feedback_workspaces``): a refit leaves the others out."""
    trust = store.topics.trust()
    return [{**_correction(f), "applied": trust.allows(f.workspace)} for f in feedback]


def _correction(f: Feedback) -> dict[str, Any]:
    return {
        "at": _iso(f.created_at),
        "article_id": f.article_id,
        "topic": f.topic,
        "kind": f.kind,
        "user_id": f.user_id,
        "platform": f.platform,
        "workspace": f.workspace,
    }


def _explain_data(store: Store, model: TopicModel | None, name: str) -> dict[str, Any]:
    """What defines topic ``name`` now: its count, how it was learned, its strongest words,
    example articles and recent corrections."""
    from digests.learn.sample import FIT_MAX

    stored = store.topics.latest_model() if model is not None else None
    return {
        "topic": name,
        "articles": store.articles.tag_counts().get(name, 0),
        "learned": model is not None,  # else tags are keyword matches of name and aliases
        "learned_at": _iso(stored.fitted_at) if stored is not None else None,
        "learned_from": stored.articles if stored is not None else None,
        "sample": FIT_MAX if stored is not None and stored.articles > FIT_MAX else None,
        "named_only": model is not None and name in model.named_only,
        # articles that carry it because their source's tags give it: per source
        "declared": store.topics.declared_counts(name),
        "words": [w for w, _ in model.top_terms(name, 20)] if model is not None else [],
        "examples": [
            {"id": i, "title": title, "confidence": c}
            for i, title, c in store.topics.tagged(name, limit=_EXAMPLES)
        ],
        "corrections": _corrections(store, store.topics.feedback(topic=name, limit=_CORRECTIONS)),
    }


def _explain_text(data: dict[str, Any], *, until: str = "") -> None:
    name = data["topic"]
    from bot.render import counted

    out.print(safe(f"#{name}: {counted(data['articles'], 'article')}"))
    if data["declared"]:
        sources = ", ".join(f"{s} ({n})" for s, n in sorted(data["declared"].items()))
        given = sum(data["declared"].values())
        out.print(safe(f"  {given} of them declared by their source's tags: {sources}"))
    if not data["learned"]:
        out.print(f"  not learned yet: tags are keyword matches of its name and aliases{until}")
    else:
        if data["learned_at"] is not None:
            at = datetime.fromisoformat(data["learned_at"])
            sample = f"a sample of {data['sample']:,} of " if data["sample"] else ""
            out.print(
                f"  learned {at:%Y-%m-%d %H:%M} UTC from {sample}{data['learned_from']:,} articles"
            )
        if data["named_only"]:
            out.print(
                "  learned only from articles that name it or an alias: the stored articles'"
                " words and the sentence encoder disagree on which are about it (a topic your"
                " sources rarely cover, or one so broad that most articles touch it)"
            )
        out.print(safe(f"  strongest words: {', '.join(data['words']) or '(none)'}"))
    if data["examples"]:
        out.print("  example articles:")
        for e in data["examples"]:
            shown = f"{e['confidence']:.2f}" if e["confidence"] is not None else "kw"
            out.print(safe(f"    {e['id']:>7}  {shown}  {e['title']}"))
    if data["corrections"]:
        out.print("  recent corrections:")
        for f in data["corrections"]:
            what = f"Not #{name}" if f["kind"] == "not" else "More like this"
            at = datetime.fromisoformat(f["at"])
            out.print(
                safe(
                    f"    {at:%Y-%m-%d %H:%M}  article {f['article_id']}  {what}  "
                    f"by {f['user_id']} ({f['platform']} {f['workspace']}){_unapplied(f)}"
                )
            )
    else:
        out.print("  recent corrections: none")


def _article_data(
    store: Store, model: TopicModel | None, article_id: int, text: str, topics: dict[str, Topic]
) -> dict[str, Any]:
    """Why article ``article_id`` got its tags: each tag's confidence and, with a learned
    model, the three likeliest topics with the words that point there."""
    from digests.learn import named_in

    declared = store.topics.declared([article_id]).get(article_id, {})
    # topics.toml names this stored article as an example of a topic, or excludes it
    found = store.topics.find([loc for t in topics.values() for loc in (*t.examples, *t.exclude)])
    listed = {
        t.name: "exclude" if any(found.get(x) == article_id for x in t.exclude) else "example"
        for t in topics.values()
        if any(found.get(x) == article_id for x in (*t.examples, *t.exclude))
    }
    data: dict[str, Any] = {
        "id": article_id,
        "title": text.splitlines()[0] if text else "",
        "tags": [
            {"tag": t, "confidence": c, "declared_by": declared.get(t)}
            for t, c in store.topics.confidences(article_id)
        ],
        "learned": model is not None,  # else tags come from mentions of names and aliases
        "topics": [],
        "none": None,
        "corrections": _corrections(
            store, [f for f in store.topics.feedback() if f.article_id == article_id]
        ),
        "topics_toml": listed,
    }
    if model is None:
        return data
    said: dict[str, str] = {}  # each topic's newest correction of this article that counts
    for f in (f for f in data["corrections"] if f["applied"]):
        said.setdefault(f["topic"], f["kind"])
    probs = model.probabilities([text])[0]
    ranked = sorted(zip(model.topics, probs, strict=False), key=lambda tp: -tp[1])
    data["topics"] = []
    for name, p in ranked[:3]:
        # learned only from articles naming it, and this one does not
        unnamed = name in model.named_only and name in topics and not named_in(topics[name], text)
        ruling = _ruling(name, said, listed, declared, unnamed=unnamed)
        data["topics"].append(
            {
                "topic": name,
                "probability": float(p),
                "words": [{"word": w, "weight": float(c)} for w, c in model.why(text, name, 6)],
                "not_given": ruling is not None and not ruling[0],
                "why": ruling[1] if ruling is not None else None,
            }
        )
    data["none"] = float(probs[len(model.topics)])
    return data


def _ruling(
    name: str,
    said: dict[str, str],
    listed: dict[str, str],
    declared: dict[str, str],
    *,
    unnamed: bool,
) -> tuple[bool, str] | None:
    """Whether the article carries topic ``name`` whatever the model weighs (True) or never
    (False), and why; None: the model's weight decides. The rules a re-tag applies
    (``digests.refit.retag``), first first: a reader's word that counts (``said``), then
    topics.toml's (``listed``), a source's tags (``declared``), and a topic learned only from
    the articles naming it (``unnamed``: this one does not)."""
    if said.get(name) == "not":
        return False, f"a reader said Not #{name}"
    if said.get(name) == "more":
        return True, f"a reader said More like this, #{name}"
    if listed.get(name) == "exclude":
        return False, f"topics.toml excludes it from #{name}"
    if listed.get(name) == "example":
        return True, f"an example of #{name} in topics.toml"
    if name in declared:
        return True, f"its source {declared[name]} declares it, whatever the model says"
    if unnamed:
        return False, (
            f"#{name} is learned only from articles that name it or an alias, and this one does not"
        )
    return None


def _article_text(data: dict[str, Any], *, until: str = "") -> None:
    out.print(safe(f"article {data['id']}: {data['title']}"))
    shown = ", ".join(_tag_text(t) for t in data["tags"])
    out.print(safe(f"  tags: {shown or 'none'}"))
    if not data["learned"]:
        out.print(
            f"  no learned model yet: tags come from mentions of topic names and aliases{until}"
        )
        _corrections_text(data["corrections"])
        return
    for t in data["topics"]:
        name = t["topic"]
        words = ", ".join(f"{w['word']} (+{w['weight']:.2f})" for w in t["words"])
        out.print(
            safe(f"  #{name} {t['probability']:.2f}: {words or 'no word of it points there'}")
        )
        if t["why"] is not None:
            given = "not given" if t["not_given"] else "given"
            out.print(safe(f"    ({given}: {t['why']})"))
    out.print(safe(f"  none of them: {data['none']:.2f}"))
    _corrections_text(data["corrections"])


def _tag_text(tag: dict[str, Any]) -> str:
    """One tag of an article: its confidence (a learned tag's) and where it came from."""
    name, confidence, source = tag["tag"], tag["confidence"], tag["declared_by"]
    strength = f" {confidence:.2f}" if confidence is not None else ""
    if source:
        return f"#{name}{strength} (from source {source})"
    return f"#{name}{strength}" if confidence is not None else f"#{name} (keyword/source)"


def _corrections_text(corrections: list[dict[str, Any]]) -> None:
    """An article's corrections, newest first: what, who, where, when."""
    for f in corrections:
        what = f"Not #{f['topic']}" if f["kind"] == "not" else f"More like this (#{f['topic']})"
        at = datetime.fromisoformat(f["at"])
        out.print(
            safe(
                f"  correction: {what} by {f['user_id']} ({f['platform']} {f['workspace']}), "
                f"{at:%Y-%m-%d %H:%M} UTC{_unapplied(f)}"
            )
        )


def _unapplied(f: dict[str, Any]) -> str:
    return "" if f["applied"] else " (not applied: corrections from this workspace are not enabled)"

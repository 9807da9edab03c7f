"""`digestbot topics --explain NAME | --article ID | --refit`: what the learned topics mean now,
and why an article got its tags (the plain listing is in bot/cli/brief.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.cli._app import now, open_store
from bot.cli.output import out, safe

if TYPE_CHECKING:
    from digests.config import Settings

_EXAMPLES = 5
_CORRECTIONS = 10


def learned_topics(
    settings: Settings, *, explain: str | None, article: int | None, refit: bool
) -> None:
    """`topics --explain NAME`, `--article ID`, `--refit` (listing: bot/cli/brief.py)."""
    from bot.cli.options import parse_topic, unknown_topic
    from digests.refit import load_model, refresh

    names = [t.name for t in settings.topics]
    # As digests show it: #sport.
    name = parse_topic(explain, option="--explain") if explain is not None else None
    if explain is not None and name not in names:
        raise unknown_topic(explain, names)
    store = open_store(settings)
    if refit:
        report = refresh(store, settings.topics, now=now(), force=True)
        out.print(safe(report.line() if report.fitted else "too few articles to learn topics from"))
    model = load_model(store)
    if model is not None and set(model.topics) != set(names):
        model = None  # fitted for another topic list: the next ingest refits
    if name is not None:
        _explain(store, model, name)
    if article is not None:
        _article(store, model, article, {t.name: t for t in settings.topics})


def _explain(store, model, name: str) -> None:  # type: ignore[no-untyped-def]
    from digests.learn.sample import FIT_MAX

    counts = store.articles.tag_counts()
    out.print(safe(f"#{name}: {counts.get(name, 0)} articles"))
    if model is None:
        out.print("  not learned yet: tags are keyword matches of its name and aliases")
    else:
        stored = store.topics.latest_model()
        if stored is not None:
            sample = f"a sample of {FIT_MAX:,} of " if stored.articles > FIT_MAX else ""
            out.print(
                f"  learned {stored.fitted_at:%Y-%m-%d %H:%M} UTC from {sample}"
                f"{stored.articles:,} articles"
            )
        if name in model.named_only:
            out.print(
                "  learned only from articles that name it or an alias: the stored articles'"
                " words and the sentence encoder disagree on which are about it (a topic your"
                " sources rarely cover, or one so broad that most articles touch it)"
            )
        terms = ", ".join(w for w, _ in model.top_terms(name, 20))
        out.print(safe(f"  strongest words: {terms or '(none)'}"))
    tagged = store.topics.tagged(name, limit=_EXAMPLES)
    if tagged:
        out.print("  example articles:")
        for article_id, title, conf in tagged:
            shown = f"{conf:.2f}" if conf is not None else "kw"
            out.print(safe(f"    {article_id:>7}  {shown}  {title}"))
    corrections = store.topics.feedback(topic=name, limit=_CORRECTIONS)
    if corrections:
        out.print("  recent corrections:")
        for f in corrections:
            what = f"Not #{name}" if f.kind == "not" else "More like this"
            out.print(
                safe(
                    f"    {f.created_at:%Y-%m-%d %H:%M}  article {f.article_id}  {what}  "
                    f"by {f.user_id} ({f.platform} {f.workspace})"
                )
            )
    else:
        out.print("  recent corrections: none")


def _article(store, model, article_id: int, topics) -> None:  # type: ignore[no-untyped-def]
    from bot.cli.options import storable_id
    from digests.errors import InputError
    from digests.learn import named_in

    texts = store.topics.texts([article_id]) if storable_id(article_id) else {}
    if article_id not in texts:
        raise InputError(f"no article {article_id}")
    text = texts[article_id]
    out.print(safe(f"article {article_id}: {text.splitlines()[0] if text else ''}"))
    tags = store.topics.confidences(article_id)
    shown = ", ".join(
        f"#{t} {c:.2f}" if c is not None else f"#{t} (keyword/source)" for t, c in tags
    )
    out.print(safe(f"  tags: {shown or 'none'}"))
    if model is None:
        out.print("  no learned model yet: tags come from mentions of topic names and aliases")
        return
    probs = model.probabilities([text])[0]
    ranked = sorted(zip(model.topics, probs, strict=False), key=lambda tp: -tp[1])
    for name, p in ranked[:3]:
        words = ", ".join(f"{w} (+{c:.2f})" for w, c in model.why(text, name, 6))
        out.print(safe(f"  #{name} {p:.2f}: {words or 'no word of it points there'}"))
        if name in model.named_only and name in topics and not named_in(topics[name], text):
            out.print(
                f"    (not given: #{name} is learned only from articles that name it or an"
                " alias, and this one does not)"
            )
    out.print(safe(f"  none of them: {probs[len(model.topics)]:.2f}"))
    for f in store.topics.feedback():
        if f.article_id == article_id:
            what = f"Not #{f.topic}" if f.kind == "not" else f"More like this (#{f.topic})"
            out.print(safe(f"  correction: {what} by {f.user_id} ({f.platform} {f.workspace})"))

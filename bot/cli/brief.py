"""`digestbot brief` and `digestbot topics`: what the stored articles say, in the terminal."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from bot.cli._app import Format, now, open_store, state
from bot.cli.ingest import refresh
from bot.cli.output import out, safe

if TYPE_CHECKING:
    from digests.config import Settings
    from digests.store import Store


def brief_cmd(
    ctx: typer.Context,
    topic: Annotated[list[str], typer.Argument(help="A topic name, alias or any words.")],
    sentences: Annotated[
        int | None,
        typer.Option(
            "--sentences",
            "-n",
            min=1,
            max=10,
            help="At most N sentences (default [brief] sentences, 4).",
        ),
    ] = None,
    words: Annotated[
        int | None,
        typer.Option("--words", "-w", min=10, max=2000, help="A word budget instead of -n."),
    ] = None,
    fmt: Annotated[Format, typer.Option("--format", "-f")] = Format.text,
) -> None:
    """A cited, multi-source summary of what the stored articles say about TOPIC."""
    import json

    from bot.cli.options import parse_topic
    from bot.render.data import brief_data
    from bot.render.text import brief_text
    from digests.brief import brief as make_brief
    from digests.brief import find_topic
    from digests.errors import InputError

    if sentences is not None and words is not None:
        ctx.fail(
            "--sentences and --words cannot be used together: a sentence count or a word budget"
        )
    settings = state.settings()
    text = " ".join(topic).strip()
    if not text:
        raise InputError("give a topic, e.g. `digestbot brief taiwan`")
    if text.startswith("#") and text.lstrip("#").strip():
        # A configured topic as digests show it (#taiwan), read as --topic reads it.
        name = parse_topic(text)
        if find_topic(name, settings.topics) is not None:
            text = name
    from digests.subscribable import subscribable

    store = open_store(settings)
    refresh(store, settings, quiet=True)
    result = make_brief(
        store,
        text,
        topics=subscribable(settings, store),  # a source's tag too, as `digestbot topics`
        now=now(),
        sentences=sentences or settings.brief_sentences,
        words=words,
    )
    if fmt is Format.json:
        out.print_json(json.dumps(brief_data(result)))
    else:
        out.print(brief_text(result))


def _explain_option(value: str | None) -> str | None:
    """A blank ``--explain`` is a usage error (an unknown topic is not: that takes the config)."""
    from bot.cli.options import parse_topic, usage_error

    if value is not None:
        with usage_error():
            parse_topic(value, option="--explain")
    return value


def topics_cmd(
    fmt: Annotated[Format, typer.Option("--format", "-f")] = Format.text,
    explain: Annotated[
        str | None,
        typer.Option(
            "--explain",
            metavar="NAME",
            help="What defines topic NAME now.",
            callback=_explain_option,
        ),
    ] = None,
    article: Annotated[
        int | None,
        typer.Option(
            "--article", metavar="ID", help="Why article ID got (or did not get) its tags."
        ),
    ] = None,
    refit: Annotated[bool, typer.Option("--refit", help="Learn the topics again now.")] = False,
) -> None:
    """Configured topics and how many stored articles carry each; --explain NAME: what defines
    a topic now, --article ID: why an article got its tags, --refit: learn the topics again."""
    import json

    from rich.table import Table
    from rich.text import Text

    settings = state.settings()
    if explain is not None or article is not None or refit:
        from bot.cli.topics import learned_topics

        learned_topics(
            settings, explain=explain, article=article, refit=refit, as_json=fmt is Format.json
        )
        return
    from digests.subscribable import source_tag_note, source_tags

    store = open_store(settings)
    refresh(store, settings, quiet=True)
    counts = store.articles.tag_counts()
    rows = [(t.name, counts.get(t.name, 0), list(t.aliases)) for t in settings.topics]
    tags = source_tags(settings, store)  # what subscriptions take besides the topics
    if fmt is Format.json:
        listed = [{"topic": n, "articles": c, "aliases": a} for n, c, a in rows]
        listed += [
            {"topic": t, "articles": counts.get(t, 0), "aliases": [], "source_tag": by}
            for t, by in tags.items()
        ]
        out.print_json(json.dumps(listed))
        return
    table = Table("topic", "articles", "aliases")
    for name, count, aliases in rows:
        table.add_row(Text(name), str(count), Text(", ".join(aliases)))
    for tag, by in tags.items():
        table.add_row(Text(tag), str(counts.get(tag, 0)), Text(source_tag_note(by)))
    out.print(table)
    untagged = store.articles.untagged(names) if (names := [n for n, _, _ in rows]) else 0
    if untagged:  # no topic configured: nothing to say about what they leave out
        out.print(safe(_untagged_line(store, settings, untagged)))


def _untagged_line(store: Store, settings: Settings, untagged: int) -> str:
    """How many articles no topic covers and, from the learned "none of these" class, what
    they are about: where a topic is missing."""
    from digests.refit import load_model

    line = f"{untagged:,} of {store.articles.count():,} stored articles carry none of these topics"
    model = load_model(store)
    if model is None or set(model.topics) != {t.name for t in settings.topics}:
        return line
    terms = ", ".join(w for w, _ in model.background_terms(10))
    if not terms:
        return line
    return f"{line}; they are mostly about: {terms} (a topic for them goes in topics.toml)"


def register(app: typer.Typer) -> None:
    """Add the brief and topics commands."""
    app.command("brief")(brief_cmd)
    app.command("topics")(topics_cmd)

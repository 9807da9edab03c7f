"""`digestbot digest`: the digest of articles not yet delivered, in the terminal or posted."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import typer

from bot.cli._app import Format, now, open_store, state
from bot.cli.ingest import refresh
from bot.cli.options import check_topics, parse_topic, since_bound, topic_option
from bot.cli.output import err, out, safe

if TYPE_CHECKING:
    from bot.render.text import Nothing
    from digests.config import Settings
    from digests.store import Store

CLI_SUBSCRIPTION = "cli"


def cli_subscription(topics: tuple[str, ...]) -> str:
    """The terminal's subscription for a set of topics (``cli``, ``cli:sport,tech``): each
    set has its own "not yet delivered", so `digest --topic sport` never marks delivered
    the articles a plain `digest` has still to show."""
    if not topics:
        return CLI_SUBSCRIPTION
    name = f"{CLI_SUBSCRIPTION}:{','.join(sorted(set(topics)))}"
    if len(name) <= 200:  # subscriptions.name
        return name
    return f"{CLI_SUBSCRIPTION}:#{hashlib.sha256(name.encode()).hexdigest()[:16]}"


def digest_cmd(
    ctx: typer.Context,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show the digest without marking it delivered.")
    ] = False,
    since: Annotated[
        str | None,
        typer.Option(
            help="Only articles published since (their date, else when stored): 24h, 7d, 2025-06-01.",
        ),
    ] = None,
    topic: Annotated[
        list[str] | None,
        typer.Option(
            "--topic",
            "-t",
            metavar="TOPIC",
            help="Only these topics (repeatable).",
            callback=topic_option,
        ),
    ] = None,
    fmt: Annotated[Format, typer.Option("--format", "-f")] = Format.text,
    show_all: Annotated[
        bool,
        typer.Option("--all", help="Every story, past the digest's cap ([digest] max_stories)."),
    ] = False,
    post_discord: Annotated[
        str | None,
        typer.Option(
            "--post-discord",
            metavar="WEBHOOK_URL",
            help="Also send it now to this Discord channel webhook (through the outbox).",
        ),
    ] = None,
    post: Annotated[
        str | None,
        typer.Option(
            "--post",
            metavar="CHANNEL",
            help="Also send it now to this Slack channel id (through the outbox).",
        ),
    ] = None,
    post_to: Annotated[
        list[str] | None,
        typer.Option(
            "--post-to",
            metavar="PLATFORM:CHANNEL",
            help="Also send it now to this channel of a chat platform (repeatable; e.g. "
            "mattermost:https://chat.example.com/hooks/ID), through the outbox.",
        ),
    ] = None,
) -> None:
    """Compose the digest of articles not yet delivered, grouped by tag."""
    import json
    import os

    from bot.deliver import DigestTarget, owner_id, pending_digest
    from bot.render.data import digest_data
    from bot.render.text import digest_text, skipped_line

    if post_discord and dry_run:
        ctx.fail("--dry-run posts nothing: leave it out to --post-discord")
    if post and dry_run:
        ctx.fail("--dry-run posts nothing: leave it out to --post")
    if post_to and dry_run:
        ctx.fail("--dry-run posts nothing: leave it out to --post-to")
    # Bad input fails before any work.
    after = since_bound(ctx, since, now())
    topics = tuple(parse_topic(t) for t in topic or [])
    to: list[tuple[str, str]] = []
    if post or post_discord or post_to:  # so does a setting posting needs: before the digest
        from bot.post import check_post, parse_to

        # The older spellings, as the --post-to pairs they stand for (in this order).
        legacy = [("discord", post_discord), ("slack", post)]
        to = [(name, channel) for name, channel in legacy if channel is not None]
        to += [parse_to(value) for value in post_to or []]
        check_post(os.environ, to=to)
    settings = state.settings()
    store = open_store(settings)
    refresh(store, settings, quiet=True)
    check_topics(topic or [], topics, settings, store)  # once what is new is stored
    at = now()
    name = cli_subscription(topics)
    sub = store.subscriptions.get(name) or store.subscriptions.upsert(
        name,
        platform="cli",
        channel="terminal",
        topics=topics,
        cron="0 8 * * *",
        timezone="UTC",
        origin="cli",
        now=at,
    )
    del sub  # exists now: its watermark is what "not yet delivered" means
    cap = None if show_all else settings.digest_max_stories
    # The run below marks delivered what this digest shows: not an article stored meanwhile.
    upto = store.articles.latest_id()
    target = DigestTarget(name, (), topics=topics, after=after, max_stories=cap, upto=upto)
    # As many new articles as the run below marks delivered (bot.deliver.DIGEST_LIMIT): the
    # rest wait for the next digest, never shown now and again then.
    digest = pending_digest(store, target, now=at)
    if fmt is Format.json:
        out.print_json(json.dumps(digest_data(digest)))
    elif not digest.empty:
        out.print(digest_text(digest))
    skipped, lines = 0, []
    # With --since, the pending articles dated before it are skipped even when none is left
    # to show. Posting or not, one use case queues (to no destination, for the terminal),
    # moves the watermark and records the run in one transaction (bot/deliver.py).
    if not dry_run and (after is not None or not digest.empty):
        from bot.post import post_now

        posted = post_now(
            store, name, to=to,
            topics=topics, after=after, environ=os.environ, now=now, owner=owner_id(),
            max_stories=cap, upto=upto, correctable=[t.name for t in settings.topics],
        )  # fmt: skip
        skipped, lines = posted.result.skipped, posted.lines()
        if post or post_discord or post_to:  # the sends of cron-run digests: their retention
            _prune_sent(store, settings, now())
    if digest.empty and fmt is Format.text:  # its one line says what the run skipped
        out.print(digest_text(digest, _nothing(store, settings, name, topics, after, skipped)))
    elif skipped and after is not None:
        err.print(safe(skipped_line(skipped, after)))
    for line in lines:
        err.print(safe(line))


PRUNE_ROUNDS = 20  # batches of old sent parts one `digest --post` deletes at most


def _prune_sent(store: Store, settings: Settings, at: datetime) -> None:
    """Delete sent parts past ``[digest] sent_kept_days`` (what serve's housekeeping does
    hourly), a bounded number of batches: a bot run from cron keeps a bounded outbox too."""
    from datetime import timedelta

    from digests.store.outbox import PRUNE_BATCH

    kept = timedelta(days=settings.sent_kept_days)
    for _ in range(PRUNE_ROUNDS):
        if store.outbox.prune_finished(at, kept=kept) < PRUNE_BATCH:
            return


def _nothing(
    store: Store,
    settings: Settings,
    name: str,
    topics: tuple[str, ...],
    after: datetime | None,
    skipped: int,
) -> Nothing:
    """What an empty digest's line says: the store's articles, those carrying the topics, when
    this subscription last showed a digest, what `--since` skipped (read only when there is
    nothing to show: cheap, but not free on a large store)."""
    from bot.render.text import Nothing

    stored = store.articles.count()
    tagged = stored - store.articles.untagged(topics) if topics and stored else stored
    last = store.runs.recent_runs([name], limit=1)
    return Nothing(
        stored=stored,
        tagged=tagged,
        inbox=str(settings.inbox),
        topics=topics,
        after=after,
        last=last[0].scheduled_for if last else None,
        skipped=skipped,
    )


def register(app: typer.Typer) -> None:
    """Add the digest command."""
    app.command("digest")(digest_cmd)

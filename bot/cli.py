"""The `digestbot` command line: ingest, digest, brief, topics, extract, summarize (and serve).

Time is read here, at the edge, and passed down; errors become one line and exit code 1.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import re
import sys
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from bot.commands_discord import discord_app
from bot.commands_sources import make_sources_app
from bot.deliver import DigestTarget, owner_id, pending_digest
from bot.render.data import brief_data, digest_data
from bot.render.text import brief_text, digest_text
from digests.brief import brief as make_brief
from digests.config import Settings, load_settings
from digests.errors import DigestError, InputError
from digests.extract import extract
from digests.ingest import IngestFailure, ingest
from digests.models import RawDocument
from digests.pipeline import IngestReport
from digests.sources import ingest_sources, make_fetcher, plan_ingest
from digests.store import Store
from digests.summarize import ALGORITHMS, summarize

log = logging.getLogger("digestbot")
app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="News digests and cited topic briefs from the articles you feed it.",
)
app.add_typer(discord_app, name="discord")
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)  # one error, one line: never wrapped
_PROGRESS_MIN = 20  # below this many inputs a bar is noise
CLI_SUBSCRIPTION = "cli"


class Format(StrEnum):
    text = "text"
    json = "json"


class LineFormat(StrEnum):
    jsonl = "jsonl"
    text = "text"


class State:
    """Settings chosen by the global options, resolved lazily so --help needs no config."""

    config_dir: Path | None = None

    def settings(self) -> Settings:
        return load_settings(os.environ, self.config_dir)


state = State()


@app.callback()
def _options(
    config: Annotated[
        Path | None,
        typer.Option(
            "--config", "-c", help="Config folder (default ./config or $DIGESTBOT_CONFIG_DIR)."
        ),
    ] = None,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Log details and tracebacks to stderr.")
    ] = False,
) -> None:
    state.config_dir = config
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.ERROR,
        stream=sys.stderr,
        format="%(levelname)s %(name)s: %(message)s",
    )


def _now() -> datetime:
    return datetime.now(UTC)


def _open(settings: Settings) -> Store:
    return Store.open(settings.database_url)


def refresh(
    store: Store,
    settings: Settings,
    paths: list[Path | str] | None = None,
    *,
    quiet: bool = False,
    workers: int = 1,
    force: bool = False,
) -> IngestReport:
    """Ingest what is new (with a progress bar for long runs) and say what happened on stderr."""
    plan = plan_ingest(store, settings, now=_now(), paths=paths or [], force=force)
    with make_fetcher(settings) as fetcher:  # this process's one fetcher
        if plan.total < _PROGRESS_MIN or quiet or not err.is_terminal:
            report = ingest_sources(
                store, settings, now=_now(), fetcher=fetcher, plan=plan, workers=workers
            )
        else:
            columns = (
                TextColumn("ingesting"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
            )
            with Progress(*columns, console=err, transient=True) as bar:
                task = bar.add_task("ingest", total=plan.total)
                report = ingest_sources(
                    store,
                    settings,
                    now=_now(),
                    fetcher=fetcher,
                    plan=plan,
                    workers=workers,
                    on_progress=lambda _: bar.advance(task),
                )
    for locator, reason in report.failed:
        err.print(f"[yellow]skipped[/] {locator}: {reason}", highlight=False)
    if not quiet or report.added or report.failed:
        err.print(f"ingest: {report.line()}", highlight=False)
    return report


@app.command("ingest")
def ingest_cmd(
    paths: Annotated[
        list[str] | None,
        typer.Argument(help="Files, folders, or feed/page URLs (default: configured sources)."),
    ] = None,
    workers: Annotated[
        int, typer.Option(min=1, max=64, help="Processes for extract+summarize.")
    ] = os.cpu_count() or 1,
    allow_private: Annotated[
        bool,
        typer.Option("--allow-private-networks", help="Let URLs reach loopback/private addresses."),
    ] = False,
) -> None:
    """Ingest new or changed articles (unchanged files are skipped by content hash)."""
    settings = state.settings()
    if allow_private:
        settings = dataclasses.replace(settings, allow_private_networks=True)
    store = _open(settings)
    report = refresh(store, settings, list(paths or []), workers=workers, force=True)
    if (
        paths
        and report.failed
        and not report.added
        and not report.unchanged
        and not report.duplicates
    ):
        raise typer.Exit(1)


def parse_since(value: str, now: datetime) -> datetime:
    """``24h``, ``7d``, ``90m`` ago, or an ISO date/datetime (UTC when no zone is given)."""
    if m := re.fullmatch(r"(\d+)\s*([mhdw])", value.strip().lower()):
        unit = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}[m.group(2)]
        return now - timedelta(**{unit: int(m.group(1))})
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError as exc:
        raise InputError(f"--since {value!r}: use e.g. 24h, 7d or 2025-06-01") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@app.command("digest")
def digest_cmd(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show the digest without marking it delivered.")
    ] = False,
    since: Annotated[
        str | None, typer.Option(help="Only articles dated since: 24h, 7d, 2025-06-01.")
    ] = None,
    topic: Annotated[
        list[str] | None, typer.Option("--topic", "-t", help="Only these topics (repeatable).")
    ] = None,
    fmt: Annotated[Format, typer.Option("--format", "-f")] = Format.text,
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
) -> None:
    """Compose the digest of articles not yet delivered, grouped by tag."""
    if post_discord and dry_run:
        raise InputError("--dry-run posts nothing: leave it out to --post-discord")
    if post and dry_run:
        raise InputError("--dry-run posts nothing: leave it out to --post")
    settings = state.settings()
    store = _open(settings)
    refresh(store, settings, quiet=True)
    now = _now()
    sub = store.schedules.get(CLI_SUBSCRIPTION) or store.schedules.upsert(
        CLI_SUBSCRIPTION,
        platform="cli",
        channel="terminal",
        topics=(),
        cron="0 8 * * *",
        timezone="UTC",
        origin="cli",
        now=now,
    )
    del sub  # exists now: its watermark is what "not yet delivered" means
    topics = tuple(t.lower() for t in topic or [])
    after = parse_since(since, now) if since else None
    target = DigestTarget(CLI_SUBSCRIPTION, (), topics=topics, after=after)
    digest = pending_digest(store, target, now=now, limit=5000)
    if fmt is Format.json:
        out.print_json(json.dumps(digest_data(digest)))
    else:
        out.print(digest_text(digest))
    if dry_run or digest.empty:
        return
    # Posting or not, one use case queues (to no destination, for the terminal), moves the
    # watermark and records the run in one transaction (bot/deliver.py).
    from bot.commands_post import post_now

    posted = post_now(
        store, CLI_SUBSCRIPTION, slack_channel=post, discord_webhook=post_discord,
        topics=topics, after=after, environ=os.environ, now=_now, owner=owner_id(),
    )  # fmt: skip
    for line in posted.lines():
        err.print(line, highlight=False)


@app.command("serve")
def serve_cmd() -> None:
    """Run the bot: Slack (HTTP, or Socket Mode with SLACK_APP_TOKEN), scheduler and outbox."""
    from bot.commands_serve import run_serve  # heavy imports only when serving

    run_serve(state.settings(), os.environ)


@app.command("brief")
def brief_cmd(
    topic: Annotated[list[str], typer.Argument(help="A topic name, alias or any words.")],
    sentences: Annotated[int | None, typer.Option("--sentences", "-n", min=1, max=10)] = None,
    fmt: Annotated[Format, typer.Option("--format", "-f")] = Format.text,
) -> None:
    """A short, cited, multi-source summary of what the stored articles say about TOPIC."""
    settings = state.settings()
    store = _open(settings)
    refresh(store, settings, quiet=True)
    text = " ".join(topic).strip()
    if not text:
        raise InputError("give a topic, e.g. `digestbot brief taiwan`")
    result = make_brief(
        store,
        text,
        topics=settings.topics,
        now=_now(),
        sentences=sentences or settings.brief_sentences,
    )
    if fmt is Format.json:
        out.print_json(json.dumps(brief_data(result)))
    else:
        out.print(brief_text(result))


@app.command("topics")
def topics_cmd(fmt: Annotated[Format, typer.Option("--format", "-f")] = Format.text) -> None:
    """Configured topics and how many stored articles carry each."""
    settings = state.settings()
    store = _open(settings)
    refresh(store, settings, quiet=True)
    counts = store.articles.tag_counts()
    rows = [(t.name, counts.get(t.name, 0), ", ".join(t.aliases)) for t in settings.topics]
    if fmt is Format.json:
        out.print_json(
            json.dumps(
                [
                    {"topic": n, "articles": c, "aliases": a.split(", ") if a else []}
                    for n, c, a in rows
                ]
            )
        )
        return
    table = Table("topic", "articles", "aliases")
    for name, count, aliases in rows:
        table.add_row(name, str(count), aliases)
    out.print(table)


def _documents(paths: list[Path], settings: Settings) -> list[RawDocument | IngestFailure]:
    return list(ingest(paths, max_bytes=settings.max_file_bytes))


def _emit(record: dict[str, object], fmt: LineFormat) -> None:
    if fmt is LineFormat.jsonl:
        print(json.dumps(record, ensure_ascii=False))
    else:
        for key, value in record.items():
            out.print(
                f"[bold]{key}[/]: {value}" if key != "body" else f"\n{value}\n", highlight=False
            )


app.add_typer(make_sources_app(state.settings, out=out, err=err), name="sources")


@app.command("extract")
def extract_cmd(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders to clean.")],
    fmt: Annotated[LineFormat, typer.Option("--format", "-f")] = LineFormat.jsonl,
) -> None:
    """Print each input's cleaned article: path, title, source, author, published, url, tags, body."""
    failed = 0
    for doc in _documents(paths, state.settings()):
        try:
            if isinstance(doc, IngestFailure):
                raise InputError(doc.reason)
            a = extract(doc)
        except InputError as exc:
            failed += 1
            err.print(f"[yellow]skipped[/] {doc.locator}: {exc}", highlight=False)
            continue
        _emit(
            {
                "path": doc.locator,
                "title": a.title,
                "source": a.source,
                "author": a.author,
                "published": a.published.isoformat() if a.published else None,
                "url": a.url,
                "tags": list(a.page_tags),
                "body": a.body,
            },
            fmt,
        )
    if failed:
        raise typer.Exit(1)


class SummaryFormat(StrEnum):
    jsonl = "jsonl"
    json = "json"  # one JSON document per input (jsonl), or the --together object
    text = "text"


@app.command("summarize")
def summarize_cmd(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders to summarize.")],
    sentences: Annotated[int | None, typer.Option("--sentences", "-n", min=1, max=20)] = None,
    algorithm: Annotated[
        str | None, typer.Option("--algorithm", "-a", help=f"One of: {', '.join(ALGORITHMS)}.")
    ] = None,
    plain: Annotated[
        bool,
        typer.Option(
            "--plain", help="Inputs are clean text (.json: its title/text): skip extraction."
        ),
    ] = False,
    together: Annotated[
        bool, typer.Option("--together", help="One cited summary of all the inputs.")
    ] = False,
    query: Annotated[
        str | None, typer.Option("--query", "-q", help="With --together: what to focus on.")
    ] = None,
    words: Annotated[
        int, typer.Option("--words", "-w", min=10, max=2000, help="With --together: word budget.")
    ] = 100,
    fmt: Annotated[SummaryFormat, typer.Option("--format", "-f")] = SummaryFormat.jsonl,
) -> None:
    """Print each input's extractive summary (path, title, summary), or with --together one
    summary of all inputs, each sentence citing its input."""
    from bot.commands_together import read_input, together_text
    from bot.commands_together import together as summarize_together

    settings = state.settings()
    failed = 0
    inputs = []
    for doc in _documents(paths, settings):
        try:
            if isinstance(doc, IngestFailure):
                raise InputError(doc.reason)
            item = read_input(doc, plain=plain)
            if together:
                inputs.append(item)
                continue
            result = summarize(
                item.body,
                title=item.title,
                sentences=sentences or settings.summary_sentences,
                algorithm=algorithm or settings.summary_algorithm,
            )
        except InputError as exc:
            failed += 1
            err.print(f"[yellow]skipped[/] {doc.locator}: {exc}", highlight=False)
            continue
        record = {"path": doc.locator, "title": item.title, "summary": list(result.sentences)}
        _emit(record, LineFormat.text if fmt is SummaryFormat.text else LineFormat.jsonl)
    if together:
        if not inputs:
            raise InputError("nothing to summarize: no readable input")
        data = summarize_together(inputs, query=query, words=words)
        if fmt is SummaryFormat.text:
            out.print(together_text(data), highlight=False)
        else:
            print(json.dumps(data, ensure_ascii=False))
    if failed:
        raise typer.Exit(1)


def main() -> None:
    """Console-script entry point: run the app, turning DigestError into one line + exit 1."""
    try:
        app()
    except DigestError as exc:
        log.debug("failed", exc_info=True)
        err.print(f"[red]error:[/] {' '.join(str(exc).split())}", highlight=False)  # one line
        sys.exit(1)


if __name__ == "__main__":
    main()

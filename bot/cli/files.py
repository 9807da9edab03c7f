"""`digestbot extract` and `digestbot summarize`: one file at a time, nothing stored."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from bot.cli._app import LineFormat, state
from bot.cli.output import json_line, out, safe, warn

if TYPE_CHECKING:
    from digests.config import Settings
    from digests.ingest.document import FailureLimit, IngestFailure
    from digests.models import RawDocument

# The algorithm names, spelled here so that --help does not import sumy.
# tests/bot/test_cli.py checks they match digests.summarize.ALGORITHMS.
TOGETHER_WORDS = 100  # summarize --together's word budget when --words is not given
ALGORITHM_HELP = "default, lexrank, lsa, textrank, luhn, kl, sumbasic, edmundson, reduction, random"


def _documents(paths: list[Path], settings: Settings) -> Iterable[RawDocument | IngestFailure]:
    """The inputs, each read when it is reached."""
    from digests.ingest.document import ingest

    return ingest(paths, max_bytes=settings.max_file_bytes)


def _more_failures(limit: FailureLimit) -> None:
    """One line per file with more failures than were shown (a JSON Lines file's bad lines)."""
    for summary in limit.summaries():
        warn("skipped", summary.locator, summary.reason)


def _emit(record: Mapping[str, object], fmt: LineFormat) -> None:
    if fmt is LineFormat.jsonl:
        out.print(json_line(record), markup=False, highlight=False)
        return
    for key, value in record.items():
        if key == "body":
            out.print(f"\n{safe(value)}\n")
        elif key == "summary" and isinstance(value, list) and value:
            # One sentence a line, under its label (a list's repr is no way to read them).
            out.print(f"[bold]{key}[/]:")
            for sentence in value:
                out.print(f"  {safe(sentence)}")
            out.print("")
        else:
            out.print(f"[bold]{key}[/]: {safe(_shown(value))}")


def _shown(value: object) -> str:
    """A field as text: ``-`` when missing (as `articles --format text`), a list comma-joined."""
    if isinstance(value, list | tuple):
        value = ", ".join(str(v) for v in value)
    return "-" if value is None or value == "" else str(value)


def extract_cmd(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders to clean.")],
    fmt: Annotated[LineFormat, typer.Option("--format", "-f")] = LineFormat.jsonl,
) -> None:
    """Print each input's cleaned article: path, title, source, author, published, url, tags, body."""
    from digests.errors import InputError
    from digests.extract import extract
    from digests.ingest.document import FailureLimit, IngestFailure

    failed, limit = 0, FailureLimit()
    for doc in _documents(paths, state.settings()):
        try:
            if isinstance(doc, IngestFailure):
                raise InputError(doc.reason)
            a = extract(doc)
        except InputError as exc:
            failed += 1
            if limit.shown(doc.part_of, doc.locator):
                warn("skipped", doc.locator, exc)
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
    _more_failures(limit)
    if failed:
        raise typer.Exit(1)


class SummaryFormat(StrEnum):
    """Output of summarize."""

    jsonl = "jsonl"
    json = "json"  # one JSON document per input (jsonl), or the --together object
    text = "text"


def _algorithm_option(value: str | None) -> str | None:
    """An unknown ``--algorithm`` is a usage error, before any input is read."""
    from bot.cli.options import BadValue

    if value is not None:
        from digests.summarize import ALGORITHMS

        if value not in ALGORITHMS:
            raise BadValue(
                f"unknown summary algorithm {value!r}; choose one of {', '.join(ALGORITHMS)}"
            )
    return value


def summarize_cmd(
    ctx: typer.Context,
    paths: Annotated[list[Path], typer.Argument(help="Files or folders to summarize.")],
    sentences: Annotated[int | None, typer.Option("--sentences", "-n", min=1, max=20)] = None,
    algorithm: Annotated[
        str | None,
        typer.Option(
            "--algorithm", "-a", help=f"One of: {ALGORITHM_HELP}.", callback=_algorithm_option
        ),
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
        int | None,
        typer.Option(
            "--words",
            "-w",
            min=10,
            max=2000,
            help=f"With --together: word budget (default {TOGETHER_WORDS}).",
        ),
    ] = None,
    fmt: Annotated[SummaryFormat, typer.Option("--format", "-f")] = SummaryFormat.jsonl,
) -> None:
    """Print each input's extractive summary (path, title, summary), or with --together one
    summary of all inputs, each sentence citing its input."""
    from bot.cli.together import read_input, together_text
    from bot.cli.together import together as summarize_together
    from digests.errors import InputError
    from digests.ingest.document import FailureLimit, IngestFailure
    from digests.summarize import summarize

    # Options of one mode are refused in the other, never silently ignored.
    if together:
        if sentences is not None:
            ctx.fail("--sentences cannot be used with --together: its length is --words")
        if algorithm is not None:
            ctx.fail("--algorithm cannot be used with --together: one summary has one method")
    else:
        for given, option in ((query, "--query"), (words, "--words")):
            if given is not None:
                ctx.fail(f"{option} needs --together: it shapes one summary of all the inputs")
    settings = state.settings()
    failed, limit = 0, FailureLimit()
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
            if limit.shown(doc.part_of, doc.locator):
                warn("skipped", doc.locator, exc)
            continue
        record: dict[str, object] = {
            "path": doc.locator,
            "title": item.title,
            "summary": list(result.sentences),
        }
        _emit(record, LineFormat.text if fmt is SummaryFormat.text else LineFormat.jsonl)
    _more_failures(limit)
    if together:
        if not inputs:
            raise InputError("nothing to summarize: no readable input")
        data = summarize_together(
            inputs, query=query, words=TOGETHER_WORDS if words is None else words
        )
        if fmt is SummaryFormat.text:
            out.print(together_text(data), highlight=False)
        else:
            out.print(json_line(data), markup=False, highlight=False)
    if failed:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add the extract and summarize commands."""
    app.command("extract")(extract_cmd)
    app.command("summarize")(summarize_cmd)

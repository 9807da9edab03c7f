"""`digestbot sources`: health of every source; `sources add/remove/list`: the poll schedule.

Sources live in the database: ``sources.toml`` seeds them (``digestbot serve`` and these
commands write the config's sources into the schedule), ``sources add`` adds more at run
time, and every replica of ``digestbot serve`` polls from that one schedule.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated
from urllib.parse import urlsplit

import typer
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from bot.cli._app import Format
from bot.cli.options import BadValue, usage_error
from digests.durations import format_duration, parse_duration
from digests.errors import InputError
from digests.net.util import MAX_SOURCE_URL, redact, source_problem

if TYPE_CHECKING:  # the CLI builds this group at start-up: keep the database out of --help
    from rich.console import Console

    from digests.config import Settings
    from digests.store import Store
    from digests.store.sources import SourceState

_ERROR_WIDTH = 80  # long reasons are cut in the table; --format json keeps them whole


@dataclass(frozen=True, slots=True)
class SourceRow:
    """One line of the table: what a source is and how its polls went."""

    name: str
    kind: str
    location: str
    last_polled: datetime | None
    last_ok: datetime | None
    failures: int
    last_error: str | None
    configured: bool


def source_rows(store: Store, settings: Settings) -> list[SourceRow]:
    """Configured sources first (in config order), then others polled before (URLs given once)."""
    known = {s.name: s for s in store.sources.all()}
    rows: list[SourceRow] = []
    for source in settings.sources:
        state = known.pop(source.name, None)
        rows.append(
            SourceRow(
                name=source.name,
                kind=source.kind,
                location=source.location,
                last_polled=state.last_polled_at if state else None,
                last_ok=state.last_ok_at if state else None,
                failures=state.consecutive_failures if state else 0,
                last_error=state.last_error if state else None,
                configured=True,
            )
        )
    for state in known.values():
        rows.append(
            SourceRow(
                name=state.name,
                kind=state.kind,
                location=shown_location(state),
                last_polled=state.last_polled_at,
                last_ok=state.last_ok_at,
                failures=state.consecutive_failures,
                last_error=state.last_error,
                configured=False,
            )
        )
    return rows


def shown_location(state: SourceState) -> str:
    """A source's location as shown: redacted, or (sealed with a key this process was not
    given, its health says so) a placeholder rather than its sealed text."""
    return "(sealed with a key not given)" if state.key_missing else redact(state.location)


def show_sources(store: Store, settings: Settings, *, console: Console, as_json: bool) -> None:
    """Print the sources table (or JSON) on ``console``."""
    rows = source_rows(store, settings)
    if as_json:
        console.print_json(json.dumps([_record(r) for r in rows]))
        return
    table = Table("name", "kind", "location", "last polled", "last ok", "failures", "last error")
    table.columns[2].overflow = "fold"  # a URL cut with "…" is useless: wrap it whole
    for r in rows:
        error = redact(r.last_error or "")
        if len(error) > _ERROR_WIDTH:
            error = error[: _ERROR_WIDTH - 1] + "…"
        table.add_row(  # names, URLs and errors are data: Text is never parsed as markup
            # A source an older version named after its whole URL: the location says it. A
            # folder named as its path ("my-news" = "my-news") keeps its name.
            Text("" if r.name == r.location and "://" in r.name else redact(r.name)),
            Text(r.kind),
            Text(redact(r.location)),
            _when(r.last_polled),
            _when(r.last_ok),
            Text(str(r.failures), style="red") if r.failures else "0",
            Text(error),
        )
    console.print(table)


def _record(row: SourceRow) -> dict[str, object]:
    return {
        "name": redact(row.name),
        "kind": row.kind,
        "location": redact(row.location),
        "configured": row.configured,
        "last_polled": row.last_polled.isoformat() if row.last_polled else None,
        "last_ok": row.last_ok.isoformat() if row.last_ok else None,
        "consecutive_failures": row.failures,
        "last_error": redact(row.last_error) if row.last_error else None,
    }


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "never"


# -- the schedule: add / remove / list ------------------------------------------------------

_KINDS = ("auto", "feed", "page")


def parse_every(value: str) -> int:
    """``90s``, ``15m``, ``2h``, ``1d`` (a bare number is minutes) → seconds (≥ 1 s, ≤ 7 d)."""
    seconds = int(parse_duration(value, option="--every", bare="m").total_seconds())
    if seconds < 1:
        raise InputError(f"--every {value!r}: at least 1s")
    if seconds > 7 * 86400:
        raise InputError(f"--every {value!r}: at most 7d")
    return seconds


def _open(cfg: Settings) -> Store:
    from digests.sealing import Sealer  # lazily: cryptography is not needed for --help
    from digests.store import Store

    store = Store.open(cfg.database_url, sealer=Sealer.from_settings(cfg))
    store.seal_pending()  # with a key: secrets stored plain (or with the previous key) sealed
    return store


def _check_url(url: str) -> str:
    url = url.strip()
    problem = source_problem(url=url)
    if problem and len(url) > MAX_SOURCE_URL:  # not worth parsing
        raise InputError(problem)
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (a port that is not a number raises only when read)
    except ValueError as exc:  # "http://[::1": an unclosed IPv6 address
        raise InputError(f"not a valid URL ({exc})") from None
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise InputError(f"{url!r} is not an http(s) URL")
    if not _host_ok(parts.hostname):
        raise InputError(f"{url!r}: {parts.hostname!r} is not a host name")
    if problem:  # a space or control character (a bad host is said above)
        raise InputError(problem)
    return url


# A host name's labels: letters (any script), digits, hyphens and underscores, dot-separated.
_HOST = re.compile(r"[^\W_](?:[\w-]*[^\W_])?(?:\.[^\W_](?:[\w-]*[^\W_])?)*\.?")


def _host_ok(host: str) -> bool:
    """A name or an IP address: no space, ``%`` or other character a host cannot hold."""
    if ":" in host:  # only an IPv6 literal has one ([::1]; urlsplit drops the brackets)
        try:
            ipaddress.IPv6Address(host.split("%")[0])
        except ValueError:
            return False
        return True
    return _HOST.fullmatch(host) is not None


# Where private networks are allowed (digests.config: [fetch] and EnvSettings).
PRIVATE_SETTING = (
    "allow_private_networks = true under [fetch] in digestbot.toml, or "
    "DIGESTBOT_ALLOW_PRIVATE_NETWORKS=1 where digestbot polls"
)


def _private(url: str) -> str | None:
    """Why the fetcher's guard will refuse ``url``'s host, where that is known without DNS."""
    from digests.net.fetch import known_refusal

    return known_refusal(urlsplit(url).hostname or "")


def _url_argument(value: str) -> str:
    with usage_error():
        _check_url(value)
    return value


def _every_option(value: str | None) -> str | None:
    if value is not None:
        with usage_error():
            parse_every(value)
    return value


def _name_option(value: str | None) -> str | None:
    if value is None:
        return None
    if problem := source_problem(name=value):
        raise BadValue(f"--{problem}")
    return value.strip()


def _kind_option(value: str | None) -> str | None:
    if value is not None and value not in _KINDS:
        raise BadValue(f"--kind {value!r}: use one of {', '.join(_KINDS)}")
    return value


def _tags(values: list[str]) -> tuple[str, ...]:
    """``--tags a,b --tags c``: each spelt as a tag must be (the rule of sources.toml's)."""
    from digests.config import source_tags

    try:
        return source_tags(t for v in values for t in v.split(",") if t.strip())
    except ValueError as exc:
        raise InputError(str(exc)) from None


def _tags_option(values: list[str]) -> list[str]:
    with usage_error():
        _tags(values)
    return values


def schedule_record(state: SourceState) -> dict[str, object]:
    """One scheduled source as JSON."""
    return {
        "name": redact(state.name),
        "kind": state.kind,
        "location": shown_location(state),
        "origin": state.origin,
        "tags": list(state.tags),
        "every_seconds": state.poll_seconds,
        "next_poll": state.next_poll_at.isoformat() if state.next_poll_at else None,
        "claimed_by": state.claimed_by,
        "consecutive_failures": state.consecutive_failures,
    }


def make_sources_app(
    settings: Callable[[], Settings], *, out: Console, err: Console
) -> typer.Typer:
    """The ``sources`` command group; ``settings`` resolves the CLI's config when called."""
    group = typer.Typer(help="Sources: health (no subcommand), add, remove, list.")

    def opened() -> tuple[Store, Settings]:

        cfg = settings()
        store = _open(cfg)
        store.sources.seed(cfg.sources, now=datetime.now(UTC))  # sources.toml seeds the schedule
        return store, cfg

    def fail(exc: InputError) -> typer.Exit:
        err.print(f"[red]error:[/] {escape(' '.join(str(exc).split()))}", highlight=False)
        return typer.Exit(1)

    @group.callback(invoke_without_command=True)
    def health(
        ctx: typer.Context,
        fmt: Annotated[Format, typer.Option("--format", "-f")] = Format.text,
    ) -> None:
        """Sources and their health: last polled, last ok, failures in a row, last error."""
        if ctx.invoked_subcommand is not None:
            return

        cfg = settings()
        show_sources(_open(cfg), cfg, console=out, as_json=fmt is Format.json)

    @group.command("add")
    def add(
        # Malformed values are usage errors (exit 2), checked as they are read.
        url: Annotated[
            str,
            typer.Argument(help="Feed or article URL (http or https).", callback=_url_argument),
        ],
        name: Annotated[
            str | None,
            typer.Option(help="Name (default: host and path).", callback=_name_option),
        ] = None,
        tags: Annotated[
            list[str],
            typer.Option(
                "--tags",
                "-t",
                metavar="TAGS",
                help="Tags for every article (a,b).",
                callback=_tags_option,
            ),
        ] = [],  # noqa: B006 - typer reads the default
        no_tags: Annotated[
            bool,
            typer.Option("--no-tags", help="No tags (a URL already polled: its tags are cleared)."),
        ] = False,
        every: Annotated[
            str | None,
            typer.Option(
                help="Poll interval: 90s, 15m, 2h, 1d (default 30m).", callback=_every_option
            ),
        ] = None,
        kind: Annotated[
            str | None,
            typer.Option(help="auto, feed or page (default auto).", callback=_kind_option),
        ] = None,
    ) -> None:
        """Poll a feed or page from now on (every replica of `digestbot serve` shares it).

        A URL already polled, given --tags, --no-tags or --every: its tags or interval
        change in place."""
        if no_tags and any(t.strip() for t in tags):
            raise BadValue("--no-tags: not with --tags (give one or the other)")
        try:
            from digests.ingest.sources import default_name  # the name `ingest URL` gives it too
            from digests.store.sources import shut_line

            location = _check_url(url)
            store, cfg = opened()
            polled = store.sources.polling(location)
            if polled is None and (shut := store.sources.shut_to(location)):
                raise InputError(shut_line(location, shut))
            edits = bool(tags) or no_tags or every is not None
            if polled is not None and edits and name in (None, polled.name):
                change(
                    store,
                    cfg,
                    polled,
                    _tags(tags) if tags or no_tags else None,
                    parse_every(every) if every is not None else None,
                    kind=kind,
                )
                return
            state = store.sources.add(
                name or default_name(location),
                kind=kind or "auto",
                location=location,
                tags=_tags(tags),
                poll_seconds=parse_every(every or "30m"),
                now=datetime.now(UTC),
            )
        except InputError as exc:
            raise fail(exc) from None
        err.print(
            f"added {escape(redact(state.name))}: {escape(redact(state.location))} every "
            f"{format_duration(state.poll_seconds)}, first poll now",
            highlight=False,
        )
        if not cfg.allow_private_networks and (why := _private(location)):
            # Added all the same: the setting is the polling process's (`serve` may have it
            # in its environment), as a 404 is the poll's to find; only the command is judged.
            err.print(
                f"[yellow]warning:[/] its polls will be refused ({escape(why)}) unless private "
                f"networks are allowed: {escape(PRIVATE_SETTING)}",
                highlight=False,
            )

    def change(
        store: Store,
        cfg: Settings,
        polled: SourceState,
        tags: tuple[str, ...] | None,
        seconds: int | None,
        *,
        kind: str | None,
    ) -> None:
        """`sources add URL` of a URL already polled, given tags (none: cleared) or an
        interval: they change in place, its feed state kept; one line for each."""
        from digests.ingest.sources import retag_source

        name = redact(polled.name)
        if polled.origin == "config":
            raise InputError(f"{name!r} comes from sources.toml: change its tags or interval there")
        if kind is not None and kind != polled.kind:
            raise InputError(
                f"{name!r} already polls this URL: its tags and interval change in place, not "
                f"its kind (`digestbot sources remove {name}` and add it again)"
            )
        now = datetime.now(UTC)
        if seconds is not None:
            was = polled.poll_seconds
            state = store.sources.reschedule(polled.name, poll_seconds=seconds, now=now)
            err.print(
                f"{escape(name)}: every {format_duration(seconds)} now (was "
                f"{format_duration(was) if was else 'the default'}); next poll "
                f"{_when(state.next_poll_at)}",
                highlight=False,
            )
        if tags is not None:
            changed = retag_source(store, cfg, polled, tags, now=now)
            err.print(
                f"{escape(name)}: tags now {escape(', '.join(tags) or 'none')} (were "
                f"{escape(', '.join(polled.tags) or 'none')}); {changed} stored "
                f"article{'' if changed == 1 else 's'} not yet delivered re-tagged",
                highlight=False,
            )

    @group.command("remove")
    def remove(name: Annotated[str, typer.Argument(help="The source's name.")]) -> None:
        """Stop polling a source added with `sources add` (and forget its seen entries)."""
        try:
            store, _cfg = opened()
            store.sources.remove(name)
        except InputError as exc:
            raise fail(exc) from None
        err.print(f"removed {escape(name)}", highlight=False)

    @group.command("list")
    def list_(fmt: Annotated[Format, typer.Option("--format", "-f")] = Format.text) -> None:
        """The poll schedule: every polled source, its interval, tags and next poll."""
        store, cfg = opened()
        # A configured source's row holds the tags its stored articles have (they are
        # re-tagged when it is next read or polled); the schedule shows the file's.
        configured = {c.name: tuple(c.tags) for c in cfg.sources}
        rows = [
            replace(s, tags=configured[s.name])
            if s.origin == "config" and s.name in configured
            else s
            for s in store.sources.all()
            if s.scheduled
        ]
        if fmt is Format.json:
            out.print_json(json.dumps([schedule_record(s) for s in rows]))
            return
        table = Table("name", "kind", "location", "every", "next poll", "from", "tags", "failures")
        table.columns[2].overflow = "fold"
        for s in rows:
            table.add_row(
                escape(redact(s.name)),
                s.kind,
                escape(shown_location(s)),
                format_duration(s.poll_seconds),
                _when(s.next_poll_at),
                "sources.toml" if s.origin == "config" else "sources add",
                escape(", ".join(s.tags)),
                str(s.consecutive_failures),
            )
        out.print(table)

    return group


def register(app: typer.Typer) -> None:
    """Add the sources group: `digestbot sources` (health) and `sources add/remove/list`."""
    from bot.cli._app import state
    from bot.cli.output import err, out

    app.add_typer(make_sources_app(state.settings, out=out, err=err), name="sources")

"""Secrets at rest (issue 24) for sources: a feed URL's password and api_key are sealed.

`digestbot sources add 'https://user:pw@host/feed?api_key=…'` stored the URL as given in
``sources.location``: anyone reading the database file (or its WAL, or a backup) read both.
With ``DIGESTBOT_ENCRYPTION_KEY`` set the location is sealed (deterministically, so `sources
add`'s "already polled" lookup and `sources remove` still find it) and opened to fetch. The
feed is served on 127.0.0.1 and answers only with the right credentials.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, inspect, select, text, update

from digests.net.util import locator_of
from digests.sealing import Sealer
from digests.store import Store
from digests.store.schema import articles, documents, feed_items, sources
from testkit.processes import Outcome, run_digestbot
from tests.digests import http_fixtures
from tests.digests.http_fixtures import LocalWeb, article_html, rss, send

web = http_fixtures.web  # the local server fixture

KEY = "s" * 16 + "correct-horse-battery"  # 37 characters
TABLES = (articles, documents, feed_items)


LINKLESS = (
    "<item><title>Harbour pilots vote to strike over new shift rules</title>"
    "<guid isPermaLink='false'>urn:example:linkless</guid><content:encoded><![CDATA["
    + "<p>Harbour pilots voted on Tuesday to strike next month over new shift rules.</p>" * 8
    + "]]></content:encoded></item></channel>"
)


class SecretFeed:
    """A feed (or page) on the local web that answers only to its user, password and api_key."""

    def __init__(
        self,
        web: LocalWeb,
        path: str = "/private.xml",
        body: str | None = None,
        ctype: str = "application/rss+xml",
    ) -> None:
        # Unique per test: PostgreSQL's files are shared by every database on the server.
        self.password = "pw" + uuid.uuid4().hex
        self.api_key = "key" + uuid.uuid4().hex
        self.url = web.url(f"{path}?api_key={self.api_key}").replace(
            "://", f"://bob:{self.password}@"
        )
        self.answered = 0
        basic = "Basic " + base64.b64encode(f"bob:{self.password}".encode()).decode()
        content = rss(web.base) if body is None else body

        def route(h) -> None:  # type: ignore[no-untyped-def]
            if h.headers.get("Authorization") != basic or f"api_key={self.api_key}" not in h.path:
                send(h, 401, "who are you?")
                return
            self.answered += 1
            send(h, 200, content, ctype=ctype)

        web.routes[path] = route

    def secrets(self) -> tuple[bytes, bytes]:
        return self.password.encode(), self.api_key.encode()


def _around(haystack: bytes, needle: bytes) -> bytes:
    """What surrounds ``needle``: which row or file held it."""
    at = haystack.find(needle)
    return haystack[max(0, at - 300) : at + 100]


def _sqlite_bytes(store: Store) -> bytes:
    path = Path(store.engine.url.database or "")
    return b"".join(p.read_bytes() for p in path.parent.iterdir() if p.is_file())


def _postgres_bytes(store: Store) -> bytes:
    """Every row of every table as text, and the database's files and the WAL written since
    the test began, after a checkpoint (the server runs on this machine)."""
    dump = []
    with store.engine.connect() as conn:
        for table in inspect(conn).get_table_names():
            rows = conn.execute(text(f'SELECT CAST(t AS text) FROM "{table}" t')).scalars()
            dump += list(rows)
        conn.exec_driver_sql("CHECKPOINT")
        data = Path(conn.exec_driver_sql("SHOW data_directory").scalar_one())
        oid = conn.exec_driver_sql(
            "SELECT oid FROM pg_database WHERE datname = current_database()"
        ).scalar_one()
    files = [p for p in (data / "base" / str(oid)).iterdir() if p.is_file()]
    files += [p for p in (data / "pg_wal").iterdir() if p.is_file()]
    return "\n".join(dump).encode() + b"".join(p.read_bytes() for p in files)


@pytest.fixture(params=["sqlite", "postgresql"])
def database(
    request: pytest.FixtureRequest, tmp_path: Path
) -> tuple[str, Callable[[Store], bytes]]:
    """The database URL the CLI is given, and how to read every byte it stored."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'data' / 'bot.db'}", _sqlite_bytes
    store: Store = request.getfixturevalue("pg_stores")()
    url = store.engine.url.render_as_string(hide_password=False)
    if not Path(_data_directory(store)).is_dir():
        pytest.skip("the PostgreSQL server's files are not readable here")
    return url, _postgres_bytes


def _data_directory(store: Store) -> str:
    with store.engine.connect() as conn:
        return str(conn.exec_driver_sql("SHOW data_directory").scalar_one())


def _env(config_dir: Path, tmp_path: Path, url: str, key: str | None) -> dict[str, str]:
    env = {
        "DIGESTBOT_CONFIG_DIR": str(config_dir),
        "DIGESTBOT_DATA_DIR": str(tmp_path / "data"),
        "DIGESTBOT_DATABASE_URL": url,
    }
    return {**env, "DIGESTBOT_ENCRYPTION_KEY": key} if key else env


def _cli(env: dict[str, str], *args: str) -> Outcome:
    """A real `digestbot` process (the CLI leaves its engine to the process's exit)."""
    return run_digestbot(*args, env=env)


def _add_then_ingest(env: dict[str, str], *feeds: SecretFeed, added: int) -> None:
    """`sources add` each feed, then one `ingest` that adds ``added`` articles."""
    for feed in feeds:
        result = _cli(env, "sources", "add", feed.url)
        assert result.returncode == 0, result.describe()
    polled = _cli(env, "ingest", "--allow-private-networks")
    assert polled.returncode == 0 and f"{added} added" in polled.stderr, polled.describe()
    assert all(feed.answered == 1 for feed in feeds)  # fetched with the password and api_key


def test_a_feed_added_with_its_secrets_is_stored_sealed_and_still_polled(
    web: LocalWeb, config_dir: Path, tmp_path: Path, database
) -> None:
    url, stored_bytes = database
    feed = SecretFeed(web)
    env = _env(config_dir, tmp_path, url, KEY)
    _add_then_ingest(env, feed, added=8)  # opened to fetch
    again = _cli(env, "sources", "add", feed.url)
    assert again.returncode == 1 and "already" in again.stderr  # found by its sealed form
    outcomes = [
        _cli(env, *args)
        for args in (["sources"], ["sources", "list"], ["sources", "list", "--format", "json"],
                     ["articles"], ["status", "--format", "json"])
    ]  # fmt: skip
    shown = "".join(o.stdout + o.stderr for o in outcomes)
    assert "127.0.0.1" in shown
    with closing(Store.open(url, sealer=Sealer(KEY))) as store:
        [row] = [s for s in store.sources.all() if s.location == feed.url]
        everything = stored_bytes(store) + shown.encode()
        for secret in feed.secrets():
            assert secret not in everything, _around(everything, secret)
        with store.engine.connect() as conn:
            raw = conn.scalar(select(sources.c.location).where(sources.c.id == row.id))
        assert raw is not None and raw.startswith("siv:")
    removed = _cli(env, "sources", "remove", row.name)
    assert removed.returncode == 0, removed.describe()


def test_without_a_key_the_location_is_stored_as_given(
    web: LocalWeb, config_dir: Path, tmp_path: Path, database
) -> None:
    url, _ = database
    feed = SecretFeed(web)
    _add_then_ingest(_env(config_dir, tmp_path, url, None), feed, added=8)
    with closing(Store.open(url)) as store, store.engine.connect() as conn:
        assert conn.scalar(select(sources.c.location).where(sources.c.origin == "cli")) == feed.url


def test_a_location_stored_plain_is_sealed_at_start_and_still_polled(
    web: LocalWeb, config_dir: Path, tmp_path: Path, database
) -> None:
    # Added before the key was set: sealed by the first command with the key (as `serve`'s
    # start does, Store.seal_secrets), as tokens.
    url, _ = database
    feed = SecretFeed(web)
    assert _cli(_env(config_dir, tmp_path, url, None), "sources", "add", feed.url).returncode == 0
    env = _env(config_dir, tmp_path, url, KEY)
    again = _cli(env, "sources", "add", feed.url)  # the plain row is found with a key set too
    assert again.returncode == 1 and "already" in again.stderr, again.describe()
    with closing(Store.open(url, sealer=Sealer(KEY))) as store:
        assert store.seal_secrets() == 0  # that command sealed it already
        with store.engine.connect() as conn:
            raw = conn.scalar(select(sources.c.location).where(sources.c.origin == "cli"))
        assert raw is not None and raw.startswith("siv:")
        assert store.sources.polling(feed.url) is not None
    polled = _cli(env, "ingest", "--allow-private-networks")
    assert polled.returncode == 0 and feed.answered == 1, polled.describe()


def test_no_stored_locator_holds_the_feeds_secret(
    web: LocalWeb, config_dir: Path, tmp_path: Path, database
) -> None:
    """The feed's URL was stored as a locator too: a page's (its article's locator and entry
    identity), an entry without a link (feed URL + #guid), and relative links (resolved
    against the feed URL, user:password included). They are stored without the secrets."""
    url, stored_bytes = database
    # Relative links (they fetch with the password) and an entry with no link at all.
    feed = SecretFeed(web, body=rss("").replace("</channel>", LINKLESS))
    page = SecretFeed(web, "/page.html", article_html("one"), "text/html; charset=utf-8")
    env = _env(config_dir, tmp_path, url, KEY)
    _add_then_ingest(env, feed, page, added=9)
    again = _cli(env, "ingest", "--allow-private-networks")  # known by their stored identities
    assert "0 added" in again.stderr and page.answered == 1, again.describe()
    exported = _cli(env, "articles").stdout
    assert web.url("/page.html?api_key=***") in exported  # the page, without its secrets
    with closing(Store.open(url, sealer=Sealer(KEY))) as store:
        everything = stored_bytes(store) + exported.encode()
    for secret in (*feed.secrets(), *page.secrets()):
        assert secret not in everything, _around(everything, secret)


def test_two_pages_told_apart_by_their_query_are_two_articles(
    web: LocalWeb, config_dir: Path, tmp_path: Path
) -> None:
    """A page's locator (unique) and identity were its URL with every query value as ***:
    `?id=one` and `?id=two` of one path were stored under one locator, so only one of the two
    pages was kept. The locator now ends with a digest of the whole URL."""

    def route(h) -> None:  # type: ignore[no-untyped-def]
        send(h, 200, article_html(h.path.rpartition("=")[2]), ctype="text/html; charset=utf-8")

    web.routes["/story.php"] = route
    env = _env(config_dir, tmp_path, f"sqlite:///{tmp_path / 'data' / 'bot.db'}", None)
    for n in ("one", "two"):
        added = _cli(env, "sources", "add", web.url(f"/story.php?id={n}"), "--name", n)
        assert added.returncode == 0, added.describe()
    polled = _cli(env, "ingest", "--allow-private-networks")
    assert polled.returncode == 0 and "0 failed" in polled.stderr, polled.describe()
    exported = _cli(env, "articles", "--format", "jsonl").stdout
    pages = {
        row["locator"]: row["title"]
        for row in map(json.loads, exported.splitlines())
        if row["locator"].startswith(web.url("/story.php?id=***#"))
    }
    assert len(pages) == 2 and len(set(pages.values())) == 2, pages


OTHER_KEY = "o" * 16 + "another-horse-battery"  # the key a source was sealed with, then lost


def test_a_source_sealed_with_a_key_not_given_fails_alone(
    web: LocalWeb, config_dir: Path, tmp_path: Path
) -> None:
    """A source sealed with a key this process does not have (a key lost, or a rotation's old
    key not given as previous) made `ingest` and `sources list` fail as a whole, one line, and
    no other source was polled. It fails alone now: one line naming it and the missing key."""
    url = f"sqlite:///{tmp_path / 'data' / 'bot.db'}"
    lost = SecretFeed(web)
    kept = SecretFeed(web, "/page.html", article_html("one"), "text/html; charset=utf-8")
    env = _env(config_dir, tmp_path, url, KEY)
    assert _cli(env, "sources", "add", kept.url, "--name", "kept").returncode == 0
    # Added by a process with the other key (`sources add` there would refuse it: "kept" is
    # sealed with a key it was not given and may be that URL).
    with closing(Store.open(url, sealer=Sealer(OTHER_KEY))) as old:
        now = datetime.now(UTC)
        old.sources.add("lost", kind="auto", location=lost.url, poll_seconds=1800, now=now)
    polled = _cli(env, "ingest", "--allow-private-networks")
    assert polled.returncode == 1, polled.describe()  # a source failed: said, exit 1
    assert kept.answered == 1 and lost.answered == 0, polled.describe()
    [line] = [ln for ln in polled.stderr.splitlines() if "lost" in ln]
    assert "DIGESTBOT_ENCRYPTION_KEY" in line and "key" in line, polled.describe()
    for args in (["sources"], ["sources", "list"], ["sources", "list", "--format", "json"]):
        shown = _cli(env, *args)
        assert shown.returncode == 0 and "lost" in shown.stdout, shown.describe()
        assert "kept" in shown.stdout and "siv:" not in shown.stdout, shown.describe()
    with closing(Store.open(url, sealer=Sealer(KEY))) as store:
        state = store.sources.get("lost")
    assert state is not None and state.key_missing and state.consecutive_failures == 1
    assert "DIGESTBOT_ENCRYPTION_KEY" in (state.last_error or "")  # its health says so
    # The key that sealed it given as the previous one: it is polled again.
    rotating = {**env, "DIGESTBOT_ENCRYPTION_KEY_PREVIOUS": OTHER_KEY}
    again = _cli(rotating, "ingest", "--allow-private-networks")
    assert again.returncode == 0 and lost.answered == 1, again.describe()


def _lost_key_source(
    web: LocalWeb, config_dir: Path, tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> tuple[str, SecretFeed, dict[str, str]]:
    """A store (SQLite or PostgreSQL) with a source 'news' whose URL (a secret feed's) is
    sealed with OTHER_KEY, and the environment of a process given KEY only (the old key lost)."""
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'data' / 'bot.db'}"
    else:
        url = request.getfixturevalue("pg_stores")().engine.url.render_as_string(
            hide_password=False
        )
    lost = SecretFeed(web)
    old = _env(config_dir, tmp_path, url, OTHER_KEY)
    assert _cli(old, "sources", "add", lost.url, "--name", "news").returncode == 0
    return url, lost, _env(config_dir, tmp_path, url, KEY)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_adding_again_a_url_sealed_with_a_key_lost_names_that_source_and_adds_none(
    web: LocalWeb,
    config_dir: Path,
    tmp_path: Path,
    backend: str,
    request: pytest.FixtureRequest,
) -> None:
    """A source's URL sealed with a key since lost: `sources add` of that URL again (its own
    name, or another) added a second source polling it, as the sealed row could not be
    compared. It is refused now, one line naming the source and the key to set; a URL
    holding no secret (never sealed) is still added; given the key, the URL is recognised."""
    url, lost, env = _lost_key_source(web, config_dir, tmp_path, backend, request)
    for extra in ([], ["--name", "news-again"], ["--tags", "ports"]):
        again = _cli(env, "sources", "add", lost.url, *extra)
        assert again.returncode == 1, again.describe()
        [line] = again.stderr.strip().splitlines()
        assert "'news'" in line and "DIGESTBOT_ENCRYPTION_KEY" in line, again.describe()
        assert lost.password not in line and lost.api_key not in line
    plain = _cli(env, "sources", "add", web.url("/open.xml"), "--name", "open")
    assert plain.returncode == 0, plain.describe()
    with closing(Store.open(url, sealer=Sealer(KEY))) as store:
        added = [s.name for s in store.sources.all() if s.origin == "cli"]
    assert added == ["news", "open"]  # no second source
    rotating = {**env, "DIGESTBOT_ENCRYPTION_KEY_PREVIOUS": OTHER_KEY}
    known = _cli(rotating, "sources", "add", lost.url, "--name", "news-again")
    assert known.returncode == 1 and "already polled as 'news'" in known.stderr, known.describe()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_ingesting_a_url_sealed_with_a_key_lost_names_that_source_and_adds_none(
    web: LocalWeb,
    config_dir: Path,
    tmp_path: Path,
    backend: str,
    request: pytest.FixtureRequest,
) -> None:
    """`ingest URL` of a URL a scheduled source polls, sealed with a key since lost: the row
    could not be compared, so the one-off run added a second source polling it (and fetched
    it again under that name). It is refused now as `sources add` refuses it, before anything
    is read: one line naming the source and the key to set; nothing fetched, no row added."""
    url, lost, env = _lost_key_source(web, config_dir, tmp_path, backend, request)
    again = _cli(env, "ingest", lost.url, "--allow-private-networks")
    assert again.returncode == 1, again.describe()
    [line] = again.stderr.strip().splitlines()
    assert "may already be polled as 'news'" in line, again.describe()
    assert "DIGESTBOT_ENCRYPTION_KEY" in line and "sources remove news" in line, line
    assert lost.password not in line and lost.api_key not in line
    assert lost.answered == 0
    with closing(Store.open(url, sealer=Sealer(KEY, previous=[OTHER_KEY]))) as store:
        rows = [s.name for s in store.sources.all() if s.name != "inbox"]
    assert rows == ["news"]  # no second source
    rotating = {**env, "DIGESTBOT_ENCRYPTION_KEY_PREVIOUS": OTHER_KEY}
    known = _cli(rotating, "ingest", lost.url, "--allow-private-networks")
    assert known.returncode == 0 and lost.answered == 1, known.describe()
    with closing(Store.open(url, sealer=Sealer(KEY, previous=[OTHER_KEY]))) as store:
        polled = [s.name for s in store.sources.all() if s.location == lost.url]
    assert polled == ["news"]  # polled as the source it is


def test_serve_polls_the_other_sources_when_one_is_sealed_with_a_key_not_given(
    web: LocalWeb, config_dir: Path, tmp_path: Path
) -> None:
    """`serve`'s poller claims due sources in batches: one row no key opens failed the whole
    claim (every source in it unpolled, each tick). Now that source's poll fails alone."""
    from digests.config import load_settings
    from digests.ingest.polling import Poller
    from tests.polls import wait_polled

    url = f"sqlite:///{tmp_path / 'data' / 'bot.db'}"
    lost = SecretFeed(web)
    kept = SecretFeed(web, "/page.html", article_html("one"), "text/html; charset=utf-8")
    now = datetime(2026, 12, 7, 8, tzinfo=UTC)
    with closing(Store.open(url, sealer=Sealer(OTHER_KEY))) as old:
        old.sources.add("lost", kind="feed", location=lost.url, poll_seconds=600, now=now)
    settings = load_settings(
        {"DIGESTBOT_ALLOW_PRIVATE_NETWORKS": "1", "DIGESTBOT_DATABASE_URL": url}, config_dir
    )
    with closing(Store.open(url, sealer=Sealer(KEY))) as store:
        store.sources.add("kept", kind="auto", location=kept.url, poll_seconds=600, now=now)
        poller = Poller(store, settings, owner="me", clock=lambda: now)
        try:
            wait_polled(poller, 2, tick=True)
        finally:
            poller.close()
        states = {s.name: s for s in store.sources.all()}
    assert kept.answered == 1 and lost.answered == 0
    assert states["kept"].consecutive_failures == 0 and states["kept"].last_ok_at == now
    assert states["lost"].consecutive_failures == 1
    assert "DIGESTBOT_ENCRYPTION_KEY" in (states["lost"].last_error or "")


def test_a_store_used_by_the_terminal_alone_is_sealed(
    web: LocalWeb, config_dir: Path, tmp_path: Path
) -> None:
    """Rows stored plain (before the key was set) were sealed only by `serve`'s start: a store
    used by the terminal alone (`digestbot ingest` on cron) kept the feed's password and
    api_key plain for ever. Every command that opens the store with a key seals them now, and
    a secret a process without the key writes later is sealed by the next one with it."""
    url = f"sqlite:///{tmp_path / 'data' / 'bot.db'}"
    feed, later = SecretFeed(web), SecretFeed(web, "/later.xml")
    keyless, env = (_env(config_dir, tmp_path, url, k) for k in (None, KEY))
    assert _cli(keyless, "sources", "add", feed.url, "--name", "feed").returncode == 0
    polled = _cli(env, "ingest", "--allow-private-networks")
    assert polled.returncode == 0 and feed.answered == 1, polled.describe()

    def stored() -> tuple[dict[str, str], bytes]:
        with closing(Store.open(url, sealer=Sealer(KEY))) as store:
            with store.engine.connect() as conn:
                rows = conn.execute(select(sources.c.name, sources.c.location)).all()
            return {r.name: r.location for r in rows}, _sqlite_bytes(store)

    locations, everything = stored()
    assert locations["feed"].startswith("siv:")
    for secret in feed.secrets():
        assert secret not in everything, _around(everything, secret)
    assert _cli(keyless, "sources", "add", later.url, "--name", "later").returncode == 0
    assert stored()[0]["later"] == later.url  # written plain by a process without the key
    assert _cli(env, "sources", "list").returncode == 0
    locations, everything = stored()
    assert locations["later"].startswith("siv:")
    for secret in later.secrets():
        assert secret not in everything, _around(everything, secret)


def _as_before_5e7bfbc(store: Store, base: str, feed: SecretFeed, page: SecretFeed) -> None:
    """The rows an ingest wrote before 5e7bfbc: a page's identity and locator were its URL
    whole; a linkless entry's locator the feed URL + #guid; a relative link or guid, resolved
    against the feed URL, kept its user:password."""
    userinfo = feed.url.split("@")[0] + "@"  # http://bob:PASSWORD@
    old = {locator_of(page.url): page.url, locator_of(feed.url): feed.url}

    def before(value: str) -> str:
        for public, whole in old.items():
            if value.startswith(public):
                return whole + value[len(public) :]
        if value.startswith(base + "/"):  # a relative link's (and its guid's) resolution
            value = userinfo + value.removeprefix("http://")
            return value.replace(f"#{base}/", f"#{userinfo}", 1)
        return value

    with store.engine.begin() as conn:
        for table, column in ((feed_items, "identity"), (documents, "locator"),
                              (articles, "locator")):  # fmt: skip
            for row in conn.execute(select(table.c.id, table.c[column])).all():
                if (was := before(row[1])) != row[1]:
                    conn.execute(update(table).where(table.c.id == row.id).values({column: was}))


def _rows(store: Store) -> bytes:
    """Every row of every table, as text."""
    with store.engine.connect() as conn:
        tables = inspect(conn).get_table_names()
        return "\n".join(
            str(row) for t in tables for row in conn.execute(text(f'SELECT * FROM "{t}"'))
        ).encode()


def test_entries_stored_with_the_feeds_secret_before_are_scrubbed(
    web: LocalWeb, config_dir: Path, tmp_path: Path, database
) -> None:
    """feed_items and documents (and articles) rows written before 5e7bfbc kept the feed URL's
    password and api_key, sealed source row or not, until read again. The sealing pass
    rewrites them to today's forms, keeping each entry's identity: a re-poll adds nothing."""
    url, stored_bytes = database
    feed = SecretFeed(web, body=rss("").replace("</channel>", LINKLESS))
    page = SecretFeed(web, "/page.html", article_html("one"), "text/html; charset=utf-8")
    _add_then_ingest(_env(config_dir, tmp_path, url, None), feed, page, added=9)
    with closing(Store.open(url)) as store:
        _as_before_5e7bfbc(store, web.base, feed, page)
        before = _rows(store)
        assert all(s in before for s in (*feed.secrets(), *page.secrets()))
        sizes = [store.feed_items.count(s.id) for s in store.sources.all()]
        with store.engine.connect() as conn:
            counts = [conn.scalar(select(func.count()).select_from(t)) for t in TABLES]
    env = _env(config_dir, tmp_path, url, KEY)
    again = _cli(env, "ingest", "--allow-private-networks")
    assert again.returncode == 0 and "0 added" in again.stderr, again.describe()
    assert page.answered == 1 and feed.answered == 2  # the page is known: not fetched again
    with closing(Store.open(url, sealer=Sealer(KEY))) as store:
        rows = _rows(store)
        # SQLite: the files too (a row rewritten is overwritten: secure_delete, WAL truncated).
        # PostgreSQL keeps a dead tuple until VACUUM: its rows are read, not its files.
        everything = rows + (stored_bytes(store) if store.engine.dialect.name == "sqlite" else b"")
        with store.engine.connect() as conn:
            assert [conn.scalar(select(func.count()).select_from(t)) for t in TABLES] == counts
        assert sizes == [store.feed_items.count(s.id) for s in store.sources.all()]
        exported = _cli(env, "articles", "--format", "jsonl").stdout
        assert locator_of(page.url) in exported and locator_of(feed.url) + "#urn:" in exported
    for secret in (*feed.secrets(), *page.secrets()):
        assert secret not in everything + exported.encode(), _around(everything, secret)

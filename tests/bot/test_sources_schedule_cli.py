"""`digestbot sources add / remove / list`: the run-time poll schedule, on the real CLI."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app, main
from bot.cli.sources import parse_every
from digests.errors import InputError
from digests.ingest.sources import default_name
from digests.store import Store
from testkit.processes import run_digestbot
from tests.digests.http_fixtures import LocalWeb, web  # noqa: F401 - the local server fixture

runner = CliRunner()


def _listed(env: dict[str, str]) -> dict[str, dict]:
    result = runner.invoke(app, ["sources", "list", "--format", "json"], env=env)
    assert result.exit_code == 0, result.output
    return {r["name"]: r for r in json.loads(result.stdout)}


def test_add_list_remove(env: dict[str, str], tmp_path: Path) -> None:
    added = runner.invoke(
        app,
        ["sources", "add", "https://blog.example/feed.xml", "--tags", "Tech,ai", "--every", "15m"],
        env=env,
    )
    assert added.exit_code == 0, added.output
    assert "added blog.example/feed.xml" in added.stderr and "every 15m" in added.stderr
    rows = _listed(env)
    # sources.toml's inbox folder is seeded into the same schedule.
    assert set(rows) == {"inbox", "blog.example/feed.xml"}
    blog = rows["blog.example/feed.xml"]
    assert (blog["origin"], blog["tags"], blog["every_seconds"]) == ("cli", ["tech", "ai"], 900)
    assert rows["inbox"]["origin"] == "config" and rows["inbox"]["every_seconds"] == 1800

    table = runner.invoke(app, ["sources", "list"], env={**env, "COLUMNS": "200"})
    assert "blog.example/feed.xml" in table.stdout and "sources add" in table.stdout

    again = runner.invoke(app, ["sources", "add", "https://blog.example/feed.xml"], env=env)
    assert again.exit_code == 1 and "already exists" in again.stderr
    assert len(again.stderr.strip().splitlines()) == 1

    store = Store.open(f"sqlite:///{tmp_path / 'data' / 'digestbot.db'}")
    assert store.sources.get("blog.example/feed.xml") is not None
    store.close()

    config_source = runner.invoke(app, ["sources", "remove", "inbox"], env=env)
    assert config_source.exit_code == 1 and "remove it there" in config_source.stderr
    removed = runner.invoke(app, ["sources", "remove", "blog.example/feed.xml"], env=env)
    assert removed.exit_code == 0, removed.output
    assert set(_listed(env)) == {"inbox"}
    # The health view (no subcommand) still works.
    health = runner.invoke(app, ["sources", "--format", "json"], env=env)
    assert health.exit_code == 0 and json.loads(health.stdout)[0]["name"] == "inbox"


@pytest.mark.parametrize(
    "args, message",
    [
        (["ftp://x.example/feed"], "not an http(s) URL"),
        (["https://x.example/feed", "--every", "soon"], "--every 'soon'"),
        (["https://x.example/feed", "--every", "0s"], "--every '0s'"),
        (["https://x.example/feed", "--kind", "pdf"], "--kind 'pdf'"),
        # They were stored as given, then named in `sources`, /brief status and /metrics
        # (a newline, an escape sequence, a right-to-left override, 100,000 characters).
        (["https://x.example/a\nb"], "'https://x.example/a\\nb' holds a control character"),
        (["https://x.example/\x1b[31mred"], "holds a control character"),
        (["https://x.example/\u202egnp.exe"], "'https://x.example/gnp.exe' holds a control"),
        (["https://x.example/a b"], "holds a space (write it %20)"),
        (["https://x.example/" + "a" * 3000], "the URL is 3,018 characters long (at most 2,048)"),
        (["https://x.example/f", "--name", "\x1b[2Jnews"], "--name '[2Jnews': give 1 to 200"),
        (["https://x.example/f", "--name", "n" * 201], "give 1 to 200 characters"),
        (["https://x.example/f", "--name", " "], "give 1 to 200 characters"),
        (["https://x.example/f", "--no-tags", "-t", "a"], "--no-tags: not with --tags"),
    ],
)
def test_bad_input_is_one_line(
    env: dict[str, str],
    args: list[str],
    message: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in env.items():  # the real entry point: one line, a usage error (2)
        monkeypatch.setenv(name, value)
    with pytest.raises(SystemExit) as exit_:
        main(["sources", "add", *args])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and message in err
    assert len(err.strip().splitlines()) == 1
    assert set(_listed(env)) == {"inbox"}  # nothing stored


def test_host_names_and_tags_as_everywhere(env: dict[str, str]) -> None:
    """A host name of any script, an address, a path with anything in it; tags lowercased
    (the rule of sources.toml and topic names: lowercase letters, digits and hyphens)."""
    for url in (
        "https://münchen.example/feed",
        "http://[2001:db8::1]:8080/rss",
        "https://news_desk.example/a%20b/feed",
        "https://example.com./rss",
    ):
        added = runner.invoke(app, ["sources", "add", url], env=env)
        assert added.exit_code == 0, (url, added.output)
    added = runner.invoke(
        app, ["sources", "add", "https://t.example/rss", "--tags", "World, local", "-t", "TECH"],
        env=env,
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    assert _listed(env)["t.example/rss"]["tags"] == ["world", "local", "tech"]


def test_an_ipv6_host_is_shown_as_in_its_url(env: dict[str, str]) -> None:
    added = runner.invoke(app, ["sources", "add", "http://[::1]:8080/feed.xml"], env=env)
    assert added.exit_code == 0, added.output
    assert "added [::1]:8080/feed.xml: http://[::1]:8080/feed.xml" in added.stderr
    assert _listed(env)["[::1]:8080/feed.xml"]["location"] == "http://[::1]:8080/feed.xml"
    wide = {**env, "COLUMNS": "200"}
    for args in (["sources", "list"], ["sources"]):
        shown = runner.invoke(app, args, env=wide).stdout
        assert "[::1]:8080/feed.xml " in shown and "unparseable" not in shown, shown


def test_parse_every_and_names() -> None:
    assert [parse_every(v) for v in ("90s", "15m", "2h", "1d", "45")] == [
        90,
        900,
        7200,
        86400,
        2700,
    ]
    with pytest.raises(InputError):
        parse_every("8d")
    assert default_name("https://a.example/news/rss/") == "a.example/news/rss"
    # Host and path only: a name is shown everywhere, a password or query value never is.
    assert default_name("http://a.example:8080/f?x=1") == "a.example:8080/f"
    assert default_name("http://[2001:db8::1]:8080/rss") == "[2001:db8::1]:8080/rss"
    assert default_name("https://bob:hunter2@a.example/f?api_key=k") == "a.example/f"


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://127.0.0.1:8080/feed.xml", "loopback address 127.0.0.1"),
        ("http://localhost/rss", "loopback name localhost"),
        ("http://[::1]:8080/feed.xml", "loopback address ::1"),
        ("http://10.1.2.3/feed", "private address 10.1.2.3"),
        ("https://192.168.0.9/rss", "private address 192.168.0.9"),
        ("http://127.1/feed", "loopback address 127.0.0.1"),  # as the resolver reads it
        ("http://[::ffff:10.0.0.1]/rss", "private address 10.0.0.1"),
    ],
)
def test_a_private_address_is_added_with_a_one_line_warning(
    env: dict[str, str], url: str, why: str
) -> None:
    added = runner.invoke(app, ["sources", "add", url], env=env)
    assert added.exit_code == 0, added.output
    first, warning = added.stderr.strip().splitlines()
    assert first.startswith("added ")
    assert warning == (
        f"warning: its polls will be refused ({why}) unless private networks are allowed: "
        "allow_private_networks = true under [fetch] in digestbot.toml, or "
        "DIGESTBOT_ALLOW_PRIVATE_NETWORKS=1 where digestbot polls"
    )
    assert [r["location"] for r in _listed(env).values() if r["origin"] == "cli"] == [url]


def test_no_warning_where_private_networks_are_allowed_or_for_a_name(
    env: dict[str, str], config_dir: Path
) -> None:
    allowed = {**env, "DIGESTBOT_ALLOW_PRIVATE_NETWORKS": "1"}
    added = runner.invoke(app, ["sources", "add", "http://10.1.2.3/feed"], env=allowed)
    assert added.exit_code == 0 and "warning" not in added.stderr, added.output
    toml = config_dir / "digestbot.toml"
    shipped = toml.read_text()
    off = "allow_private_networks = false"
    assert off in shipped
    toml.write_text(shipped.replace(off, "allow_private_networks = true"))
    added = runner.invoke(app, ["sources", "add", "http://127.0.0.1/feed"], env=env)
    assert added.exit_code == 0 and "warning" not in added.stderr, added.output
    toml.write_text(shipped)
    # A name is judged where it is fetched (no DNS here); a public address is fine.
    for url in ("https://blog.example/feed.xml", "http://93.184.216.34/rss"):
        added = runner.invoke(app, ["sources", "add", url], env=env)
        assert added.exit_code == 0 and "warning" not in added.stderr, added.output


def test_the_warning_says_what_the_poll_then_refuses(
    env: dict[str, str],
    web: LocalWeb,  # noqa: F811 - fixture
) -> None:
    feed = web.url("/rss.xml")
    added = runner.invoke(app, ["sources", "add", feed], env=env)
    assert "(loopback address 127.0.0.1)" in added.stderr.splitlines()[-1]
    polled = runner.invoke(app, ["ingest"], env=env)
    assert "refused loopback address 127.0.0.1" in polled.stderr and web.requests == []


def test_a_folder_sources_tags_changed_in_the_file_reach_its_stored_articles(
    env: dict[str, str], config_dir: Path
) -> None:
    """The shipped inbox source given tags, then other tags: `sources list` shows the file's,
    and the next ingest re-tags the stored articles (none delivered yet), unchanged files."""
    sources = config_dir / "sources.toml"
    shipped = sources.read_text()

    def tag(*tags: str) -> None:
        sources.write_text(
            shipped.replace('folder = "seeds"\n', f'folder = "seeds"\ntags = {list(tags)!r}\n')
        )

    def article_tags() -> list[list[str]]:
        result = runner.invoke(app, ["articles", "--format", "jsonl"], env=env)
        assert result.exit_code == 0, result.output
        return [json.loads(line)["tags"] for line in result.stdout.splitlines()]

    tag("local")
    assert runner.invoke(app, ["ingest"], env=env).exit_code == 0
    assert _listed(env)["inbox"]["tags"] == ["local"]
    assert all("local" in tags for tags in article_tags())
    tag("europe", "wire")
    assert _listed(env)["inbox"]["tags"] == ["europe", "wire"]
    ingested = runner.invoke(app, ["ingest"], env=env)
    assert ingested.exit_code == 0 and "0 added, 5 unchanged" in ingested.stderr
    tags = article_tags()
    assert len(tags) == 5
    assert all({"europe", "wire"} <= set(t) and "local" not in t for t in tags), tags


def test_a_feed_added_with_tags_and_ingested_by_its_url_keeps_them(
    env: dict[str, str],
    web: LocalWeb,  # noqa: F811 - fixture
) -> None:
    """`digestbot ingest URL` of a feed `sources add --tags` polls stored its entries without
    the tags (its one-off source had none): the URL is the source it is known as, tags too."""
    feed = web.url("/rss.xml")
    allowed = {**env, "DIGESTBOT_ALLOW_PRIVATE_NETWORKS": "1"}
    added = runner.invoke(app, ["sources", "add", feed, "--tags", "wire"], env=allowed)
    assert added.exit_code == 0, added.output
    polled = runner.invoke(app, ["ingest", feed], env=allowed)
    assert polled.exit_code == 0 and "3 added" in polled.stderr, polled.output
    result = runner.invoke(app, ["articles", "--format", "jsonl"], env=env)
    entries = [r for r in map(json.loads, result.stdout.splitlines()) if r["url"]]
    assert len(entries) == 3 and all("wire" in r["tags"] for r in entries), entries
    assert _listed(env)[feed.split("://", 1)[1]]["tags"] == ["wire"]


def test_adding_a_polled_url_again_with_tags_changes_them_in_place(
    env: dict[str, str],
    web: LocalWeb,  # noqa: F811 - fixture
) -> None:
    """`sources add URL --tags T` of a URL already polled: its tags change in place, and its
    stored articles not yet delivered are re-tagged (as a changed sources.toml tag does); its
    feed state is kept (nothing fetched again is stored twice)."""
    feed = web.url("/rss.xml")
    name = feed.split("://", 1)[1]
    allowed = {**env, "DIGESTBOT_ALLOW_PRIVATE_NETWORKS": "1"}
    assert (
        runner.invoke(app, ["sources", "add", feed, "--tags", "world"], env=allowed).exit_code == 0
    )
    polled = runner.invoke(app, ["ingest"], env=allowed)  # the feed's 3 and the inbox's 5
    assert polled.exit_code == 0 and "8 added" in polled.stderr, polled.output

    again = runner.invoke(app, ["sources", "add", feed, "--tags", "europe,wire"], env=allowed)
    assert again.exit_code == 0, again.output
    assert again.stderr.splitlines() == [
        f"{name}: tags now europe, wire (were world); 3 stored articles not yet delivered re-tagged"
    ]
    assert _listed(env)[name]["tags"] == ["europe", "wire"]
    result = runner.invoke(app, ["articles", "--format", "jsonl"], env=env)
    entries = [r for r in map(json.loads, result.stdout.splitlines()) if r["url"]]
    assert len(entries) == 3
    assert all({"europe", "wire"} <= set(r["tags"]) and "world" not in r["tags"] for r in entries)
    repolled = runner.invoke(app, ["ingest"], env=allowed)
    assert repolled.exit_code == 0 and "0 added" in repolled.stderr, repolled.output

    kind = runner.invoke(app, ["sources", "add", feed, "--tags", "x", "--kind", "page"], env=env)
    assert kind.exit_code == 1 and len(kind.stderr.strip().splitlines()) == 1
    assert "not its kind" in kind.stderr
    inbox = runner.invoke(app, ["sources", "add", feed, "--name", "inbox", "--tags", "x"], env=env)
    assert inbox.exit_code == 1 and "already exists (from sources.toml)" in inbox.stderr


def test_a_long_url_is_added_and_ingested_on_postgresql(
    config_dir: Path, tmp_path: Path, pg_stores
) -> None:
    """A feed whose host and path are over 200 characters (the name column) was refused by
    PostgreSQL: `sources add` and `ingest URL` said `error: DataError: ... value too long for
    type character varying(200) [SQL: INSERT INTO sources ...`. Its name is cut, with a
    digest of the URL after it, so two such feeds keep apart."""
    store: Store = pg_stores()
    url = store.engine.url.render_as_string(hide_password=False)
    env = {"DIGESTBOT_CONFIG_DIR": str(config_dir), "DIGESTBOT_DATABASE_URL": url,
           "DIGESTBOT_DATA_DIR": str(tmp_path / "data")}  # fmt: skip
    long = "https://x.example/" + "a" * 300
    for tail in ("/one", "/two"):  # real processes: the CLI leaves its engine to the exit
        added = run_digestbot("sources", "add", long + tail, env=env)
        assert added.returncode == 0, added.describe()
    names = {s.location: s.name for s in store.sources.all()}
    one, two = names[long + "/one"], names[long + "/two"]
    assert one != two and len(one) <= 200 and one.startswith("x.example/aaaa")
    assert one == default_name(long + "/one")  # what `ingest URL` names it too
    # Shown whole (the digest too: redaction dropped it as a URL's fragment), so removable.
    listed = run_digestbot("sources", "list", "--format", "json", env=env)
    assert {r["name"] for r in json.loads(listed.stdout)} == {"inbox", one, two}
    assert run_digestbot("sources", "remove", one, env=env).returncode == 0
    ingested = run_digestbot("ingest", long + "/three", env=env)
    assert "DataError" not in ingested.stderr and "skipped " + long + "/three" in ingested.stderr


def test_a_polled_urls_tags_are_cleared_and_its_interval_changed_in_place(
    env: dict[str, str],
    web: LocalWeb,  # noqa: F811 - fixture
) -> None:
    """`sources add URL --no-tags` (or `--tags ''`) clears a polled URL's tags, re-tagging its
    stored articles not yet delivered; `--every` changes its interval in place, due no later
    than one new interval from now; its feed state is kept; a sources.toml source is refused."""
    feed = web.url("/rss.xml")
    name = feed.split("://", 1)[1]
    allowed = {**env, "DIGESTBOT_ALLOW_PRIVATE_NETWORKS": "1"}
    added = runner.invoke(app, ["sources", "add", feed, "-t", "world", "--every", "2h"], env=env)
    assert added.exit_code == 0, added.output
    assert runner.invoke(app, ["ingest"], env=allowed).exit_code == 0
    store = Store.open(f"sqlite:///{Path(env['DIGESTBOT_DATA_DIR']) / 'digestbot.db'}")
    now = datetime.now(UTC)  # as a replica's poll would: the next one 2h ahead
    for polled in store.sources.claim("replica", now=now, limit=10, lease=timedelta(minutes=5)):
        store.sources.finish(polled.id, "replica", next_poll_at=now + timedelta(hours=2))
    store.close()

    cleared = runner.invoke(app, ["sources", "add", feed, "--no-tags"], env=env)
    assert cleared.exit_code == 0, cleared.output
    assert cleared.stderr.splitlines() == [
        f"{name}: tags now none (were world); 3 stored articles not yet delivered re-tagged"
    ]
    assert _listed(env)[name]["tags"] == []
    result = runner.invoke(app, ["articles", "--format", "jsonl"], env=env)
    entries = [r for r in map(json.loads, result.stdout.splitlines()) if r["url"]]
    assert len(entries) == 3 and not any("world" in r["tags"] for r in entries), entries

    tagged = runner.invoke(app, ["sources", "add", feed, "-t", "wire"], env=env)
    assert tagged.exit_code == 0 and _listed(env)[name]["tags"] == ["wire"], tagged.output
    empty = runner.invoke(app, ["sources", "add", feed, "--tags", ""], env=env)
    assert empty.exit_code == 0 and "tags now none (were wire)" in empty.stderr, empty.output
    assert _listed(env)[name]["tags"] == []

    before = datetime.fromisoformat(_listed(env)[name]["next_poll"])
    faster = runner.invoke(app, ["sources", "add", feed, "--every", "15m"], env=env)
    assert faster.exit_code == 0, faster.output
    assert len(faster.stderr.splitlines()) == 1 and "every 15m now (was 2h)" in faster.stderr
    row = _listed(env)[name]
    assert row["every_seconds"] == 900 and row["tags"] == []
    assert datetime.fromisoformat(row["next_poll"]) < before  # not left 2h away
    slower = runner.invoke(app, ["sources", "add", feed, "--every", "1d", "-t", "a"], env=env)
    assert slower.exit_code == 0 and len(slower.stderr.splitlines()) == 2, slower.output
    after = _listed(env)[name]
    assert (after["every_seconds"], after["tags"]) == (86400, ["a"])
    assert after["next_poll"] == row["next_poll"]  # a longer interval puts no poll off
    repolled = runner.invoke(app, ["ingest"], env=allowed)  # its feed state was kept
    assert repolled.exit_code == 0 and "0 added" in repolled.stderr, repolled.output

    bad = runner.invoke(app, ["sources", "add", feed, "--every", "soon"], env=env)
    assert bad.exit_code == 2 and "--every 'soon'" in bad.output
    assert _listed(env)[name]["every_seconds"] == 86400

"""`digestbot ingest URL...` and `digestbot sources`, against a real local web server."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from bot.cli import app
from digests.store import Store
from tests.digests import http_fixtures
from tests.digests.http_fixtures import ARTICLES, LocalWeb, article_html, rss, send

web = http_fixtures.web  # the local server fixture
runner = CliRunner()


def test_ingest_urls_then_sources_show_health(web: LocalWeb, env: dict[str, str]) -> None:
    feed, page = web.url("/rss.xml"), web.url("/articles/one.html")
    refused = runner.invoke(app, ["ingest", feed], env=env)
    assert refused.exit_code == 1 and web.requests == []
    assert "refused loopback address 127.0.0.1" in refused.stderr

    ok = runner.invoke(app, ["ingest", "--allow-private-networks", feed, page], env=env)
    assert ok.exit_code == 0, ok.output
    assert (
        "ingest: 3 added, 0 unchanged, 1 duplicate, 0 failed" in ok.stderr
    )  # the page is the feed's first entry

    listed = runner.invoke(app, ["sources", "--format", "json"], env=env)
    rows = {r["location"]: r for r in json.loads(listed.stdout)}
    assert rows[feed]["consecutive_failures"] == 0 and rows[feed]["last_error"] is None
    assert rows[feed]["last_ok"] and not rows[feed]["configured"]
    assert rows["seeds"]["kind"] == "folder" and rows["seeds"]["configured"]

    titles = runner.invoke(app, ["digest", "--dry-run", "--format", "json"], env=env)
    shown = {i["title"] for s in json.loads(titles.stdout)["sections"] for i in s["items"]}
    assert {t for t, _ in ARTICLES.values()} <= shown


def test_a_feeds_articles_are_credited_to_the_feed_when_their_pages_name_no_site(
    web: LocalWeb, env: dict[str, str]
) -> None:
    # The feed's title ("Example News") is the source of its entries whose pages name no
    # site (no og:site_name): it was the host ("127.0.0.1:PORT"), trafilatura's stand-in.
    # A page that names its site keeps it.
    named = article_html("two").replace(
        "<head>", '<head><meta property="og:site_name" content="Harbour Daily">'
    )
    web.routes["/articles/two.html"] = lambda h: send(h, 200, named)
    ok = runner.invoke(app, ["ingest", "--allow-private-networks", web.url("/rss.xml")], env=env)
    assert ok.exit_code == 0, ok.output
    rows = map(json.loads, runner.invoke(app, ["articles"], env=env).stdout.splitlines())
    sources = {r["title"]: r["source"] for r in rows if r["url"]}
    assert sources == {
        ARTICLES["one"][0]: "Example News",  # its full text is in the feed
        ARTICLES["two"][0]: "Harbour Daily",
        ARTICLES["three"][0]: "Example News",  # fetched: its page names no site
    }
    shown = runner.invoke(app, ["digest", "--dry-run"], env=env).stdout
    assert "Example News · " in shown and "127.0.0.1" not in shown.replace(web.base, "")


def test_a_page_naming_no_site_is_credited_to_its_host(web: LocalWeb, env: dict[str, str]) -> None:
    page = web.url("/articles/three.html")
    ok = runner.invoke(app, ["ingest", "--allow-private-networks", page], env=env)
    assert ok.exit_code == 0, ok.output
    [row] = [
        r
        for r in map(json.loads, runner.invoke(app, ["articles"], env=env).stdout.splitlines())
        if r["url"]
    ]
    assert row["source"] == "127.0.0.1"  # the host: the last resort, no port


def test_a_page_with_secrets_in_its_url_never_shows_them_to_readers(
    web: LocalWeb, env: dict[str, str], config_dir: Path
) -> None:
    # A configured page URL may carry a password and an api_key; its article's link and site
    # name reach chat (digests, briefs) and must not.
    page = web.url("/articles/one.html?api_key=K3YSECRET").replace("://", "://bob:hunter2@")
    with (config_dir / "sources.toml").open("a") as f:
        f.write(f'\n[[source]]\nname = "one"\npage = "{page}"\n')
    first = runner.invoke(app, ["ingest", "--allow-private-networks"], env=env)
    assert first.exit_code == 0 and "6 added" in first.stderr, first.output
    [row] = [
        r
        for r in map(json.loads, runner.invoke(app, ["articles"], env=env).stdout.splitlines())
        if r["title"] == ARTICLES["one"][0]
    ]
    assert row["url"] == web.url("/articles/one.html?api_key=***")
    assert row["source"] and "hunter2" not in row["source"] and "bob" not in row["source"]
    for fmt in ("text", "json"):
        shown = runner.invoke(app, ["digest", "--dry-run", "--format", fmt], env=env).stdout
        assert ARTICLES["one"][0] in shown
        assert "hunter2" not in shown and "K3YSECRET" not in shown
    again = runner.invoke(app, ["ingest", "--allow-private-networks"], env=env)
    assert "0 added" in again.stderr  # still known by its own URL: not fetched as new


def test_a_feeds_password_does_not_reach_its_relative_links(
    web: LocalWeb, env: dict[str, str], config_dir: Path
) -> None:
    # Relative entry links resolve against the feed URL, user:password included; the links
    # fetch with it, but the articles' links (shown in chat) are the publisher's, without it.
    web.routes["/relative.xml"] = lambda h: send(h, 200, rss(""), ctype="application/rss+xml")
    feed = web.url("/relative.xml?api_key=K3YSECRET").replace("://", "://bob:hunter2@")
    with (config_dir / "sources.toml").open("a") as f:
        f.write(f'\n[[source]]\nname = "rel"\nfeed = "{feed}"\n')
    first = runner.invoke(app, ["ingest", "--allow-private-networks"], env=env)
    assert first.exit_code == 0 and "8 added" in first.stderr, first.output
    rows = list(map(json.loads, runner.invoke(app, ["articles"], env=env).stdout.splitlines()))
    links = {r["url"] for r in rows if r["url"]}
    assert {web.url(f"/articles/{k}.html") for k in ("one", "two", "three")} <= links
    assert not [r for r in rows if "hunter2" in f"{r['url']} {r['source']}"]
    for fmt in ("text", "json"):
        shown = runner.invoke(app, ["digest", "--dry-run", "--format", fmt], env=env).stdout
        assert ARTICLES["two"][0] in shown and "hunter2" not in shown and "K3YSECRET" not in shown


def test_sources_table_lists_configured_feeds(
    web: LocalWeb, env: dict[str, str], config_dir: Path
) -> None:
    with (config_dir / "sources.toml").open("a") as f:
        f.write(f'\n[[source]]\nname = "gone"\nfeed = "{web.url("/missing")}"\n')
    result = runner.invoke(app, ["ingest", "--allow-private-networks"], env=env)
    # A configured source that failed is exit 1, like a named file (the seeds still went in).
    assert result.exit_code == 1 and "HTTP 404 Not Found" in result.stderr
    assert "5 added" in result.stderr and "1 failed" in result.stderr
    table = runner.invoke(app, ["sources"], env={**env, "COLUMNS": "200"})
    line = next(ln for ln in table.stdout.splitlines() if "gone" in ln)
    assert "feed" in line and "never" in line and "HTTP 404 Not Found" in line and " 1 " in line


def test_a_folder_source_named_as_its_path_shows_its_name(
    env: dict[str, str], config_dir: Path
) -> None:
    # name = "my-news", folder = "my-news": the table left its name cell blank.
    (config_dir.parent / "my-news").mkdir()
    (config_dir.parent / "my-news" / "note.md").write_text(
        "# Council opens a new library\n\nThe city council opened a new public library on "
        "Monday, with ten thousand books and a reading room for children.\n"
    )
    with (config_dir / "sources.toml").open("a") as f:
        f.write('\n[[source]]\nname = "my-news"\nfolder = "my-news"\n')
    assert runner.invoke(app, ["ingest"], env=env).exit_code == 0
    table = runner.invoke(app, ["sources"], env={**env, "COLUMNS": "200"}).stdout
    cells = [[c.strip() for c in ln.split("│")] for ln in table.splitlines() if "my-news" in ln]
    assert [c[1:4] for c in cells] == [["my-news", "folder", "my-news"]]


def test_a_url_ingested_by_hand_is_named_like_sources_add_names_it(
    web: LocalWeb, env: dict[str, str]
) -> None:
    feed = web.url("/rss.xml")
    name = feed.split("://", 1)[1]  # host:port/rss.xml, as `sources add` names it
    ok = runner.invoke(app, ["ingest", "--allow-private-networks", feed], env=env)
    assert ok.exit_code == 0, ok.output
    [row] = [r for r in json.loads(runner.invoke(app, ["sources", "-f", "json"], env=env).stdout)
             if r["location"] == feed]  # fmt: skip
    assert row["name"] == name
    table = runner.invoke(app, ["sources"], env={**env, "COLUMNS": "250"}).stdout
    cells = [[c.strip() for c in ln.split("│")] for ln in table.splitlines() if feed in ln]
    assert cells and cells[0][1] == name  # the name column is not blank

    # Polling it from now on keeps that one row (and the entries it has seen).
    added = runner.invoke(app, ["sources", "add", feed, "--every", "1h"], env=env)
    assert added.exit_code == 0, added.output
    rows = [r for r in json.loads(runner.invoke(app, ["sources", "-f", "json"], env=env).stdout)
            if r["location"] == feed]  # fmt: skip
    assert [r["name"] for r in rows] == [name]


def test_a_feeds_or_pages_tags_changed_in_the_file_reach_its_stored_entries(
    web: LocalWeb, env: dict[str, str], config_dir: Path, tmp_path: Path
) -> None:
    """QA: a folder source's changed tags re-tagged its stored articles; a feed's or a page's
    left its stored entries with the old ones (in digests of the new tag, /brief, topics).

    Now the next poll re-tags the entries no digest has shown yet, as a folder's read does;
    one a digest showed keeps the tags it was shown with. A text another source stored first
    (the feed's entry only copied it) carries the feed's tags too, and is re-tagged with it."""
    web.routes["/two.xml"] = lambda h: send(
        h, 200, rss(web.base, order=("one", "two")), ctype="application/rss+xml"
    )
    sources = config_dir / "sources.toml"
    shipped = sources.read_text()

    def configure(tags: list[str] | None) -> None:
        text = shipped + f'\n[[source]]\nname = "first"\npage = "{web.url("/articles/one.html")}"\n'
        if tags is not None:
            text += f'\n[[source]]\nname = "wire"\nfeed = "{web.url("/two.xml")}"\n'
            text += f'\n[[source]]\nname = "farms"\npage = "{web.url("/articles/three.html")}"\n'
            text = text.replace('.xml"\n', f'.xml"\ntags = {tags!r}\n')
            text = text.replace('three.html"\n', f'three.html"\ntags = {tags!r}\n')
        sources.write_text(text)

    def tags() -> dict[str, list[str]]:
        result = runner.invoke(app, ["articles", "--format", "jsonl"], env=env)
        assert result.exit_code == 0, result.output
        rows = [json.loads(line) for line in result.stdout.splitlines()]
        return {r["title"]: r["tags"] for r in rows if r["url"]}

    env = {**env, "DIGESTBOT_ALLOW_PRIVATE_NETWORKS": "1"}
    configure(None)  # a page first: the feed's first entry is a copy of its text
    first = runner.invoke(app, ["ingest"], env=env)
    assert first.exit_code == 0 and "6 added" in first.stderr, first.output  # and 5 seeds
    configure(["world"])
    polled = runner.invoke(app, ["ingest"], env=env)
    assert polled.exit_code == 0 and "2 added" in polled.stderr, polled.output
    one, two, three = (ARTICLES[k][0] for k in ("one", "two", "three"))
    assert all("world" in tags()[t] for t in (one, two, three))  # one: the feed's copy of it
    store = Store.open(f"sqlite:///{tmp_path / 'data' / 'digestbot.db'}")
    try:
        ids = {a.title: a.id for a in store.articles.since(0)}
        shown = store.articles.get([ids[two]])[0]
        store.outbox.enqueue(  # a digest showed the feed's second entry
            "run:1", [{"text": "digest"}], platform="slack", channel="C1",
            now=shown.ingested_at, article_ids=[[ids[two]]],
        )  # fmt: skip
    finally:
        store.close()

    configure(["europe", "farming"])
    assert _listed(env)["wire"]["tags"] == ["europe", "farming"]
    again = runner.invoke(app, ["ingest"], env=env)
    assert again.exit_code == 0 and "0 added" in again.stderr, again.output
    now = tags()
    assert {"europe", "farming"} <= set(now[three]) and "world" not in now[three]  # the page
    assert "world" in now[two] and "europe" not in now[two]  # shown: kept as it was shown
    assert {"europe", "farming"} <= set(now[one]) and "world" not in now[one]  # the feed's copy
    assert _listed(env)["wire"]["tags"] == ["europe", "farming"]


def _listed(env: dict[str, str]) -> dict[str, dict]:
    result = runner.invoke(app, ["sources", "list", "--format", "json"], env=env)
    assert result.exit_code == 0, result.output
    return {r["name"]: r for r in json.loads(result.stdout)}

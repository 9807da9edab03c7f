"""What a new operator hits in the first hour, in the terminal (issue 25, part 1)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app
from tests.digests import http_fixtures
from tests.digests.http_fixtures import ARTICLES, LocalWeb

web = http_fixtures.web  # the local server fixture
runner = CliRunner()


@pytest.fixture
def env(config_dir: Path, tmp_path: Path) -> dict[str, str]:
    return {
        "DIGESTBOT_CONFIG_DIR": str(config_dir),
        "DIGESTBOT_DATA_DIR": str(tmp_path / "data"),
        "DIGESTBOT_ALLOW_PRIVATE_NETWORKS": "1",
    }


def _sources(env: dict[str, str]) -> dict[str, dict]:
    listed = runner.invoke(app, ["sources", "--format", "json"], env=env)
    assert listed.exit_code == 0, listed.output
    return {r["location"]: r for r in json.loads(listed.stdout)}


def test_sources_add_then_ingest_reads_the_new_feed(web: LocalWeb, env: dict[str, str]) -> None:
    first = runner.invoke(app, ["ingest"], env=env)  # the seeds
    assert first.exit_code == 0, first.output
    feed = web.url("/rss.xml")
    added = runner.invoke(app, ["sources", "add", feed, "--every", "1h"], env=env)
    assert added.exit_code == 0, added.output
    assert not _sources(env)[feed]["last_polled"]  # "never polled" so far
    asked = web.hit("/rss.xml")  # `sources add` may look at it to tell a feed from a page

    result = runner.invoke(app, ["ingest"], env=env)
    assert result.exit_code == 0, result.output
    assert web.hit("/rss.xml") == asked + 1
    assert "3 added" in result.stderr, result.stderr
    assert _sources(env)[feed]["last_ok"]
    shown = runner.invoke(app, ["digest", "--dry-run", "--format", "json"], env=env)
    titles = {i["title"] for s in json.loads(shown.stdout)["sections"] for i in s["items"]}
    assert {t for t, _ in ARTICLES.values()} <= titles


def test_a_failed_ingest_of_a_url_leaves_no_unhealthy_source(
    web: LocalWeb, env: dict[str, str]
) -> None:
    gone = web.url("/missing")
    failed = runner.invoke(app, ["ingest", gone], env=env)
    assert failed.exit_code == 1 and "HTTP 404" in failed.stderr
    rows = _sources(env)
    assert gone not in rows
    assert all(r["consecutive_failures"] == 0 for r in rows.values()), rows

    # A URL that worked once keeps its good health when a later one-off fetch fails.
    web.routes["/flip"] = web.routes["/rss.xml"]
    flip = web.url("/flip")
    assert runner.invoke(app, ["ingest", flip], env=env).exit_code == 0
    web.routes["/flip"] = web.routes["/missing"]
    assert runner.invoke(app, ["ingest", flip], env=env).exit_code == 1
    row = _sources(env)[flip]
    assert row["consecutive_failures"] == 0 and row["last_ok"]

    # A scheduled source that fails is still shown failing (it is polled again).
    assert runner.invoke(app, ["sources", "add", gone, "--kind", "feed"], env=env).exit_code == 0
    assert runner.invoke(app, ["ingest"], env=env).exit_code == 1
    assert _sources(env)[gone]["consecutive_failures"] == 1


def test_ingest_of_the_inbox_by_a_relative_path_finds_the_files_unchanged(
    env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    first = runner.invoke(app, ["ingest"], env=env)
    assert "ingest: 5 added, 0 unchanged, 0 duplicate, 0 failed" in first.stderr, first.stderr
    for given in ("seeds", "seeds/", "./seeds/../seeds"):
        again = runner.invoke(app, ["ingest", given], env=env)
        assert again.exit_code == 0, again.output
        assert "ingest: 0 added, 5 unchanged, 0 duplicate, 0 failed" in again.stderr, given
    monkeypatch.chdir(tmp_path / "seeds")
    one = sorted(p.name for p in (tmp_path / "seeds").iterdir())[0]
    again = runner.invoke(app, ["ingest", one], env=env)
    assert "ingest: 0 added, 1 unchanged, 0 duplicate, 0 failed" in again.stderr, again.stderr


def test_a_pdf_in_a_folder_is_reported_with_a_reason(env: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / "seeds" / "report.pdf").write_bytes(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    (tmp_path / "seeds" / "notes.swp").write_bytes(b"editor scratch")  # not a document: quiet
    result = runner.invoke(app, ["ingest"], env=env)
    assert result.exit_code == 1
    [line] = [ln for ln in result.stderr.splitlines() if "report.pdf" in ln]
    assert "unsupported file type '.pdf'" in line and ".html" in line
    assert "notes.swp" not in result.stderr
    assert "5 added" in result.stderr and "1 failed" in result.stderr


def test_tables_piped_to_a_file_show_whole_names(env: dict[str, str]) -> None:
    url = "https://news.example.org/" + "/".join(["a-long-section-name"] * 5) + "/rss.xml"
    added = runner.invoke(app, ["sources", "add", url, "--kind", "feed"], env=env)
    assert added.exit_code == 0, added.output
    name = url.removeprefix("https://")
    for args in (["sources"], ["sources", "list"]):
        shown = runner.invoke(app, args, env={**env, "COLUMNS": "80"})  # not a terminal
        assert shown.exit_code == 0, shown.output
        assert "…" not in shown.stdout
        cells = [[c.strip() for c in ln.split("│")] for ln in shown.stdout.splitlines()]
        assert [name, "feed", url] in [row[1:4] for row in cells], shown.stdout

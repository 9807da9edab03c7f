"""`digestbot digest` with nothing to show says why, in one line: an empty store, a topic no
stored article carries, a `--since` every article is older than, nothing new since the last
digest (its date). It said "Nothing new since the last digest." to all of them, even when no
digest had ever been shown. A brief about nothing stored reads alike on every front end."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from typer.testing import CliRunner

from bot.cli import app
from bot.platforms.discord import render as discord
from bot.platforms.mattermost import render as mattermost
from bot.platforms.slack import render as slack
from digests.brief import brief
from digests.config import load_settings
from digests.store import Store

runner = CliRunner()


def _line(env: dict[str, str], *args: str) -> str:
    result = runner.invoke(app, list(args), env=env)
    assert result.exit_code == 0, result.output
    assert len(result.stdout.splitlines()) == 1, result.stdout
    return result.stdout.strip()


def _last_digest(env: dict[str, str], config_dir: Path, name: str) -> str:
    """When the store says subscription ``name`` last showed a digest, as the line shows it."""
    store = Store.open(load_settings(env, config_dir).database_url)
    try:
        [run] = store.runs.recent_runs([name], limit=1)
    finally:
        store.close()
    return f"{run.scheduled_for:%d %b %Y %H:%M %Z}"


def test_an_empty_store_says_so_and_how_to_ingest(env, config_dir: Path, tmp_path: Path) -> None:
    (config_dir / "sources.toml").write_text("")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    env = {**env, "DIGESTBOT_INBOX": str(inbox)}
    expected = (
        f"No articles stored yet: drop files into {inbox} or run "
        "`digestbot ingest PATH|URL` (a file, folder, feed or page)."
    )
    assert _line(env, "digest") == expected
    assert _line(env, "digest", "--topic", "taiwan") == expected  # a configured topic too


def test_a_topic_no_stored_article_carries_says_so(env) -> None:
    topics = json.loads(runner.invoke(app, ["topics", "-f", "json"], env=env).stdout)
    counts = {t["topic"]: t["articles"] for t in topics}
    assert counts["israel"] == 0 and counts["japan"] == 0 and counts["taiwan"] > 0
    lines = runner.invoke(app, ["articles"], env=env).stdout.splitlines()
    stored = len({json.loads(line)["id"] for line in lines})
    tail = f"(of {stored} stored): `digestbot topics` lists the topics and how many articles carry each."
    assert _line(env, "digest", "-t", "israel") == f"No stored article is tagged #israel {tail}"
    assert (
        _line(env, "digest", "-t", "israel", "-t", "japan")
        == f"No stored article is tagged #israel or #japan {tail}"
    )


def test_nothing_new_names_the_last_digest_and_its_date(env, config_dir: Path) -> None:
    assert "News digest" in runner.invoke(app, ["digest"], env=env).stdout
    when = _last_digest(env, config_dir, "cli")
    assert _line(env, "digest") == f"Nothing new since the last digest ({when})."
    # A topic's digest has its own last digest.
    assert "News digest" in runner.invoke(app, ["digest", "-t", "taiwan"], env=env).stdout
    when = _last_digest(env, config_dir, "cli:taiwan")
    assert _line(env, "digest", "-t", "taiwan") == (
        f"Nothing new since the last #taiwan digest ({when})."
    )


def test_a_since_every_article_is_older_than_says_so(env) -> None:
    assert _line(env, "digest", "--dry-run", "--since", "2099-01-01") == (
        "No stored article is dated since 01 Jan 2099 00:00 UTC."
    )
    assert _line(env, "digest", "--dry-run", "-t", "taiwan", "--since", "2099-01-01") == (
        "No stored article tagged #taiwan is dated since 01 Jan 2099 00:00 UTC."
    )


def test_after_a_since_skipped_everything_a_digest_says_all_was_shown_or_skipped(env) -> None:
    """A `--since` that skipped every pending article records no digest shown: the next digest
    has no "last digest" to name, and said only "Nothing to show."."""
    assert _line(env, "digest", "--since", "2099-01-01") == (
        "No stored article is dated since 01 Jan 2099 00:00 UTC; "
        "5 older articles skipped (marked delivered)."
    )
    assert _line(env, "digest", "--dry-run") == (
        "Nothing new: the 5 stored articles were shown or skipped by an earlier digest."
    )
    assert _line(env, "digest", "--since", "2099-01-01", "-t", "taiwan").endswith(
        "older articles skipped (marked delivered)."
    )
    tagged = _line(env, "digest", "--dry-run", "-t", "taiwan")
    assert tagged.startswith("Nothing new: the ") and tagged.endswith(
        " stored articles tagged #taiwan were shown or skipped by an earlier digest."
    )


def syndicated_copy(env: dict[str, str], tmp_path: Path) -> Path:
    """A folder holding another wire's copy of a seed: it joins the seed's story and, once
    that story was shown, has nothing new to say."""
    seed = tmp_path / "seeds" / "004_070d7d47b9e683b9.txt"
    extracted = json.loads(runner.invoke(app, ["extract", str(seed)], env=env).stdout)
    folder = tmp_path / "copies"
    folder.mkdir()
    copy = {"title": extracted["title"], "text": f"{extracted['body']} (Wire C)", "source": "C"}
    (folder / "copy.json").write_text(json.dumps(copy))
    return folder


def test_a_digest_of_stories_with_nothing_new_says_so(env, tmp_path: Path) -> None:
    # It printed the "News digest — 1 article, ..." header with nothing under it.
    assert "News digest" in runner.invoke(app, ["digest"], env=env).stdout
    ingest = runner.invoke(app, ["ingest", str(syndicated_copy(env, tmp_path))], env=env)
    assert ingest.exit_code == 0, ingest.output
    covered = json.loads(runner.invoke(app, ["digest", "--dry-run", "-f", "json"], env=env).stdout)
    assert covered["article_count"] == 1 and not covered["sections"]
    expected = "Nothing new: 1 new article adds nothing to the stories already shown."
    assert _line(env, "digest", "--dry-run") == expected
    assert _line(env, "digest") == expected
    assert _line(env, "digest").startswith("Nothing new since the last digest (")  # covered


def test_a_brief_about_nothing_stored_reads_alike_on_every_front_end(env, config_dir) -> None:
    # Discord and Mattermost said "Nothing stored says anything about **taiwn** yet. Try: ...".
    terminal = _line(env, "brief", "taiwn")
    settings = load_settings(env, config_dir)
    store = Store.open(settings.database_url)
    try:
        answer = brief(store, "taiwn", topics=settings.topics, now=datetime.now(UTC))
    finally:
        store.close()
    assert answer.suggestions and not answer.sentences
    tries = ", ".join(answer.suggestions)
    assert terminal == f"Nothing stored about “taiwn”. Try: {tries}."
    assert slack.brief_message(answer)["text"] == terminal
    coded = terminal.replace(tries, ", ".join(f"`{s}`" for s in answer.suggestions))
    assert discord.brief_message(answer)["content"] == coded
    assert mattermost.brief_text(answer) == coded


def test_a_brief_about_a_word_no_topic_is_close_to_lists_the_known_ones(env, config_dir) -> None:
    """`brief narnia` said "Try: iran, united-states, ukraine" (the busiest topics offered as
    if close); every front end now lists them as the known topics instead."""
    terminal = _line(env, "brief", "narnia")
    settings = load_settings(env, config_dir)
    store = Store.open(settings.database_url)
    try:
        answer = brief(store, "narnia", topics=settings.topics, now=datetime.now(UTC))
    finally:
        store.close()
    assert answer.known_topics and not answer.suggestions and not answer.sentences
    known = ", ".join(answer.known_topics)
    assert terminal == f"Nothing stored about “narnia”. Topics with articles: {known}."
    assert "Try:" not in terminal
    assert slack.brief_message(answer)["text"] == terminal
    coded = terminal.replace(known, ", ".join(f"`{s}`" for s in answer.known_topics))
    assert discord.brief_message(answer)["content"] == coded
    assert mattermost.brief_text(answer) == coded

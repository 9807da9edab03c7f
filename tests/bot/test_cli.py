"""The `digestbot` command line, as an operator uses it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from bot.cli import app, parse_since
from digests.config import load_settings
from digests.errors import InputError
from digests.store import Store
from digests.store.articles import ChunkItem
from testkit.articles import made_up_name, make_processed
from tests.conftest import NOW

runner = CliRunner()
PORTS = (
    "The two main container ports reopened on Monday after a week-long strike by dock workers. "
    "Hundreds of ships had queued overnight outside the harbour waiting for berths. "
    "Port officials said they expected delays to last well into next month. "
    "Trade through the ports resumed slowly as cranes were brought back into service."
)
PORTS_TWO = (
    "The two main container ports reopened on Monday after a week-long strike by dock workers."
    "\n\nHundreds of ships had queued overnight outside the harbour waiting for berths."
)


def _run(env: dict[str, str], *args: str):
    return runner.invoke(app, list(args), env=env)


def test_digest_dry_run_on_a_fresh_store_shows_the_seeds(env) -> None:
    result = _run(env, "digest", "--dry-run", "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    items = [i for s in data["sections"] for i in s["items"]]
    assert data["article_count"] == 5 and len(items) + sum(len(i["also"]) for i in items) == 5
    for item in items:
        assert set(item) >= {
            "id",
            "title",
            "source",
            "author",
            "published",
            "url",
            "summary",
            "tags",
        }
        assert item["summary"] and all(isinstance(s, str) for s in item["summary"])
    # --dry-run marks nothing: the same digest again.
    again = json.loads(_run(env, "digest", "--dry-run", "--format", "json").stdout)
    assert again["article_count"] == 5


def test_digest_marks_delivered_then_nothing_new(env) -> None:
    assert "News digest" in _run(env, "digest").stdout
    assert "Nothing new" in _run(env, "digest").stdout


def test_digest_topic_and_since_filters(env) -> None:
    data = json.loads(_run(env, "digest", "--dry-run", "-f", "json", "--topic", "taiwan").stdout)
    assert data["sections"] and all(s["tag"] == "taiwan" for s in data["sections"])
    assert (
        json.loads(_run(env, "digest", "--dry-run", "-f", "json", "--since", "2099-01-01").stdout)[
            "article_count"
        ]
        == 0
    )
    bad = _run(env, "digest", "--since", "yesterday-ish")
    assert bad.exit_code != 0


def test_since_skips_every_pending_article_dated_before_it(env, tmp_path: Path) -> None:
    # What --since left behind depended on the order articles were stored in: an old article
    # stored after the newest one shown stayed pending, one stored before it was consumed.
    assert _run(env, "digest").exit_code == 0  # the seeds, delivered
    folder = tmp_path / "more"
    folder.mkdir()
    stories = [
        (
            "2026-12-06",
            "ferry",
            "Storms halted the island ferry for three days. Farmers lost crops.",
        ),
        (
            "2026-10-01",
            "bridge",
            "Engineers closed the river bridge after finding cracks in a pier.",
        ),
        ("2026-12-05", "tunnel", "A railway tunnel under the mountains opened to freight trains."),
        ("2026-10-02", "airport", "The airport board approved a second runway despite protests."),
    ]
    for n, (date, title, text) in enumerate(stories, 1):
        (folder / f"{n}.json").write_text(json.dumps({"title": title, "text": text, "date": date}))
    assert _run(env, "ingest", str(folder)).exit_code == 0
    since = _run(env, "digest", "--since", "2026-11-01", "-f", "json")
    shown = json.loads(since.stdout)
    titles = {i["title"] for s in shown["sections"] for i in s["items"]}
    assert titles == {"ferry", "tunnel"}
    assert since.stderr == (
        "digest: 2 articles dated before 01 Nov 2026 00:00 UTC skipped (marked delivered)\n"
    )
    assert "Nothing new" in _run(env, "digest").stdout  # bridge and airport: both skipped


def test_since_skips_the_older_articles_when_none_is_left_to_show(env) -> None:
    # With every pending article older than --since the digest was empty and the command
    # returned before marking anything: the next `digest` still showed all five seeds.
    def line(*args: str) -> str:
        result = _run(env, "digest", *args)
        assert result.exit_code == 0, result.output
        assert len(result.stdout.splitlines()) == 1, result.stdout
        return result.stdout.strip()

    def pending(*args: str) -> int:
        return json.loads(_run(env, "digest", "--dry-run", "-f", "json", *args).stdout)[
            "article_count"
        ]

    taiwan = pending("-t", "taiwan")
    assert 0 < taiwan < 5
    bound = "01 Jan 2099 00:00 UTC"
    # --dry-run marks nothing.
    assert (
        line("--dry-run", "--since", "2099-01-01") == f"No stored article is dated since {bound}."
    )
    assert pending() == 5
    # A topic's --since skips that set of topics' articles only.
    s = "s" * (taiwan != 1)
    assert line("-t", "taiwan", "--since", "2099-01-01") == (
        f"No stored article tagged #taiwan is dated since {bound}; "
        f"{taiwan} older article{s} skipped (marked delivered)."
    )
    assert pending("-t", "taiwan") == 0
    assert pending() == 5 and pending("-t", "china") > 0
    assert line("--since", "2099-01-01") == (
        f"No stored article is dated since {bound}; 5 older articles skipped (marked delivered)."
    )
    assert pending() == 0
    assert "News digest" not in _run(env, "digest").stdout


def test_a_digest_marks_delivered_what_it_showed_when_more_is_pending(env, config_dir) -> None:
    # The terminal showed up to 5,000 new articles but marked delivered only the first 1,000
    # (every other digest run's limit): the next digest showed the other 100 again.
    (config_dir / "topics.toml").write_text("")  # no topics to learn from 1,105 articles
    assert _run(env, "digest").exit_code == 0  # the seeds, delivered
    store = Store.open(load_settings(env, config_dir).database_url)
    try:
        items = [
            ChunkItem(
                f"test://{n}",
                str(n),
                make_processed(
                    f"{made_up_name(n)} opens a harbour",
                    f"{made_up_name(n)} opened a new harbour for fishing boats on Monday. "
                    f"The mayor of {made_up_name(n)} said trade would grow.",
                    published=NOW,
                ),
            )
            for n in range(1100)
        ]
        assert None not in store.articles.add_chunk(items, now=NOW)
    finally:
        store.close()
    first = json.loads(_run(env, "digest", "-f", "json").stdout)["article_count"]
    rest = json.loads(_run(env, "digest", "--dry-run", "-f", "json").stdout)["article_count"]
    assert rest > 0 and first + rest == 1100


def test_a_digest_marks_delivered_only_what_it_showed(env, config_dir, monkeypatch) -> None:
    # The terminal composed the digest it printed, then its run composed it again: an article
    # stored in between (`serve` or another `ingest` on the same database) was marked
    # delivered (or, older than --since, skipped) without ever being shown.
    import bot.post

    post_now = bot.post.post_now

    def digest_storing_meanwhile(title: str, published: datetime, *args: str) -> list[str]:
        def storing(*a: Any, **kw: Any) -> Any:
            store = Store.open(load_settings(env, config_dir).database_url)
            try:
                late = make_processed(
                    title, f"{title} was reported on the island.", published=published
                )
                assert store.articles.add(late, now=NOW) is not None
            finally:
                store.close()
            return post_now(*a, **kw)

        monkeypatch.setattr(bot.post, "post_now", storing)
        try:
            shown = json.loads(_run(env, "digest", "-f", "json", *args).stdout)
        finally:
            monkeypatch.setattr(bot.post, "post_now", post_now)
        return [i["title"] for s in shown["sections"] for i in s["items"]]

    def pending() -> list[str]:
        shown = json.loads(_run(env, "digest", "--dry-run", "-f", "json").stdout)
        return [i["title"] for s in shown["sections"] for i in s["items"]]

    assert len(digest_storing_meanwhile("The ferry resumes", NOW)) == 5  # the seeds' stories
    assert pending() == ["The ferry resumes"]
    old = NOW - timedelta(days=400)
    assert digest_storing_meanwhile("The old pier collapses", old, "--since", "30d") == [
        "The ferry resumes"
    ]
    assert pending() == ["The old pier collapses"]


def test_a_topic_digest_leaves_the_others_pending(env) -> None:
    topical = json.loads(_run(env, "digest", "--topic", "taiwan", "-f", "json").stdout)
    assert 0 < topical["article_count"] < 5
    assert "Nothing new" in _run(env, "digest", "--topic", "taiwan").stdout
    everything = json.loads(_run(env, "digest", "--dry-run", "-f", "json").stdout)
    assert everything["article_count"] == 5  # a plain digest still has all five to show


def test_brief_taiwan_is_cited_from_several_seeds(env) -> None:
    data = json.loads(_run(env, "brief", "taiwan", "--format", "json").stdout)
    assert data["topic"] == "taiwan" and len(data["sentences"]) >= 3
    assert len({s["article_id"] for s in data["sentences"]}) >= 2
    assert all(s["title"] for s in data["sentences"])
    text = _run(env, "brief", "taiwan").stdout
    assert "Sources:" in text and "[1]" in text


def test_brief_takes_a_configured_topic_as_digests_show_it(env) -> None:
    """`brief '#taiwan'` was a full-text search for "#taiwan", unlike `--topic '#taiwan'`."""
    plain = _run(env, "brief", "taiwan", "--format", "json")
    assert plain.exit_code == 0, plain.output
    for shown in ("#taiwan", "#Taiwan", "# taiwan"):
        result = _run(env, "brief", shown, "--format", "json")
        assert result.exit_code == 0 and result.stdout == plain.stdout, shown
    spaced = json.loads(_run(env, "brief", "#south-china-sea", "-f", "json").stdout)
    assert spaced["topic"] == "south-china-sea"
    # Not a configured topic: still the words asked about, as before.
    other = json.loads(_run(env, "brief", "#quantum", "-f", "json").stdout)
    assert other["topic"] == "#quantum" and not other["sentences"]


def test_brief_unknown_topic_is_a_friendly_answer(env) -> None:
    result = _run(env, "brief", "quantum", "gardening")
    assert result.exit_code == 0 and "Nothing stored about" in result.stdout


def test_topics_counts(env) -> None:
    data = json.loads(_run(env, "topics", "--format", "json").stdout)
    counts = {t["topic"]: t["articles"] for t in data}
    assert counts["taiwan"] >= 3 and counts["china"] == 5


def test_ingest_reports_added_unchanged_failed(env, config_dir: Path) -> None:
    first = _run(env, "ingest")
    assert "5 added, 0 unchanged, 0 duplicate, 0 failed" in first.stderr
    bad = config_dir.parent / "seeds" / "bad.txt"
    bad.write_bytes(b"\x00\x00binary")
    second = _run(env, "ingest")
    assert "0 added, 5 unchanged, 0 duplicate, 1 failed" in second.stderr
    assert "bad.txt: file looks binary" in second.stderr
    assert first.exit_code == 0 and second.exit_code == 1  # a failure in a configured folder


def test_ingest_exits_1_when_anything_failed_and_still_ingests_the_rest(
    env, config_dir: Path, tmp_path: Path
) -> None:
    seeds = sorted((config_dir.parent / "seeds").glob("*.txt"))
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"\x00\x00binary")
    named = _run(env, "ingest", str(seeds[0]), str(bad))  # named files: one good, one bad
    assert named.exit_code == 1
    assert "1 added, 0 unchanged, 0 duplicate, 1 failed" in named.stderr
    assert "bad.txt: file looks binary" in named.stderr
    assert _run(env, "ingest", str(seeds[0])).exit_code == 0  # nothing failed: 0


def test_extract_and_summarize_jsonl(env, config_dir: Path, tmp_path: Path) -> None:
    seeds = sorted((config_dir.parent / "seeds").glob("*.txt"))
    lines = _run(env, "extract", *map(str, seeds[:2])).stdout.splitlines()
    records = [json.loads(line) for line in lines]
    assert [Path(r["path"]).name for r in records] == [s.name for s in seeds[:2]]
    assert all(
        set(r) == {"path", "title", "source", "author", "published", "url", "tags", "body"}
        for r in records
    )
    story = tmp_path / "story.json"
    story.write_text(json.dumps({"title": "Ports reopen", "text": PORTS}))
    [line] = _run(env, "summarize", str(story), "--sentences", "2").stdout.splitlines()
    record = json.loads(line)
    assert record["title"] == "Ports reopen" and len(record["summary"]) == 2
    plain = tmp_path / "plain.txt"
    plain.write_text(PORTS_TWO)
    [line] = _run(env, "summarize", str(plain), "--plain").stdout.splitlines()
    assert json.loads(line)["summary"] == PORTS_TWO.split("\n\n")  # short text comes back whole


def test_extract_and_summarize_text_show_no_python_reprs(env, tmp_path: Path) -> None:
    """`summarize -f text` printed `summary: ['...', '...']`, `extract -f text` `author: None`."""
    story = tmp_path / "story.json"
    story.write_text(json.dumps({"title": "Ports reopen", "text": PORTS}))
    result = _run(env, "summarize", str(story), "--sentences", "2", "--format", "text")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[:3] == [f"path: {story}", "title: Ports reopen", "summary:"]
    quoted = [line for line in lines[3:] if line.strip()]
    assert len(quoted) == 2 and "['" not in result.stdout  # one sentence a line, indented
    assert all(line.startswith("  ") and line.strip() in PORTS for line in quoted)
    result = _run(env, "extract", str(story), "--format", "text")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[:7] == [
        f"path: {story}",
        "title: Ports reopen",
        "source: -",
        "author: -",
        "published: -",
        "url: -",
        "tags: -",
    ]
    assert "None" not in result.stdout and "[]" not in result.stdout
    assert PORTS in result.stdout


def test_a_headline_that_is_the_whole_story_is_its_summary(env, tmp_path: Path) -> None:
    """A one-line article without a sentence end was stored with an empty summary: the
    digest showed its title and nothing under it (Discord: "(no summary)")."""
    line = "a headline with no sentence ending and words going on"
    story = tmp_path / "flash.txt"
    story.write_text(line)
    assert _run(env, "ingest", str(story)).exit_code == 0
    result = _run(env, "digest", "--dry-run", "--format", "json")
    assert result.exit_code == 0, result.output
    items = [i for s in json.loads(result.stdout)["sections"] for i in s["items"]]
    [item] = [i for i in items if i["title"] == line]
    assert item["summary"] == [line]
    assert [c["text"] for c in item["citations"]] == [line]
    text = _run(env, "digest", "--dry-run").stdout.splitlines()
    at = text.index(f"• {line}")
    assert text[at + 2].strip() == line  # under its byline, as any summary
    [out] = _run(env, "summarize", "--plain", str(story)).stdout.splitlines()
    assert json.loads(out)["summary"] == [line]
    together = _run(env, "summarize", "--together", str(story), "-f", "json")
    assert [s["text"] for s in json.loads(together.stdout)["summary"]] == [line]


def test_bad_input_is_one_line_and_nonzero(env, tmp_path: Path) -> None:
    missing = _run(env, "extract", str(tmp_path / "nope.txt"))
    assert missing.exit_code == 1 and "no such file" in missing.stderr
    result = _run(
        env, "summarize", "--algorithm", "magic", str(next((tmp_path / "seeds").glob("*.txt")))
    )
    assert result.exit_code != 0


def test_a_bad_input_names_its_path_once(env, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    # One wording wherever the JSON is read: `summarize --plain` said "not valid JSON (…, line
    # 1)" where extract and ingest said "invalid JSON (… at line 1)".
    said = f"skipped {bad}: invalid JSON (Expecting property name enclosed in double quotes: line 1 column 2)"
    commands = (["extract"], ["summarize"], ["summarize", "--together"], ["summarize", "--plain"],
                ["summarize", "--together", "--plain"], ["ingest"])  # fmt: skip
    for args in commands:
        result = _run(env, *args, str(bad))
        assert result.exit_code == 1, (args, result.output)
        line = result.stderr.strip().splitlines()[0]
        assert line == said, (args, result.stderr)
        assert result.stderr.count(str(bad)) == 1, (args, result.stderr)


def test_parse_since() -> None:
    assert parse_since("24h", NOW) == NOW.replace(day=22)
    assert parse_since("2025-06-01", NOW).isoformat() == "2025-06-01T00:00:00+00:00"
    with pytest.raises(InputError):
        parse_since("soon", NOW)


def test_installed_console_script_runs(env) -> None:
    exe = Path(sys.executable).with_name("digestbot")
    if not exe.exists():
        pytest.skip("digestbot console script not installed in this environment")
    proc = subprocess.run(
        [str(exe), "brief", "taiwan", "--format", "json"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["sentences"]
    bad = subprocess.run(
        [str(exe), "--config", "/nonexistent/dir", "digest"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 1 and bad.stderr.strip().startswith("error:")
    assert len(bad.stderr.strip().splitlines()) == 1


def test_unreachable_database_is_one_line(env) -> None:
    exe = Path(sys.executable).with_name("digestbot")
    if not exe.exists():
        pytest.skip("digestbot console script not installed in this environment")
    bad = {
        **os.environ,
        **env,
        "DIGESTBOT_DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/x",
    }
    proc = subprocess.run([str(exe), "topics"], env=bad, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert (
        proc.stderr.startswith("error: cannot open the database") and proc.stderr.count("\n") == 1
    )


def test_a_folder_sources_tags_reach_its_articles(env, config_dir: Path, tmp_path: Path) -> None:
    (config_dir / "sources.toml").write_text(
        '[[source]]\nname = "inbox"\nfolder = "seeds"\ntags = ["worldtag"]\n'
    )
    assert _run(env, "ingest").exit_code == 0
    store = Store.open(f"sqlite:///{tmp_path / 'data' / 'digestbot.db'}")
    try:
        articles = store.articles.since(0)
        assert len(articles) == 5 and all("worldtag" in a.tags for a in articles)
    finally:
        store.close()


def test_brief_with_or_cites_articles_naming_either(env, config_dir: Path) -> None:
    inbox = config_dir.parent / "seeds"
    (inbox / "eu.md").write_text(
        "# EU ministers agree on steel tariffs\n\nEU ministers agreed on Monday to raise "
        "tariffs on imported steel by ten percent. The EU trade commissioner said the measure "
        "would take effect in March.\n"
    )
    (inbox / "nato.md").write_text(
        "# NATO allies plan an air defence exercise\n\nNATO allies will hold their largest "
        "air defence exercise in years next month. The NATO secretary general said thirty "
        "members would send aircraft.\n"
    )
    assert _run(env, "ingest").exit_code == 0
    data = json.loads(_run(env, "brief", "EU OR NATO", "--format", "json").stdout)
    titles = {s["title"] for s in data["sentences"]}
    assert {
        "EU ministers agree on steel tariffs",
        "NATO allies plan an air defence exercise",
    } <= titles


def test_since_and_every_read_one_duration_syntax() -> None:
    from digests.durations import parse_duration

    assert parse_since("2w", NOW) == NOW - timedelta(weeks=2)
    assert parse_since(" 90M ", NOW) == NOW - timedelta(minutes=90)
    assert parse_since("2025-06-01T10:00Z", NOW).hour == 10  # a date, not a duration
    assert parse_duration("45", option="--every", bare="m") == timedelta(minutes=45)
    for bad in ("45", "1.5h", "-2d", "2 weeks", "h"):  # a unit is required here
        with pytest.raises(InputError, match="--since"):
            parse_duration(bad, option="--since")
    with pytest.raises(InputError, match="too long"):
        parse_duration("999999999w", option="--since")


def test_ingest_processes_documents_in_several_processes_by_default(
    env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`digestbot ingest` extracts and summarizes in a process pool of one worker per CPU
    (--workers); each stored article here records the process that made it."""
    import dataclasses
    import multiprocessing
    import time

    from digests.ingest import pipeline

    if multiprocessing.get_start_method() != "fork":
        pytest.skip("the recording below reaches pool workers only when they are forked")
    if (os.cpu_count() or 1) < 2:
        pytest.skip("one CPU: one process is what ingest should use")
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(16):
        (folder / f"{i:02}.txt").write_text(
            f"Harbour story number {i}\n\nThe port of town {i} reopened on day {i} after a "
            f"strike of {i + 2} days. Officials in town {i} said trade would recover soon."
        )
    original = pipeline.process

    def recording(raw, options):  # type: ignore[no-untyped-def]
        time.sleep(0.1)  # long enough for every worker to get a share of the batch
        made = original(raw, options)
        return dataclasses.replace(
            made, article=dataclasses.replace(made.article, author=f"pid {os.getpid()}")
        )

    monkeypatch.setattr(pipeline, "process", recording)
    result = _run(env, "ingest", str(folder))
    assert result.exit_code == 0, result.output
    store = Store.open(f"sqlite:///{tmp_path / 'data' / 'digestbot.db'}")
    try:
        authors = {a.author for a in store.articles.since(0)}
    finally:
        store.close()
    assert len(authors) >= 2, authors  # more than one process did the work...
    assert f"pid {os.getpid()}" not in authors  # ...and none of it in this one


def test_durations_read_back_as_written() -> None:
    from digests.durations import format_duration, parse_duration

    for text in ("90s", "15m", "2h", "7d"):
        seconds = int(parse_duration(text, option="--every").total_seconds())
        assert format_duration(seconds) == text
    assert format_duration(None) == ""


def test_a_failing_feed_with_secrets_in_its_url_is_reported_without_them(
    env, config_dir: Path
) -> None:
    """`ingest` names a failed source by its URL: password and api_key redacted (issue 24)."""
    (config_dir / "sources.toml").write_text(
        '[[source]]\nfeed = "http://bob:hunter2@127.0.0.1:9/rss?api_key=K3YSECRET"\n'
    )
    result = _run(env, "ingest")
    assert result.exit_code == 1
    assert "127.0.0.1:9/rss" in result.stderr
    assert "hunter2" not in result.stderr and "K3YSECRET" not in result.stderr
    shown = _run(env, "sources")
    assert "127.0.0.1:9/rss" in shown.stdout
    assert "hunter2" not in shown.stdout and "K3YSECRET" not in shown.stdout


def test_serve_help_names_every_chat_platform() -> None:
    # Was "Slack (HTTP, or Socket Mode ...), scheduler and outbox": Discord and Mattermost
    # run under serve too.
    shown = runner.invoke(app, ["serve", "--help"], env={"COLUMNS": "200"})
    assert shown.exit_code == 0, shown.output
    assert all(name in shown.stdout for name in ("Slack", "Discord", "Mattermost")), shown.stdout


def test_topics_explain_counts_one_article_as_one_article(env) -> None:
    # The seeds: one article mentions Ukraine. Was "#ukraine: 1 articles".
    assert _run(env, "ingest").exit_code == 0
    explained = _run(env, "topics", "--explain", "ukraine")
    assert explained.exit_code == 0, explained.output
    assert explained.stdout.splitlines()[0] == "#ukraine: 1 article"


def test_an_updates_json_names_every_source_of_its_story_and_its_new_ones_apart(
    env: dict[str, str], tmp_path: Path
) -> None:
    """An update's `sources` named only its new articles' sources, as if the story had those
    alone: now `sources` (and `source_count`) are the whole story's, as `digestbot stories`
    names them, and `new_sources` the new articles' (`also` stays the new articles)."""
    from tests.bot.test_developing_stories import FIRST, SECOND

    assert _run(env, "digest").exit_code == 0  # the seeds, delivered
    store = Store.open(f"sqlite:///{tmp_path / 'data' / 'digestbot.db'}")

    def add(n: int, source: str, sentences: tuple[str, ...]) -> None:
        item = make_processed(
            f"Karthala volcano erupts on Grande Comore, report {n}",
            " ".join(sentences),
            tags=(("world", 2),),
            source=source,
            url=f"https://news.example/{n}",
            published=datetime.now().astimezone() - timedelta(hours=3 - n),
            summary=sentences[:2],
        )
        assert store.articles.add(item, now=datetime.now().astimezone()) is not None

    add(1, "Wire A", FIRST)
    first = json.loads(_run(env, "digest", "--format", "json").stdout)
    [shown] = [i for s in first["sections"] for i in s["items"]]
    assert not shown["update"] and shown["sources"] == shown["new_sources"] == ["Wire A"]
    add(2, "Wire B", SECOND)
    story = store.articles.get([shown["id"]])[0].story
    store.close()
    second = json.loads(_run(env, "digest", "--format", "json").stdout)
    [update] = [i for s in second["sections"] for i in s["items"]]
    assert update["update"] and update["story"] == story, update
    assert (update["sources"], update["source_count"]) == (["Wire A", "Wire B"], 2)
    assert update["new_sources"] == ["Wire B"] and update["also"] == []

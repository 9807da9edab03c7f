"""`digestbot articles` and `digestbot stories`: the exports, through the real CLI and store."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app, main
from digests.compose import compose
from digests.store import Store
from digests.store.articles import ChunkItem
from digests.store.export import articles_rows, stories_rows
from tests.conftest import NOW, make_processed

runner = CliRunner()
FIELDS = ["id", "locator", "url", "title", "source", "published", "tags", "story"]


def _run(env: dict[str, str], *args: str):
    return runner.invoke(app, list(args), env=env)


def _lines(output: str) -> list[dict]:
    return [json.loads(line) for line in output.splitlines() if line.strip()]


def test_articles_jsonl_has_exactly_the_fields_for_every_ingested_file(env, tmp_path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    for n, (title, text) in enumerate(
        [
            ("Harbour strike ends", "Dock workers ended a week-long strike at the harbour. " * 4),
            ("Election result", "The governing party lost its majority in the election. " * 4),
        ]
    ):
        (folder / f"doc{n}.json").write_text(
            json.dumps({"title": title, "text": text, "published": f"2026-11-0{n + 1}"})
        )
    assert _run(env, "ingest", str(folder)).exit_code == 0
    result = _run(env, "articles", "--format", "jsonl")
    assert result.exit_code == 0, result.output
    rows = _lines(result.stdout)
    assert [list(r) for r in rows] == [FIELDS] * 2
    by_locator = {Path(r["locator"]).name: r for r in rows}
    assert set(by_locator) == {"doc0.json", "doc1.json"}
    assert by_locator["doc0.json"]["title"] == "Harbour strike ends"
    assert by_locator["doc1.json"]["published"].startswith("2026-11-02")
    assert [r["id"] for r in rows] == sorted(r["id"] for r in rows)
    text = _run(env, "articles", "--format", "text")
    assert text.exit_code == 0 and "Harbour strike ends" in text.stdout
    assert len(text.stdout.strip().splitlines()) == 2


def test_topic_is_repeatable_as_for_digest(env) -> None:
    """`articles -t china -t russia` kept only the last topic; `digest -t` takes them all."""
    assert _run(env, "ingest").exit_code == 0  # the seeds
    rows = _lines(_run(env, "articles").stdout)
    for command in ("articles", "stories"):
        china, russia = (
            _lines(_run(env, command, "-t", topic).stdout) for topic in ("china", "russia")
        )
        either = _run(env, command, "-t", "china", "--topic", "#Russia")
        assert either.exit_code == 0, either.output
        got = _lines(either.stdout)
        assert [r["id"] for r in got] == sorted({r["id"] for r in china + russia})
        assert len(got) > len(russia)
    assert {r["id"] for r in rows if {"china", "russia"} & set(r["tags"])} == {
        r["id"] for r in _lines(_run(env, "articles", "-t", "china", "-t", "russia").stdout)
    }
    unknown = _run(env, "stories", "-t", "china", "-t", "narnia")
    assert unknown.exit_code == 1 and "no topic 'narnia'" in str(unknown.exception)


WIRE = {"title": "Harbour strike ends", "text": "Dock workers ended a strike. " * 6}
EDITED = {"title": "Harbour strike ends", "text": "Dock workers went back today. " * 6}


def _ingest_copies(env: dict[str, str], folder: Path, names: tuple[str, ...]) -> None:
    """The same wire text saved under each of ``names``, ingested."""
    folder.mkdir(exist_ok=True)
    for name in names:
        (folder / name).write_text(json.dumps(WIRE))
    assert _run(env, "ingest", str(folder)).exit_code == 0


def _by_name(env: dict[str, str]) -> dict[str, dict]:
    return {Path(r["locator"]).name: r for r in _lines(_run(env, "articles").stdout)}


def test_a_text_found_at_several_places_is_stored_once_and_listed_under_each(env, tmp_path) -> None:
    # The same wire story saved twice in one run and once more in a later run: one article,
    # and a line for each file (same id), so every input is found by its locator.
    folder = tmp_path / "in"
    folder.mkdir()
    other = {"title": "Election result", "text": "The party lost its majority. " * 6}
    for name, doc in [("a.json", WIRE), ("b.json", other), ("c.json", WIRE)]:
        (folder / name).write_text(json.dumps(doc))
    ingest = _run(env, "ingest", str(folder))
    assert ingest.exit_code == 0 and "2 added" in ingest.output and "1 duplicate" in ingest.output
    (folder / "d.json").write_text(json.dumps(WIRE))
    assert "1 duplicate" in _run(env, "ingest", str(folder)).output
    rows = _lines(_run(env, "articles", "--format", "jsonl").stdout)
    assert [list(r) for r in rows] == [FIELDS] * 4
    by_name = {Path(r["locator"]).name: r for r in rows}
    assert set(by_name) == {"a.json", "b.json", "c.json", "d.json"}
    assert by_name["a.json"]["id"] == by_name["c.json"]["id"] == by_name["d.json"]["id"]
    assert by_name["b.json"]["id"] != by_name["a.json"]["id"]
    for name in ("c.json", "d.json"):  # a copy carries the article's tags and story
        assert {k: v for k, v in by_name[name].items() if k != "locator"} == {
            k: v for k, v in by_name["a.json"].items() if k != "locator"
        }
    story = _lines(_run(env, "articles", "--story", str(by_name["a.json"]["story"])).stdout)
    assert sorted(Path(r["locator"]).name for r in story) == ["a.json", "c.json", "d.json"]
    text = _run(env, "articles", "--format", "text").stdout.strip().splitlines()
    assert len(text) == 4 and sum("c.json" in line for line in text) == 1


def test_a_copy_that_changes_becomes_its_own_article_and_the_original_stays(env, tmp_path) -> None:
    _ingest_copies(env, tmp_path / "in", ("a.json", "c.json"))
    # The copy is edited: its new text is stored; the article it copied is not replaced.
    (tmp_path / "in" / "c.json").write_text(json.dumps(EDITED))
    assert "1 added" in _run(env, "ingest", str(tmp_path / "in")).output
    rows = _by_name(env)
    assert len(rows) == 2 and rows["a.json"]["id"] != rows["c.json"]["id"]


def test_when_the_original_changes_its_copy_comes_back_as_an_article(env, tmp_path) -> None:
    folder = tmp_path / "in"
    _ingest_copies(env, folder, ("a.json", "c.json"))
    # The original is edited: its old text, still in c.json, must not vanish from the store.
    (folder / "a.json").write_text(json.dumps(EDITED))
    assert "1 added" in _run(env, "ingest", str(folder)).output
    assert "1 added" in _run(env, "ingest", str(folder)).output  # c.json, read again
    rows = _by_name(env)
    assert len(rows) == 2 and rows["a.json"]["id"] != rows["c.json"]["id"]
    again = _run(env, "ingest", str(folder)).output  # and then both are unchanged
    assert "0 added" in again and "2 unchanged" in again


def test_articles_filters_and_tags_strongest_first(store: Store, tmp_path) -> None:
    ids = [
        store.articles.add(
            make_processed(
                f"Title {n}",
                f"Body number {n} talks about things in detail. Another sentence {n}.",
                tags=(("sports", 1), ("politics", 5)) if n % 2 else (("business", 2),),
                published=NOW - timedelta(days=n),
            ),
            now=NOW,
        )
        for n in range(7)
    ]
    rows = list(articles_rows(store.engine, page=2))  # pages of two: four round trips
    assert [r["id"] for r in rows] == ids
    assert rows[1]["tags"] == ["politics", "sports"]
    assert rows[0]["tags"] == ["business"]
    sport = list(articles_rows(store.engine, topics=["sports"], page=2))
    assert [r["id"] for r in sport] == [ids[1], ids[3], ids[5]]
    recent = list(articles_rows(store.engine, since=NOW - timedelta(days=2, hours=1)))
    assert [r["id"] for r in recent] == ids[:3]


def test_copies_are_read_in_pages_and_follow_their_article(any_store: Store) -> None:
    store = any_store
    # Pages of two articles and of two copies: an article with five copies spans three copy
    # pages, and every line comes out once, each copy right after its article.
    texts = [
        f"Story number {n} is about one thing. It has a second sentence {n}." for n in range(3)
    ]
    items = [
        ChunkItem(f"orig{n}.json", f"h{n}", make_processed(f"T{n}", t)) for n, t in enumerate(texts)
    ]
    copies = {0: 5, 2: 1}
    items += [
        ChunkItem(f"copy{n}-{k}.json", f"c{n}{k}", make_processed(f"T{n}", texts[n]))
        for n, count in copies.items()
        for k in range(count)
    ]
    ids = [i for i in store.articles.add_chunk(items, now=NOW) if i is not None]
    rows = [(r["id"], r["locator"]) for r in articles_rows(store.engine, page=2)]
    own = {i: item.result.article.locator for i, item in zip(ids, items, strict=False)}
    assert rows == [
        (ids[0], own[ids[0]]),
        *[(ids[0], f"copy0-{k}.json") for k in range(5)],
        (ids[1], own[ids[1]]),
        (ids[2], own[ids[2]]),
        (ids[2], "copy2-0.json"),
    ]


def test_a_syndicated_text_counts_each_outlet_in_the_digest_and_the_exports(env, tmp_path) -> None:
    # The same wire text from two outlets, and an unrelated story that one outlet ran: the
    # wire story is one article, with two sources, and ranks first.
    folder = tmp_path / "in"
    folder.mkdir()
    for name, source in [("reuters.json", "Reuters"), ("ap.json", "AP")]:
        (folder / name).write_text(json.dumps({**WIRE, "source": source}))
    other = {"title": "Election result", "text": "The party lost its majority. " * 6}
    (folder / "other.json").write_text(json.dumps({**other, "source": "The Times"}))
    ingest = _run(env, "ingest", str(folder))
    assert "2 added" in ingest.output and "1 duplicate" in ingest.output
    digest = _run(env, "digest", "--dry-run", "--all", "--format", "json")
    assert digest.exit_code == 0, digest.output
    sections = [s["items"] for s in json.loads(digest.stdout)["sections"]]
    [wire_section] = [s for s in sections if any(i["title"] == WIRE["title"] for i in s)]
    # Two sources: first in its section, ahead of the one-source stories (the seeds too).
    first = wire_section[0]
    assert (first["title"], sorted(first["sources"])) == (WIRE["title"], ["AP", "Reuters"])
    assert first["also"] == [] and len(wire_section) > 1
    [one] = [i for s in sections for i in s if i["title"] == "Election result"]
    assert one["sources"] == ["The Times"]
    text = _run(env, "digest", "--dry-run", "--all").stdout
    assert f"2 sources: {', '.join(first['sources'])}" in text
    # `stories` counts what `articles --story` lists: the article and its copy, each source.
    stories = {r["headline"]: r for r in _lines(_run(env, "stories").stdout)}
    wire = stories["Harbour strike ends"]
    assert (wire["articles"], sorted(wire["sources"])) == (2, ["AP", "Reuters"])
    election = stories["Election result"]
    assert (election["articles"], election["sources"]) == (1, ["The Times"])
    listed = _lines(_run(env, "articles", "--story", str(wire["id"])).stdout)
    assert [list(r) for r in listed] == [FIELDS] * 2
    assert {(Path(r["locator"]).name, r["source"]) for r in listed} == {
        ("reuters.json", "Reuters"),
        ("ap.json", "AP"),
    }
    assert "2 articles" in _run(env, "stories", "--format", "text").stdout


def test_a_storys_copies_count_as_its_articles_and_sources(any_store: Store) -> None:
    store = any_store
    body = "Dock workers ended a week-long strike at the harbour. The union agreed to a deal."
    text = {"Reuters": body, "The Times": "Ministers met to discuss the budget. Talks go on."}
    # The other story is stored first: without its copies the wire story would rank after it.
    items = [
        ChunkItem(f"{n}.json", f"h{n}", make_processed(f"T{n}", text[s], source=s))
        for n, s in enumerate(["The Times", "Reuters"])
    ]
    # Copies of the wire text: two from AP, one from The Times, one whose source is unknown
    # (it counts under its article's).
    copies = ["AP", "The Times", "AP", None]
    items += [
        ChunkItem(f"copy{n}.json", f"c{n}", make_processed("T1", body, source=s))
        for n, s in enumerate(copies)
    ]
    ids = store.articles.add_chunk(items, now=NOW)
    wire = ids[1]
    assert wire is not None and ids[2:] == [None] * 4
    [article] = store.articles.get([wire])
    assert article.copy_sources == ("AP", "The Times")
    story = article.story
    rows = {r["id"]: r for r in stories_rows(store.engine, page=1)}
    assert rows[story]["articles"] == 5 == len(list(articles_rows(store.engine, story=story)))
    # Most articles first: AP 2, Reuters 2 (its own and the unknown copy), The Times 1.
    assert rows[story]["sources"] == ["AP", "Reuters", "The Times"]
    # The digest names them too, and ranks the story above the one-source one.
    [section] = compose(store.articles.since(0), now=NOW).sections
    assert [(i.article.id, i.sources) for i in section.items] == [
        (wire, ("Reuters", "AP", "The Times")),
        (ids[0], ("The Times",)),
    ]


@pytest.mark.parametrize("command", ["articles", "stories", "digest"])
@pytest.mark.parametrize(
    "option", [("--since", "yesterday-ish"), ("--since", ""), ("--topic", " "), ("--topic", "#")]
)
def test_a_bad_since_or_topic_is_one_line_and_exit_2(env, monkeypatch, capsys, command, option):
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(SystemExit) as info:
        main([command, *option])  # an empty one is not "no filter"
    captured = capsys.readouterr()
    assert info.value.code == 2 and captured.out == ""  # misuse, as an unknown option is
    assert captured.err.startswith(f"error: {option[0]}") and captured.err.count("\n") == 1


def test_a_topic_is_found_as_digests_show_it(env) -> None:
    assert _run(env, "ingest").exit_code == 0  # the five seeds, all tagged #china
    china = _run(env, "articles", "--topic", "china")
    assert china.exit_code == 0 and len(_lines(china.stdout)) == 5
    for shown in ("#china", "China", " #CHINA "):
        assert _run(env, "articles", "--topic", shown).stdout == china.stdout
        assert (
            _run(env, "stories", "--topic", shown).stdout
            == _run(env, "stories", "--topic", "china").stdout
        )
    digest = _run(env, "digest", "--dry-run", "--topic", "#Russia")
    assert digest.exit_code == 0 and "#russia" in digest.stdout and "#china (" not in digest.stdout


def _fails(env, monkeypatch, capsys, *args: str) -> str:
    """Run the CLI as `digestbot ARGS` (errors as the user sees them): its stderr, on exit 1."""
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(SystemExit) as info:
        main(list(args))
    captured = capsys.readouterr()
    assert info.value.code == 1 and captured.out == "", captured
    assert captured.err.count("\n") == 1, captured.err
    return captured.err


@pytest.mark.parametrize("story", ["999999", "0", "-1"])
def test_an_unknown_story_is_an_error_like_an_unknown_article(
    env, monkeypatch, capsys, story
) -> None:
    """It printed nothing with exit 0, while `topics --article 99999` says `no article`."""
    err = _fails(env, monkeypatch, capsys, "articles", "--story", story)
    assert err == f"error: no story {story}\n"


def test_a_known_story_lists_its_articles(env) -> None:
    assert _run(env, "ingest").exit_code == 0
    first = _lines(_run(env, "articles").stdout)[0]
    result = _run(env, "articles", "--story", str(first["story"]))
    assert result.exit_code == 0 and [r["id"] for r in _lines(result.stdout)] == [first["id"]]


@pytest.mark.parametrize("command", ["articles", "stories", "digest"])
def test_an_unknown_topic_is_an_error_naming_the_known_ones(
    env, monkeypatch, capsys, command
) -> None:
    """`--topic nonsense` printed nothing (digest: "Nothing new since the last digest.")."""
    assert _run(env, "ingest").exit_code == 0
    extra = ["--dry-run"] if command == "digest" else []
    err = _fails(env, monkeypatch, capsys, command, *extra, "--topic", "#nonsense")
    assert err.startswith(
        "error: no topic '#nonsense' in topics.toml, a source's tags or on any stored article "
        "(topics: taiwan, "
    )
    if command == "digest":  # repeatable: each one is checked
        err = _fails(env, monkeypatch, capsys, command, *extra, "-t", "china", "-t", "nonsense")
        assert "no topic 'nonsense'" in err


def test_a_tag_only_stored_articles_carry_is_a_known_topic(
    env, config_dir, monkeypatch, capsys
) -> None:
    assert _run(env, "ingest").exit_code == 0  # the five seeds, all tagged #china
    (config_dir / "topics.toml").write_text('[[topic]]\nname = "sport"\n', encoding="utf-8")
    result = _run(env, "articles", "--topic", "china")
    assert result.exit_code == 0 and len(_lines(result.stdout)) == 5
    err = _fails(env, monkeypatch, capsys, "stories", "--topic", "nonsense")
    assert "(topics: sport, " in err and "china" in err


def test_stories_lists_each_story_once_with_its_sources(env) -> None:
    assert _run(env, "ingest").exit_code == 0  # the five seeds: five stories
    result = _run(env, "stories", "--format", "jsonl")
    assert result.exit_code == 0, result.output
    rows = _lines(result.stdout)
    assert len(rows) == 5
    assert [list(r) for r in rows] == [
        ["id", "headline", "articles", "sources", "first_seen", "last_seen"]
    ] * 5
    assert all(r["articles"] == 1 and len(r["sources"]) <= 1 for r in rows)
    by_story = {r["story"] for r in _lines(_run(env, "articles").stdout)}
    assert by_story == {r["id"] for r in rows}
    text = _run(env, "stories", "--format", "text", "--since", "2026-01-01")
    assert text.exit_code == 0 and "1 article" in text.stdout
    assert len(text.stdout.strip().splitlines()) < 5  # the 2023 story is older


def test_json_is_one_array_of_the_jsonl_rows_and_empty_is_an_empty_array(env) -> None:
    """`digest` and `brief` take --format json; the exports refused it ("must be one of
    jsonl, text"): it is the jsonl rows as one JSON array, still written as they are read."""
    assert _run(env, "ingest").exit_code == 0
    for command in ("articles", "stories"):
        result = _run(env, command, "--format", "json")
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout) == _lines(_run(env, command).stdout)
        assert len(json.loads(result.stdout)) == 5
    none = _run(env, "articles", "--format", "json", "--since", "2999-01-01")
    assert none.exit_code == 0 and json.loads(none.stdout) == []


def test_digest_is_capped_with_more_stories_and_all_shows_them(env, config_dir) -> None:
    main = config_dir / "digestbot.toml"
    text = main.read_text()
    assert "# max_stories = 15" in text  # the shipped file documents the key
    main.write_text(text.replace("# max_stories = 15", "max_stories = 2"))
    capped = _run(env, "digest", "--dry-run", "--format", "json")
    assert capped.exit_code == 0, capped.output
    data = json.loads(capped.stdout)
    assert sum(len(s["items"]) for s in data["sections"]) == 2
    assert data["more_stories"] == 3 and data["article_count"] == 5
    text = _run(env, "digest", "--dry-run")
    assert "+3 more stories" in text.stdout and "digestbot digest --all" in text.stdout
    every = json.loads(_run(env, "digest", "--dry-run", "--all", "--format", "json").stdout)
    assert sum(len(s["items"]) for s in every["sections"]) == 5 and every["more_stories"] == 0


def test_a_since_with_a_zone_other_than_utc_is_the_same_instant(env, tmp_path) -> None:
    # `--since 2026-02-09T15:22+05:00` (10:22 UTC) listed a report published at 10:21 UTC and
    # `--since 2026-02-09T05:22-05:00` (also 10:22 UTC) left out one published at 10:23 UTC
    # on SQLite: the bound was compared by its wall-clock time, the offset dropped.
    folder = tmp_path / "in"
    folder.mkdir()
    for name, published, text in [
        ("early", "2026-02-09T10:21:00Z", "Dock workers in Rotterdam walked out over pay. " * 4),
        ("late", "2026-02-09T10:23:00Z", "The governing party lost its majority in the vote. " * 4),
    ]:
        record = {"title": name, "text": text, "published": published}
        (folder / f"{name}.json").write_text(json.dumps(record))
    assert _run(env, "ingest", str(folder)).exit_code == 0
    ours = {"early", "late"}  # the undated seeds count from when they were stored: now
    for since in ("2026-02-09T15:22+05:00", "2026-02-09T05:22-05:00", "2026-02-09T10:22"):
        listed = _lines(_run(env, "articles", "--since", since).stdout)
        assert [r["title"] for r in listed if r["title"] in ours] == ["late"], since
        stories = _lines(_run(env, "stories", "--since", since).stdout)
        assert [s["headline"] for s in stories if s["headline"] in ours] == ["late"], since
        shown = _run(env, "digest", "--dry-run", "--format", "json", "--since", since)
        items = [i["title"] for s in json.loads(shown.stdout)["sections"] for i in s["items"]]
        assert [t for t in items if t in ours] == ["late"], since


def test_a_story_whose_only_file_became_another_event_is_not_listed(env, tmp_path) -> None:
    # A file re-ingested after it changed into another event's report: its first story kept
    # its row and `digestbot stories` listed it with "0 articles" under the old headline.
    folder = tmp_path / "in"
    folder.mkdir()
    report = folder / "report.json"
    report.write_text(json.dumps({"title": "Karthala volcano erupts", "text": LAVA}))
    assert _run(env, "ingest", str(folder)).exit_code == 0
    report.write_text(json.dumps({"title": "Rotterdam dock strike", "text": STRIKE}))
    assert _run(env, "ingest", str(folder)).exit_code == 0
    stories = _lines(_run(env, "stories").stdout)
    assert all(s["articles"] >= 1 for s in stories), stories
    headlines = [s["headline"] for s in stories]
    assert "Rotterdam dock strike" in headlines and "Karthala volcano erupts" not in headlines
    listed = {r["story"] for r in _lines(_run(env, "articles").stdout)}
    assert {s["id"] for s in stories} == listed  # every story listed has its articles


LAVA = (
    "The Karthala volcano on Grande Comore erupted on Monday, sending ash over Moroni. "
    "Officials in Moroni closed the airport as ash from Karthala fell on the capital. "
    "Thousands of residents near Karthala were evacuated to schools in Moroni."
)
STRIKE = (
    "Dock workers in Rotterdam walked out on Tuesday over pay and pensions. "
    "The Rotterdam port authority said forty container ships were waiting offshore. "
    "The dockers' union said the strike would last until the employers raised their offer."
)


@pytest.mark.parametrize("command", ["articles", "stories", "digest"])
def test_since_is_read_against_the_commands_clock_alone(env, monkeypatch, capsys, command):
    # The option's check read the system clock itself: with the command's clock in the year
    # 9000, `--since 1000000d` (about 2,738 years: 6262) was refused as reaching before the
    # year 1, counted back from today.
    from datetime import UTC, datetime

    from bot.cli import state

    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(state, "clock", lambda: datetime(9000, 1, 1, tzinfo=UTC))
    extra = ["--dry-run", "--format", "json"] if command == "digest" else []
    with pytest.raises(SystemExit) as info:
        main([command, "--since", "1000000d", *extra])
    captured = capsys.readouterr()
    assert info.value.code == 0, captured.err
    assert "reaches before the year 1" not in captured.err
    if command == "digest":  # the undated seeds, stored "now" (9000): after the bound
        assert json.loads(captured.out)["sections"]
    else:
        assert captured.out == ""  # the exports ingest nothing: an empty store
    # Counted back from the same clock, a bound before the year 1 is still a usage error.
    with pytest.raises(SystemExit) as info:
        main([command, "--since", "99999999d"])
    captured = capsys.readouterr()
    assert info.value.code == 2
    assert captured.err.startswith("error: --since '99999999d' reaches before the year 1")
    assert f"see `digestbot {command} --help`" in captured.err

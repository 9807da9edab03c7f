"""`digestbot summarize --together` and `--plain` JSON inputs, as an operator runs them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app

runner = CliRunner()
STORIES = {
    "reuters.json": {
        "title": "Central bank raises rates",
        "published": "2026-11-21T09:00:00+00:00",
        "text": (
            "The central bank raised its main interest rate by half a point on Thursday to curb "
            "inflation.\n\nMortgage lenders said monthly repayments would rise for about two "
            "million households across the country."
        ),
    },
    "ap.json": {
        "title": "Rates up by half a point",
        "published": "2026-11-20T09:00:00+00:00",
        "text": (
            "Markets fell sharply after the central bank raised its main interest rate by half a "
            "point. Economists had expected the central bank to raise the rate by a quarter point "
            "only, analysts in London said."
        ),
    },
}


@pytest.fixture
def inputs(tmp_path: Path) -> list[Path]:
    paths = []
    for name, record in STORIES.items():
        path = tmp_path / name
        path.write_text(json.dumps(record), encoding="utf-8")
        paths.append(path)
    return paths


def test_together_prints_one_cited_summary_of_all_inputs(env, inputs) -> None:
    args = ["summarize", "--together", "--plain", *map(str, inputs), "--words", "60"]
    result = runner.invoke(app, [*args, "--query", "central bank", "--format", "json"], env=env)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["query"] == "central bank" and data["words"] == 60
    assert data["sources"] == [{"path": str(p), "title": STORIES[p.name]["title"]} for p in inputs]
    assert data["summary"]
    assert sum(len(s["text"].split()) for s in data["summary"]) <= 60
    for s in data["summary"]:
        story = STORIES[Path(s["path"]).name]
        assert s["text"] in " ".join(story["text"].split())  # quoted from the input it cites
        assert s["title"] == story["title"]
    # What both sources say comes first in time order: the older AP story is quoted first.
    assert Path(data["summary"][0]["path"]).name == "ap.json"


def test_together_as_text_numbers_each_sentence_by_its_source(env, inputs) -> None:
    args = ["summarize", "--together", "--plain", *map(str, inputs), "--format", "text"]
    result = runner.invoke(app, args, env=env)
    assert result.exit_code == 0, result.output
    assert "Sources" in result.stdout
    assert "[1] Central bank raises rates" in result.stdout
    assert "[2] Rates up by half a point" in result.stdout


def test_plain_json_input_is_summarized_from_its_text_not_its_raw_json(env, inputs) -> None:
    result = runner.invoke(app, ["summarize", "--plain", str(inputs[0])], env=env)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["title"] == "Central bank raises rates"
    assert data["summary"] and not any("{" in s or '"title"' in s for s in data["summary"])
    assert data["summary"][0].startswith("The central bank raised")


def test_plain_json_reads_the_keys_ingest_reads(env, tmp_path) -> None:
    text = STORIES["reuters.json"]["text"]
    bbc = tmp_path / "bbc.json"
    bbc.write_text(json.dumps({"title": "Rates", "article": text, "summary": "Rates rise."}))
    scraped = tmp_path / "scraped.json"
    scraped.write_text(json.dumps({"headline": "Rates", "content": text}))
    result = runner.invoke(app, ["summarize", "--plain", str(bbc), str(scraped)], env=env)
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["title"] for r in records] == ["Rates", "Rates"]
    assert all(r["summary"][0].startswith("The central bank raised") for r in records)
    # Without --plain (extract, as ingest reads them), the same titles and texts.
    extracted = runner.invoke(app, ["extract", str(bbc), str(scraped)], env=env)
    assert extracted.exit_code == 0, extracted.output
    articles = [json.loads(line) for line in extracted.stdout.splitlines()]
    assert [a["title"] for a in articles] == ["Rates", "Rates"]


def test_a_bad_plain_json_input_is_one_clear_line(env, tmp_path, inputs) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"title": "no text field"}', encoding="utf-8")
    result = runner.invoke(app, ["summarize", "--plain", str(bad), str(inputs[0])], env=env)
    assert result.exit_code == 1
    assert 'needs a "text"' in result.stderr
    assert json.loads(result.stdout)["title"] == "Central bank raises rates"  # the rest kept


def test_brief_with_a_word_budget_over_the_stored_seeds(env) -> None:
    result = runner.invoke(app, ["brief", "taiwan", "--words", "80", "--format", "json"], env=env)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["words"] == 80 and data["sentences"]
    assert sum(len(s["text"].split()) for s in data["sentences"]) <= 80
    assert {s["article_id"] for s in data["sentences"]} <= {a["id"] for a in data["articles"]}
    plain = json.loads(runner.invoke(app, ["brief", "taiwan", "-f", "json"], env=env).stdout)
    assert plain["words"] is None and 1 <= len(plain["sentences"]) <= 4


def test_a_query_steers_which_sentences_the_seeds_summary_quotes(env, config_dir: Path) -> None:
    """Issue 22: `--query "rare earth"` was byte-identical to no query on the seeds."""
    seeds = sorted(str(p) for p in (config_dir.parent / "seeds").glob("*.txt"))
    base = ["summarize", "--together", *seeds, "--format", "json"]
    plain = runner.invoke(app, base, env=env)
    steered = runner.invoke(app, [*base, "--query", "rare earth"], env=env)
    assert plain.exit_code == 0 and steered.exit_code == 0, steered.output

    def rare_earth(result) -> int:  # type: ignore[no-untyped-def]
        summary = json.loads(result.stdout)["summary"]
        return sum("rare-earth" in s["text"] or "rare earth" in s["text"] for s in summary)

    assert rare_earth(plain) == 0 and rare_earth(steered) >= 3


@pytest.mark.parametrize("query", ["rare earth", "export controls", "arms sales"])
def test_a_query_few_sentences_mention_is_what_the_summary_is_about(
    env, config_dir: Path, query: str
) -> None:
    """`--query "rare earth"` quoted 2 rare-earth sentences of 5, though the seeds have 5 such
    candidates (of 185): the other 3 were what most of the five articles say, from articles
    never mentioning rare earths. A narrow query's sentences now come first, and the rest of
    the budget from the articles that mention it."""
    seeds = sorted(str(p) for p in (config_dir.parent / "seeds").glob("*.txt"))
    result = runner.invoke(
        app, ["summarize", "--together", *seeds, "--query", query, "-f", "json"], env=env
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)["summary"]
    names = query.split()  # "controls" is said "control" too, "sales" "sale"

    def mentions(text: str) -> bool:
        low = text.lower()
        return any(w.rstrip("s") in low for w in names)

    on_it = [s for s in summary if mentions(s["text"])]
    assert summary and 2 * len(on_it) > len(summary), (query, summary)
    assert all(s in on_it or mentions(Path(s["path"]).read_text(encoding="utf-8")) for s in summary)


FIVE = {
    "a.json": (
        "Storm hits coast",
        "A powerful storm struck the northern coast on Monday, cutting power to thousands of "
        "homes. Emergency crews worked through the night to clear fallen trees from the main "
        "roads. The weather service said the storm would weaken as it moved inland on Tuesday. "
        "Schools in three districts stayed closed while engineers checked the damage.",
    ),
    "b.json": (
        "Coast cleanup begins",
        "Residents of the northern coast began clearing debris after the storm cut power to "
        "thousands of homes. The weather service warned that more rain could fall later in the "
        "week. Power companies said most homes would be reconnected by Wednesday evening. "
        "Volunteers handed out water and blankets at the town hall.",
    ),
    "c.json": (
        "Football final",
        "The home team won the cup final by two goals to one after extra time on Saturday. "
        "Their captain scored the winning goal in the last minute of extra time. Fans "
        "celebrated in the streets of the city until late into the night. The coach said the "
        "victory was the best moment of his career.",
    ),
    "d.json": (
        "Central bank holds rates",
        "The central bank kept its main interest rate unchanged at four percent on Thursday. "
        "Its governor said inflation was falling faster than the bank had expected in the "
        "spring. Economists had predicted the central bank would hold rates until the new "
        "year. Bond yields dropped slightly after the decision was announced by the governor.",
    ),
    "e.json": (
        "Storm damage costs",
        "Insurers estimated that the storm on the northern coast caused damage worth millions. "
        "Thousands of homes lost power when the storm brought down lines across the region. "
        "The weather service said winds reached more than one hundred kilometres an hour. "
        "Farmers reported that fields near the coast were flooded by sea water.",
    ),
}


@pytest.fixture
def five(tmp_path: Path) -> list[str]:
    paths = []
    for name, (title, text) in FIVE.items():
        path = tmp_path / name
        path.write_text(json.dumps({"title": title, "text": text}), encoding="utf-8")
        paths.append(str(path))
    return paths


def _together(env: dict[str, str], paths: list[str], *extra: str) -> list[dict[str, str]]:
    args = ["summarize", "--together", "--plain", *paths, *extra, "--format", "json"]
    result = runner.invoke(app, args, env=env)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)["summary"]  # type: ignore[no-any-return]


def test_a_query_steers_five_inputs_when_only_one_is_about_it(env, five) -> None:
    """Of 5+ inputs, a concept one source uses had no weight, the query's words included."""
    for words in ("40", "100"):
        summary = _together(env, five, "--query", "central bank", "--words", words)
        assert any(Path(s["path"]).name == "d.json" for s in summary), (words, summary)
    summary = _together(env, five, "--query", "cup final", "--words", "40")
    assert any(Path(s["path"]).name == "c.json" for s in summary), summary
    assert summary != _together(env, five, "--words", "40")


def test_the_word_budget_is_filled_with_whole_sentences(env, five) -> None:
    """Once what several of 5 inputs say was quoted, what one says fills the budget."""
    small = _together(env, five, "--words", "100")
    count = sum(len(s["text"].split()) for s in small)
    assert 80 <= count <= 100, small
    big = _together(env, five, "--words", "2000")
    quoted = {s["text"] for s in big}
    # Every sentence but the one that says again what another says.
    assert len(quoted) == 19 and {Path(s["path"]).name for s in big} == set(FIVE)
    for s in big:
        assert s["text"] in FIVE[Path(s["path"]).name][1]

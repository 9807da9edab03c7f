"""`digestbot topics` and `topics --explain` on a tag only a source declares.

A feed or folder tagged `world` in sources.toml (no topic of that name) gives its articles
that tag, and subscriptions take it; but `digestbot topics` did not list it and
`topics --explain world` was `error: no topic 'world' in topics.toml`.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app

runner = CliRunner()

TAGGED = """
[[source]]
name = "desk"
folder = "seeds"
tags = ["world"]

[[source]]
name = "wire"
folder = "wire"
tags = ["world", "taiwan"]
"""


@pytest.fixture
def env(config_dir: Path, tmp_path: Path) -> dict[str, str]:
    (config_dir / "sources.toml").write_text(TAGGED)
    (tmp_path / "wire").mkdir()
    env = {"DIGESTBOT_CONFIG_DIR": str(config_dir), "DIGESTBOT_DATA_DIR": str(tmp_path / "data")}
    done = runner.invoke(app, ["ingest"], env=env)
    assert done.exit_code == 0, done.output
    return env


def test_topics_lists_source_tags_marked_as_such(env: dict[str, str]) -> None:
    listing = runner.invoke(app, ["topics"], env=env)
    assert listing.exit_code == 0, listing.output
    [row] = [line for line in listing.stdout.splitlines() if " world " in line]
    assert "(source tag: desk, wire)" in row
    assert not any(
        "(source tag" in line and " taiwan " in line for line in listing.stdout.splitlines()
    )
    rows = json.loads(runner.invoke(app, ["topics", "--format", "json"], env=env).stdout)
    [world] = [r for r in rows if r["topic"] == "world"]
    assert world["source_tag"] == ["desk", "wire"] and world["articles"] > 0
    assert all("source_tag" not in r for r in rows if r["topic"] != "world")


def test_explain_on_a_source_tag_says_what_it_is(env: dict[str, str]) -> None:
    done = runner.invoke(app, ["topics", "--explain", "world"], env=env)
    assert done.exit_code == 0, done.output
    lines = done.stdout.splitlines()
    assert lines[0].startswith("#world: ") and lines[0] != "#world: 0 articles"
    assert "a source's tag, not a topic in topics.toml: declared by desk, wire" in done.stdout
    assert "desk (" in done.stdout  # the articles its source declared it on
    data = json.loads(
        runner.invoke(app, ["topics", "--explain", "world", "--format", "json"], env=env).stdout
    )["explain"]
    assert data["source_tag"] is True and data["sources"] == ["desk", "wire"]
    assert data["articles"] == data["declared"]["desk"] > 0
    unknown = runner.invoke(app, ["topics", "--explain", "narnia"], env=env)
    assert unknown.exit_code == 1  # naming the known ones, source tags too
    assert "no topic 'narnia' in topics.toml or a source's tags" in str(unknown.exception)
    assert str(unknown.exception).endswith(", world)")

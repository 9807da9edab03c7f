"""Every command's ``--help`` reads as words for an operator (the first hour, docs/lab/first.md).

Was: ``topics --help`` pointed at a source file ("learned topics: bot/cli/topics.py"),
``brief --help`` listed ``-n, --sentences`` with no word about it, and the repeatable
``--topic`` showed its Python type (``-t, --topic <list[str]>``).
"""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from bot.cli import app

runner = CliRunner()

COMMANDS = [
    ["ingest"], ["digest"], ["brief"], ["topics"], ["articles"], ["stories"], ["extract"],
    ["summarize"], ["sources"], ["sources", "add"], ["sources", "remove"], ["sources", "list"],
    ["status"], ["serve"], ["discord", "register"],
]  # fmt: skip


@pytest.mark.parametrize("args", COMMANDS, ids=" ".join)
def test_help_names_no_source_file_and_no_python_type_of_an_option(args: list[str]) -> None:
    shown = runner.invoke(app, [*args, "--help"], env={"COLUMNS": "200"})
    assert shown.exit_code == 0, shown.output
    text = shown.stdout
    assert not re.search(r"\w+/\w+\.py\b", text), text
    options = [line for line in text.splitlines() if line.lstrip().startswith("-")]
    assert not [line for line in options if "list[" in line], text


def test_every_brief_option_says_what_it_does() -> None:
    text = runner.invoke(app, ["brief", "--help"], env={"COLUMNS": "200"}).stdout
    sentences = next(line for line in text.splitlines() if "--sentences" in line)
    assert "sentences" in sentences.split("]", 1)[-1], text  # words after "[1<=x<=10]"


def test_serve_help_says_where_it_listens_and_what_to_set() -> None:
    # Was two lines naming the platforms: nothing said serve takes its settings from the
    # environment, on which port it listens, or where the variables are explained.
    text = runner.invoke(app, ["serve", "--help"], env={"COLUMNS": "200"}).stdout
    for word in ("PORT", "3000", "SLACK_BOT_TOKEN", "DISCORD_PUBLIC_KEY", "MATTERMOST_URL"):
        assert word in text, (word, text)
    assert "README" in text

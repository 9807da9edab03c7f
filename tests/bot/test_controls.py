"""One control-character rule: the terminal, the log and chat commands agree."""

from __future__ import annotations

import json
import logging

import pytest

from bot.cli.output import clean, json_line
from bot.logs import HumanFormatter
from bot.platforms.slack.commands import parse

CONTROLS = ["\x1b[2J", "\x07", "\r", "\x7f", "\x9b", "\u202e", "\u2067", "\u200b", "\u2028"]


@pytest.mark.parametrize("bad", CONTROLS, ids=repr)
def test_each_surface_removes_or_refuses_the_same_characters(bad: str) -> None:
    text = f"taiwan{bad}strait"
    assert clean(text) == "taiwan" + ("[2J" if bad.startswith("\x1b") else "") + "strait"
    assert json.loads(json_line({"t": text}))["t"] == text  # escaped, not lost
    assert bad[0] not in json_line({"t": text})
    record = logging.LogRecord("x", logging.INFO, __file__, 1, text, None, None)
    assert bad[0] not in HumanFormatter().format(record)
    assert parse(text).action == "invalid"


def test_tab_and_newline_are_text() -> None:
    assert clean("a\tb\nc") == "a\tb\nc"
    assert parse("taiwan\tstrait").action == "brief"

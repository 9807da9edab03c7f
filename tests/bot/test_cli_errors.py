"""The CLI's failure modes as a user meets them: one line, exit 1 (2 for usage), no markup
injection and no terminal control sequences from the data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.cli import main
from bot.cli.output import SafeConsole, clean, json_line, safe

ESC_TITLE = "Ports [/x] reopen \x1b[2J\x1b]8;;https://evil.example/\x1b\\here\x1b]8;;\x1b\\"


@pytest.fixture
def env(config_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DIGESTBOT_CONFIG_DIR", str(config_dir))
    monkeypatch.setenv("DIGESTBOT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("DIGESTBOT_LOG_FORMAT", raising=False)
    return config_dir


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(list(args))
    captured = capsys.readouterr()
    code = info.value.code
    return (code if isinstance(code, int) else 0), captured.out, captured.err


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (["digest", "--bogus"], 2, "No such option: --bogus"),
        (["digest", "--format", "xml"], 2, "--format"),
        # Every refused option value in one plain line, whatever Typer checked it with (it
        # said "Invalid value for '--format' / '-f': Value error, 'xml' is not one of ...").
        (
            ["sources", "--format", "xml"],
            2,
            "error: --format must be one of text, json (got 'xml')",
        ),
        (
            ["sources", "list", "--format", "yaml"],
            2,
            "--format must be one of text, json (got 'yaml')",
        ),
        (
            ["articles", "--format", "xml"],
            2,
            "error: --format must be one of jsonl, json, text (got 'xml')",
        ),
        (
            ["stories", "-f", "xml"],
            2,
            "error: --format must be one of jsonl, json, text (got 'xml')",
        ),
        (
            ["extract", "-f", "json", "x.txt"],
            2,
            "error: --format must be one of jsonl, text (got 'json')",
        ),
        (
            ["--log-format", "xml", "topics"],
            2,
            "error: --log-format must be one of human, json (got 'xml')",
        ),
        (
            ["summarize", "-n", "three", "x.txt"],
            2,
            "error: --sentences must be a valid integer (got 'three')",
        ),
        (["ingest", "--workers", "x"], 2, "error: --workers must be a valid integer (got 'x')"),
        (["brief"], 2, "Missing argument"),
        (["no-such-command"], 2, "No such command"),
        (["summarize", "--sentences", "0", "x.txt"], 2, "--sentences"),
        # A malformed option value is misuse too (it was exit 1).
        (["digest", "--since", "999999d"], 2, "--since '999999d'"),
        (["digest", "--since", "soon"], 2, "use e.g. 24h"),
        (["digest", "--since", "1y"], 2, "error: --since '1y': use e.g. 24h"),
        (["digest", "--since", ""], 2, "error: --since '': use e.g. 24h"),
        (["articles", "--since", "soon"], 2, "--since 'soon'"),
        (["stories", "--since", "soon"], 2, "--since 'soon'"),
        (["digest", "--topic", "#"], 2, "error: --topic '#': give a topic"),
        (["articles", "-t", ""], 2, "error: --topic '': give a topic"),
        (["summarize", "-a", "bogus", "x.txt"], 2, "unknown summary algorithm 'bogus'; choose"),
        (["sources", "add", "ftp://x.example/f"], 2, "is not an http(s) URL"),
        (["sources", "add", "https://x.example/f", "--every", "soon"], 2, "--every 'soon'"),
        (["sources", "add", "https://x.example/f", "--kind", "pdf"], 2, "--kind 'pdf'"),
        (["digest", "--dry-run", "--post", "C1"], 2, "--dry-run posts nothing"),
        # It was `added exa mple.com`, and the tag stored as `bad tag!`.
        (["sources", "add", "https://exa mple.com/"], 2, "'exa mple.com' is not a host name"),
        (["sources", "add", "https://a..example/f"], 2, "'a..example' is not a host name"),
        (
            ["sources", "add", "https://x.example/f", "--tags", "ok,Bad Tag!"],
            2,
            "error: tag 'Bad Tag!': use lowercase letters, digits and hyphens",
        ),
        (["topics", "--explain", ""], 2, "error: --explain '': give a topic, e.g. --explain sport"),
        (["topics", "--explain", " # "], 2, "error: --explain ' # ': give a topic"),
        # Options that do nothing in the mode asked for are refused, never ignored.
        (["brief", "taiwan", "-n", "2", "-w", "50"], 2, "--sentences and --words cannot be"),
        (["summarize", "x.txt", "--query", "x"], 2, "--query needs --together"),
        (["summarize", "x.txt", "--words", "20"], 2, "--words needs --together"),
        (["summarize", "--together", "x.txt", "-n", "1"], 2, "--sentences cannot be used with"),
        (["summarize", "--together", "x.txt", "-a", "lsa"], 2, "--algorithm cannot be used with"),
    ],
)
def test_errors_are_one_line(
    env: Path, capsys: pytest.CaptureFixture[str], args: list[str], code: int, says: str
) -> None:
    got, out, err = run(capsys, *args)
    assert got == code
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert says in err and "Traceback" not in err and "─" not in err  # no rich box
    assert "Value error" not in err and "Invalid value" not in err and "Input should" not in err


def test_missing_config_dir_is_an_error(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _out, err = run(capsys, "--config", str(env.parent / "no-such-dir"), "topics")
    assert code == 1 and err.count("\n") == 1
    assert "no-such-dir" in err and "not a folder" in err


@pytest.mark.parametrize("blank", ["", "  "])
def test_a_blank_log_format_variable_counts_as_unset(
    env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], blank: str
) -> None:
    # README, Configuration: "An empty variable counts as unset" (as every DIGESTBOT_* is read).
    monkeypatch.setenv("DIGESTBOT_LOG_FORMAT", blank)
    code, _out, err = run(capsys, "topics")
    assert code == 0, err
    assert "DIGESTBOT_LOG_FORMAT" not in err


def test_bare_command_shows_help(capsys: pytest.CaptureFixture[str]) -> None:
    code, _out, err = run(capsys)
    assert code == 2 and "Usage: digestbot" in err and "Commands:" in err


def test_markup_and_control_characters_in_data_are_shown_harmlessly(
    env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    story = tmp_path / "odd[bold].json"
    story.write_text(
        json.dumps(
            {
                "title": ESC_TITLE,
                "author": "Evil \x1b[31mRed\x9b2J",
                "url": "https://example.com/a[/x]b",
                "text": "The two main container ports reopened on Monday after a strike. " * 4,
            }
        )
    )
    code, out, err = run(capsys, "extract", "--format", "text", str(story))
    assert code == 0, err
    assert "odd[bold].json" in out and "Ports [/x] reopen" in out
    assert "\x1b" not in out and "\x9b" not in out

    code, out, err = run(capsys, "ingest", str(story))
    assert code == 0, err
    code, out, err = run(capsys, "digest", "--dry-run")
    assert code == 0, err
    assert "Ports [/x] reopen" in out and "https://example.com/a[/x]b" in out
    assert "\x1b" not in out + err

    # A failure reason carrying markup is printed as text, not parsed.
    code, out, err = run(capsys, "ingest", "http://127.0.0.1:9/[/x]")
    assert code == 1 and "http://127.0.0.1:9/[/x]" in err and "MarkupError" not in err


def test_output_helpers() -> None:
    assert clean("a\x1b[2Jb\tc\nd\x07\x9b\u202e") == "a[2Jb\tc\nd"
    assert safe("[bold]x[/]") == "\\[bold]x\\[/]"
    assert json.loads(json_line({"a": "\x9b\x1b"})) == {"a": "\x9b\x1b"}
    assert "\x9b" not in json_line({"a": "\x9b"}) and "\x1b" not in json_line({"a": "\x1b"})
    from rich.text import Text

    console = SafeConsole(force_terminal=True, width=80, color_system="standard", highlight=False)
    with console.capture() as cap:
        console.print(Text("plain \x1b]0;title\x07 text", style="red"))
        console.print("[green]ours[/] " + safe("[/theirs]\x1b[2J"))
    shown = cap.get()
    assert "\x1b]0;" not in shown and "\x1b[2J" not in shown
    assert "[/theirs]" in shown and "\x1b[31m" in shown  # our own colours survive


@pytest.mark.parametrize(
    ("file", "content", "says"),
    [
        (
            "topics.toml",
            "[[topic]]\nname = 'taiwan'\nsentense = 3",
            "topic.taiwan.sentense: unknown key",
        ),
        (
            "subscriptions.toml",
            "[[subscription]]\nname = 'am'\nchannel = 'C1'\ncron = '99 8 * * *'",
            "subscription.am.cron: '99 8 * * *'",
        ),
        (
            "digestbot.toml",
            "[brief]\nsentences = 'four'",
            "brief.sentences: input should be a valid integer",
        ),
        (  # it was `subscriptions.toml: subscription am: unknown platform ...`
            "subscriptions.toml",
            "[[subscription]]\nname = 'am'\nchannel = 'C1'\nplatform = 'teams'",
            "/subscriptions.toml: subscription.am.platform: unknown platform 'teams'; known: "
            "slack, discord, mattermost",
        ),
        (
            "subscriptions.toml",
            "[[subscription]]\nchannel = 'C1'\nplatform = 'teams'",
            "/subscriptions.toml: subscription[1].platform: unknown platform 'teams'",
        ),
    ],
)
def test_bad_config_stops_topics_with_one_line(
    env: Path, capsys: pytest.CaptureFixture[str], file: str, content: str, says: str
) -> None:
    (env / file).write_text(content)
    code, out, err = run(capsys, "topics")
    assert code == 1 and out == ""
    assert err.startswith("error: ") and err.count("\n") == 1 and says in err, err
    assert f"{file}:" in err


HUGE = "99999999999999999999999"  # past SQL's 64-bit keys


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["topics", "--article", HUGE], f"error: no article {HUGE}\n"),
        (["topics", "--article", "-" + HUGE], f"error: no article -{HUGE}\n"),
        (["articles", "--story", HUGE], f"error: no story {HUGE}\n"),
        (["sources", "add", "http://[::1"], "error: not a valid URL (Invalid IPv6 URL) (see"),
        (["sources", "add", "http://example.com:999999/feed"], "error: not a valid URL (Port"),
        (["digest", "--post-discord", "http://[::1"], "error: --post-discord: not a valid URL"),
    ],
)
def test_bad_ids_and_urls_say_what_is_wrong_not_the_exception(
    env: Path, capsys: pytest.CaptureFixture[str], args: list[str], says: str
) -> None:
    """They were `error: OverflowError: Python int too large to convert to SQLite INTEGER`,
    `error: ValueError: Invalid IPv6 URL`."""
    code, out, err = run(capsys, *args)
    assert code == (2 if args[:2] == ["sources", "add"] else 1) and out == ""  # usage: 2
    assert err.startswith(says) and err.count("\n") == 1, err
    assert "Error" not in err and "-v for details" not in err


@pytest.mark.parametrize("below", ["", "sub"])
def test_a_data_dir_that_is_a_file_is_one_plain_line(
    env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys, below: str
) -> None:
    """`DIGESTBOT_DATA_DIR=/etc/passwd digestbot status` was `error: NotADirectoryError: ...`."""
    file = tmp_path / "passwd"
    file.write_text("root:x:0:0\n")
    monkeypatch.setenv("DIGESTBOT_DATA_DIR", str(file / below))
    code, out, err = run(capsys, "status")
    assert code == 1 and out == ""
    assert err.startswith("error: ") and err.count("\n") == 1, err
    expected = f"{file} is not a folder" if not below else f"data folder {file / below}: Not a"
    assert expected in err and "Error" not in err and "-v for details" not in err
    assert file.read_text() == "root:x:0:0\n"


@pytest.mark.parametrize(
    ("url", "says"),
    [
        (
            "http://discord.com/api/webhooks/1/abc",
            "--post-discord http://discord.com/api/webhooks/1/*** is plain http to another "
            "machine: a webhook URL is a secret, so use https (plain http only to this machine)",
        ),
        (
            "https://example.com/x",
            "--post-discord https://example.com/x is not a channel webhook URL (an https URL "
            "ending in /api/webhooks/ID/TOKEN)",
        ),
        (
            "discord.com/api/webhooks/1/abc",
            "--post-discord discord.com/api/webhooks/1/*** is not a channel webhook URL (an "
            "https URL ending in /api/webhooks/ID/TOKEN)",
        ),
    ],
)
def test_a_bad_post_discord_url_reads_whole_with_its_token_hidden(
    env: Path, capsys: pytest.CaptureFixture[str], url: str, says: str
) -> None:
    """The redaction swallowed the ':' after the URL and hid the example's TOKEN:
    '--post-discord http://discord.com/api/webhooks/1/*** give a channel webhook URL
    (https://discord.com/api/webhooks/ID/*** http only to this machine)'."""
    code, out, err = run(capsys, "digest", "--post-discord", url)
    assert code == 1 and out == ""
    assert err == f"error: {says}\n"
    assert "abc" not in err


def test_a_reader_that_goes_away_stops_every_command_quietly(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`digestbot extract FOLDER | head -1` exited 1 without a word (rich's way with a closed
    pipe), where `articles | head -1` exits 0: now every command does as `articles`."""
    import os
    import subprocess
    import sys

    assert run(capsys, "ingest")[0] == 0  # the seeds, so every command has something to say
    seeds = str(env.parent / "seeds")
    root = str(Path(__file__).resolve().parents[2])
    for args in (
        ["extract", seeds],
        ["extract", "--format", "text", seeds],
        ["summarize", seeds],
        ["topics", "--explain", "taiwan"],
        ["topics"],
        ["digest", "--dry-run"],
        ["articles"],
        ["stories"],
    ):
        read, write = os.pipe()
        os.close(read)  # the reader is gone before the first line
        try:
            proc = subprocess.run(
                [sys.executable, "-c", "from bot.cli import main; main()", *args],
                stdout=write,
                stderr=subprocess.PIPE,
                text=True,
                env={**os.environ, "PYTHONPATH": root},
                timeout=120,
            )
        finally:
            os.close(write)
        assert (proc.returncode, proc.stderr) == (0, ""), args


def test_config_that_cannot_work_as_meant_is_a_warning_line_each(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A subscription to a topic nothing tags, an example file that is not there: both were
    accepted without a word (its digests would always be empty)."""
    (env / "sources.toml").write_text(
        '[[source]]\nname = "inbox"\nfolder = "seeds"\ntags = ["local"]\n'
    )
    (env / "topics.toml").write_text(
        '[[topic]]\nname = "taiwan"\n'
        'examples = ["nothere.txt", "https://news.example/a", "seeds"]\n'
    )
    (env / "subscriptions.toml").write_text(
        '[[subscription]]\nname = "am"\nchannel = "C1"\n'
        'topics = ["taiwan", "local", "nosuch"]\n'  # a topic, a source's tag, neither
    )
    code, out, err = run(capsys, "topics")
    assert code == 0 and "taiwan" in out
    assert [x for x in err.splitlines() if not x.startswith("ingest: ")] == [
        f"warning: {env / 'topics.toml'}: topic.taiwan.examples: no file "
        f"{env.parent / 'nothere.txt'} (it counts only if an article was stored from it)",
        f"warning: {env / 'subscriptions.toml'}: subscription.am.topics: 'nosuch' is not a "
        "topic in topics.toml or a tag of a source in sources.toml; fine if a source added "
        "with `sources add --tags` declares it",
    ]
    # Every command that loads the config says so; serve in its log.
    assert run(capsys, "sources", "list")[2].count("warning: ") == 2
    code, _out, err = run(capsys, "serve")  # no platform set up: it stops, after the log
    lines = err.splitlines()
    assert code == 1 and lines[-1].startswith("error: no chat platform configured")
    assert len(lines) == 3 and all(" WARNING bot.cli.serve: config: " in x for x in lines[:2])
    assert "subscription.am.topics: 'nosuch'" in lines[1]

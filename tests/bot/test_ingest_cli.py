"""`digestbot ingest` on broken folders: every failure one line on stderr, exit 1, the rest in."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from bot.cli import app

runner = CliRunner()


def _run(env: dict[str, str], *args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, list(args), env=env)


def test_a_symlink_loop_in_the_inbox_costs_only_itself(env, config_dir: Path) -> None:
    seeds = config_dir.parent / "seeds"
    (seeds / "la.txt").symlink_to("lb")
    (seeds / "lb").symlink_to("la.txt")
    (seeds / "self").symlink_to(".")
    first = _run(env, "ingest")
    assert first.exit_code == 1, first.output
    assert "la.txt: symlink loop" in first.stderr and "Error" not in first.stderr
    assert "5 added, 0 unchanged, 0 duplicate, 1 failed" in first.stderr
    digest = _run(env, "digest", "--dry-run")  # reads the inbox first: no longer aborted
    assert digest.exit_code == 0 and "News digest" in digest.stdout, digest.output
    named = _run(env, "ingest", str(seeds / "lb" / "x.txt"))
    assert named.exit_code == 1 and "x.txt: symlink loop" in named.stderr, named.output


def test_a_configured_folder_that_does_not_exist_fails_the_run(env, config_dir: Path) -> None:
    (config_dir / "sources.toml").write_text('[[source]]\nname = "a"\nfolder = "nothere"\n')
    result = _run(env, "ingest")
    assert result.exit_code == 1, result.output
    missing = config_dir.parent / "nothere"
    assert f"{missing}: folder does not exist" in result.stderr
    assert "5 added, 0 unchanged, 0 duplicate, 1 failed" in result.stderr  # the inbox still in
    shown = _run(env, "sources", "--format", "json")
    assert "does not exist" in shown.stdout  # its health says so too, as before


def _row(n: int, **extra: object) -> str:
    text = (
        f"The harbour of town {n} reopened on Monday after a strike of {n + 2} days by dock "
        f"workers. Officials in town {n} said trade would recover within a month. Ships that "
        f"had queued outside the harbour of town {n} began to unload overnight."
    )
    return json.dumps({"title": f"Harbour {n} reopens", "article": text, **extra})


def test_a_json_lines_file_goes_in_a_line_at_a_time(env, tmp_path: Path) -> None:
    folder = tmp_path / "dump"
    folder.mkdir()
    dump = folder / "all.jsonl"
    dump.write_text("\n".join([_row(1, id="bbc-1"), "{not json", _row(3)]) + "\n")
    first = _run(env, "ingest", str(folder))
    assert first.exit_code == 1, first.output  # one bad line: said, counted, the rest in
    assert f"{dump}:2: invalid JSON" in first.stderr
    assert "2 added, 0 unchanged, 0 duplicate, 1 failed" in first.stderr
    exported = [json.loads(line) for line in _run(env, "articles").stdout.splitlines()]
    # The export's locator maps back to the row: by its id, else by its line number.
    assert {a["locator"]: a["title"] for a in exported} == {
        f"{dump}#bbc-1": "Harbour 1 reopens",
        f"{dump}#3": "Harbour 3 reopens",
    }
    again = _run(env, "ingest", str(dump))
    assert "0 added, 2 unchanged, 0 duplicate, 1 failed" in again.stderr, again.output

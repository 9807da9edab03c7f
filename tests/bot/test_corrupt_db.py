"""A damaged SQLite file (64 KiB of garbage mid-file): one line, exit 1, what to do.

Issue 25: the garbage gave a traceback at `serve` start-up, and `digestbot status` printed
"delivery: ok" and exited 0 on it (its queries never touched the damaged pages). Both run
here as real processes on a real damaged file.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from digests.store import Store
from tests.conftest import write_damaged_sqlite

HINT = "PRAGMA integrity_check"


@pytest.fixture
def damaged(tmp_path: Path, config_dir: Path) -> dict[str, str]:
    path = tmp_path / "data" / "digestbot.db"
    write_damaged_sqlite(path)
    assert path.stat().st_size > 512 * 1024
    return {
        **os.environ,
        "DIGESTBOT_CONFIG_DIR": str(config_dir),
        "DIGESTBOT_DATA_DIR": str(path.parent),
        "DIGESTBOT_INBOX": str(tmp_path / "seeds"),
        "DIGESTBOT_DATABASE_URL": f"sqlite:///{path}",
        "SLACK_BOT_TOKEN": "xoxb-test",
        "SLACK_SIGNING_SECRET": "signing-secret",
        "SLACK_API_URL": "http://127.0.0.1:9/api/",
        "HOST": "127.0.0.1",
        "PORT": "0",
    }


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from bot.cli import main; main()", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def _one_clear_line(done: subprocess.CompletedProcess[str]) -> None:
    assert done.returncode == 1, done.stdout + done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    assert "damaged" in lines[0] and HINT in lines[0] and "backup" in lines[0]
    assert "Traceback" not in done.stderr


def test_status_check_on_a_damaged_file_is_exit_1_with_the_hint(damaged: dict[str, str]) -> None:
    done = _run(["status", "--check"], damaged)
    _one_clear_line(done)
    assert "delivery: ok" not in done.stdout


def test_status_without_check_does_not_read_the_whole_file_and_says_so(
    damaged: dict[str, str],
) -> None:
    """`PRAGMA quick_check` read every page of a 955 MB file on each `digestbot status` (16 s
    cold): the whole-file read is now `--check`'s. Plain status reads what its queries need
    (the damage is in article pages: delivery is ok) and says the file was not checked."""
    done = _run(["status"], damaged)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "delivery: ok" in done.stdout
    assert "not read whole for damage (digestbot status --check)" in done.stdout


def test_serve_on_a_damaged_file_stops_with_one_line(damaged: dict[str, str]) -> None:
    _one_clear_line(_run(["serve"], damaged))


def test_status_check_on_a_sound_file_says_it_read_it_whole(
    tmp_path: Path, config_dir: Path
) -> None:
    """`status --check` read the whole file and, finding no damage, said nothing of it: plain
    status says the file was not read whole, --check gave no word that it was (nor of what)."""
    path = tmp_path / "data" / "digestbot.db"
    Store.open(f"sqlite:///{path}").close()
    env = {
        **os.environ,
        "DIGESTBOT_CONFIG_DIR": str(config_dir),
        "DIGESTBOT_DATA_DIR": str(path.parent),
        "DIGESTBOT_DATABASE_URL": f"sqlite:///{path}",
    }
    done = _run(["status", "--check"], env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "delivery: ok" in done.stdout
    assert "database file: read whole, no damage found" in done.stdout
    assert "not read whole" not in done.stdout

"""`digestbot serve` reads its inbox once at start, and says a bad file's error once per change.

QA: in its first seconds serve read the inbox three times — the first ingest, the first
claimed poll of the inbox folder source (due at start) and the watcher's look at the folders
once it watched them — and logged a bad file's "skipped ..." line each time. Now the three
take turns through one ``FolderReads``, and a read of a whole folder passes over the files
another read unchanged; a file read again (its change event) logs its line only if its
content changed.

A real `digestbot serve` process; its reads of the inbox's files are counted from outside it
with inotify, its log read as an operator reads it.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path

from testkit.processes import ServerProcess, serve_digestbot
from tests.conftest import ROOT, SEEDS
from tests.file_reads import FileReads

BROKEN = b"\x00\x01 not text at all\x00"
WATCHING = "folder watch: watching 1 folder for new files"


def _until(server: ServerProcess, check: Callable[[str], bool], timeout: float = 60) -> str:
    """The server's log once ``check`` holds for it (fail after ``timeout`` s)."""
    deadline = time.monotonic() + timeout
    while not check(log := server.output()):
        assert server.alive() and time.monotonic() < deadline, log[-3000:]
        time.sleep(0.05)
    return log


def _skipped(log: str) -> list[str]:
    return [line for line in log.splitlines() if "skipped" in line and "broken.txt" in line]


def _ingests_naming(log: str, name: str) -> int:
    return sum("folder ingest:" in line and f"({name})" in line for line in log.splitlines())


def test_serve_reads_the_inbox_once_at_start_and_logs_a_bad_file_once_per_change(
    tmp_path: Path,
) -> None:
    shutil.copytree(ROOT / "config", tmp_path / "config")
    inbox = tmp_path / "seeds"  # the inbox, and the "inbox" folder source of sources.toml
    inbox.mkdir()
    good = next(p for p in sorted(SEEDS.iterdir()) if p.suffix == ".txt")
    shutil.copy(good, inbox / "good.txt")
    (inbox / "broken.txt").write_bytes(BROKEN)
    env = {
        "DIGESTBOT_DATA_DIR": str(tmp_path / "data"),
        "MATTERMOST_URL": "http://127.0.0.1:9",  # never reached: nothing is posted
        "MATTERMOST_COMMAND_TOKEN": "t0ken",
    }
    with FileReads(inbox) as reads, serve_digestbot(tmp_path / "config", env=env) as server:
        # Start-up is over: the first ingest, the first poll of the inbox source (due at
        # start) and the watcher's look at the folders once it watches them.
        log = _until(server, lambda log: "poll inbox:" in log and WATCHING in log)
        assert reads.count("good.txt") == 1 and reads.count("broken.txt") == 1, log
        assert len(_skipped(log)) == 1, log
        assert "poll inbox: 0 added, 2 unchanged, 0 duplicate, 0 failed" in log, log

        # A change to the bad file: read again, its line once more.
        (inbox / "broken.txt").write_bytes(BROKEN + b"\x00")
        log = _until(server, lambda log: len(_skipped(log)) == 2)
        assert reads.count("broken.txt") == 2, log
        # Written again, unchanged: the watcher reads it (its event), but the file's line
        # stays at one per change.
        (inbox / "broken.txt").write_bytes(BROKEN + b"\x00")
        log = _until(server, lambda log: _ingests_naming(log, "broken.txt") == 2)
        assert reads.count("broken.txt") == 3 and len(_skipped(log)) == 2, log
        assert reads.count("good.txt") == 1, log

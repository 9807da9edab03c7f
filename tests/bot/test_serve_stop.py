"""Stopping `digestbot serve` during start-up or its first ingest is prompt and quiet.

QA: with 1,500 files in the inbox, SIGTERM or SIGINT a few seconds after start took 11–20 s
to take effect: uvicorn acts on a signal only once the lifespan's start-up is over, and
start-up waits (up to 20 s) for the first ingest of the folders. Then the poll of the inbox
that had started meanwhile ran on in its worker thread past the interpreter's shutdown and
logged ``ERROR ... unexpected error polling inbox`` with ``RuntimeError: cannot schedule new
futures after interpreter shutdown``. Now a signal ends the start-up wait at once, the
ingests under way leave off at their next document (what is stored is kept), and a stopping
poller hands its claims back without an error.

A real `digestbot serve` process for the signals; the poller itself (real store, real
folder) for a poll under way when the process stops.
"""

from __future__ import annotations

import logging
import signal
import sqlite3
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from digests.config import Settings, load_settings
from digests.ingest.polling import Poller
from digests.store import Store
from digests.store.schema import documents
from testkit.processes import child_env, digestbot_script, free_port
from tests.conftest import SEEDS

FILES = 1200  # distinct articles: a first ingest of ~10 s or more here


def _fill(inbox: Path, count: int) -> None:
    texts = [p.read_text() for p in sorted(SEEDS.iterdir()) if p.suffix == ".txt"]
    for i in range(count):  # distinct texts: every one is processed
        (inbox / f"copy_{i:04d}.txt").write_text(f"{texts[i % len(texts)]}\n\nEdition {i}.\n")


def _documents(db: Path) -> int:
    """Inputs stored (added or found a duplicate)."""
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
            return int(conn.execute("SELECT count(*) FROM documents").fetchone()[0])
    except sqlite3.Error:  # not created (or migrated) yet
        return 0


def _stored(store: Store) -> int:
    with store.engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(documents)) or 0)


def _settled(store: Store) -> float:
    """When the store's article count last grew (it stays put for a second after)."""
    count, since = _stored(store), time.monotonic()
    deadline = since + 60
    while time.monotonic() - since < 1.0 and time.monotonic() < deadline:
        time.sleep(0.05)
        now = _stored(store)
        if now != count:
            count, since = now, time.monotonic()
    return since


def _default_sigint() -> None:
    # A shell starts background jobs (this suite run with `&`) with SIGINT ignored; a
    # terminal's Ctrl-C is not.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_during_the_first_ingest_stops_serve_within_seconds(
    sig: signal.Signals, config_dir: Path, tmp_path: Path
) -> None:
    _fill(tmp_path / "seeds", FILES)
    db = tmp_path / "data" / "digestbot.db"
    env = child_env({
        "DIGESTBOT_DATA_DIR": str(tmp_path / "data"), "HOST": "127.0.0.1",
        "PORT": str(free_port()), "MATTERMOST_URL": "http://127.0.0.1:9",
        "MATTERMOST_COMMAND_TOKEN": "t0ken",
    })  # fmt: skip
    log = tmp_path / "serve.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [digestbot_script(), "--config", str(config_dir), "serve"],
            stdin=subprocess.DEVNULL, stdout=sink, stderr=subprocess.STDOUT, env=env,
            cwd=tmp_path, start_new_session=True, preexec_fn=_default_sigint,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 90
        while _documents(db) < 64:  # the first batch is stored: the first ingest is under way
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        assert "Application startup complete" not in log.read_text()  # still starting
        asked = time.monotonic()
        process.send_signal(sig)
        process.wait(timeout=60)
        took = time.monotonic() - asked
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    output = log.read_text()
    assert took < 5, f"stopped {took:.1f} s after the signal:\n{output}"
    assert "Traceback" not in output and " ERROR " not in output, output
    assert "stopping during start-up" in output
    # Nothing stored was lost, and the file is sound.
    assert 64 <= _documents(db) < FILES + 5
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    if sig == signal.SIGINT:  # Ctrl-C: the one line every command gives
        assert process.returncode == 130 and output.rstrip().endswith("error: interrupted")


def test_a_poll_under_way_leaves_off_when_the_poller_closes(
    config_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    _fill(tmp_path / "seeds", 600)
    settings: Settings = load_settings({}, config_dir)
    store = Store.open(f"sqlite:///{tmp_path / 'data' / 'poll.db'}")
    now = datetime.now(UTC)
    store.sources.seed(settings.sources, now=now)  # the inbox folder source, due now
    poller = Poller(store, settings, owner="me", clock=lambda: datetime.now(UTC))
    try:
        assert poller.tick() == 1
        deadline = time.monotonic() + 60
        while _stored(store) < 64:  # the poll is storing
            assert time.monotonic() < deadline
            time.sleep(0.05)
        asked = time.monotonic()
        poller.close(wait=False)
        took = _settled(store) - asked  # until nothing more is stored
        assert took < 2, took
        assert 64 <= _stored(store) < 600
        assert poller.wait(5)
        [inbox] = store.sources.all()
    finally:
        store.close()
    assert "poll inbox: left off, the process is stopping" in caplog.text
    assert "unexpected error" not in caplog.text and "claim expired" not in caplog.text
    # Nothing recorded about an unfinished poll: the claim is handed back, due again now.
    assert inbox.claimed_by is None and inbox.consecutive_failures == 0

"""Ctrl-C during a long `digestbot ingest` (worker processes busy) is one line,
`error: interrupted`, exit 130 — no worker traceback (issue 25). A real process group gets
SIGINT, as a terminal's Ctrl-C sends it to every process of the foreground job."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import SEEDS


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="finds the workers in /proc")
def test_ctrl_c_during_a_parallel_ingest_is_one_line(config_dir: Path, tmp_path: Path) -> None:
    inbox = tmp_path / "seeds"
    texts = [p.read_text() for p in sorted(SEEDS.iterdir())]
    for i in range(2000):  # distinct files: every one is processed (seconds of work)
        (inbox / f"copy_{i:03d}.txt").write_text(f"{texts[i % len(texts)]}\n\nEdition {i}.\n")
    env = {
        **os.environ,
        "DIGESTBOT_CONFIG_DIR": str(config_dir),
        "DIGESTBOT_DATA_DIR": str(tmp_path / "data"),
    }
    exe = Path(sys.executable).with_name("digestbot")
    process = subprocess.Popen(
        [str(exe), "ingest", "--workers", "2"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,  # its own process group, like a terminal's foreground job
        # ... and, like one, Ctrl-C not ignored: a shell starts background jobs (this suite,
        # run with `&` or nohup) with SIGINT ignored, and a child would inherit that.
        preexec_fn=_default_sigint,
    )
    try:
        # Interrupt once the worker processes run, not after a fixed pause, which a faster
        # ingest (or a slower machine) moves out of the run.
        deadline = time.monotonic() + 60
        while len(_children(process.pid)) < 2 and time.monotonic() < deadline:
            assert process.poll() is None, "ingest finished before its workers were seen"
            time.sleep(0.05)
        time.sleep(0.5)  # the workers are processing
        assert process.poll() is None, "ingest finished before it could be interrupted"
        os.killpg(process.pid, signal.SIGINT)
        _, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    text = stderr.decode(errors="replace")
    assert process.returncode == 130, text
    assert "Traceback" not in text and "KeyboardInterrupt" not in text, text
    assert text.strip().splitlines()[-1] == "error: interrupted", text


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _children(pid: int) -> list[str]:
    """The process's child processes (Linux: /proc lists them by thread)."""
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return []
    out: list[str] = []
    for task in tasks:
        try:
            out += (task / "children").read_text().split()
        except OSError:
            continue
    return out

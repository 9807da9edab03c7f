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

from tests.conftest import SEEDS


def test_ctrl_c_during_a_parallel_ingest_is_one_line(config_dir: Path, tmp_path: Path) -> None:
    inbox = tmp_path / "seeds"
    texts = [p.read_text() for p in sorted(SEEDS.iterdir())]
    for i in range(600):  # distinct files: every one is processed
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
    )
    try:
        deadline = time.monotonic() + 60
        while not (tmp_path / "data").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(3)  # the workers are processing
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

"""How long `digestbot` takes to start: --help and the terminal commands (issue 13).

Runs each command N times in a fresh interpreter and prints min / median / max wall time.

    python -m benchmarks.cli_start            # this checkout
    python -m benchmarks.cli_start --runs 21 --tree /path/to/other/checkout

``--tree`` runs another checkout's code with this interpreter's packages (PYTHONPATH), for a
before/after comparison on the same machine and dependencies.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUN = "import sys; from bot.cli import main; sys.argv[0] = 'digestbot'; main()"


def timed(args: list[str], env: dict[str, str], runs: int, cwd: str) -> list[float]:
    """Wall-clock seconds of ``runs`` fresh runs of ``python -c RUN args``."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-c", RUN, *args],
            env=env,
            cwd=cwd,  # not the checkout: "" on sys.path would shadow --tree
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=False,
        )
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=11)
    parser.add_argument("--tree", type=Path, default=ROOT, help="checkout whose code to run")
    opts = parser.parse_args()
    tree = opts.tree.resolve()
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "config"
        shutil.copytree(tree / "config", config)
        shutil.copytree(tree / "seeds", Path(tmp) / "seeds")
        env = {
            **os.environ,
            "PYTHONPATH": str(tree),
            "DIGESTBOT_CONFIG_DIR": str(config),
            "DIGESTBOT_DATA_DIR": str(Path(tmp) / "data"),
        }
        timed(["topics"], env, 1, tmp)  # first run creates and fills the database: not measured
        print(f"{tree} ({opts.runs} runs each)")
        for args in (["--help"], ["topics"], ["digest", "--dry-run"], ["brief", "taiwan"]):
            t = timed(args, env, opts.runs, tmp)
            print(
                f"  digestbot {' '.join(args):<18} median {statistics.median(t):.2f} s"
                f"  (min {min(t):.2f}, max {max(t):.2f})"
            )


if __name__ == "__main__":
    main()

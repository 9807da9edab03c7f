"""Multi-document summary benchmark: `digestbot summarize --together` on the DUC dev sets.

Each topic's articles are written as `.json` files (title, text, published) to a temporary
folder and summarized by the real CLI command (`summarize --together --plain --query TITLE
--words N --format json`, run in-process with typer's runner), so this measures exactly what a
user runs. The eval data is read where it lives, never copied into the repository.

    .venv/bin/python -m benchmarks.mds ../shared/eval/qmds-dev-duc2006.jsonl --words 250 \\
        --out /tmp/mds-duc2006-250.jsonl [--score ../shared/eval/score_mds.py]

Queries are the `topic` titles only (what a user types after /brief); `narrative` is ignored.
Prints the score_mds.py command for the written predictions (and runs it with --score).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from typer.testing import CliRunner

from bot.cli import app

ROOT = Path(__file__).resolve().parent.parent


def _write_docs(folder: Path, docs: list[dict]) -> None:
    for n, d in enumerate(docs):
        record = {"title": d.get("title"), "text": d["text"], "published": d.get("date")}
        # Numbered names keep the folder order the eval's order.
        (folder / f"{n:03d}.json").write_text(json.dumps(record), encoding="utf-8")


def main(argv: list[str] | None = None) -> None:
    """Summarize every topic of the eval file, write the predictions, print the score command."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("data", type=Path, help="qmds-/mds-*.jsonl from the shared eval folder")
    ap.add_argument("--words", type=int, default=100)
    ap.add_argument("--out", type=Path, required=True, help="predictions (jsonl) to write")
    ap.add_argument("--no-query", action="store_true", help="ignore the topic title")
    ap.add_argument("--score", type=Path, help="score_mds.py: run it on the predictions")
    a = ap.parse_args(argv)
    runner = CliRunner()
    env = {"DIGESTBOT_CONFIG_DIR": str(ROOT / "config")}
    rows = [json.loads(line) for line in a.data.open(encoding="utf-8") if line.strip()]
    times: list[float] = []
    with a.out.open("w", encoding="utf-8") as out, tempfile.TemporaryDirectory() as tmp:
        for row in rows:
            folder = Path(tmp) / row["id"]
            folder.mkdir()
            _write_docs(folder, row["docs"])
            args = ["summarize", "--together", "--plain", str(folder), "--words", str(a.words)]
            if row.get("topic") and not a.no_query:
                args += ["--query", row["topic"]]
            start = time.perf_counter()
            result = runner.invoke(app, [*args, "--format", "json"], env=env)
            times.append(time.perf_counter() - start)
            if result.exit_code != 0:
                sys.exit(f"{row['id']}: exit {result.exit_code}: {result.output}")
            data = json.loads(result.stdout)
            text = " ".join(s["text"] for s in data["summary"])
            out.write(json.dumps({"id": row["id"], "summary_pred": text}) + "\n")
    cmd = [
        sys.executable,
        str(a.score or "../shared/eval/score_mds.py"),
        "--ref",
        str(a.data),
        "--pred",
        str(a.out),
        "--words",
        str(a.words),
    ]
    print(
        f"{len(rows)} topics; time per summary (whole CLI command, in-process): "
        f"median {1000 * statistics.median(times):.0f} ms, max {1000 * max(times):.0f} ms"
    )
    print("score:", " ".join(cmd))
    if a.score:
        subprocess.run(cmd, check=True, env={**os.environ})


if __name__ == "__main__":
    main()

"""Story grouping through the product: `digestbot ingest FOLDER`, then `digestbot articles`.

The eval sets' articles (the events of the mds-*.jsonl files and the distractors of
qmds-*.jsonl) are written, one ``<doc id>.json`` file each (``title``, ``text``, ``date``), into
one folder outside the repository; a fresh store in a temporary data dir ingests it with the
real CLI; the ``articles --format jsonl`` export's ``locator`` names each article's file, so
its ``story`` becomes the prediction for that doc id; score_stories.py scores it (B-cubed).

    .venv/bin/python benchmarks/stories.py --events ../shared/eval/mds-dev-duc2004.jsonl \\
        --distractors ../shared/eval/qmds-dev-duc2006.jsonl \\
        --score ../shared/eval/score_stories.py --out /tmp/stories-duc2004.jsonl
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> None:
    """Write the folder, ingest it, export, score."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--events", type=Path, nargs="+", required=True, help="mds-*.jsonl files")
    ap.add_argument("--distractors", type=Path, nargs="*", default=[], help="qmds-*.jsonl")
    ap.add_argument("--out", type=Path, required=True, help="predictions (id, story) JSONL")
    ap.add_argument("--score", type=Path, help="score_stories.py: run it on the predictions")
    ap.add_argument("--window-days", type=int, help="[stories] window_days (default: config's)")
    ap.add_argument(
        "--as",
        dest="form",
        choices=("json", "txt", "sets"),
        default="json",
        help="json: title, text, date (default); txt: the text alone, so no date; "
        "sets: the set files copied into the folder as they are (an event or topic a line, "
        "its articles under docs)",
    )
    a = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "in"
        folder.mkdir()
        written = 0
        for path in [*a.events, *a.distractors]:
            if a.form == "sets":
                (folder / path.name).write_bytes(path.read_bytes())
                written += 1
                continue
            for line in path.open(encoding="utf-8"):
                if not line.strip():
                    continue
                for d in json.loads(line)["docs"]:
                    record = {"title": d.get("title") or "", "text": d["text"], "date": d["date"]}
                    body = json.dumps(record) if a.form == "json" else d["text"]
                    (folder / f"{d['id']}.{a.form}").write_text(body, encoding="utf-8")
                    written += 1
        config = Path(tmp) / "config"
        config.mkdir()
        for name in ("topics.toml",):
            (config / name).write_text((ROOT / "config" / name).read_text(encoding="utf-8"))
        main_toml = f'data_dir = "{tmp}/data"\ninbox = "{folder}"\n'
        if a.window_days:
            main_toml += f"\n[stories]\nwindow_days = {a.window_days}\n"
        (config / "digestbot.toml").write_text(main_toml)
        cli = [str(Path(sys.executable).parent / "digestbot"), "--config", str(config)]
        began = time.perf_counter()
        ingest = subprocess.run([*cli, "ingest", str(folder)], capture_output=True, text=True)
        took = time.perf_counter() - began
        print(f"{written} files: {ingest.stderr.strip().splitlines()[-1]} in {took:.1f} s")
        export = subprocess.run(
            [*cli, "articles", "--format", "jsonl"], capture_output=True, text=True, check=True
        )
        stories = set()
        with a.out.open("w", encoding="utf-8") as out:
            for line in export.stdout.splitlines():
                row = json.loads(line)
                stories.add(row["story"])
                locator = row["locator"]  # FILE.json, or SET.jsonl#ID with --as sets
                doc_id = locator.rpartition("#")[2] if a.form == "sets" else Path(locator).stem
                out.write(json.dumps({"id": doc_id, "story": row["story"]}) + "\n")
        print(f"{len(export.stdout.splitlines())} articles in {len(stories)} stories")
    if a.score:
        cmd = [sys.executable, str(a.score), "--gold", *map(str, a.events), "--pred", str(a.out)]
        print(" ".join(cmd))
        subprocess.run(cmd, check=True)


if __name__ == "__main__":
    main()

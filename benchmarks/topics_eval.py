"""Learned topics through the product path: `digestbot ingest` + `digestbot articles` + score.

    .venv/bin/python -m benchmarks.topics_eval --eval-dir /work/shared/eval \
        --set bbc|agnews [--topics sport,tech] [--aliases] [--n N] [--workdir DIR]

Each row of the set becomes a JSON document (title, text) in a temp inbox, as a feed item does; a
fresh config folder gets a ``topics.toml`` with the topics by name only (``--aliases``: the
four obvious aliases of each, as a user writes them). ``digestbot ingest`` (which refits
the topics) runs on the inbox, ``digestbot articles --format jsonl`` exports the tags, and
``score_tags.py`` from the eval folder scores them (file paths map back to row ids). Rows
are read from ``--eval-dir`` at run time and never copied into the repository.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SETS = {
    "bbc": ("summ-dev-bbc.jsonl", "article", "business,entertainment,politics,sport,tech"),
    "agnews": ("tags-dev-agnews.jsonl", "text", "politics,sports,business,technology"),
}
ALIASES = {  # what a user would write: the name and a few obvious words
    "sport": ["sport", "football", "tennis", "match"],
    "sports": ["sports", "football", "tennis", "match"],
    "tech": ["technology", "computer", "internet", "software"],
    "technology": ["technology", "computer", "internet", "software"],
    "business": ["business", "company", "market", "economy"],
    "politics": ["politics", "government", "election", "minister"],
    "entertainment": ["entertainment", "film", "music", "celebrity"],
}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--eval-dir", type=Path, required=True)
    ap.add_argument("--set", choices=sorted(SETS), required=True)
    ap.add_argument("--topics", help="comma-separated topic names (default: the set's labels)")
    ap.add_argument("--aliases", action="store_true")
    ap.add_argument("--n", type=int, default=0, help="only the first N rows (0: all)")
    ap.add_argument("--workdir", type=Path)
    a = ap.parse_args()
    name, field, labels = SETS[a.set]
    topics = (a.topics or labels).split(",")
    gold_path = a.eval_dir / name
    rows = [json.loads(line) for line in gold_path.open()]
    if a.n:
        rows = rows[: a.n]
    work = a.workdir or Path(tempfile.mkdtemp(prefix="topics-eval-"))
    inbox, config = work / "inbox", work / "config"
    inbox.mkdir(parents=True, exist_ok=True)
    config.mkdir(parents=True, exist_ok=True)
    paths = {}
    for r in rows:
        # A JSON document, as a feed item becomes one: the title and text as given.
        path = inbox / f"{r['id']}.json"
        path.write_text(json.dumps({"title": r["title"], "text": r[field]}))
        paths[str(path)] = r["id"]
    with (config / "topics.toml").open("w") as f:
        for t in topics:
            f.write(f'[[topic]]\nname = "{t}"\n')
            if a.aliases:
                f.write(f"aliases = {json.dumps(ALIASES.get(t, []))}\n")
            f.write("\n")
    (config / "digestbot.toml").write_text(f'data_dir = "{work / "data"}"\ninbox = "{inbox}"\n')
    env = {**os.environ, "DIGESTBOT_CONFIG_DIR": str(config)}
    digestbot = str(ROOT / ".venv" / "bin" / "digestbot")
    started = time.monotonic()
    # Exit 1 when some rows failed (too short to hold an article): they count as untagged.
    subprocess.run([digestbot, "ingest", str(inbox)], env=env, stdout=subprocess.DEVNULL)
    ingest_s = time.monotonic() - started
    exported = subprocess.run(
        [digestbot, "articles", "--format", "jsonl"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    pred = work / "pred.jsonl"
    with pred.open("w") as f:
        for line in exported.splitlines():
            art = json.loads(line)
            rid = paths.get(art["locator"]) or paths.get(str(Path(art["locator"]).resolve()))
            if rid:
                f.write(json.dumps({"id": rid, "tags": art["tags"]}) + "\n")
    gold = work / "gold.jsonl"
    with gold.open("w") as f:
        for r in rows:
            f.write(json.dumps({k: r[k] for k in ("id", "label") if k in r}) + "\n")
    print(
        f"{a.set} n={len(rows)} topics={','.join(topics)} aliases={a.aliases} ingest {ingest_s:.1f} s"
    )
    cmd = [
        sys.executable,
        str(a.eval_dir / "score_tags.py"),
        "--gold",
        str(gold),
        "--pred",
        str(pred),
    ]
    if a.topics:
        cmd += ["--labels", a.topics]
    subprocess.run(cmd, check=True)


if __name__ == "__main__":
    main()

"""Learned topics through the product path: `digestbot ingest` + `digestbot articles` + score.

    .venv/bin/python -m benchmarks.topics_eval --eval-dir /work/shared/eval \
        --set bbc|agnews [--topics sport,tech] [--aliases] [--n N [--draw K]] [--keywords] \
        [--workdir DIR]

Each row of the set becomes a JSON document (title, text) in a temp inbox, as a feed item does; a
fresh config folder gets a ``topics.toml`` with the topics by name only (``--aliases``: the
four obvious aliases of each, as a user writes them). ``digestbot ingest`` (which refits
the topics) runs on the inbox, ``digestbot articles --format jsonl`` exports the tags, and
``score_tags.py`` from the eval folder scores them (file paths map back to row ids). Rows
are read from ``--eval-dir`` at run time and never copied into the repository.

``--n N --draw K``: N rows drawn at random (seed K) instead of the first N, a small store.
``--keywords``: also score the keyword tags of the same rows (what the store carries below
``learn.MIN_ARTICLES``: each topic named twice, or once in the headline).
"""

from __future__ import annotations

import argparse
import json
import os
import random
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
    ap.add_argument("--draw", type=int, help="with --n: N rows drawn at random, this seed")
    ap.add_argument("--keywords", action="store_true", help="also score the keyword tags")
    ap.add_argument("--workdir", type=Path)
    a = ap.parse_args()
    name, field, labels = SETS[a.set]
    topics = (a.topics or labels).split(",")
    gold_path = a.eval_dir / name
    rows = [json.loads(line) for line in gold_path.open()]
    if a.n:
        rows = random.Random(a.draw).sample(rows, a.n) if a.draw is not None else rows[: a.n]
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
    # The interpreter's own entry point (PYTHONPATH picks the code, e.g. a worktree's).
    digestbot = str(Path(sys.executable).with_name("digestbot"))
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
    _score(a.eval_dir, gold, pred, a.topics)
    if a.keywords:
        from digests.config import Topic
        from digests.tag import topic_weights

        configured = [
            Topic(name=t, aliases=tuple(ALIASES.get(t, [])) if a.aliases else ()) for t in topics
        ]
        keyword = work / "keyword.jsonl"
        with keyword.open("w") as f:
            for r in rows:
                weights = topic_weights(r["title"], r[field], configured)
                ranked = [n for n, _ in sorted(weights, key=lambda nw: -nw[1])]
                f.write(json.dumps({"id": r["id"], "tags": ranked}) + "\n")
        print("keyword tags:")
        _score(a.eval_dir, gold, keyword, a.topics)


def _score(eval_dir: Path, gold: Path, pred: Path, labels: str | None) -> None:
    cmd = [
        sys.executable,
        str(eval_dir / "score_tags.py"),
        "--gold",
        str(gold),
        "--pred",
        str(pred),
    ]
    if labels:
        cmd += ["--labels", labels]
    subprocess.run(cmd, check=True)


if __name__ == "__main__":
    main()

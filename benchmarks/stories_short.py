"""Story grouping of short items (a headline and a 20–60-word lead, as feeds give them), without
event labels: how many articles land in multi-article stories, and a sample of those stories
to read.

    nice .venv/bin/python -m benchmarks.stories_short \\
        --items /work/shared/eval/tags-dev-agnews.jsonl --sample 40 --seed 1

Each ``--items`` file is JSONL (``id``, ``title``, ``text``; ``published`` if it has one). The
rows are written into one JSONL file in a temporary inbox, as a feed's items are stored, each
dated (``--days``: rows without a date get one spread evenly over that many days in file order,
so with the default 7 every row is within one story window of every other: a busy week of a
wire feed). A fresh store ingests it with the real CLI (``digestbot ingest``), ``digestbot
articles --format jsonl`` exports each article's story (``locator`` ``FILE#ID``). Printed: the
articles, the stories, how many articles are in stories of two or more (and how many such
stories); with ``--sample N``, N of those stories chosen at random (``--seed``), each member's
title and the start of its text, for a reader to judge same event or not; ``--all`` prints every
multi-article story instead (a small file). AG News dev is mostly distinct events, so nearly
every merge there is a wrong one; its rows carry no date.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
START = datetime(2026, 11, 30, tzinfo=UTC)


def main(argv: list[str] | None = None) -> None:
    """Write the inbox, ingest it, export the stories, count and sample the merges."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--items", type=Path, nargs="+", required=True, help="JSONL rows")
    ap.add_argument("--days", type=float, default=7.0, help="undated rows spread over (days)")
    ap.add_argument("--sample", type=int, default=0, help="multi-article stories to print")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--all", action="store_true", help="print every multi-article story")
    ap.add_argument("--out", type=Path, help="write (id, story) JSONL here")
    a = ap.parse_args(argv)
    rows = [
        json.loads(line) for path in a.items for line in path.open(encoding="utf-8") if line.strip()
    ]
    by_id = {str(r["id"]): r for r in rows}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "in"
        folder.mkdir()
        step = timedelta(days=a.days) / max(1, len(rows))
        with (folder / "items.jsonl").open("w", encoding="utf-8") as f:
            for i, r in enumerate(rows):
                when = r.get("published") or (START + i * step).isoformat()
                item = {"id": str(r["id"]), "title": r.get("title") or "", "text": r["text"]}
                f.write(json.dumps({**item, "published": when}) + "\n")
        config = Path(tmp) / "config"
        config.mkdir()
        (config / "topics.toml").write_text(
            (ROOT / "config" / "topics.toml").read_text(encoding="utf-8")
        )
        (config / "digestbot.toml").write_text(f'data_dir = "{tmp}/data"\ninbox = "{folder}"\n')
        cli = [str(Path(sys.executable).parent / "digestbot"), "--config", str(config)]
        ingest = subprocess.run([*cli, "ingest", str(folder)], capture_output=True, text=True)
        print(f"{len(rows)} rows: {(ingest.stderr.strip().splitlines() or ['?'])[-1]}")
        export = subprocess.run(
            [*cli, "articles", "--format", "jsonl"], capture_output=True, text=True, check=True
        )
    members: dict[int, list[str]] = defaultdict(list)
    out = a.out.open("w", encoding="utf-8") if a.out else None
    for line in export.stdout.splitlines():
        row = json.loads(line)
        doc_id = row["locator"].rpartition("#")[2]
        members[row["story"]].append(doc_id)
        if out:
            out.write(json.dumps({"id": doc_id, "story": row["story"]}) + "\n")
    if out:
        out.close()
    merged = {s: ids for s, ids in members.items() if len(ids) > 1}
    in_merged = sum(len(ids) for ids in merged.values())
    articles = sum(len(ids) for ids in members.values())
    sizes = sorted((len(ids) for ids in merged.values()), reverse=True)
    print(
        f"{articles} articles in {len(members)} stories; {in_merged} articles "
        f"({in_merged / max(1, articles):.1%}) in {len(merged)} multi-article stories "
        f"(largest {sizes[:8]})"
    )
    shown = sorted(merged)
    if not a.all:
        shown = sorted(random.Random(a.seed).sample(shown, min(a.sample, len(shown))))
    for n, story in enumerate(shown, 1):
        print(f"\n[{n}] story {story} ({len(merged[story])} articles)")
        for doc_id in merged[story]:
            r = by_id.get(doc_id, {})
            lead = " ".join(str(r.get("text", "")).split()[:24])
            print(f"  {doc_id}: {r.get('title', '')} | {lead}")


if __name__ == "__main__":
    main()

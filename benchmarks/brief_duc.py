"""The product path on DUC 2006: one store holding every topic's articles, `brief TITLE --words N`.

Every article of every topic in the eval file goes through the real pipeline (JSON document
→ extract → summarize → tag → store) into one SQLite store; then for each topic,
``digests.brief.brief(store, title, words=N)`` answers from the whole store (retrieval by tag,
alias or full-text search, then the multidoc engine with the title as query), exactly what
`digestbot brief "<title>" --words N` runs. Compare with -m benchmarks.mds on the same file
(the engine given the topic's own 25 articles).

    .venv/bin/python -m benchmarks.brief_duc ../shared/eval/qmds-dev-duc2006.jsonl \\
        --words 250 --out /tmp/brief-duc2006-250.jsonl --score ../shared/eval/score_mds.py
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from digests.brief import brief
from digests.config import load_settings
from digests.ingest.pipeline import PipelineOptions, process
from digests.models import RawDocument
from digests.store import Store

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> None:
    """Build the store, brief every topic, write the predictions, print the score command."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("data", type=Path, help="qmds-dev-duc2006.jsonl")
    ap.add_argument("--words", type=int, default=250)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--score", type=Path, help="score_mds.py: run it on the predictions")
    a = ap.parse_args(argv)
    settings = load_settings({}, ROOT / "config")
    options = PipelineOptions(topics=tuple(settings.topics))
    rows = [json.loads(line) for line in a.data.open(encoding="utf-8") if line.strip()]
    newest = datetime.min.replace(tzinfo=UTC)
    with tempfile.TemporaryDirectory() as tmp:
        store = Store.open(f"sqlite:///{tmp}/duc.db")
        start = time.perf_counter()
        for row in rows:
            for d in row["docs"]:
                record = {"title": d.get("title"), "text": d["text"], "published": d.get("date")}
                raw = RawDocument(
                    locator=f"duc://{row['id']}/{d['id']}",
                    kind="json",
                    content=json.dumps(record).encode(),
                )
                item = process(raw, options)
                if item.article.published:
                    newest = max(newest, item.article.published)
                store.articles.add(item, now=item.article.published or newest)
        print(f"stored {store.articles.count()} articles in {time.perf_counter() - start:.0f} s")
        now = newest + timedelta(days=1)
        times: list[float] = []
        with a.out.open("w", encoding="utf-8") as out:
            for row in rows:
                began = time.perf_counter()
                result = brief(store, row["topic"], topics=settings.topics, now=now, words=a.words)
                times.append(time.perf_counter() - began)
                text = " ".join(s.text for s in result.sentences)
                out.write(json.dumps({"id": row["id"], "summary_pred": text}) + "\n")
        store.close()
    print(
        f"{len(rows)} briefs: median {1000 * statistics.median(times):.0f} ms, "
        f"max {1000 * max(times):.0f} ms"
    )
    cmd = [sys.executable, str(a.score or "../shared/eval/score_mds.py"), "--ref", str(a.data)]
    cmd += ["--pred", str(a.out), "--words", str(a.words)]
    print("score:", " ".join(cmd))
    if a.score:
        subprocess.run(cmd, check=True)


if __name__ == "__main__":
    main()

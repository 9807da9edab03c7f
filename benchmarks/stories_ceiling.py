"""What a story grouping can score on a multi-document set whose events share articles.

Some events of the DUC sets list the same article id (two related events of one TDT topic);
``score_stories.py`` keeps the last event an id is listed in. A grouping that keeps every
event whole must then put the two events into one story. This scores that grouping (the
events sharing an id united, every event whole) by the scorer's rule: the best precision such
a grouping can have, with recall 1.

    .venv/bin/python -m benchmarks.stories_ceiling /work/shared/eval/mds-dev-duc2004.jsonl
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path


def ceiling(path: Path) -> tuple[int, float, float]:
    """(ids listed in two events, B-cubed precision, recall) of the merged-events grouping."""
    events = [json.loads(line) for line in path.open(encoding="utf-8") if line.strip()]
    gold: dict[str, str] = {}
    parent = {e["id"]: e["id"] for e in events}

    def root(x: str) -> str:
        while parent[x] != x:
            x = parent[x]
        return x

    listed = 0
    for event in events:
        for doc in event["docs"]:
            listed += 1
            if doc["id"] in gold:
                parent[root(event["id"])] = root(gold[doc["id"]])
            gold[doc["id"]] = event["id"]
    story = {doc: root(event) for doc, event in gold.items()}
    members: dict[str, set[str]] = defaultdict(set)
    sizes: dict[str, int] = defaultdict(int)
    for doc, s in story.items():
        members[s].add(doc)
        sizes[gold[doc]] += 1
    p = r = 0.0
    for doc, event in gold.items():
        same = sum(1 for other in members[story[doc]] if gold[other] == event)
        p += same / len(members[story[doc]])
        r += same / sizes[event]
    return listed - len(gold), p / len(gold), r / len(gold)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("events", type=Path, nargs="+", help="mds-*.jsonl files")
    for path in ap.parse_args().events:
        shared, p, r = ceiling(path)
        print(
            f"{path.name}: {shared} ids in two events; merged-events grouping "
            f"P {p:.3f} R {r:.3f} F1 {2 * p * r / (p + r):.3f}"
        )


if __name__ == "__main__":
    main()

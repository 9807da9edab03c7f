"""Score digestbot's extractor on an extraction-benchmark JSONL: precision, recall, F1, pages/s.

    .venv/bin/python -m benchmarks.extraction --data ../shared/eval/extract-dev.jsonl \
        --field text_dump [--scorer ../shared/eval/score_extract.py] [--repeat 3]
    .venv/bin/python -m benchmarks.extraction --page seeds/000_*.txt --kb 10

The second form times one text dump cut to --kb kilobytes (the issue's 10 KB target).
``--layout lines`` feeds each text dump re-laid as a browser's "select all, copy" often is
(seeds 003 and 004): one paragraph, heading or list item (marked "•") a line, no blank lines.

Each record needs ``id``, ``gold_text``, ``url`` and the input field (``text_dump`` is fed as
a ``txt`` document, ``html`` as ``html``). Scoring imports the benchmark's own
``score_extract.py`` (default: next to --data) so the figures are the benchmark's.
Throughput is extraction only (decoding included), in CPU seconds of one core, best of
--repeat runs.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import time
from pathlib import Path
from types import ModuleType

from digests.errors import InputError
from digests.extract import extract
from digests.extract._blocks import split_blocks
from digests.models import RawDocument

_KINDS = {"text_dump": "txt", "text_dump_inscriptis": "txt", "html": "html"}


def load_scorer(path: Path) -> ModuleType:
    """Import the benchmark's score_extract.py from its path."""
    spec = importlib.util.spec_from_file_location("score_extract", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot load scorer {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def one_line_each(text: str) -> str:
    """A text dump re-laid one block a line with no blank lines (``--layout lines``)."""
    return "".join(f"{'• ' if b.bullet else ''}{b.text}\n" for b in split_blocks(text))


def run(
    records: list[dict], field: str, layout: str = "as-is"
) -> tuple[dict[str, str], float, int]:
    """Predictions by id, seconds spent extracting, and how many pages raised InputError."""
    relay = one_line_each if layout == "lines" else str
    docs = [
        (
            rec["id"],
            RawDocument(
                rec["id"], _KINDS[field], relay(rec[field]).encode("utf-8"), rec.get("url")
            ),
        )
        for rec in records
    ]
    preds: dict[str, str] = {}
    failed = 0
    start = time.process_time()  # CPU time: the figure is per core, and fair on a busy box
    for doc_id, doc in docs:
        try:
            preds[doc_id] = extract(doc).body
        except InputError:
            preds[doc_id] = ""
            failed += 1
    return preds, time.process_time() - start, failed


def time_page(path: Path, kb: int, repeat: int) -> None:
    """Pages/s for one text dump cut to ``kb`` KB (at a line break), best of ``repeat`` runs."""
    content = path.read_bytes()[: kb * 1024]
    content = content[: content.rfind(b"\n") + 1] or content
    doc = RawDocument(str(path), "txt", content)
    extract(doc)  # warm up (imports, model)
    n = 200
    best = float("inf")
    for _ in range(max(1, repeat)):
        start = time.process_time()
        for _ in range(n):
            extract(doc)
        best = min(best, time.process_time() - start)
    print(f"{path.name} cut to {len(content) / 1024:.1f} KB: {n / best:.0f} pages/s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path)
    ap.add_argument("--page", type=Path, help="time one text dump instead (see --kb)")
    ap.add_argument("--kb", type=int, default=10, help="with --page: cut it to this many KB")
    ap.add_argument("--field", default="text_dump", choices=sorted(_KINDS))
    ap.add_argument(
        "--layout",
        default="as-is",
        choices=("as-is", "lines"),
        help="lines: each text dump one block a line, no blank lines (a browser copy)",
    )
    ap.add_argument("--scorer", type=Path, help="score_extract.py (default: next to --data)")
    ap.add_argument("--repeat", type=int, default=3, help="timing runs; the best is reported")
    ap.add_argument("--save-preds", type=Path, help="write {id, text_pred} JSONL here")
    args = ap.parse_args()
    if args.page:
        time_page(args.page, args.kb, args.repeat)
        return
    if args.data is None:
        ap.error("--data or --page is required")
    if args.layout == "lines" and _KINDS[args.field] != "txt":
        ap.error("--layout lines re-lays a text dump: give a text_dump field")
    scorer = load_scorer(args.scorer or args.data.parent / "score_extract.py")
    records = [json.loads(line) for line in args.data.open(encoding="utf-8") if line.strip()]

    best = float("inf")
    for _ in range(max(1, args.repeat)):
        preds, seconds, failed = run(records, args.field, args.layout)
        best = min(best, seconds)
    gold = {rec["id"]: rec["gold_text"] for rec in records}
    m = scorer.evaluate(gold, preds, 1)
    kb = sum(len(rec[args.field].encode("utf-8")) for rec in records) / len(records) / 1024
    layout = "" if args.layout == "as-is" else f" (layout {args.layout})"
    print(
        f"{args.field}{layout}: pages={len(records)} (no article found: {failed})  avg {kb:.1f} KB/page"
    )
    print(
        f"F1 {m['f1']:.3f}  precision {m['precision']:.3f}  recall {m['recall']:.3f}  "
        f"(token unigrams, score_extract.py --ngram 1)"
    )
    print(
        f"throughput {len(records) / best:.0f} pages/s  ({best / len(records) * 1000:.2f} ms/page)"
    )
    if args.save_preds:
        with args.save_preds.open("w", encoding="utf-8") as out:
            for doc_id, text in preds.items():
                out.write(json.dumps({"id": doc_id, "text_pred": text}, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()

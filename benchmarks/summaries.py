"""Summary quality benchmark: every algorithm + Lead-3 on the CNN/DM and BBC dev splits.

Scoring is exactly the shared eval's (score_summ.py: rouge-score F1 x 100, Porter stemming,
nupunkt splitter, ROUGE-Lsum over newline-separated sentences), imported from its file so
the numbers cannot drift from it. The data is read from where it lives, never copied.

    .venv/bin/python -m benchmarks.summaries \\
        --cnndm ../shared/eval/summ-dev-cnndm.jsonl --bbc ../shared/eval/summ-dev-bbc.jsonl \\
        --scorer ../shared/eval/score_summ.py --out /tmp/summ-preds
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import platform
import sys
import time
from datetime import date
from pathlib import Path
from types import ModuleType

from digests.summarize import ALGORITHMS, summarize

N_SENTENCES = 3


def _load_scorer(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location("score_summ", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot load scorer {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _load(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def _run(
    name: str, records: list[dict], use_title: bool, scorer: ModuleType, splitter: object, out: Path
) -> tuple[tuple[float, ...], float, list[tuple[float, ...]]]:
    """Summarize every record with ``name``; return (scores, ms/article, per-half scores)."""
    preds: dict[str, str] = {}
    sents: dict[str, list[str]] = {}
    if name == "lead-3":
        baseline = scorer.make_baseline("lead", splitter)
    elif name == "sumy-lexrank(raw)":
        baseline = scorer.make_baseline("lexrank", splitter)
    else:
        baseline = None
    start = time.perf_counter()
    for r in records:
        if baseline is not None:
            picked = list(baseline(r["article"], N_SENTENCES))
        else:
            title = r.get("title") if use_title else None
            picked = list(summarize(r["article"], title=title, algorithm=name).sentences)
        sents[r["id"]] = picked
        preds[r["id"]] = " ".join(picked)
    ms = 1000 * (time.perf_counter() - start) / len(records)
    out.mkdir(parents=True, exist_ok=True)
    with (out / f"{name}.jsonl").open("w", encoding="utf-8") as f:
        for i, p in preds.items():
            f.write(json.dumps({"id": i, "summary_pred": p}, ensure_ascii=False) + "\n")
    refs = {r["id"]: r["summary"] for r in records}
    agg, per_doc = scorer.score(refs, preds, splitter, pred_sents=sents)
    halves = []
    for parity in (0, 1):  # split-half: even / odd rows, to see the spread of the figures
        docs = [s for k, (_, s) in enumerate(per_doc) if k % 2 == parity]
        halves.append(tuple(100 * sum(d[m].fmeasure for d in docs) / len(docs) for m in _METRICS))
    return tuple(agg[f"{m}_f"] for m in _METRICS), ms, halves


_METRICS = ("rouge1", "rouge2", "rougeLsum")


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and print a Markdown table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cnndm", type=Path, required=True)
    ap.add_argument("--bbc", type=Path, required=True)
    ap.add_argument("--scorer", type=Path, required=True, help="path to score_summ.py")
    ap.add_argument("--out", type=Path, default=Path("/tmp/summ-preds"))
    ap.add_argument("--algorithms", default=",".join(("lead-3", *ALGORITHMS, "sumy-lexrank(raw)")))
    args = ap.parse_args(argv)

    scorer = _load_scorer(args.scorer)
    splitter = scorer._Splitter("nupunkt")
    sets = [("CNN/DM", _load(args.cnndm), False), ("BBC", _load(args.bbc), True)]
    rows = []
    halves_rows = []
    for name in args.algorithms.split(","):
        cells, half_cells = [], []
        for label, records, use_title in sets:
            scores, ms, halves = _run(name, records, use_title, scorer, splitter, args.out / label)
            cells.append((scores, ms))
            half_cells.append(halves)
            print(
                f"{name:<18} {label:<7} {scores[0]:6.2f} {scores[1]:6.2f} {scores[2]:6.2f} "
                f"{ms:6.1f} ms",
                file=sys.stderr,
                flush=True,
            )
        rows.append((name, cells))
        halves_rows.append((name, half_cells))

    print(
        f"{date.today().isoformat()} · {platform.processor() or platform.machine()} · "
        f"Python {platform.python_version()} · 3 sentences · nupunkt splitter\n"
    )
    print("| algorithm | CNN/DM R1 | R2 | RLsum | ms/art | BBC R1 | R2 | RLsum | ms/art |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, cells in rows:
        parts = [f"{v:.2f}" for ((scores, _),) in zip(cells) for v in scores]
        ms_parts = [f"{m:.1f}" for _, m in cells]
        print(
            f"| {name} | {' | '.join(parts[:3])} | {ms_parts[0]} | {' | '.join(parts[3:])} "
            f"| {ms_parts[1]} |"
        )
    print("\nSplit-half (even rows / odd rows), R1 / R2 / RLsum:\n")
    print("| algorithm | CNN/DM even | CNN/DM odd | BBC even | BBC odd |")
    print("|---|---|---|---|---|")
    for name, half_cells in halves_rows:
        texts = [" / ".join(f"{v:.1f}" for v in h) for halves in half_cells for h in halves]
        print(f"| {name} | {' | '.join(texts)} |")


if __name__ == "__main__":
    main()

"""Train the text-dump block classifier and write digests/extract/_model.py.

    .venv/bin/python benchmarks/train_extract.py --data ../shared/eval/extract-dev.jsonl \
        [--scorer ../shared/eval/score_extract.py] [--folds 10] [--write]

Dev-only: needs numpy and scikit-learn, which the runtime never imports. Labels come from
the gold text: a block is "article" when most of its word trigrams occur in the gold body.
Cross-validation is by page (no page's blocks in both train and test), and the figure to
trust is the held-out-fold F1, scored with the benchmark's own scorer.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import re
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from digests.extract._blocks import Block, split_blocks  # noqa: E402
from digests.extract._classify import BlockModel, probabilities, select  # noqa: E402
from digests.extract._features import FEATURE_NAMES, page_features  # noqa: E402

SEED = 13
C = 0.3  # mild regularisation: flat between 0.3 and 3 under CV, so the simpler side
THRESHOLDS = [0.25, 0.3, 0.35, 0.4, 0.45, 0.5]
_WORD = re.compile(r"\w+", re.UNICODE)


def load_scorer(path: Path) -> ModuleType:
    """Import the benchmark's score_extract.py from its path."""
    spec = importlib.util.spec_from_file_location("score_extract", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _label(block: Block, gold_grams: set[tuple[str, ...]], gold_joined: str) -> float:
    toks = _WORD.findall(block.text)
    if len(toks) < 3:
        return float(bool(toks) and f" {' '.join(toks)} " in gold_joined)
    grams = [tuple(toks[i : i + 3]) for i in range(len(toks) - 2)]
    return sum(g in gold_grams for g in grams) / len(grams)


def build(records: list[dict], field: str) -> list[dict]:
    """Blocks, features, labels and token weights for every page."""
    pages = []
    for rec in records:
        blocks = split_blocks(rec[field])
        gold = _WORD.findall(rec["gold_text"])
        grams = {tuple(gold[i : i + 3]) for i in range(len(gold) - 2)}
        joined = f" {' '.join(gold)} "
        rows = page_features(blocks)
        sizes = np.array([len(_WORD.findall(b.text)) for b in blocks], dtype=float)
        pages.append(
            {
                "id": rec["id"],
                "gold": rec["gold_text"],
                "blocks": blocks,
                "X": np.array(rows, dtype=float),
                "y": np.array([_label(b, grams, joined) >= 0.5 for b in blocks], dtype=int),
                # Each page weighs the same in the metric, and tokens within it: weight so.
                "w": (sizes + 1.0) / (sizes.sum() + len(blocks)),
            }
        )
    return pages


def fit(pages: list[dict]) -> tuple[np.ndarray, np.ndarray, LogisticRegression]:
    """Standardise and fit a logistic regression on the given pages."""
    X = np.vstack([p["X"] for p in pages])
    y = np.concatenate([p["y"] for p in pages])
    w = np.concatenate([p["w"] for p in pages])
    means = X.mean(axis=0)
    scales = X.std(axis=0)
    scales[scales == 0] = 1.0
    means[0], scales[0] = 0.0, 1.0  # keep the bias column as it is
    clf = LogisticRegression(C=C, max_iter=2000, random_state=SEED, fit_intercept=False)
    clf.fit((X - means) / scales, y, sample_weight=w * len(pages))
    return means, scales, clf


def to_model(means: np.ndarray, scales: np.ndarray, clf: LogisticRegression, thr: float) -> BlockModel:
    """The runtime form of a fitted model."""
    return BlockModel(
        names=FEATURE_NAMES,
        means=tuple(float(v) for v in means),
        scales=tuple(float(v) for v in scales),
        weights=tuple(float(v) for v in clf.coef_[0]),
        intercept=0.0,
        threshold=thr,
    )


def predict(page: dict, model: BlockModel, thr: float | None = None) -> str:
    """The body the runtime would keep for this page's blocks."""
    probs = probabilities(page["X"].tolist(), model)
    kept = select(page["blocks"], probs, model.threshold if thr is None else thr)
    return "\n\n".join(page["blocks"][i].text for i in kept)


def score(scorer: ModuleType, pages: list[dict], preds: dict[str, str]) -> dict:
    """Token F1 of ``preds`` by the benchmark's scorer (unigram bags)."""
    return scorer.evaluate({p["id"]: p["gold"] for p in pages}, preds, 1)


def best_threshold(scorer: ModuleType, pages: list[dict], model: BlockModel) -> float:
    """The threshold with the best F1 on ``pages`` (the training pages of a fold)."""
    results = []
    for thr in THRESHOLDS:
        preds = {p["id"]: predict(p, model, thr) for p in pages}
        results.append((score(scorer, pages, preds)["f1"], -abs(thr - 0.35), thr))
    return max(results)[2]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True, type=Path)
    ap.add_argument("--field", default="text_dump")
    ap.add_argument("--scorer", type=Path, help="score_extract.py (default: next to --data)")
    ap.add_argument("--folds", type=int, default=10)
    ap.add_argument("--write", action="store_true", help="write digests/extract/_model.py")
    args = ap.parse_args()
    scorer = load_scorer(args.scorer or args.data.parent / "score_extract.py")
    records = [json.loads(line) for line in args.data.open(encoding="utf-8") if line.strip()]
    pages = build(records, args.field)

    oof: dict[str, str] = {}
    groups = np.arange(len(pages))
    for train_idx, test_idx in GroupKFold(n_splits=args.folds).split(groups, groups=groups):
        train = [pages[i] for i in train_idx]
        means, scales, clf = fit(train)
        model = to_model(means, scales, clf, 0.5)
        thr = best_threshold(scorer, train, model)
        for i in test_idx:
            oof[pages[i]["id"]] = predict(pages[i], model, thr)
    cv = score(scorer, pages, oof)
    print(f"cross-validated ({args.folds}-fold by page): F1 {cv['f1']:.3f}  "
          f"P {cv['precision']:.3f}  R {cv['recall']:.3f}")

    means, scales, clf = fit(pages)
    model = to_model(means, scales, clf, 0.5)
    thr = best_threshold(scorer, pages, model)
    model = to_model(means, scales, clf, thr)
    full = score(scorer, pages, {p["id"]: predict(p, model) for p in pages})
    print(f"fit on all pages (in-sample):    F1 {full['f1']:.3f}  "
          f"P {full['precision']:.3f}  R {full['recall']:.3f}  threshold {thr}")
    for name, w in sorted(zip(FEATURE_NAMES, model.weights, strict=True), key=lambda t: -abs(t[1])):
        print(f"  {name:<16} {w:+.3f}")
    if args.write:
        write_model(model, ROOT / "digests" / "extract" / "_model.py", cv)


def write_model(model: BlockModel, path: Path, cv: dict) -> None:
    """Write the weights as a small Python module (no package data, no JSON loading)."""
    def fmt(values: tuple[float, ...]) -> str:
        return "(\n" + "".join(f"    {v!r},\n" for v in values) + ")"

    path.write_text(
        '"""Block-classifier weights, generated by benchmarks/train_extract.py: do not edit.\n\n'
        f"Cross-validated token F1 on the dev split when written: {cv['f1']:.3f} "
        f"(P {cv['precision']:.3f}, R {cv['recall']:.3f}).\n"
        '"""\n\n'
        f"FEATURES = (\n" + "".join(f"    {n!r},\n" for n in model.names) + ")\n"
        f"MEANS = {fmt(model.means)}\n"
        f"SCALES = {fmt(model.scales)}\n"
        f"WEIGHTS = {fmt(model.weights)}\n"
        f"INTERCEPT = {model.intercept!r}\n"
        f"THRESHOLD = {model.threshold!r}\n",
        encoding="utf-8",
    )


if __name__ == "__main__":
    main()

"""Train the text-dump block classifier (two stacked passes) and write digests/extract/_model.py.

    .venv/bin/python -m benchmarks.train_extract --data ../shared/eval/extract-dev.jsonl \
        [--scorer ../shared/eval/score_extract.py] [--folds 10] [--write]

Dev-only: needs numpy and scikit-learn, which the runtime never imports. Labels come from
the gold text: a block is "article" when most of its word trigrams occur in the gold body.

The second pass is trained on first-pass probabilities that are themselves out-of-fold
(inner 5-fold by page), so it learns how far to trust the first pass on pages it has not
seen. Cross-validation is by page (no page's blocks in both train and test) and runs the
whole text-dump path (``_text.extract_fields``: classifier, clean-up, header trim, title and
pull-quote removal) with each fold's model; the threshold is chosen on the training folds
only. The held-out-fold F1, scored with the benchmark's own scorer, is the figure to trust.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import re
from pathlib import Path
from types import ModuleType

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold

from digests.errors import InputError
from digests.extract._blocks import Block, split_blocks
from digests.extract._classify import BlockModel, Stage
from digests.extract._features import (
    CONTEXT_NAMES,
    FEATURE_NAMES,
    context_features,
    page_features_and_sizes,
)
from digests.extract._text import extract_fields

ROOT = Path(__file__).resolve().parents[1]

SEED = 13
C = 0.3  # mild regularisation: flat between 0.3 and 3 under CV, so the simpler side
INNER_FOLDS = 5
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
        rows, sizes = page_features_and_sizes(blocks)
        n = np.array(sizes, dtype=float)
        pages.append(
            {
                "id": rec["id"],
                "text": rec[field],
                "url": rec.get("url"),
                "gold": rec["gold_text"],
                "sizes": sizes,
                "X": np.array(rows, dtype=float),
                "y": np.array([_label(b, grams, joined) >= 0.5 for b in blocks], dtype=int),
                # Each page weighs the same in the metric, and tokens within it: weight so.
                "w": (n + 1.0) / (n.sum() + len(blocks)),
            }
        )
    return pages


def _fit(X: np.ndarray, y: np.ndarray, w: np.ndarray) -> Stage:
    """Standardise and fit one logistic regression (the bias is column 0, left as is)."""
    means = X.mean(axis=0)
    scales = X.std(axis=0)
    scales[scales == 0] = 1.0
    means[0], scales[0] = 0.0, 1.0
    clf = LogisticRegression(C=C, max_iter=3000, random_state=SEED, fit_intercept=False)
    clf.fit((X - means) / scales, y, sample_weight=w)
    return Stage(
        means=tuple(float(v) for v in means),
        scales=tuple(float(v) for v in scales),
        weights=tuple(float(v) for v in clf.coef_[0]),
    )


def _predict(stage: Stage, X: np.ndarray) -> np.ndarray:
    z = ((X - np.array(stage.means)) / np.array(stage.scales)) @ np.array(stage.weights)
    return 1.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))


def _stage_data(pages: list[dict], X: list[np.ndarray]) -> tuple[np.ndarray, ...]:
    y = np.concatenate([p["y"] for p in pages])
    w = np.concatenate([p["w"] for p in pages]) * len(pages)
    return np.vstack(X), y, w


def _stacked_X(page: dict, first_probs: np.ndarray) -> np.ndarray:
    context = context_features(first_probs.tolist(), page["sizes"])
    return np.hstack([page["X"], np.array(context, dtype=float)])


def fit(pages: list[dict]) -> tuple[Stage, Stage]:
    """Both passes, the second on out-of-fold first-pass probabilities."""
    first = _fit(*_stage_data(pages, [p["X"] for p in pages]))
    oof: dict[int, np.ndarray] = {}
    groups = np.arange(len(pages))
    for train_idx, test_idx in GroupKFold(n_splits=INNER_FOLDS).split(groups, groups=groups):
        train = [pages[i] for i in train_idx]
        inner = _fit(*_stage_data(train, [p["X"] for p in train]))
        for i in test_idx:
            oof[i] = _predict(inner, pages[i]["X"])
    second = _fit(*_stage_data(pages, [_stacked_X(p, oof[i]) for i, p in enumerate(pages)]))
    return first, second


def predict(page: dict, model: BlockModel) -> str:
    """The body the runtime's whole text-dump path returns for this page."""
    try:
        return extract_fields(page["text"], locator=page["id"], url=page["url"], model=model).body
    except InputError:
        return ""


def score(scorer: ModuleType, pages: list[dict], preds: dict[str, str]) -> dict:
    """Token F1 of ``preds`` by the benchmark's scorer (unigram bags)."""
    return scorer.evaluate({p["id"]: p["gold"] for p in pages}, preds, 1)


def best_model(scorer: ModuleType, pages: list[dict], stages: tuple[Stage, Stage]) -> BlockModel:
    """The fitted passes with the threshold that scores best on ``pages`` (training pages)."""
    results = []
    for thr in THRESHOLDS:
        model = BlockModel(*stages, threshold=thr)
        preds = {p["id"]: predict(p, model) for p in pages}
        results.append((score(scorer, pages, preds)["f1"], -abs(thr - 0.35), thr))
    return BlockModel(*stages, threshold=max(results)[2])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True, type=Path)
    ap.add_argument("--field", default="text_dump")
    ap.add_argument("--scorer", type=Path, help="score_extract.py (default: next to --data)")
    ap.add_argument("--folds", type=int, default=10)
    ap.add_argument("--write", action="store_true", help="write digests/extract/_model.py")
    ap.add_argument("--save-cv-preds", type=Path, help="write held-out {id, text_pred} JSONL here")
    args = ap.parse_args()
    scorer = load_scorer(args.scorer or args.data.parent / "score_extract.py")
    records = [json.loads(line) for line in args.data.open(encoding="utf-8") if line.strip()]
    pages = build(records, args.field)

    oof: dict[str, str] = {}
    groups = np.arange(len(pages))
    for train_idx, test_idx in GroupKFold(n_splits=args.folds).split(groups, groups=groups):
        train = [pages[i] for i in train_idx]
        model = best_model(scorer, train, fit(train))
        for i in test_idx:
            oof[pages[i]["id"]] = predict(pages[i], model)
    cv = score(scorer, pages, oof)
    print(
        f"cross-validated ({args.folds}-fold by page, whole text path): F1 {cv['f1']:.3f}  "
        f"P {cv['precision']:.3f}  R {cv['recall']:.3f}"
    )
    if args.save_cv_preds:
        with args.save_cv_preds.open("w", encoding="utf-8") as out:
            for doc_id, text in oof.items():
                out.write(json.dumps({"id": doc_id, "text_pred": text}, ensure_ascii=False) + "\n")

    model = best_model(scorer, pages, fit(pages))
    full = score(scorer, pages, {p["id"]: predict(p, model) for p in pages})
    print(
        f"fit on all pages (in-sample):    F1 {full['f1']:.3f}  "
        f"P {full['precision']:.3f}  R {full['recall']:.3f}  threshold {model.threshold}"
    )
    names = (*FEATURE_NAMES, *CONTEXT_NAMES)
    ranked = sorted(zip(names, model.second.weights, strict=True), key=lambda t: -abs(t[1]))
    for name, w in ranked[:12]:
        print(f"  {name:<16} {w:+.3f}")
    if args.write:
        write_model(model, ROOT / "digests" / "extract" / "_model.py", cv)


def write_model(model: BlockModel, path: Path, cv: dict) -> None:
    """Write the weights as a small Python module (no package data, no JSON loading)."""

    def fmt(values: tuple[float, ...]) -> str:
        return "(\n" + "".join(f"    {v!r},\n" for v in values) + ")"

    def names(values: tuple[str, ...]) -> str:
        return "(\n" + "".join(f'    "{v}",\n' for v in values) + ")"

    path.write_text(
        '"""Block-classifier weights, generated by -m benchmarks.train_extract: do not edit.\n\n'
        f"Cross-validated token F1 on the dev split when written: {cv['f1']:.3f} "
        f"(P {cv['precision']:.3f}, R {cv['recall']:.3f}).\n"
        '"""\n\n'
        f"FEATURES = {names(FEATURE_NAMES)}\n"
        f"CONTEXT = {names(CONTEXT_NAMES)}\n"
        f"FIRST_MEANS = {fmt(model.first.means)}\n"
        f"FIRST_SCALES = {fmt(model.first.scales)}\n"
        f"FIRST_WEIGHTS = {fmt(model.first.weights)}\n"
        f"SECOND_MEANS = {fmt(model.second.means)}\n"
        f"SECOND_SCALES = {fmt(model.second.scales)}\n"
        f"SECOND_WEIGHTS = {fmt(model.second.weights)}\n"
        f"THRESHOLD = {model.threshold!r}\n",
        encoding="utf-8",
    )


if __name__ == "__main__":
    main()

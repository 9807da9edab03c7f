"""Ingest rate of this checkout against another one, interleaved, each run a fresh process.

    .venv/bin/python -m benchmarks.ingest_vs --other /tmp/wt-old --eval-dir /work/shared/eval \
        [--n 600] [--workers 2] [--pairs 6]

``benchmarks.ingest`` runs every arm in one process, so forked workers inherit caches (stems,
sentences, word rarities) that earlier rounds and arms warmed. ``digestbot ingest`` starts
cold. Here each run is a new interpreter (best of two rounds of ``--n`` generated JSON
articles into a fresh SQLite store, as ``benchmarks.ingest``'s "ours" arm), this checkout
and ``--other`` (a worktree of an older commit, e.g. ``git worktree add /tmp/wt-old 6804f36``)
alternating, so a machine whose speed drifts slows both alike. Prints each pair's rates and
ratio (this / other) and the median ratio.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Run inside the checkout measured (its own digests package first on the path).
_ARM = """
import sys, argparse
from pathlib import Path
root = Path(sys.argv[1]); sys.path.insert(0, str(root))
from benchmarks.ingest import input_sets
try:
    from benchmarks.ingest import time_ours
except ImportError:  # checkouts before it was public (6804f36 among them)
    from benchmarks.ingest import _time_ours as time_ours
from digests.config import load_settings
try:
    from digests.ingest.pipeline import PipelineOptions
except ImportError:  # before the ingest stage became a package
    from digests.pipeline import PipelineOptions
a = argparse.Namespace(eval_dir=Path(sys.argv[2]), seeds=Path(sys.argv[3]), n=int(sys.argv[4]),
                       html=False)
docs = input_sets(a)["json"]
options = PipelineOptions(topics=load_settings({}, root / "config").topics)
print(max(len(docs) / time_ours(docs, options, int(sys.argv[5])) for _ in range(2)))
"""


def _rate(root: Path, args: argparse.Namespace) -> float:
    out = subprocess.run(
        [sys.executable, "-c", _ARM, str(root), str(args.eval_dir), str(ROOT / "seeds")]
        + [str(args.n), str(args.workers)],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    )
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--other", type=Path, required=True, help="the checkout to compare with")
    ap.add_argument("--eval-dir", type=Path, required=True)
    ap.add_argument("--n", type=int, default=600)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--pairs", type=int, default=6)
    args = ap.parse_args()
    ratios = []
    print(f"| pair | other art/s | this art/s | this / other |  (workers={args.workers})")
    print("|---|---|---|---|")
    for i in range(args.pairs):
        other, this = _rate(args.other.resolve(), args), _rate(ROOT, args)
        ratios.append(this / other)
        print(f"| {i + 1} | {other:.0f} | {this:.0f} | {this / other:.2f}x |", flush=True)
    print(f"median ratio {statistics.median(ratios):.2f}x")


if __name__ == "__main__":
    main()

"""Time and peak memory of the stages that read crafted inputs, each in a fresh child process.

    python -m benchmarks.hostile_inputs [--case NAME ...] [--timeout 120] [--other TREE]

Each case builds its input in the child, runs the one stage that reads it (extraction, the
feed parser) and prints wall time, peak RSS (``ru_maxrss``) and what
the stage answered. A child that passes ``--timeout`` is killed and reported as such.
``--other TREE`` runs every case against a second checkout too (a ``git archive`` of an
older commit), to show a bound before and after its change. The sizes are those that showed
each problem (docs/BENCHMARKS.md, "Crafted inputs"); tests/hostile holds smaller versions
that fail on the code before.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

_EXTRACT = """
from digests.errors import InputError
from digests.extract import extract
from digests.models import RawDocument
def run(kind, content):
    try:
        a = extract(RawDocument("x." + kind, kind, content))
        return f"body {len(a.body):,} chars, title {len(a.title):,}"
    except InputError as exc:
        return "refused: " + str(exc)[:100]
"""

CASES = {
    "markdown-backtrack": _EXTRACT + "print(run('md', b'*a **a ' * 600_000))",
    "html-300k-elements": _EXTRACT + "print(run('html', b'<html><body>' + b'<p>a</p>' * 300_000))",
    "html-99k-paragraphs": _EXTRACT
    + "print(run('html', b'<html><body>'"
    + " + b''.join(b'<p>Item %d of the council minutes was approved.</p>' % i"
    + " for i in range(99_000)) + b'</body></html>'))",
    "tag-400k-attributes": _EXTRACT
    + "print(run('html', b'<html><body><p ' + b' '.join(b'a%d=1' % i for i in range(400_000))"
    + " + b'>' + b'The council met on Monday. ' * 20 + b'</p></body></html>'))",
    "json-4mb-title": _EXTRACT
    + "import json\nprint(run('json', json.dumps({'title': 'T' * 4_000_000,"
    + " 'text': 'The council met on Monday and approved the plan. ' * 5}).encode()))",
    "json-nested-100k": _EXTRACT + "print(run('json', b'[' * 100_000 + b']' * 100_000))",
    "feed-100k-entries": """
from digests.ingest.feeds import parse_feed
items = "".join(f"<item><title>Title {i}</title><link>http://x/{i}</link><guid>g{i}</guid>"
                f"<description>Body {i} words here and some more words.</description></item>"
                for i in range(100_000))
feed = f'<?xml version="1.0"?><rss version="2.0"><channel><title>F</title>{items}</channel></rss>'
parsed = parse_feed(feed.encode(), url="http://x/feed")
print(f"{len(feed) / 1e6:.0f} MB feed, {len(parsed.entries):,} entries parsed")
""",
}

_MEASURE = """
import resource, sys, time
began = time.perf_counter()
exec(compile(sys.argv[1], "case", "exec"))
print(f"@@ {time.perf_counter() - began:.2f} s, peak {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024} MiB")
"""


def run(tree: Path, code: str, timeout: float) -> str:
    """One case in a child process whose imports come from ``tree``."""
    began = time.perf_counter()
    try:
        done = subprocess.run(
            [sys.executable, "-c", _MEASURE, code],
            cwd=tree,
            env={"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin"},
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return f"killed after {time.perf_counter() - began:.0f} s"
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["?"])[-1]
        return f"failed: {last[:120]}"
    lines = done.stdout.strip().splitlines()
    figures = next((ln[3:] for ln in lines if ln.startswith("@@ ")), "?")
    answer = next((ln for ln in lines if not ln.startswith("@@ ")), "")
    return f"{figures} — {answer}"


def main(argv: list[str] | None = None) -> None:
    """Run the cases and print one line each (and each against ``--other``)."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--case", nargs="*", choices=sorted(CASES), help="default: all")
    ap.add_argument("--timeout", type=float, default=120.0, help="seconds a case may take")
    ap.add_argument("--other", type=Path, help="another checkout to run the cases against")
    a = ap.parse_args(argv)
    trees = [("this", ROOT)] + ([("other", a.other.resolve())] if a.other else [])
    for name in a.case or list(CASES):
        for label, tree in trees:
            print(f"{name:22} {label:5} {run(tree, CASES[name], a.timeout)}", flush=True)


if __name__ == "__main__":
    main()

"""A 1.5 MB article of 10,000 distinct sentences is summarized in bounded memory (issue #12).

Each case runs in a fresh subprocess that reports its own peak RSS (``ru_maxrss``), so the
figure is this input's cost and not the test runner's. Before the candidate cap the dense
n x n matrices of ``digests.summarize`` took 3.3 GB on this input and crashed at 4.9 MB.
"""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

from testkit.processes import run_python

ROOT = Path(__file__).resolve().parents[2]
PEAK_MB = 400  # issue #12's bound for a 1.5 MB article
TIMEOUT_S = 300  # a hang guard for a shared, slow machine, not a timing assertion

_PROBE = """
import json, resource, runpy, sys
path = sys.argv[1]
try:
    if sys.argv[2] == "summarize":
        from digests.summarize import summarize
        text = open(path, encoding="utf-8").read()
        result = {"sentences": list(summarize(text, title="What the number said").sentences)}
    elif sys.argv[2] == "together":
        from digests.multidoc import Source, summarize_sources
        text = open(path, encoding="utf-8").read()
        sources = [Source(key=i, text=text) for i in range(3)]
        result = {"sentences": [c.text for c in summarize_sources(sources, words=250)]}
    else:
        sys.argv = ["digestbot", *sys.argv[3:]]
        from bot.cli import app
        try:
            app()
        except SystemExit as exc:
            if exc.code:
                raise
        result = {}
finally:
    peak_mb = max(resource.getrusage(who).ru_maxrss for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)) / 1024  # KiB on Linux
    sys.stderr.write("\\nPEAK_MB=%.1f\\n" % peak_mb)
print(json.dumps(result))
"""


def _long_article(path: Path, sentences: int = 10_000) -> Path:
    rng = random.Random(12)
    vocab = [f"w{i:04d}" for i in range(6000)]
    lines = [
        f"The {' '.join(rng.sample(vocab, 18))} number {i} said on Monday."
        for i in range(sentences)
    ]
    paragraphs = [" ".join(lines[i : i + 5]) for i in range(0, sentences, 5)]
    path.write_text("\n\n".join(paragraphs), encoding="utf-8")
    return path


def _probe(*args: str, env: dict[str, str] | None = None) -> tuple[float, str]:
    # Peak RSS as the hostile helper measures it (the child's own ru_maxrss via a small
    # launcher): a child forked straight from a big pytest inherits pytest's high-water mark.
    outcome = run_python(_PROBE, *args, env=env, timeout=TIMEOUT_S)
    assert outcome.returncode == 0 and not outcome.timed_out, outcome.describe()
    return outcome.peak_rss_mb, outcome.stdout


def test_summarize_a_10000_sentence_article_in_bounded_memory(tmp_path: Path) -> None:
    article = _long_article(tmp_path / "long.txt")
    assert 1_300_000 < article.stat().st_size < 1_700_000
    peak, stdout = _probe(str(article), "summarize")
    sentences = json.loads(stdout.splitlines()[-1])["sentences"]
    assert len(sentences) == 3 and all("said on Monday" in s for s in sentences)
    assert peak <= PEAK_MB, f"peak RSS {peak:.0f} MB"


def test_one_summary_of_three_long_articles_in_bounded_memory(tmp_path: Path) -> None:
    article = _long_article(tmp_path / "long.txt")
    peak, stdout = _probe(str(article), "together")
    sentences = json.loads(stdout.splitlines()[-1])["sentences"]
    assert sentences and sum(len(s.split()) for s in sentences) <= 250
    assert peak <= PEAK_MB, f"peak RSS {peak:.0f} MB"


def test_inbox_with_a_long_article_does_not_crash_every_command(tmp_path: Path) -> None:
    config = tmp_path / "config"
    shutil.copytree(ROOT / "config", config)
    inbox = tmp_path / "seeds"
    inbox.mkdir()
    _long_article(inbox / "long.txt")
    env = {"DIGESTBOT_CONFIG_DIR": str(config), "DIGESTBOT_DATA_DIR": str(tmp_path / "data")}
    # `topics` reads the inbox first (extract → summarize → tag → store), as every command does.
    peak, _ = _probe("-", "cli", "topics", "--format", "json", env=env)
    assert peak <= PEAK_MB, f"peak RSS {peak:.0f} MB"

"""Make N realistic articles by recombining real news sentences, and store them.

    .venv/bin/python -m benchmarks.corpus --n 10000 --db /tmp/digestbot-bench/corpus-10k.db \
        --eval-dir /work/shared/eval [--seeds seeds] [--mode pipeline|direct] [--workers 2]

Sentences come from the sample seeds (through ``extract``) and the evaluation sets in
``--eval-dir`` (BBC News, CNN/DailyMail, the extraction benchmark's gold texts): they are
read from there at run time and never copied into the repository. Each generated article
has a main topic from ``config/topics.toml`` (sometimes a second one, sometimes none): a
share of its sentences mention the topic — real sentences that do, or real sentences in
which a place name ("Britain", "Iraq" ...) is swapped for one of the topic's aliases.
Dates spread over the year before ``--now`` (newer ones more common), 30 sources, and about
8% of articles are wire copies of an earlier story on another site (a paragraph dropped or
added, the headline reworded), so near-duplicate merging has real work to do.

Modes (both run the real summarize and tag; neither fakes a summary):

* ``pipeline`` (default): each article becomes a JSON ``RawDocument`` and goes through
  ``digests.ingest.pipeline.run`` — extract, summarize, tag, store, document hashes — on
  ``--workers`` processes. This is what ``digestbot ingest`` does.
* ``direct``: builds the ``Article`` itself (skipping extract, which has nothing to clean in
  generated text), runs summarize/tag/sentence split on ``--workers`` processes, and writes
  with ``store.articles.add(ProcessedArticle(...))``. Slightly faster; no document rows.

Generation is deterministic for a given ``--seed``; ``--start`` continues a corpus (article
numbers ``start .. start+n-1``) so 100k can be built in several shorter runs.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import islice
from pathlib import Path

from digests.config import Topic, load_settings
from digests.extract import extract
from digests.ingest.document import ingest
from digests.ingest.pipeline import PipelineOptions, run
from digests.models import Article, ProcessedArticle, RawDocument
from digests.sentences import split_sentences
from digests.store import Store
from digests.summarize import summarize
from digests.tag import tag, topic_pattern

ROOT = Path(__file__).resolve().parents[1]

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
SOURCES = [
    (name, name.lower().replace(" ", "") + ".example")
    for name in (
        "Reuters Wire",
        "Associated Press",
        "Agence France",
        "Taipei Times",
        "Focus Taiwan",
        "South China Post",
        "Global Courier",
        "Nikkei Review",
        "Japan Daily",
        "Kyiv Independent",
        "Moscow Monitor",
        "Tehran Bulletin",
        "Times of Haifa",
        "Gaza Now",
        "Beirut Star",
        "Manila Inquirer",
        "Washington Ledger",
        "New York Herald",
        "Chicago Tribune Daily",
        "London Guardian",
        "BBC World",
        "Deutsche Welle",
        "Le Monde English",
        "Al Mayadeen",
        "Defense Weekly",
        "Trade Journal",
        "Economy Watch",
        "Diplomat Review",
        "The Wire",
        "Pacific Observer",
    )
]
AUTHORS = [
    "Ana Lopez",
    "Ben Carter",
    "Chen Wei",
    "Dana Kim",
    "Elif Demir",
    "Farah Haddad",
    "Goro Sato",
    "Hanna Kowalska",
    "Ivan Petrenko",
    "Jae-won Park",
    "Kofi Mensah",
    "Lin Yu",
]
# Place names common in the BBC/CNN sentences that can stand in for a topic's proper nouns.
_SWAPPABLE = re.compile(
    r"\b(Britain|UK|France|Germany|Iraq|Europe|London|Brussels|Spain|Italy|Australia|India|"
    r"Scotland|Wales|Ireland|Paris|Berlin|Baghdad|Afghanistan)\b"
)
_WIRE_SHARE = 0.08
_NO_TOPIC_SHARE = 0.15
_MIN_CHARS, _MAX_CHARS = 40, 320


@dataclass(frozen=True, slots=True)
class Pool:
    """Real sentences and headlines to recombine, with the topical ones indexed by topic."""

    sentences: tuple[str, ...]
    swappable: tuple[str, ...]  # sentences naming a place a topic alias can replace
    titles: tuple[str, ...]
    by_topic: dict[str, tuple[str, ...]]


def load_pool(eval_dir: Path, seeds: Path | None, topics: Sequence[Topic]) -> Pool:
    """Read sentences and titles from the eval sets and seeds (nothing is written anywhere)."""
    bodies: list[str] = []
    titles: list[str] = []
    for name, body_key in (
        ("summ-dev-bbc.jsonl", "article"),
        ("summ-dev-cnndm.jsonl", "article"),
        ("extract-dev.jsonl", "gold_text"),
    ):
        path = eval_dir / name
        if not path.exists():
            continue
        for line in path.open(encoding="utf-8"):
            rec = json.loads(line)
            bodies.append(rec.get(body_key) or "")
            if rec.get("title"):
                titles.append(rec["title"])
    if seeds and seeds.exists():
        for doc in ingest([seeds], max_bytes=5 << 20):
            if isinstance(doc, RawDocument):
                article = extract(doc)
                bodies.append(article.body)
                titles.append(article.title)
    seen: set[str] = set()
    sentences: list[str] = []
    for body in bodies:
        for s in split_sentences(body):
            if _MIN_CHARS <= len(s) <= _MAX_CHARS and s[0].isupper() and s not in seen:
                seen.add(s)
                sentences.append(s)
    if not sentences:
        raise SystemExit(f"no sentences found under {eval_dir} / {seeds}")
    by_topic = {t.name: tuple(s for s in sentences if topic_pattern(t).search(s)) for t in topics}
    return Pool(
        sentences=tuple(sentences),
        swappable=tuple(s for s in sentences if _SWAPPABLE.search(s)),
        titles=tuple(t for t in dict.fromkeys(titles) if 10 <= len(t) <= 140),
        by_topic=by_topic,
    )


class Generator:
    """Deterministic article factory: article ``i`` is the same for the same seed."""

    def __init__(self, pool: Pool, topics: Sequence[Topic], *, seed: int, now: datetime) -> None:
        self.pool = pool
        self.topics = list(topics)
        self.seed = seed
        self.now = now
        # Zipf-like popularity: a few topics carry most stories, as in a real news year.
        self.weights = [1.0 / (rank + 1) ** 0.8 for rank in range(len(self.topics))]

    def _topical(self, rng: random.Random, topic: Topic) -> str:
        real = self.pool.by_topic.get(topic.name, ())
        if real and (len(real) > 200 or rng.random() < 0.5):
            return rng.choice(real)
        alias = rng.choice([a for a in topic.phrases if a[:1].isupper()] or list(topic.phrases))
        return _SWAPPABLE.sub(alias, rng.choice(self.pool.swappable), count=1)

    def article(self, i: int) -> dict[str, object]:
        """Article number ``i`` as a JSON-able dict (title, text, source, url, date ...)."""
        rng = random.Random(f"{self.seed}:{i}")
        if i > 50 and rng.random() < _WIRE_SHARE:
            return self._wire_copy(rng, self.article(i - rng.randint(1, 50)), i)
        main = (
            None
            if rng.random() < _NO_TOPIC_SHARE
            else rng.choices(self.topics, weights=self.weights)[0]
        )
        second = rng.choice(self.topics) if main and rng.random() < 0.4 else None
        count = rng.randint(8, 30)
        picked: list[str] = []
        for n in range(count):
            roll = rng.random()
            if main and (n == 0 or roll < 0.3):
                picked.append(self._topical(rng, main))
            elif second and roll < 0.42:
                picked.append(self._topical(rng, second))
            else:
                picked.append(rng.choice(self.pool.sentences))
        paragraphs, k = [], 0
        while k < len(picked):
            size = rng.randint(1, 4)
            paragraphs.append(" ".join(picked[k : k + size]))
            k += size
        title = rng.choice(self.pool.titles)
        if main:
            alias = rng.choice([a for a in main.phrases if a[:1].isupper()] or [main.name])
            swapped = _SWAPPABLE.sub(alias, title, count=1)
            title = swapped if swapped != title else f"{alias}: {title}"
        name, domain = rng.choice(SOURCES)
        age = min(365.0, rng.expovariate(1 / 90))  # days; newer stories are more common
        published = self.now - timedelta(days=age)
        return {
            "title": title,
            "text": "\n\n".join(paragraphs),
            "source": name,
            "author": rng.choice(AUTHORS) if rng.random() < 0.7 else None,
            "published": published.isoformat() if rng.random() > 0.03 else None,
            "url": f"https://{domain}/{published:%Y/%m}/{_slug(title)}-{i}",
        }

    def _wire_copy(self, rng: random.Random, original: dict, i: int) -> dict[str, object]:
        paragraphs = str(original["text"]).split("\n\n")
        if len(paragraphs) > 2 and rng.random() < 0.5:
            paragraphs = paragraphs[:-1]  # the copy ends a paragraph early
        else:
            paragraphs.append(rng.choice(self.pool.sentences))  # or adds a local line
        name, domain = rng.choice(SOURCES)
        title = str(original["title"])
        if rng.random() < 0.5:
            title = rng.choice(["Update: ", "Report: ", "", "WATCH: "]) + title
        published = original["published"]
        if published:
            when = datetime.fromisoformat(str(published)) + timedelta(hours=rng.uniform(0, 12))
            published = min(when, self.now).isoformat()
        return {
            **original,
            "title": title,
            "text": "\n\n".join(paragraphs),
            "source": name,
            "published": published,
            "url": f"https://{domain}/wire/{_slug(title)}-{i}",
        }

    def documents(self, start: int, n: int) -> Iterator[RawDocument]:
        """Articles ``start .. start+n-1`` as JSON documents, as a feed would deliver them."""
        for i in range(start, start + n):
            data = self.article(i)
            yield RawDocument(
                locator=f"bench://corpus/{self.seed}/{i}",
                kind="json",
                content=json.dumps(data).encode(),
                url=str(data["url"]),
            )


def _slug(title: str) -> str:
    return "-".join(re.findall(r"[a-z0-9]+", title.lower())[:8]) or "story"


def _direct_one(args: tuple[dict, str, tuple[Topic, ...]]) -> ProcessedArticle:
    data, locator, topics = args
    published = datetime.fromisoformat(data["published"]) if data["published"] else None
    article = Article(
        title=data["title"],
        body=data["text"],
        source=data["source"],
        author=data["author"],
        published=published,
        url=data["url"],
        locator=locator,
    )
    summary = summarize(article.body, title=article.title, sentences=3)
    return ProcessedArticle(
        article, summary, tag(article, topics), tuple(split_sentences(article.body))
    )


def build(
    store: Store,
    gen: Generator,
    topics: tuple[Topic, ...],
    *,
    start: int,
    n: int,
    mode: str,
    workers: int,
    progress: bool = True,
) -> tuple[int, int, float]:
    """Generate and store articles; returns (added, duplicates, seconds)."""
    began = time.perf_counter()
    added = dupes = 0
    if mode == "pipeline":
        chunk = 2000
        for offset in range(start, start + n, chunk):
            size = min(chunk, start + n - offset)
            report = run(
                store,
                gen.documents(offset, size),
                PipelineOptions(topics=topics),
                now=gen.now,
                workers=workers,
            )
            added += len(report.added)
            dupes += report.duplicates
            for locator, reason in report.failed[:3]:
                print(f"failed {locator}: {reason}", file=sys.stderr)
            if progress:
                done = offset + size - start
                rate = done / (time.perf_counter() - began)
                print(f"  {done}/{n} ({rate:.0f}/s)", file=sys.stderr, flush=True)
        return added, dupes, time.perf_counter() - began
    pool = ProcessPoolExecutor(workers) if workers > 1 else None
    try:
        items = (
            (gen.article(i), f"bench://corpus/{gen.seed}/{i}", topics)
            for i in range(start, start + n)
        )
        done = 0
        while batch := list(islice(items, 256)):
            results = (
                pool.map(_direct_one, batch, chunksize=16) if pool else map(_direct_one, batch)
            )
            for item in results:
                if store.articles.add(item, now=gen.now) is None:
                    dupes += 1
                else:
                    added += 1
            done += len(batch)
            if progress and done % 2048 == 0:
                rate = done / (time.perf_counter() - began)
                print(f"  {done}/{n} ({rate:.0f}/s)", file=sys.stderr, flush=True)
    finally:
        if pool:
            pool.shutdown()
    return added, dupes, time.perf_counter() - began


def db_url(value: str) -> str:
    """A SQLAlchemy URL, or a file path taken as a SQLite database."""
    return value if "://" in value else f"sqlite:///{Path(value).resolve()}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, required=True, help="articles to generate")
    ap.add_argument("--db", required=True, help="SQLite file path or database URL")
    ap.add_argument("--eval-dir", type=Path, required=True, help="folder of the eval JSONL sets")
    ap.add_argument("--seeds", type=Path, default=ROOT / "seeds")
    ap.add_argument("--config", type=Path, default=ROOT / "config")
    ap.add_argument("--mode", choices=("pipeline", "direct"), default="pipeline")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--start", type=int, default=0, help="first article number (to continue)")
    args = ap.parse_args()
    topics = load_settings({}, args.config).topics
    pool = load_pool(args.eval_dir, args.seeds, topics)
    print(
        f"pool: {len(pool.sentences)} sentences, {len(pool.titles)} titles; "
        + ", ".join(f"{k} {len(v)}" for k, v in pool.by_topic.items()),
        file=sys.stderr,
    )
    store = Store.open(db_url(args.db))
    gen = Generator(pool, topics, seed=args.seed, now=NOW)
    added, dupes, seconds = build(
        store, gen, topics, start=args.start, n=args.n, mode=args.mode, workers=args.workers
    )
    total = store.articles.count()
    print(
        f"{added} added, {dupes} duplicate in {seconds:.1f} s ({args.n / seconds:.0f} articles/s,"
        f" mode {args.mode}, {args.workers} workers); store now holds {total} articles"
    )


if __name__ == "__main__":
    main()

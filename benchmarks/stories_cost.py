"""What story assignment costs: ingest rate against the code before it, and assignment time
and memory as the store grows.

    # ingest rate, this tree vs another checkout of the code before stories (interleaved)
    nice .venv/bin/python benchmarks/stories_cost.py rate --eval-dir ../shared/eval \\
        --before /tmp/digestbot-main --n 400 --rounds 3

    # assignment time per article at N stored articles, and the process's peak memory
    nice .venv/bin/python benchmarks/stories_cost.py scale --eval-dir ../shared/eval \\
        --n 100000 [--db sqlite:////tmp/stories-100k.db | postgresql+psycopg://...]

``rate``: the same ``--n`` generated JSON feed articles (benchmarks/corpus.py, seed 991) go
through ``digests.ingest.pipeline.run`` (extract, summarize, tag, store, and here: assign) into a
fresh SQLite store, in a subprocess whose ``PYTHONPATH`` is this tree or ``--before``; the
two arms alternate ``--rounds`` times, each reports every round and its best.

``scale``: ``--n`` generated articles are stored through ``store.articles.add_chunk`` (chunks
of 64, as ingest stores them) with a cheap stand-in for summarize and tag (lead-3, no tags:
the pipeline's per-article work is measured by ``rate``), so a 100k store is built in
minutes; every call of the assignment (``digests.store.stories._assign_one``) is timed.
Prints p50 / p95 / p99 per 10% of the run (the last decile is "at N stored"), the stories
made, and the process's peak RSS.

``scale --bulk N`` (PostgreSQL only; the assignment time at a size add_chunk would take
hours to reach on two cores):

    nice .venv/bin/python -m benchmarks.stories_cost scale --eval-dir ../shared/eval \\
        --n 30000 --bulk 1000000 --then 2000 --explain \\
        --db postgresql+psycopg://postgres@127.0.0.1:5432/stories1m

1. the prefix: ``--n`` articles stored and assigned as above, by the real code (an existing
   store is continued: rerun with the same database to time again without rebuilding);
2. the bulk: the store grows to ``N`` articles in SQL, by copies of the prefix's articles,
   stories and ``story_terms`` rows, each story copy shifted in time so its last date falls
   uniformly in the ``--span-days`` before the generator's "now" (default: enough that copies
   of one story are never within reach of each other, ~3,700 days for 1M), rare terms renamed
   per copy (:func:`_bulk_copy` says exactly how, and what is not copied); VACUUM ANALYZE;
3. the measure: ``--then`` (2000) new generated articles stored through add_chunk, each
   assignment timed: p50 / p95 / p99, the SQL time by statement kind, with ``--explain``
   the plans of the slowest candidate and story lookups, and the peak RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Days between two copies of a story beyond the follow-up reach: two default windows (7 days
# each) and a long story's own span (the prefix's p99: 42 days).
_BEYOND_REACH = 56

_RATE = """
import sys, tempfile, time
sys.path.insert(0, {bench!r})
from corpus import NOW, Generator, load_pool
from pathlib import Path
from digests.config import load_settings
from digests.ingest.pipeline import PipelineOptions, run
from digests.store import Store
topics = load_settings({{}}, Path({config!r})).topics
gen = Generator(load_pool(Path({eval_dir!r}), Path({seeds!r}), topics), topics, seed=991, now=NOW)
docs = list(gen.documents(0, {n}))
with tempfile.TemporaryDirectory() as tmp:
    store = Store.open(f"sqlite:///{{tmp}}/b.db")
    began = time.perf_counter()
    report = run(store, docs, PipelineOptions(topics=tuple(topics)), now=NOW, workers={workers})
    took = time.perf_counter() - began
    print(len(report.added) / took)
"""


def rate(a: argparse.Namespace) -> None:
    """Interleaved ingest rounds: this tree vs ``--before``."""
    arms = {"stories": ROOT, "before": a.before.resolve()}
    results: dict[str, list[float]] = {k: [] for k in arms}
    code = _RATE.format(
        bench=str(ROOT / "benchmarks"),
        config=str(ROOT / "config"),
        eval_dir=str(a.eval_dir.resolve()),
        seeds=str(ROOT / "seeds"),
        n=a.n,
        workers=a.workers,
    )
    for r in range(a.rounds):
        for name, tree in arms.items():
            env = {**os.environ, "PYTHONPATH": str(tree)}
            out = subprocess.run(
                [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
            )
            value = float(out.stdout.strip().splitlines()[-1])
            results[name].append(value)
            load = os.getloadavg()[0]
            print(f"round {r + 1} {name:8s} {value:6.1f} art/s (load {load:.1f})", flush=True)
    best = {k: max(v) for k, v in results.items()}
    med = {k: statistics.median(v) for k, v in results.items()}
    print(
        f"best: stories {best['stories']:.1f} vs before {best['before']:.1f} art/s "
        f"= {best['stories'] / best['before']:.2f}x; median {med['stories'] / med['before']:.2f}x"
    )


def scale(a: argparse.Namespace) -> None:
    """Fill a store with ``--n`` articles through add_chunk; time each assignment.

    With ``--bulk N`` (PostgreSQL): the store is then grown to N articles in SQL
    (:func:`_bulk_copy`) and ``--then`` more generated articles are stored and timed."""
    sys.path.insert(0, str(ROOT))  # also when run as a script: benchmarks/stories_cost.py
    from benchmarks.corpus import NOW, Generator, load_pool
    from digests.config import load_settings
    from digests.store import Store
    from digests.store import stories as story_store
    from digests.store.export import stories_rows

    times: list[float] = []
    real = story_store._assign_one

    def timed(*args, **kwargs):  # type: ignore[no-untyped-def]
        began = time.perf_counter()
        try:
            return real(*args, **kwargs)
        finally:
            times.append(time.perf_counter() - began)

    story_store._assign_one = timed
    topics = load_settings({}, ROOT / "config").topics
    gen = Generator(load_pool(a.eval_dir, ROOT / "seeds", topics), topics, seed=991, now=NOW)
    tmp = tempfile.TemporaryDirectory()
    url = a.db or f"sqlite:///{tmp.name}/scale.db"
    if a.bulk and not url.startswith("postgresql"):
        raise SystemExit("--bulk needs a PostgreSQL --db")
    store = Store.open(url)
    began = time.perf_counter()
    have = store.articles.count()
    if have and a.bulk:
        # A store built before (the prefix, maybe the bulk part too): continue it.
        print(f"the store holds {have} articles: continuing", flush=True)
    if have < a.n:
        nxt = _next_index(store) if have else 0
        _fill(store, gen, range(nxt, nxt + a.n - have), times, NOW, report=a.n // 10)
    took = time.perf_counter() - began
    if a.bulk:
        spent = _statement_clock(store.engine)
        counts = _decision_counts(story_store)
        if store.articles.count() < a.bulk:
            # The same measure before the bulk copy: the figure it is compared with.
            _measure(store, gen, a, times, spent, counts, NOW)
            _bulk_copy(url, a.bulk, NOW, a.span_days)
        t0 = time.perf_counter()
        _measure(store, gen, a, times, spent, counts, NOW)
        took = time.perf_counter() - t0
    else:
        decile = max(1, len(times) // 10)
        for d in range(10):
            part = sorted(times[d * decile : (d + 1) * decile])
            if part:
                print(
                    f"articles {d * decile}-{(d + 1) * decile}: assignment p50 "
                    f"{1000 * part[len(part) // 2]:.2f} ms, p95 "
                    f"{1000 * part[int(len(part) * 0.95)]:.2f}"
                    f" ms, p99 {1000 * part[int(len(part) * 0.99)]:.2f} ms"
                )
    n_stories = sum(1 for _ in stories_rows(store.engine))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "stored": store.articles.count(),
                "stories": n_stories,
                "seconds": round(took),
                "peak_rss_mib": round(peak),
                "db": url.split("@")[-1],
                "load": round(os.getloadavg()[0], 1),
            }
        )
    )
    store.close()
    tmp.cleanup()


def _measure(store, gen, a, times, spent, counts, now) -> None:  # type: ignore[no-untyped-def]
    """Store ``--then`` new generated articles and report their assignment times."""
    times.clear()
    spent.clear()
    counts.clear()
    stored = store.articles.count()
    first = 10_000_000 + stored  # indices no run used: a rerun stores no exact duplicate
    _fill(store, gen, range(first, first + a.then), times, now, report=0)
    total = sum(times)
    for what, (calls, secs, worst, query) in sorted(spent.items(), key=lambda kv: -kv[1][1]):
        print(
            f"  {what:40s} {calls:6d} calls {1000 * secs / len(times):6.2f} ms per "
            f"assignment ({100 * secs / total:.0f}% of assignment time)"
        )
        if a.explain and query is not None:
            with store.engine.connect() as conn:
                plan = conn.exec_driver_sql(f"EXPLAIN (ANALYZE, BUFFERS) {query[0]}", query[1])
                print(f"    the slowest ({1000 * worst:.1f} ms then), now:")
                print("\n".join(f"      {r[0]}" for r in plan))
    part = sorted(times)
    print(
        f"at {stored} stored: {len(part)} assignments p50 "
        f"{1000 * part[len(part) // 2]:.2f} ms, p95 {1000 * part[int(len(part) * 0.95)]:.2f}"
        f" ms, p99 {1000 * part[int(len(part) * 0.99)]:.2f} ms, max {1000 * part[-1]:.1f} ms,"
        f" mean {1000 * statistics.fmean(part):.2f} ms; {counts.get('started', 0)} stories"
        f" started; candidates in the window per article: mean "
        f"{counts.get('kept', 0) / len(part):.1f}, none for {counts.get('none', 0)}; peak RSS "
        f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB; load "
        f"{os.getloadavg()[0]:.1f}",
        flush=True,
    )


def _decision_counts(story_store) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """Count stories started and candidates found (in the window) per assignment."""
    counts: dict[str, int] = {}
    candidates, start = story_store._candidates, story_store._start

    def counted_candidates(*args, **kwargs):  # type: ignore[no-untyped-def]
        found = candidates(*args, **kwargs)
        counts["kept"] = counts.get("kept", 0) + len(found)
        counts["none"] = counts.get("none", 0) + (not found)
        return found

    def counted_start(*args, **kwargs):  # type: ignore[no-untyped-def]
        counts["started"] = counts.get("started", 0) + 1
        return start(*args, **kwargs)

    story_store._candidates, story_store._start = counted_candidates, counted_start
    return counts


def _fill(store, gen, indices: range, times: list[float], now, *, report: int) -> None:  # type: ignore[no-untyped-def]
    """Store generated articles ``indices`` through add_chunk (chunks of 64, as ingest)."""
    from digests import stories as model
    from digests.models import Article, ProcessedArticle, Summary, Tagging
    from digests.sentences import split_sentences
    from digests.store.articles import ChunkItem

    began = time.perf_counter()
    chunk: list[ChunkItem] = []
    for n, i in enumerate(indices):
        data = gen.article(i)
        body = str(data["text"])
        sentences = tuple(split_sentences(body))
        published = data["published"]
        article = Article(
            title=str(data["title"]),
            body=body,
            source=str(data["source"]),
            published=None if published is None else _parse(str(published)),
            url=str(data["url"]),
            locator=f"bench://scale/{i}",
        )
        item = ProcessedArticle(
            article,
            Summary(sentences[:3], "lead"),
            Tagging(()),
            sentences,
            *model.terms(article.title, body),
        )
        chunk.append(ChunkItem(article.locator, f"h{i}", item))
        if len(chunk) == 64:
            store.articles.add_chunk(chunk, now=now)
            chunk = []
        if report and (n + 1) % report == 0 and times:
            recent = sorted(times[-report:])
            print(
                f"{n + 1} stored, {time.perf_counter() - began:.0f} s; the last {len(recent)} "
                f"assignments p50 {1000 * recent[len(recent) // 2]:.2f} ms, p95 "
                f"{1000 * recent[int(len(recent) * 0.95)]:.2f} ms; peak RSS "
                f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB; "
                f"load {os.getloadavg()[0]:.1f}",
                flush=True,
            )
    if chunk:
        store.articles.add_chunk(chunk, now=now)


def _statement_clock(engine) -> dict[str, list]:  # type: ignore[no-untyped-def]
    """Time the SQL that assignment runs, by statement kind (verb and table)."""
    import re

    from sqlalchemy import event

    from digests.store import stories as story_store

    spent: dict[str, list] = {}
    verb = re.compile(r"^\s*(\w+).*?\b(?:FROM|INTO|UPDATE)\s+(\w+)", re.S | re.I)
    inside = [False]
    real = story_store._assign_one

    def wrapped(*args, **kwargs):  # type: ignore[no-untyped-def]
        inside[0] = True
        try:
            return real(*args, **kwargs)
        finally:
            inside[0] = False

    story_store._assign_one = wrapped

    @event.listens_for(engine, "before_cursor_execute")
    def before(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        conn.info["t0"] = time.perf_counter()

    @event.listens_for(engine, "after_cursor_execute")
    def after(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        if not inside[0]:
            return
        m = verb.match(statement)
        key = f"{m.group(1).upper()} {m.group(2)}" if m else statement[:30]
        if key.startswith("UPDATE"):
            key = f"UPDATE {statement.split()[1]} SET {statement.split()[3].split('=')[0]}"
        took = time.perf_counter() - conn.info["t0"]
        row = spent.setdefault(key, [0, 0.0, 0.0, None])
        row[0] += 1
        row[1] += took
        if key.startswith("SELECT") and took > row[2]:
            row[2:] = [took, (statement, parameters)]  # the slowest, for --explain

    return spent


def _next_index(store) -> int:  # type: ignore[no-untyped-def]
    """The generator index after the highest one stored by ``_fill`` (bench://scale/<i>)."""
    from sqlalchemy import select

    from digests.store.schema import articles

    with store.engine.connect() as conn:
        locators = conn.scalars(
            select(articles.c.locator).where(articles.c.locator.like("bench://scale/%"))
        )
        nums = [int(x.rsplit("/", 1)[1]) for x in locators if "#" not in x]
    return max(nums, default=-1) + 1


def _bulk_copy(url: str, target: int, now, span_days: float | None) -> None:  # type: ignore[no-untyped-def]
    """Grow a PostgreSQL store to at least ``target`` articles by copying what is stored.

    The stored articles (the prefix, built through add_chunk and assigned by the real code)
    are copied ``R`` times, R = ceil((target - stored) / stored), in SQL, in one transaction:
    each copy of a story is shifted in time (its articles' dates, its first/last date and its
    ``story_terms`` rows move with it: sizes, spans and term lists are the prefix's real
    ones). The original's last date, as a fraction p of ``span_days`` before ``now``, puts
    copy k at (p + k / (R + 1)) mod 1: the copies of a story are span / (R + 1) days apart.
    Copies are identical, so two within an article's reach (the window, and
    ``digests.stories.FOLLOW_UP`` for a strong match) merge, which real news never asks:
    ``span_days`` None spaces them by the follow-up reach plus ``_BEYOND_REACH`` (two default
    windows and a long story's own span): 116 × 32 = 3,712 days for 1M from 32k. (Until stop 38 the
    default was 730 days, 24 days apart: beyond the window but, once the follow-up tier came,
    within its reach, and at 1M 87 % of assignment time went to merging identical copies.)
    The store's dates are uniform over the span (the prefix's own dates, newer ones more
    common, stay). A term only one prefix story has (a rare name) gets a suffix per copy (``~k``, in
    the profile and the index alike), so new names keep appearing as in a real year instead
    of every rare name recurring in R stories; common terms recur. Copies are new rows with
    new ids and hashes; ``story_terms`` and ``stories`` are inserted in date order with their
    indexes in place (grown as ingest grows them, not built fresh); the full-text GIN index is
    dropped and rebuilt (as benchmarks/corpus_bulk.py does). Not copied (assignment reads
    none of them): sentences, tags, document rows. Then VACUUM ANALYZE.
    """
    import psycopg
    from sqlalchemy.engine import make_url

    u = make_url(url)
    conn = psycopg.connect(
        host=u.host, port=u.port or 5432, user=u.username, password=u.password,
        dbname=u.database,
    )  # fmt: skip
    began = time.perf_counter()

    def step(what: str, sql: str, params: dict[str, object] | None = None) -> None:
        t0 = time.perf_counter()
        cur = conn.execute(sql, params)
        rows = cur.rowcount
        print(f"  {what}: {rows} rows, {time.perf_counter() - t0:.0f} s", flush=True)

    with conn.transaction():
        conn.execute("SET LOCAL maintenance_work_mem = '1GB'")
        conn.execute("SET LOCAL work_mem = '256MB'")
        conn.execute("SET LOCAL synchronous_commit = off")
        stored, ma = conn.execute("SELECT count(*), max(id) FROM articles").fetchone()  # type: ignore[misc]
        (ms,) = conn.execute("SELECT max(id) FROM stories").fetchone()  # type: ignore[misc]
        copies = -(-(target - stored) // stored)
        if span_days is None:
            from digests.stories import FOLLOW_UP

            span_days = (FOLLOW_UP.days + _BEYOND_REACH) * (copies + 1)
        print(f"bulk: {stored} articles stored, {copies} copies over {span_days:.0f} days")
        params = {"ms": ms, "ma": ma, "r": copies, "now": now, "span": span_days}
        step(
            "shift per story copy",
            """CREATE TEMP TABLE bulk_shift ON COMMIT DROP AS
            SELECT s.id AS old_id, k, s.id + k * %(ms)s::bigint AS new_id,
                   %(now)s - s.last_seen - %(span)s * interval '1 day' * (
                     (extract(epoch FROM %(now)s - s.last_seen) / (%(span)s * 86400.0)
                      + k::float / (%(r)s + 1))
                     - floor(extract(epoch FROM %(now)s - s.last_seen) / (%(span)s * 86400.0)
                      + k::float / (%(r)s + 1))) AS delta
            FROM stories s CROSS JOIN generate_series(1, %(r)s) AS k""",
            params,
        )
        conn.execute("CREATE UNIQUE INDEX ON bulk_shift (old_id, k)")
        step(
            "rare terms (one prefix story)",
            """CREATE TEMP TABLE bulk_rare ON COMMIT DROP AS
            SELECT e.key AS term FROM stories s, json_each(s.profile) AS e
            GROUP BY e.key HAVING count(*) = 1""",
        )
        conn.execute("CREATE UNIQUE INDEX ON bulk_rare (term)")
        step(
            "stories",
            """INSERT INTO stories (id, headline, first_seen, last_seen, article_count, profile,
                                   merged_into, created_at)
            SELECT b.new_id, s.headline, s.first_seen + b.delta, s.last_seen + b.delta,
                   s.article_count,
                   coalesce((SELECT json_object_agg(CASE WHEN r.term IS NULL THEN e.key
                                     ELSE left(e.key, 55) || '~' || b.k END, e.value)
                             FROM json_each(s.profile) AS e
                             LEFT JOIN bulk_rare AS r ON r.term = e.key), '{}'::json),
                   s.merged_into + b.k * %(ms)s::bigint, s.created_at + b.delta
            FROM stories s JOIN bulk_shift b ON b.old_id = s.id
            ORDER BY s.last_seen + b.delta""",
            params,
        )
        step(
            "story_terms",
            """INSERT INTO story_terms (term, story_id, last_seen)
            SELECT CASE WHEN r.term IS NULL THEN t.term ELSE left(t.term, 55) || '~' || b.k END,
                   b.new_id, t.last_seen + b.delta
            FROM story_terms t JOIN bulk_shift b ON b.old_id = t.story_id
            LEFT JOIN bulk_rare r ON r.term = t.term
            ORDER BY t.last_seen + b.delta""",
        )
        (gin,) = conn.execute(
            "SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_articles_search'"
        ).fetchone()  # type: ignore[misc]
        conn.execute("DROP INDEX ix_articles_search")
        for k in range(1, copies + 1):
            step(
                f"articles, copy {k}/{copies}",
                """INSERT INTO articles (id, locator, body_hash, title, source, author,
                    published, url, body, summary, keyphrases, ingested_at, story_id)
                SELECT a.id + %(k)s::bigint * %(ma)s::bigint, a.locator || '#' || %(k)s,
                       left(a.body_hash, 55) || '#' || lpad(%(k)s::text, 8, '0'),
                       a.title, a.source, a.author, a.published + coalesce(b.delta, '0'),
                       a.url, a.body, a.summary, a.keyphrases,
                       a.ingested_at + coalesce(b.delta, '0'), a.story_id + %(k)s::bigint * %(ms)s::bigint
                FROM articles a LEFT JOIN bulk_shift b ON b.old_id = a.story_id AND b.k = %(k)s
                WHERE a.id <= %(ma)s""",
                {**params, "k": k},
            )
        step("full-text index rebuilt", gin)
        for seq, table in (("articles_id_seq", "articles"), ("stories_id_seq", "stories")):
            conn.execute(f"SELECT setval('{seq}', (SELECT max(id) FROM {table}))")
    conn.autocommit = True
    step("vacuum analyze", "VACUUM (ANALYZE) articles, stories, story_terms")
    n, s, t = conn.execute(
        "SELECT (SELECT count(*) FROM articles), (SELECT count(*) FROM stories),"
        " (SELECT count(*) FROM story_terms)"
    ).fetchone()  # type: ignore[misc]
    size = conn.execute("SELECT pg_size_pretty(pg_database_size(current_database()))").fetchone()
    print(
        f"bulk: {n} articles, {s} stories, {t} story_terms rows, database "
        f"{size[0] if size else '?'}; {time.perf_counter() - began:.0f} s",
        flush=True,
    )
    conn.close()


def _parse(value: str):  # type: ignore[no-untyped-def]
    from datetime import datetime

    return datetime.fromisoformat(value)


def main() -> None:
    """Run one of the two measurements."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = ap.add_subparsers(dest="mode", required=True)
    r = sub.add_parser("rate")
    r.add_argument("--eval-dir", type=Path, required=True)
    r.add_argument("--before", type=Path, required=True, help="a checkout of the code before")
    r.add_argument("--n", type=int, default=400)
    r.add_argument("--rounds", type=int, default=3)
    r.add_argument("--workers", type=int, default=1)
    s = sub.add_parser("scale")
    s.add_argument("--eval-dir", type=Path, required=True)
    s.add_argument("--n", type=int, default=100_000)
    s.add_argument("--db", help="SQLAlchemy URL (default: SQLite in a temp folder)")
    s.add_argument(
        "--bulk", type=int, default=0, help="PostgreSQL: grow the store to this many in SQL"
    )
    s.add_argument("--then", type=int, default=2000, help="with --bulk: articles timed after")
    s.add_argument(
        "--span-days", type=float, help="with --bulk: dates spread (default: copies out of reach)"
    )
    s.add_argument("--explain", action="store_true", help="with --bulk: plans of the slowest")
    a = ap.parse_args()
    (rate if a.mode == "rate" else scale)(a)


if __name__ == "__main__":
    main()

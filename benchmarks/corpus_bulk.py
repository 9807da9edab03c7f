"""A large PostgreSQL corpus (1M articles) in minutes: generated text, bulk COPY, indexes after.

    nice .venv/bin/python -m benchmarks.corpus_bulk --n 1000000 \
        --db postgresql+psycopg://postgres@127.0.0.1:5432/digestbot_bench_1m \
        --eval-dir /work/shared/eval [--workers 2] [--fresh]

The article texts are ``-m benchmarks.corpus``'s generator (same seed → the same articles
as ``corpus.py --mode direct``), so queries see the same kind of text as the smaller
stores. What differs, to fit a million articles into ~20 minutes on two shared cores
(``corpus.py`` spends ~3.5 ms per article in summarize + tag, ~1 h for 1M):

* tags: the tagger's own rule and patterns (body mentions + 3 × title mentions ≥ 2,
  ``digests.tag.topic_pattern``), run only for topics one of whose phrases' first word occurs
  in the text (the same tags, a tenth of the time); no keyphrases;
* summary: the first three sentences (lead-3) of the real sentence split;
* rows go in with ``COPY`` (explicit ids, the sequence moved after), secondary indexes and
  the full-text GIN index are dropped first and built once at the end. Exact-duplicate
  bodies are skipped, as ``store.articles.add`` would.

``--start`` continues a corpus (article numbers ``start .. start+n-1``); indexes are rebuilt
at the end of every run. Prints the build time and the database size.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime
from pathlib import Path

from benchmarks.corpus import NOW, Generator, load_pool
from digests.config import Topic, load_settings
from digests.sentences import split_sentences
from digests.store import Store
from digests.store.articles import body_hash
from digests.tag import topic_pattern

ROOT = Path(__file__).resolve().parents[1]

_CHUNK = 2000
_WORD = re.compile(r"\w+")
_SECONDARY = (  # (name, definition) of the indexes dropped during the load
    ("ix_articles_published", "ON articles (published)"),
    ("ix_articles_dated", "ON articles ((coalesce(published, ingested_at)), id)"),
    ("ix_article_tags_tag", "ON article_tags (tag, article_id)"),
    ("ix_articles_search", "ON articles USING gin (search)"),
)

_state: dict[str, object] = {}


def _init(eval_dir: str, seeds: str, config: str, seed: int) -> None:
    topics = load_settings({}, Path(config)).topics
    pool = load_pool(Path(eval_dir), Path(seeds), topics)
    _state["gen"] = Generator(pool, topics, seed=seed, now=NOW)
    _state["tagger"] = _combined(topics)


def _combined(topics: Sequence[Topic]) -> list[tuple[str, set[str], re.Pattern[str]]]:
    """Each topic's own pattern, with the words its phrases can start with (a cheap pre-check)."""
    return [
        (
            t.name,
            {_WORD.findall(p.lower())[0] for p in t.phrases if _WORD.search(p)},
            topic_pattern(t),
        )
        for t in topics
    ]


def _tags(tagger: list, title: str, body: str) -> list[tuple[str, int]]:
    words = set(_WORD.findall(title.lower())) | set(_WORD.findall(body.lower()))
    out = []
    for name, starts, pattern in tagger:
        if starts & words:
            weight = len(pattern.findall(body)) + 3 * len(pattern.findall(title))
            if weight >= 2:
                out.append((name, weight))
    return out


def _make(bounds: tuple[int, int]) -> list[tuple]:
    """Rows for articles ``start .. end-1``: (number, article row, sentences, tags)."""
    gen, tagger = _state["gen"], _state["tagger"]
    out = []
    for i in range(*bounds):
        a = gen.article(i)  # type: ignore[attr-defined]
        body, title = str(a["text"]), str(a["title"])
        sentences = split_sentences(body)
        published = datetime.fromisoformat(str(a["published"])) if a["published"] else None
        row = (
            f"bench://corpus/{gen.seed}/{i}",  # type: ignore[attr-defined]
            body_hash(body),
            title,
            a["source"],
            a["author"],
            published,
            a["url"],
            body,
            json.dumps(sentences[:3]),
            "[]",
            NOW,
        )
        out.append((i, row, sentences, _tags(tagger, title, body)))  # type: ignore[arg-type]
    return out


def _pg_connect(url: str):  # type: ignore[no-untyped-def]
    import psycopg
    from sqlalchemy.engine import make_url

    u = make_url(url)
    return psycopg.connect(
        host=u.host, port=u.port or 5432, user=u.username, dbname=u.database, autocommit=True
    )


def _ensure_database(url: str, fresh: bool) -> None:
    from sqlalchemy.engine import make_url

    u = make_url(url)
    with _pg_connect(u.set(database="postgres").render_as_string(hide_password=False)) as admin:
        if fresh:
            admin.execute(f'DROP DATABASE IF EXISTS "{u.database}"')
        found = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (u.database,))
        if found.fetchone() is None:
            admin.execute(f'CREATE DATABASE "{u.database}"')


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, required=True)
    ap.add_argument("--db", required=True, help="postgresql+psycopg:// URL (created if missing)")
    ap.add_argument("--eval-dir", type=Path, required=True)
    ap.add_argument("--seeds", type=Path, default=ROOT / "seeds")
    ap.add_argument("--config", type=Path, default=ROOT / "config")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--start", type=int, default=0)
    ap.add_argument("--fresh", action="store_true", help="drop and recreate the database first")
    args = ap.parse_args()

    began = time.perf_counter()
    _ensure_database(args.db, args.fresh)
    Store.open(args.db).close()  # the schema, by the migrations
    conn = _pg_connect(args.db)
    conn.execute("SET maintenance_work_mem = '512MB'")
    conn.execute("SET synchronous_commit = off")
    for name, _ in _SECONDARY:
        conn.execute(f"DROP INDEX IF EXISTS {name}")
    seen = {r[0] for r in conn.execute("SELECT body_hash FROM articles")}
    base = int(conn.execute("SELECT coalesce(max(id), 0) FROM articles").fetchone()[0])
    chunks = [
        (s, min(s + _CHUNK, args.start + args.n))
        for s in range(args.start, args.start + args.n, _CHUNK)
    ]
    added = dupes = 0
    next_id = base + 1
    init = (str(args.eval_dir), str(args.seeds), str(args.config), args.seed)
    with ProcessPoolExecutor(args.workers, initializer=_init, initargs=init) as pool:
        for rows in pool.map(_make, chunks):
            with conn.transaction():
                cur = conn.cursor()
                sent_rows: list[tuple[int, int, str]] = []
                tag_rows: list[tuple[int, str, int]] = []
                with cur.copy(
                    "COPY articles (id, locator, body_hash, title, source, author, published,"
                    " url, body, summary, keyphrases, ingested_at) FROM STDIN"
                ) as copy:
                    for _i, row, sentences, tags in rows:
                        if row[1] in seen:
                            dupes += 1
                            continue
                        seen.add(row[1])
                        copy.write_row((next_id, *row))
                        sent_rows.extend((next_id, k, s) for k, s in enumerate(sentences))
                        tag_rows.extend((next_id, t, w) for t, w in tags)
                        next_id += 1
                        added += 1
                with cur.copy("COPY sentences (article_id, position, text) FROM STDIN") as copy:
                    for sent_row in sent_rows:
                        copy.write_row(sent_row)
                with cur.copy("COPY article_tags (article_id, tag, weight) FROM STDIN") as copy:
                    for tag_row in tag_rows:
                        copy.write_row(tag_row)
            done = added + dupes
            if done % 20000 < _CHUNK:
                rate = done / (time.perf_counter() - began)
                print(f"  {done}/{args.n} ({rate:.0f}/s)", file=sys.stderr, flush=True)
    loaded = time.perf_counter()
    conn.execute("SELECT setval(pg_get_serial_sequence('articles', 'id'), %s)", (next_id - 1,))
    for name, definition in _SECONDARY:
        t = time.perf_counter()
        conn.execute(f"CREATE INDEX {name} {definition}")
        print(f"  index {name}: {time.perf_counter() - t:.0f} s", file=sys.stderr, flush=True)
    conn.execute("VACUUM ANALYZE articles")
    conn.execute("VACUUM ANALYZE article_tags")
    conn.execute("VACUUM ANALYZE sentences")
    size = int(conn.execute("SELECT pg_database_size(current_database())").fetchone()[0])
    total = int(conn.execute("SELECT count(*) FROM articles").fetchone()[0])
    end = time.perf_counter()
    print(
        f"{added} added, {dupes} duplicate; load {loaded - began:.0f} s, indexes + analyze "
        f"{end - loaded:.0f} s, total {end - began:.0f} s; {total} articles, database "
        f"{size / 1e9:.2f} GB ({size / max(total, 1) / 1e3:.1f} KB per article)"
    )


if __name__ == "__main__":
    main()

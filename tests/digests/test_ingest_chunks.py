"""Ingest stores a pipeline chunk in one transaction: the same result as one article at a time,
duplicates inside a chunk, a bad article that costs nothing else, concurrent ingesters."""

from __future__ import annotations

import functools
import json
import logging
import shutil
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import event, select

from digests.config import Settings
from digests.errors import StoreError
from digests.ingest.pipeline import IngestReport, PipelineOptions, run
from digests.ingest.sources import ingest_sources
from digests.models import RawDocument
from digests.store import Store
from digests.store.articles import Articles, ChunkItem
from digests.store.export import articles_rows
from digests.store.schema import article_tags, articles, documents, sentences
from tests.conftest import NOW, make_processed

_FALLBACK = "storing them one at a time"
_BODY = (
    "Exporters in the region said the new tariffs would raise the price of steel. "
    "Officials met on Tuesday to discuss the trade rules. "
    "Analysts expect shipping costs to climb before the end of the year."
)


@pytest.fixture(params=["sqlite", "postgresql"])
def new_store(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[], Store]:
    """A maker of empty stores (a new SQLite file or PostgreSQL database each call)."""
    if request.param == "postgresql":
        return request.getfixturevalue("pg_stores")
    opened: list[Store] = []

    def make() -> Store:
        opened.append(Store.open(f"sqlite:///{tmp_path / f'store{len(opened)}.db'}"))
        return opened[-1]

    def close_all() -> None:
        for store in opened:
            store.close()

    request.addfinalizer(close_all)
    return make


def _json(folder: Path, name: str, title: str, body: str) -> Path:
    path = folder / name
    path.write_text(json.dumps({"title": title, "body": body}), encoding="utf-8")
    return path


def _doc(locator: str, title: str, body: str) -> RawDocument:
    return RawDocument(locator, "json", json.dumps({"title": title, "body": body}).encode())


def _reject_title(store: Store, title: str) -> None:
    """A trigger in the database that refuses to store an article titled ``title``: a real
    store-time failure for one article (extract cleans what the databases themselves refuse)."""
    with store.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql(
                "CREATE FUNCTION reject_title() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
                f" IF NEW.title = '{title}' THEN RAISE EXCEPTION 'rejected by the test trigger';"
                " END IF; RETURN NEW; END $$"
            )
            conn.exec_driver_sql(
                "CREATE TRIGGER reject_title BEFORE INSERT ON articles"
                " FOR EACH ROW EXECUTE FUNCTION reject_title()"
            )
        else:
            conn.exec_driver_sql(
                f"CREATE TRIGGER reject_title BEFORE INSERT ON articles WHEN NEW.title = '{title}'"
                " BEGIN SELECT RAISE(ABORT, 'rejected by the test trigger'); END"
            )


def _snapshot(store: Store) -> dict[str, object]:
    """Everything ingest wrote, keyed by what a reader sees (not ids, which may have gaps)."""
    a, d = articles.c, documents.c
    with store.engine.connect() as conn:
        stored = conn.execute(
            select(a.id, a.locator, a.title, a.body, a.summary, a.keyphrases).order_by(a.id)
        ).all()
        where = {row.id: row.locator for row in stored}
        tags = conn.execute(
            select(article_tags.c.article_id, article_tags.c.tag, article_tags.c.weight)
        ).all()
        said = conn.execute(
            select(sentences.c.article_id, sentences.c.position, sentences.c.text)
        ).all()
        docs = conn.execute(
            select(d.locator, d.content_hash, d.status, d.error, d.article_id, d.source).order_by(
                d.locator
            )
        ).all()
    return {
        "articles": [tuple(row)[1:] for row in stored],  # in id order
        "tags": sorted((where[i], t, w) for i, t, w in tags),
        "sentences": sorted((where[i], p, s) for i, p, s in said),
        "documents": [(*row[:4], where.get(row.article_id), row.source) for row in docs],
    }


def _one_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make every chunk transaction fail, so the pipeline stores each input on its own."""

    def refuse(self: Articles, items: list[ChunkItem], *, now: object) -> list[int | None]:
        raise StoreError(f"could not store {len(items)} inputs together: refused by the test")

    monkeypatch.setattr(Articles, "add_chunk", refuse)


def test_a_chunk_stores_what_one_at_a_time_stores(
    new_store: Callable[[], Store], settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    inbox = settings.inbox
    shutil.copy(next(inbox.glob("001_*.txt")), inbox / "copy-of-001.txt")  # a duplicate
    (inbox / "broken.json").write_text("{not json")  # fails in processing
    _json(inbox, "rejected.json", "Rejected", "Refused by the database. " + _BODY)  # in storing
    _json(inbox, "surrogate.json", "Lone surrogate", "A stray \ud800 escape. " + _BODY)  # cleaned
    _json(inbox, "nul.json", "NUL", "A NUL \u0000 byte. " + _BODY)  # cleaned
    chunked, single = new_store(), new_store()
    for store in (chunked, single):
        _reject_title(store, "Rejected")

    def both() -> tuple[IngestReport, IngestReport]:
        first = ingest_sources(chunked, settings, now=NOW)
        with monkeypatch.context() as m:
            _one_at_a_time(m)
            second = ingest_sources(single, settings, now=NOW)
        return first, second

    first, second = both()
    assert first.line() == second.line()
    assert first.failed == second.failed
    assert {Path(p).name for p, _ in first.failed} == {"broken.json", "rejected.json"}
    assert all("\n" not in reason for _, reason in first.failed)
    assert _snapshot(chunked) == _snapshot(single)

    # Again, with a changed file (its article replaced) and a new one.
    seed = next(inbox.glob("004_*.txt"))
    seed.write_text(seed.read_text(encoding="utf-8").replace("China", "China and Taiwan", 1))
    _json(inbox, "new.json", "A new one", "Something else entirely. " + _BODY)
    first, second = both()
    assert len(first.added) == 2  # the changed seed and the new file
    assert first.line() == second.line() and first.failed == second.failed
    assert _snapshot(chunked) == _snapshot(single)


def test_the_same_text_twice_in_one_chunk_is_stored_once(any_store: Store) -> None:
    one = make_processed("One", _BODY)
    again = make_processed("Again", "  " + _BODY.upper() + "\n")  # case and spacing differ
    other = make_processed("Other", "A different story about rice harvests.")
    items = [
        ChunkItem("a.json", "h1", one),
        ChunkItem("b.json", "h2", again),
        ChunkItem("c.json", "h3", "file is empty"),
        ChunkItem("d.json", "h4", other),
    ]
    ids = any_store.articles.add_chunk(items, now=NOW)
    assert ids[0] is not None and ids[3] is not None and ids[0] < ids[3]
    assert ids[1:3] == [None, None]
    assert [a.title for a in any_store.articles.since(0)] == ["One", "Other"]
    states = any_store.articles.documents(["a.json", "b.json", "c.json", "d.json"])
    assert {k: (v.status, v.error) for k, v in states.items()} == {
        "a.json": ("added", None),
        "b.json": ("duplicate", None),
        "c.json": ("failed", "file is empty"),
        "d.json": ("added", None),
    }
    # Text stored by an earlier chunk is a duplicate too.
    assert any_store.articles.add_chunk([ChunkItem("e.json", "h5", again)], now=NOW) == [None]
    # A duplicate's row names the article holding its text (the export lists it there).
    d = documents.c
    with any_store.engine.connect() as conn:
        became = {r.locator: r.article_id for r in conn.execute(select(d.locator, d.article_id))}
    assert became == {
        "a.json": ids[0],
        "b.json": ids[0],
        "c.json": None,
        "d.json": ids[3],
        "e.json": ids[0],
    }
    assert any_store.articles.stored_as(_BODY.lower()) == ids[0]
    assert any_store.articles.stored_as("Never stored.") is None


def test_a_file_another_ingester_stored_meanwhile_stays_its_articles_own(
    any_store: Store,
) -> None:
    """Two replicas plan the same new file; the second stores it once the first has: its text
    is there, under this very locator. Its row stays the article's own ("added"), not a copy
    of itself: listed once by the export, and replaced when the file changes."""
    from dataclasses import replace

    from digests.store.export import stories_rows

    def at(locator: str, hash_: str, title: str, body: str) -> ChunkItem:
        made = make_processed(title, body, source="AP")
        return ChunkItem(
            locator, hash_, replace(made, article=replace(made.article, locator=locator))
        )

    item = at("inbox/a.json", "h1", "Strike ends", _BODY)
    [article] = any_store.articles.add_chunk([item], now=NOW)  # the first replica
    assert any_store.articles.add_chunk([item], now=NOW) == [None]  # the second, in a chunk
    assert any_store.articles.documents(["inbox/a.json"])["inbox/a.json"].status == "added"
    # ... or one at a time (its chunk failed as a whole), as pipeline._store_one records it
    any_store.articles.record_document(
        "inbox/a.json", "h1", status="duplicate", now=NOW, article_id=article, source="AP"
    )
    assert any_store.articles.documents(["inbox/a.json"])["inbox/a.json"].status == "added"
    assert [r["locator"] for r in articles_rows(any_store.engine)] == ["inbox/a.json"]
    assert [r["articles"] for r in stories_rows(any_store.engine)] == [1]
    assert any_store.articles.get([article])[0].copy_sources == ()
    # The file is corrected: its earlier article goes, as for a file one process stored.
    fixed = _BODY + " An earlier version misstated the date."
    changed = replace(at("inbox/a.json", "h2", "Strike ends", fixed), replaces=True)
    [new] = any_store.articles.add_chunk([changed], now=NOW)
    assert [a.id for a in any_store.articles.since(0)] == [new]
    # A real copy (the same text at another place) is still a duplicate of it.
    copy = at("inbox/b.json", "h3", "Strike ends", fixed)
    assert any_store.articles.add_chunk([copy], now=NOW) == [None]
    assert any_store.articles.documents(["inbox/b.json"])["inbox/b.json"].status == "duplicate"


def test_a_copys_own_source_is_kept_in_a_chunk_and_one_at_a_time(
    new_store: Callable[[], Store], settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # One wire text carried by three feeds: stored once, as the first one's article; each
    # copy's document row keeps the source it came under, whichever way it was stored.
    def wire(locator: str, source: str) -> RawDocument:
        doc = {"title": "Steel tariffs", "body": _BODY, "source": source}
        return RawDocument(locator, "json", json.dumps(doc).encode())

    docs = [wire("reuters/1", "Reuters"), wire("ap/1", "AP"), wire("times/1", "The Times")]
    later = [wire("ap/2", "AP"), wire("guardian/1", "The Guardian")]  # copies, a run later
    options = PipelineOptions(topics=settings.topics)
    chunked, single = new_store(), new_store()
    reports = [run(chunked, docs, options, now=NOW), run(chunked, later, options, now=NOW)]
    with monkeypatch.context() as m:
        _one_at_a_time(m)
        reports += [run(single, docs, options, now=NOW), run(single, later, options, now=NOW)]
    assert [(len(r.added), r.duplicates, r.failed) for r in reports] == [
        (1, 2, []),
        (0, 2, []),
    ] * 2
    d = documents.c
    for store, report in ((chunked, reports[0]), (single, reports[2])):
        with store.engine.connect() as conn:
            kept = {r.locator: r.source for r in conn.execute(select(d.locator, d.source))}
        assert kept == {
            "reuters/1": "Reuters",
            "ap/1": "AP",
            "times/1": "The Times",
            "ap/2": "AP",
            "guardian/1": "The Guardian",
        }
        [article] = store.articles.get(report.added)
        assert article.source == "Reuters"
        assert article.copy_sources == ("AP", "The Times", "The Guardian")  # first seen first
        assert store.articles.since(0)[0].copy_sources == article.copy_sources
    assert _snapshot(chunked) == _snapshot(single)


def test_a_good_chunk_is_one_transaction(any_store: Store, settings: Settings) -> None:
    docs = [_doc(f"{n}.json", f"Story {n}", f"Story number {n}. " + _BODY) for n in range(20)]
    commits: list[object] = []
    event.listen(any_store.engine, "commit", commits.append)
    report = run(any_store, docs, PipelineOptions(topics=settings.topics), now=NOW)
    assert (len(report.added), report.failed) == (20, [])
    assert len(commits) == 1


def test_one_bad_article_in_a_chunk_costs_nothing_else(
    any_store: Store, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    docs = [_doc(f"{n}.json", f"Story {n}", f"Story number {n}. " + _BODY) for n in range(6)]
    docs.insert(2, _doc("bad.json", "Bad", "Refused by the database. " + _BODY))
    _reject_title(any_store, "Bad")
    options = PipelineOptions(topics=settings.topics)
    with caplog.at_level(logging.WARNING, logger="digests.ingest.pipeline"):
        report = run(any_store, docs, options, now=NOW)
    assert _FALLBACK in caplog.text  # the chunk failed as a whole, then went one by one
    assert len(report.added) == 6 and any_store.articles.count() == 6
    failed = dict(report.failed)
    assert set(failed) == {d.locator for d in docs if not d.locator[0].isdigit()}
    assert "rejected by the test trigger" in failed["bad.json"]
    assert all("\n" not in why and "[SQL" not in why for why in failed.values())
    assert any_store.articles.documents(["bad.json"])["bad.json"].status == "failed"
    # Unchanged, the bad one is reported again without being stored again; the rest is done.
    again = run(any_store, docs, options, now=NOW)
    assert (again.added, again.unchanged, again.failed) == ([], 6, report.failed)


def _ingest_in_thread(
    store: Store, docs: list[RawDocument], options: PipelineOptions, start: threading.Barrier
) -> tuple[threading.Thread, list[IngestReport]]:
    out: list[IngestReport] = []

    def work() -> None:
        start.wait()
        out.append(run(store, docs, options, now=NOW))

    thread = threading.Thread(target=work)
    thread.start()
    return thread, out


@pytest.mark.parametrize("folder", ["shared", "own"])
def test_concurrent_ingesters_store_each_text_once_on_postgresql(
    pg_store: Store, settings: Settings, caplog: pytest.LogCaptureFixture, folder: str
) -> None:
    """Two ingesters (own engines: own sessions, as two processes) run the pipeline at once
    on overlapping inputs (the same files, or copies under other names), one of them in the
    opposite order."""
    url = pg_store.engine.url.render_as_string(hide_password=False)
    bodies = [f"Dispatch {n} from the port. " + _BODY for n in range(150)]
    theirs_at = "a" if folder == "shared" else "b"
    mine = [_doc(f"a/{n}.json", f"Dispatch {n}", b) for n, b in enumerate(bodies[:100])]
    theirs = [_doc(f"{theirs_at}/{n}.json", f"Dispatch {n}", b) for n, b in enumerate(bodies)]
    theirs = theirs[50:][::-1]
    options = PipelineOptions(topics=settings.topics)
    other = Store.open(url)
    start = threading.Barrier(2)
    try:
        with caplog.at_level(logging.WARNING, logger="digests.ingest.pipeline"):
            runs = [
                _ingest_in_thread(pg_store, mine, options, start),
                _ingest_in_thread(other, theirs, options, start),
            ]
            for thread, _ in runs:
                thread.join(timeout=120)
    finally:
        other.close()
    (first,), (second,) = (out for _, out in runs)
    assert first.failed == second.failed == []
    assert len(first.added) + len(second.added) == 150
    # The other's copy: a duplicate, or (the same file, recorded by the time it was planned)
    # unchanged.
    assert sum(r.duplicates + r.unchanged for r in (first, second)) == 50
    if folder == "own":
        assert first.unchanged == second.unchanged == 0
    else:  # the same files: stored by the other one, never "duplicates" of themselves
        assert first.duplicates == second.duplicates == 0
    assert pg_store.articles.count() == 150
    with pg_store.engine.connect() as conn:
        hashes = conn.scalars(select(articles.c.body_hash)).all()
    assert len(set(hashes)) == 150
    locators = {d.locator for d in mine + theirs}
    assert len(pg_store.articles.documents(locators)) == len(locators)
    # A file both stored is its article's own, not a copy of itself: listed once.
    exported = [r["locator"] for r in articles_rows(pg_store.engine)]
    assert sorted(exported) == sorted(locators)
    assert _FALLBACK not in caplog.text  # no deadlock made a chunk fall back


def _at_once(*calls: Callable[[], list[int | None]]) -> list[list[int | None] | Exception]:
    """Run the calls in threads released together; each one's result or StoreError."""
    start = threading.Barrier(len(calls))
    got: list[list[int | None] | Exception] = [StoreError("did not finish")] * len(calls)

    def one(n: int) -> None:
        start.wait()
        try:
            got[n] = calls[n]()
        except StoreError as exc:
            got[n] = exc

    threads = [threading.Thread(target=one, args=(n,)) for n in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return got


def test_chunks_wanting_the_same_texts_in_opposite_orders_do_not_deadlock(
    pg_store: Store,
) -> None:
    """Both chunks insert at once, one in reverse: without a lock order each would wait for
    a row the other holds, and PostgreSQL would abort one ("deadlock detected")."""
    other = Store.open(pg_store.engine.url.render_as_string(hide_password=False))
    try:
        for round_ in range(3):
            items = [
                ChunkItem(f"{n}.json", f"h{n}", make_processed(f"S{n}", f"{round_}.{n}. {_BODY}"))
                for n in range(60)
            ]
            forward, reverse = _at_once(
                functools.partial(pg_store.articles.add_chunk, items, now=NOW),
                functools.partial(other.articles.add_chunk, items[::-1], now=NOW),
            )
            assert isinstance(forward, list) and isinstance(reverse, list), (forward, reverse)
            # Each text stored by exactly one of them, a duplicate for the other.
            pairs = zip(forward, reverse[::-1], strict=True)
            assert all((a is None) != (b is None) for a, b in pairs)
        assert pg_store.articles.count() == 180
    finally:
        other.close()


def test_an_in_memory_store_is_stored_into_from_its_own_thread(settings: Settings) -> None:
    store = Store.open("sqlite://")  # a database per thread: no storing thread for it
    try:
        assert not store.shared
        docs = [_doc(f"{n}.json", f"Story {n}", f"Story number {n}. " + _BODY) for n in range(70)]
        report = run(store, docs, PipelineOptions(topics=settings.topics), now=NOW)
        assert (len(report.added), report.failed) == (70, [])
        assert store.articles.count() == 70
    finally:
        store.close()


def test_feed_entries_are_marked_together_after_their_articles(any_store: Store) -> None:
    source = any_store.sources.ensure("wire", kind="feed", location="https://example.com/feed")
    ids = any_store.articles.add_chunk(
        [
            ChunkItem("https://example.com/1", "h1", make_processed("One", _BODY)),
            ChunkItem("https://example.com/2", "h2", make_processed("Two", "Rice. Harvests.")),
        ],
        now=NOW,
    )
    entries = {"https://example.com/1": "guid-1", "https://example.com/2": "guid-2"}
    any_store.feed_items.mark_many(source.id, entries, now=NOW)
    # Marked again (another replica, a later poll): nothing changes, nothing fails.
    any_store.feed_items.mark_many(source.id, {"https://example.com/9": "guid-1"}, now=NOW)
    assert any_store.feed_items.seen(source.id, ["guid-1", "guid-2", "guid-3"]) == {
        "guid-1",
        "guid-2",
    }
    assert [any_store.feed_items.article_id(source.id, g) for g in ("guid-1", "guid-2")] == ids


def test_a_higher_article_id_is_never_visible_before_a_lower_one_commits(pg_store: Store) -> None:
    """Digests are watermarks over article ids. While one transaction has drawn an id and not
    committed, another storing an article must wait: were its higher id visible first, a digest
    run in between would move its watermark past the lower id, and no digest would carry it."""
    from sqlalchemy import text

    at_commit, release = threading.Event(), threading.Event()

    def hold_first_commit(conn: object) -> None:
        if not at_commit.is_set():
            at_commit.set()
            release.wait(20)

    event.listen(pg_store.engine, "commit", hold_first_commit)
    stored: dict[str, int | None] = {}

    def store_one(title: str, body: str) -> None:
        stored[title] = pg_store.articles.add(make_processed(title, body), now=NOW)

    first = threading.Thread(target=store_one, args=("First", "Steel tariffs rose. Ports waited."))
    second = threading.Thread(target=store_one, args=("Second", "Grain fell. Farmers sold."))
    first.start()
    try:
        assert at_commit.wait(10)  # the first has its id and is about to commit
        second.start()
        waiting = 0
        for _ in range(200):  # until the second waits on the lock (or, wrongly, finishes)
            with pg_store.engine.connect() as conn:
                waiting = conn.scalar(
                    text(
                        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                        " AND wait_event_type = 'Lock' AND wait_event = 'advisory'"
                    )
                )
            if waiting or not second.is_alive():
                break
            threading.Event().wait(0.05)
        assert waiting == 1 and second.is_alive()
        assert pg_store.articles.latest_id() == 0  # nothing visible past the open transaction
    finally:
        release.set()
        first.join(10)
        second.join(10)
        event.remove(pg_store.engine, "commit", hold_first_commit)
    assert [a.title for a in pg_store.articles.since(0)] == ["First", "Second"]
    first_id, second_id = stored["First"], stored["Second"]
    assert first_id is not None and second_id is not None and first_id < second_id


def test_nul_and_lone_surrogates_from_json_escapes_are_cleaned_not_fatal(
    any_store: Store, settings: Settings
) -> None:
    """A JSON escape can carry what no store holds as text (PostgreSQL refuses NUL; a lone
    surrogate has no UTF-8): extract drops NUL and turns a lone surrogate into U+FFFD, so the
    article is stored the same on both databases instead of failing on one of them."""
    docs = [
        _doc("nul.json", "A NUL\u0000 title", "A NUL \u0000 byte. " + _BODY),
        _doc("surrogate.json", "Lone \ud800", "A stray \ud800 escape. " + _BODY),
        _doc("only-nul.json", "Nothing", "\u0000\u0000"),
    ]
    report = run(any_store, docs, PipelineOptions(topics=settings.topics), now=NOW)
    assert dict(report.failed) == {"only-nul.json": "the document has no text"}
    stored = {a.title: a for a in any_store.articles.get(list(report.added), with_body=True)}
    assert set(stored) == {"A NUL title", "Lone \ufffd"}
    assert stored["A NUL title"].body.startswith("A NUL  byte. ")
    assert stored["Lone \ufffd"].body.startswith("A stray \ufffd escape. ")

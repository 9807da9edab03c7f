"""The pipeline over real seed files: incremental ingest, failures that lose nothing."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest

from digests.config import Settings
from digests.ingest.sources import ingest_sources
from digests.store import Store
from tests.conftest import NOW, SEEDS


def test_seeds_are_ingested_once(store: Store, settings: Settings) -> None:
    report = ingest_sources(store, settings, now=NOW)
    assert (len(report.added), report.failed) == (5, [])
    again = ingest_sources(store, settings, now=NOW)
    assert (again.added, again.unchanged, again.failed) == ([], 5, [])
    assert store.articles.count() == 5


def test_a_changed_file_replaces_its_article(store: Store, settings: Settings) -> None:
    ingest_sources(store, settings, now=NOW)
    seed = next(settings.inbox.glob("004_*.txt"))
    text = seed.read_text(encoding="utf-8")
    before = {a.id for a in store.articles.since(0)}
    seed.write_text(text.replace("China", "China and Taiwan", 1) + "\n", encoding="utf-8")
    report = ingest_sources(store, settings, now=NOW)
    assert len(report.added) == 1 and report.unchanged == 4
    after = {a.id for a in store.articles.since(0)}
    assert len(after) == 5 and len(before - after) == 1  # the old version is gone, not doubled


def test_bad_files_are_recorded_and_the_rest_is_ingested(store: Store, settings: Settings) -> None:
    (settings.inbox / "empty.txt").write_text("")
    (settings.inbox / "binary.html").write_bytes(b"\x00\xff\x00garbage")
    (settings.inbox / "broken.json").write_text("{not json")
    (settings.inbox / "nothing.md").write_text("# Title only\n")
    report = ingest_sources(store, settings, now=NOW)
    assert len(report.added) == 5
    failed = {Path(p).name: reason for p, reason in report.failed}
    assert set(failed) == {"empty.txt", "binary.html", "broken.json", "nothing.md"}
    assert all(reason and "\n" not in reason for reason in failed.values())


def test_a_bad_files_line_is_logged_once_per_change_and_it_is_reported_every_run(
    store: Store, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """QA: serve logged a bad file's "skipped" line at every read of it (three in its first
    seconds); a file refused as it is read (binary, empty) was not remembered at all."""
    caplog.set_level(logging.INFO, logger="digests")
    bad = {
        "binary.txt": b"\x00\x01 not text\x00",  # refused as it is read
        "empty.md": b"  \n",
        "nothing.md": b"# Title only\n",  # refused by extract (remembered by its hash before)
    }
    for name, content in bad.items():
        (settings.inbox / name).write_bytes(content)

    def logged() -> dict[str, int]:
        lines = [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO]
        return {n: sum(n in line and "skipped" in line for line in lines) for n in bad}

    for _ in range(3):  # every run reports each one (the CLI's lines, its exit status 1)...
        report = ingest_sources(store, settings, now=NOW)
        assert {Path(p).name for p, _ in report.failed} == set(bad)
    assert logged() == dict.fromkeys(bad, 1)  # ...the log says it once
    (settings.inbox / "binary.txt").write_bytes(b"\x00 changed, still binary\x00")
    (settings.inbox / "nothing.md").write_bytes(bad["nothing.md"])  # written again, the same
    report = ingest_sources(store, settings, now=NOW)
    assert {Path(p).name for p, _ in report.failed} == set(bad)
    assert logged() == {"binary.txt": 2, "empty.md": 1, "nothing.md": 1}


def test_duplicate_copy_of_a_file_is_counted_not_stored(store: Store, settings: Settings) -> None:
    seed = next(settings.inbox.glob("001_*.txt"))
    shutil.copy(seed, settings.inbox / "copy-of-001.txt")
    report = ingest_sources(store, settings, now=NOW)
    assert len(report.added) == 5 and report.duplicates == 1


def test_parallel_workers_give_the_same_articles(tmp_path: Path, settings: Settings) -> None:
    serial = Store.open(f"sqlite:///{tmp_path / 'serial.db'}")
    parallel = Store.open(f"sqlite:///{tmp_path / 'parallel.db'}")
    ingest_sources(serial, settings, now=NOW, paths=[SEEDS])
    ingest_sources(parallel, settings, now=NOW, paths=[SEEDS], workers=2)
    titles = lambda s: sorted((a.title, a.summary) for a in s.articles.since(0))  # noqa: E731
    assert titles(serial) == titles(parallel)


def test_seeds_end_to_end_on_postgresql(pg_store: Store, settings: Settings) -> None:
    from digests.brief import brief

    report = ingest_sources(pg_store, settings, now=NOW)
    assert len(report.added) == 5
    assert ingest_sources(pg_store, settings, now=NOW).unchanged == 5
    result = brief(pg_store, "taiwan", topics=settings.topics, now=NOW)
    assert len({s.article_id for s in result.sentences}) >= 2
    free = brief(pg_store, "rare earth", topics=settings.topics, now=NOW)  # tsvector search
    assert free.sentences and any("rare" in s.text.lower() for s in free.sentences)

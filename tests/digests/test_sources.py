"""The ingest use case: one folder rule and one tag rule, whichever front end calls it."""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path

from digests.config import Settings, SourceConfig
from digests.extract import NO_TEXT
from digests.ingest.pipeline import IngestReport
from digests.ingest.sources import ingest_sources, make_fetcher, plan_ingest, poll_source
from digests.models import SourceKind
from digests.store import Store
from tests.conftest import NOW


def _with_world(settings: Settings) -> tuple[Settings, Path]:
    """The seeds as the inbox, plus a folder source ``seeds/world`` tagged ``world``."""
    world = settings.inbox / "world"
    world.mkdir()
    seed = sorted(settings.inbox.glob("*.txt"))[0]
    (world / "moved.txt").write_bytes(seed.read_bytes())
    seed.unlink()
    source = SourceConfig(
        name="world", kind=SourceKind.FOLDER, location="seeds/world", tags=("world",)
    )
    return settings.model_copy(update={"sources": (source,)}), world


def _tagged(store: Store) -> int:
    """How many stored articles carry the ``world`` tag."""
    return sum("world" in a.tags for a in store.articles.since(0))


def test_a_file_belongs_to_the_most_specific_folder_source(
    store: Store, settings: Settings
) -> None:
    configured, _world = _with_world(settings)
    plan = plan_ingest(store, configured, now=NOW)
    assert len(list(plan.documents)) == 5  # the nested folder's file is read once, as the source's
    report = ingest_sources(store, configured, now=NOW)
    assert len(report.added) == 5 and report.failed == []
    assert _tagged(store) == 1  # the nested folder's one file, not the inbox's four
    assert [(s.name, s.consecutive_failures) for s in store.sources.all()] == [("world", 0)]


def test_the_scheduler_path_applies_the_same_tags(store: Store, settings: Settings) -> None:
    configured, _world = _with_world(settings)
    with make_fetcher(configured) as fetcher:
        report = poll_source(store, configured, configured.sources[0], now=NOW, fetcher=fetcher)
    assert report.source == "world" and report.error is None and len(report.added) == 1
    assert "world" in store.articles.get(report.added)[0].tags


def test_a_file_named_on_the_command_line_keeps_its_sources_tags(
    store: Store, settings: Settings
) -> None:
    configured, world = _with_world(settings)
    ingest_sources(store, configured, now=NOW, paths=[world / "moved.txt"])
    assert _tagged(store) == 1


def test_a_missing_folder_source_is_reported_and_recorded(store: Store, settings: Settings) -> None:
    gone = SourceConfig(name="gone", kind=SourceKind.FOLDER, location="no-such-folder")
    configured = settings.model_copy(update={"sources": (gone,)})
    with make_fetcher(configured) as fetcher:
        report = poll_source(store, configured, gone, now=NOW, fetcher=fetcher)
    assert report.error and "does not exist" in report.error
    assert report.failed and report.added == []
    (state,) = store.sources.all()
    assert state.consecutive_failures == 1 and "does not exist" in (state.last_error or "")
    again = ingest_sources(store, configured, now=NOW)  # the inbox is still read
    assert len(again.added) == 5
    # ...and the run says the folder failed, as a feed that cannot be fetched (exit 1).
    assert [(Path(p).name, why) for p, why in again.failed] == [
        ("no-such-folder", "folder does not exist")
    ]


def _ingest_traced(store: Store, settings: Settings) -> tuple[IngestReport, int]:
    """An ingest run, and the most memory Python allocated during it (bytes)."""
    tracemalloc.start()
    try:
        return ingest_sources(store, settings, now=NOW), tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_big_folder_is_read_a_file_at_a_time(store: Store, settings: Settings) -> None:
    # 1,000 files of 50 KB (50 MB): a run holds the batch it works on, not the whole folder.
    folder = settings.inbox / "big"
    folder.mkdir()
    blank = json.dumps({"title": "Blank", "text": " " * 50_000})  # fails fast: no text
    for n in range(1000):
        (folder / f"{n:04}.json").write_text(blank)
    report, peak = _ingest_traced(store, settings)
    assert len(report.added) == 5 and len(report.failed) == 1000
    assert peak < 20_000_000, f"peak {peak:,} bytes"


def test_a_big_json_lines_file_is_read_a_line_at_a_time(store: Store, settings: Settings) -> None:
    # 1,000 lines of 50 KB (50 MB, ten times max_file_bytes): the limit is per line, and a run
    # holds the lines it works on, not the file.
    settings = settings.model_copy(update={"max_file_bytes": 5_000_000})
    blank = {"title": "Blank", "text": " " * 50_000}  # fails fast: no text
    with (settings.inbox / "dump.jsonl").open("w") as file:
        for n in range(1000):
            file.write(json.dumps({"id": f"row-{n}", **blank}) + "\n")
    report, peak = _ingest_traced(store, settings)
    # The failed lines past 20 are one line: the count.
    assert len(report.added) == 5 and len(report.failed) == 21
    assert report.failed[0] == (f"{settings.inbox / 'dump.jsonl'}:1", NO_TEXT)  # as read
    assert report.failed[-1][1].startswith("980 more bad lines (of 1,000;")
    assert peak < 20_000_000, f"peak {peak:,} bytes"


def test_folder_reads_pass_over_what_was_read_unchanged(store: Store, settings: Settings) -> None:
    """serve's readers of a folder share one FolderReads: a whole read after another reads
    only the files changed or added since (the watcher's rescan and the first poll read
    nothing at start); a file a change event names is always read."""
    from digests.ingest.sources import FolderReads, ingest_folders
    from tests.file_reads import FileReads

    inbox = settings.inbox
    reads = FolderReads()
    names = sorted(p.name for p in inbox.iterdir())
    with FileReads(inbox) as read:
        first = ingest_folders(store, settings, now=NOW, reads=reads)
        assert (len(first.added), first.unchanged) == (len(names), 0)
        again = ingest_folders(store, settings, now=NOW, reads=reads)
        assert (again.added, again.unchanged, again.failed) == ([], len(names), [])
        assert {n: read.count(n) for n in names} == dict.fromkeys(names, 1)
        (inbox / "new.md").write_text("# Ports reopen\n\nThe ports reopened on Monday after a "
                                      "week of strikes, the harbour master said.\n")  # fmt: skip
        (inbox / names[0]).touch()  # its times changed: read again (found unchanged)
        third = ingest_folders(store, settings, now=NOW, reads=reads)
        assert (len(third.added), third.unchanged) == (1, len(names))
        assert read.count("new.md") == 1 and read.count(names[0]) == 2
        assert read.count(names[1]) == 1
        event = ingest_folders(store, settings, now=NOW, reads=reads, paths=[inbox / names[1]])
        assert event.unchanged == 1 and read.count(names[1]) == 2
        # A one-off run (the CLI) keeps none: it reads every file.
        ingest_folders(store, settings, now=NOW)
        assert read.count(names[2]) == 2


def test_folder_reads_read_again_the_copies_of_a_replaced_article(
    store: Store, settings: Settings
) -> None:
    """A changed file's old article goes, and with it the rows of the files that were
    copies of its text: the next whole read reads them (stored as their own), however
    unchanged they are."""
    from digests.ingest.sources import FolderReads, ingest_folders

    inbox = settings.inbox
    text = (
        "# Ports reopen\n\nThe ports reopened on Monday after a week of strikes, the harbour "
        "master said. Ships queued outside the harbour through the weekend.\n"
    )
    (inbox / "a.md").write_text(text, encoding="utf-8")
    (inbox / "b.md").write_text(text, encoding="utf-8")  # a copy
    reads = FolderReads()
    first = ingest_folders(store, settings, now=NOW, reads=reads)
    assert first.duplicates == 1
    (inbox / "a.md").write_text(text.replace("Monday", "Tuesday"), encoding="utf-8")
    changed = ingest_folders(store, settings, now=NOW, reads=reads, paths=[inbox / "a.md"])
    assert len(changed.added) == 1 and changed.replaced == 1
    whole = ingest_folders(store, settings, now=NOW, reads=reads)
    assert len(whole.added) == 1  # the copy: its text is now held by no other article
    assert store.articles.count() == 7


def test_folder_reads_read_again_a_copy_whose_article_another_process_replaced(
    store: Store, settings: Settings
) -> None:
    """The change is stored by another process (`digestbot ingest` beside `serve`, another
    replica): this one's marks say the copy is unchanged, but its row is gone with the old
    article. A whole read passes over only files the store still has a row of: the copy is
    read and stored, not left out until serve restarts."""
    from digests.ingest.sources import FolderReads, ingest_folders

    inbox = settings.inbox
    text = (
        "# Ports reopen\n\nThe ports reopened on Monday after a week of strikes, the harbour "
        "master said. Ships queued outside the harbour through the weekend.\n"
    )
    (inbox / "a.md").write_text(text, encoding="utf-8")
    (inbox / "b.md").write_text(text, encoding="utf-8")  # a copy
    reads = FolderReads()  # serve's
    assert ingest_folders(store, settings, now=NOW, reads=reads).duplicates == 1
    (inbox / "a.md").write_text(text.replace("Monday", "Tuesday"), encoding="utf-8")
    other = ingest_folders(store, settings, now=NOW, paths=[inbox / "a.md"])  # the CLI's
    assert other.replaced == 1
    whole = ingest_folders(store, settings, now=NOW, reads=reads)
    assert len(whole.added) == 1  # the copy, its text now held by no other article
    assert store.articles.documents([str(inbox / "b.md")])[str(inbox / "b.md")].status == "added"
    assert store.articles.count() == 7


def test_a_folder_sources_new_tags_reach_its_stored_articles_not_yet_delivered(
    store: Store, settings: Settings
) -> None:
    """QA: changing a folder source's tags in sources.toml tagged only the files added after;
    its stored articles, unchanged files, kept the old tags (in digests, /brief, topics).

    Now the articles no digest has shown yet take the new tags the next time the folder is
    read; one already delivered keeps the tags it was shown with (as a topic refit does)."""
    configured, world = _with_world(settings)
    second = sorted(settings.inbox.glob("*.txt"))[0]
    second.rename(world / "second.txt")
    old = configured.sources[0].model_copy(update={"tags": ("world", "china")})
    before = configured.model_copy(update={"sources": (old,)})
    ingest_sources(store, before, now=NOW)
    store.sources.seed(before.sources, now=NOW)  # as serve does, after its first ingest
    ids = [a.id for a in store.articles.since(0)]
    where = {Path(loc).name: i for i, loc in store.topics.locators(ids).items()}
    shown, unshown = where["moved.txt"], where["second.txt"]
    assert {"world", "china"} <= set(store.articles.get([unshown])[0].tags)
    store.outbox.enqueue(  # a digest showed one of them
        "run:1", [{"text": "digest"}], platform="slack", channel="C1", now=NOW,
        article_ids=[[shown]],
    )  # fmt: skip

    new = old.model_copy(update={"tags": ("europe",)})
    after = configured.model_copy(update={"sources": (new,)})
    store.sources.seed(after.sources, now=NOW)  # e.g. `digestbot sources list` first
    report = ingest_sources(store, after, now=NOW)  # every file unchanged
    assert report.added == [] and report.failed == []
    tags = {a.id: set(a.tags) for a in store.articles.since(0)}
    assert "europe" in tags[unshown] and "world" not in tags[unshown]
    assert "china" in tags[unshown]  # the text names it (17 times): a topic's own tag
    assert {"world", "china"} <= tags[shown] and "europe" not in tags[shown]
    inbox = [i for i in tags if i not in (shown, unshown)]
    assert inbox and not any({"world", "europe"} & tags[i] for i in inbox)
    assert store.sources.get("world").tags == ("europe",)  # type: ignore[union-attr]

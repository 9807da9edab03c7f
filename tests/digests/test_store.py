"""The store on SQLite and PostgreSQL: articles, tags, sentences, search, runs, outbox."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from digests.errors import StoreError
from digests.store import Store
from tests.conftest import NOW, make_processed


def test_add_get_and_tags(any_store: Store) -> None:
    item = make_processed(
        "Taiwan Strait talks",
        "Taiwan said talks begin. Beijing objected.",
        tags=(("taiwan", 3), ("china", 1)),
        url="https://example.com/a",
    )
    article_id = any_store.articles.add(item, now=NOW)
    assert article_id is not None
    [stored] = any_store.articles.get([article_id])
    assert stored.title == "Taiwan Strait talks"
    assert stored.tags == ("taiwan", "china")  # strongest first
    assert stored.url == "https://example.com/a"
    assert stored.ingested_at == NOW
    assert any_store.articles.sentences([article_id])[article_id] == [
        "Taiwan said talks begin.",
        "Beijing objected.",
    ]
    assert any_store.articles.tag_counts() == {"taiwan": 1, "china": 1}
    other = make_processed("Rain", "It rained in the valley today. Farmers were glad.")
    assert any_store.articles.add(other, now=NOW) is not None
    assert any_store.articles.untagged(["taiwan"]) == 1
    assert any_store.articles.untagged(["japan"]) == 2
    assert any_store.articles.untagged([]) == 2


def test_same_text_is_stored_once(any_store: Store) -> None:
    first = make_processed("A", "Same words here. And more.")
    again = make_processed("B", "same   WORDS here. And more.")
    assert any_store.articles.add(first, now=NOW) is not None
    assert any_store.articles.add(again, now=NOW) is None
    assert any_store.articles.count() == 1


def test_since_watermark_topics_and_dates(any_store: Store) -> None:
    old = any_store.articles.add(
        make_processed(
            "Old", "Old news about trade.", tags=(("trade", 1),), published=NOW - timedelta(days=30)
        ),
        now=NOW,
    )
    new = any_store.articles.add(
        make_processed("New", "Taiwan news today.", tags=(("taiwan", 1),), published=NOW), now=NOW
    )
    assert [a.id for a in any_store.articles.since(0)] == [old, new]
    assert [a.id for a in any_store.articles.since(old)] == [new]
    assert [a.id for a in any_store.articles.since(0, topics=["trade"])] == [old]
    assert [a.id for a in any_store.articles.since(0, after=NOW - timedelta(days=1))] == [new]
    assert any_store.articles.latest_id() == new


def test_full_text_search_ranks_and_survives_syntax(any_store: Store) -> None:
    chips = any_store.articles.add(
        make_processed(
            "Chip export controls", "Semiconductor exports face new controls. Chips matter."
        ),
        now=NOW,
    )
    any_store.articles.add(make_processed("Football", "The match ended in a draw."), now=NOW)
    assert any_store.articles.search("semiconductor exports", limit=5) == [chips]
    # Any term matches when all terms together match nothing.
    assert any_store.articles.search("semiconductor zebra", limit=5) == [chips]
    # User text is never query syntax.
    assert any_store.articles.search('chips" OR * NEAR(', limit=5) == [chips]
    assert any_store.articles.search("   ", limit=5) == []


def test_replacing_a_changed_document(any_store: Store) -> None:
    first = any_store.articles.add(make_processed("v1", "First version of the story."), now=NOW)
    any_store.articles.record_document(
        "seeds/a.txt", "h1", status="added", now=NOW, article_id=first
    )
    second = any_store.articles.add(
        make_processed("v2", "Second version of the story."), now=NOW, replaces="seeds/a.txt"
    )
    assert second is not None and second != first
    assert any_store.articles.get([first]) == []
    assert any_store.articles.documents(["seeds/a.txt"])["seeds/a.txt"].content_hash == "h1"


def test_run_claim_is_exactly_once(any_store: Store) -> None:
    sub = any_store.subscriptions.upsert(
        "news",
        platform="slack",
        channel="C1",
        topics=["taiwan"],
        cron="0 8 * * *",
        timezone="UTC",
        origin="config",
        now=NOW,
    )
    assert any_store.runs.claim(sub.id, NOW, owner="a", now=NOW) is not None
    assert any_store.runs.claim(sub.id, NOW, owner="b", now=NOW) is None
    any_store.subscriptions.advance("news", 5)
    any_store.subscriptions.advance("news", 3)  # never backwards
    assert any_store.subscriptions.get("news").watermark == 5


def test_reopening_keeps_data_and_schema(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    Store.open(url).articles.add(make_processed("Kept", "Kept across opens."), now=NOW)
    assert Store.open(url).articles.count() == 1


def test_bad_database_url_is_a_clear_error() -> None:
    with pytest.raises(StoreError, match="invalid database URL"):
        Store.open("not a url")


def test_a_disabled_subscription_stays_disabled_when_config_resyncs(any_store: Store) -> None:
    args = dict(
        platform="discord", channel="https://d/hook", topics=[], cron="0 8 * * *", timezone="UTC"
    )
    any_store.subscriptions.upsert("d", origin="config", now=NOW, **args)
    any_store.subscriptions.disable("d", "webhook deleted (404)")
    assert not any_store.subscriptions.upsert("d", origin="config", now=NOW, **args).enabled
    moved = any_store.subscriptions.upsert(
        "d", origin="config", now=NOW, **{**args, "channel": "https://d/new"}
    )
    assert moved.enabled and moved.disabled_reason is None
    any_store.subscriptions.disable("d", "gone")
    assert any_store.subscriptions.upsert(
        "d", origin="chat", now=NOW, **{**args, "channel": "https://d/new"}
    ).enabled


def _schema_diff(store: Store) -> list[object]:
    """How the migrated schema differs from the declared one."""
    import warnings

    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from digests.store.schema import metadata

    with store.engine.connect() as conn, warnings.catch_warnings():
        # SQLite cannot reflect expression indexes; alembic warns and skips them.
        warnings.simplefilter("ignore")
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    # The full-text index lives outside the declared tables (FTS5 table / tsvector column).
    return [d for d in diff if "fts" not in str(d) and "search" not in str(d)]


def test_migrations_build_exactly_the_declared_schema(any_store: Store) -> None:
    assert _schema_diff(any_store) == []


def _alembic(store: Store, action: str, revision: str) -> None:
    """Move the store's schema to ``revision`` (``action``: upgrade or downgrade)."""
    import warnings

    from alembic import command
    from alembic.config import Config

    from digests.store._engine import _MIGRATIONS

    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    with store.engine.begin() as conn, warnings.catch_warnings():
        # SQLite's batch mode reflects the tables a rebuilt one refers to, and cannot reflect
        # their expression indexes (ix_articles_dated): alembic warns and leaves them be.
        warnings.filterwarnings("ignore", "Skipped unsupported reflection of expression-based")
        cfg.attributes["connection"] = conn
        getattr(command, action)(cfg, revision)


def test_the_store_reads_the_newest_migration_as_alembic_does_and_upgrades_an_older_schema(
    any_store: Store,
) -> None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from digests.store._engine import _MIGRATIONS, _head, _revision

    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    script = ScriptDirectory.from_config(cfg)
    # Each migration's revision is its file name's number, so the names say the head.
    for rev in script.walk_revisions():
        assert rev.path is not None and Path(rev.path).name.startswith(f"{rev.revision}_")
    assert _head() == script.get_current_head()
    with any_store.engine.connect() as conn:
        assert _revision(conn) == _head()
    _alembic(any_store, "downgrade", "0016")
    with any_store.engine.connect() as conn:
        assert _revision(conn) == "0016"
    any_store.migrate()  # not current: upgraded (Alembic imported for it)
    with any_store.engine.connect() as conn:
        assert _revision(conn) == _head()
    assert _schema_diff(any_store) == []


@pytest.mark.parametrize(
    ("recorded", "same_as"),
    [("0009_sec", "0009"), ("0009_topics", "0010"), ("0009_longrun", "0011")],
)
def test_a_store_made_before_the_0009_renumbering_upgrades(
    any_store: Store, recorded: str, same_as: str
) -> None:
    """Main carried 0009_sec, then 0009_topics and 0009_longrun (011e3a0 .. 2d6f4e2) before
    they became 0009, 0010 and 0011 unchanged: a store of those days upgrades in place."""
    from sqlalchemy import text

    from digests.store._engine import _head, _revision

    article = any_store.articles.add(make_processed("Kept", "Kept across the upgrade."), now=NOW)
    _alembic(any_store, "downgrade", same_as)
    with any_store.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": recorded})
    any_store.migrate()
    with any_store.engine.connect() as conn:
        assert _revision(conn) == _head()
    assert _schema_diff(any_store) == []
    assert [a.id for a in any_store.articles.since(0)] == [article]


def test_a_store_of_an_unknown_schema_revision_is_one_clear_error(any_store: Store) -> None:
    """A database a newer (or unreleased) digestbot migrated: said, not Alembic's words."""
    from sqlalchemy import text

    with any_store.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0099'"))
    with pytest.raises(StoreError) as caught:
        any_store.migrate()
    message = str(caught.value)
    assert "0099" in message and "newer version of digestbot" in message
    assert "\n" not in message


def test_0015_keeps_the_copies_recorded_before_it_under_their_articles_source(
    any_store: Store,
) -> None:
    from sqlalchemy import insert, inspect, select

    from digests.store.articles import ChunkItem
    from digests.store.export import articles_rows, stories_rows
    from digests.store.schema import documents

    def columns() -> set[str]:
        return {c["name"] for c in inspect(any_store.engine).get_columns("documents")}

    _alembic(any_store, "downgrade", "0014")
    assert "source" not in columns()
    # A store as 0014 left it: an article and a copy of its text found at another place.
    body = "Dock workers ended a week-long strike at the harbour. The union agreed to a deal."
    article = any_store.articles.add(make_processed("Strike ends", body, source="Reuters"), now=NOW)
    row = {"content_hash": "h", "article_id": article, "seen_at": NOW}
    with any_store.engine.begin() as conn:  # only the columns 0014 has
        conn.execute(insert(documents), [{**row, "locator": "a", "status": "added"}])
        conn.execute(insert(documents), [{**row, "locator": "b", "status": "duplicate"}])
    _alembic(any_store, "upgrade", "head")
    assert "source" in columns()
    # The old copy's source is unknown; a copy ingested now keeps its own.
    copy = make_processed("Strike ends", body, source="AP")
    assert any_store.articles.add_chunk([ChunkItem("c", "h2", copy)], now=NOW) == [None]
    d = documents.c
    with any_store.engine.connect() as conn:
        kept = {r.locator: r.source for r in conn.execute(select(d.locator, d.source))}
    assert kept == {"a": None, "b": None, "c": "AP"}
    assert _schema_diff(any_store) == []  # down and up again: the declared schema
    # The digest's sources: the new copy's (the old one names none of its own).
    assert any_store.articles.get([article])[0].copy_sources == ("AP",)
    # The exports: the old copy under its article's source, the new one under its own.
    lines = [(r["locator"], r["source"]) for r in articles_rows(any_store.engine)]
    assert lines[1:] == [("b", "Reuters"), ("c", "AP")] and lines[0][1] == "Reuters"
    [story] = stories_rows(any_store.engine)
    assert (story["articles"], story["sources"]) == (3, ["Reuters", "AP"])


def test_0019_makes_a_file_that_was_a_copy_of_itself_its_articles_own_again(
    any_store: Store,
) -> None:
    """Two ingesters stored the same new file at once: the second's row said "duplicate" of
    the article the first made from it (same locator). 0019 repairs such rows, and only them."""
    from dataclasses import replace

    from sqlalchemy import update

    from digests.store.articles import ChunkItem
    from digests.store.export import articles_rows
    from digests.store.schema import documents

    def at(locator: str, body: str) -> ChunkItem:
        made = make_processed("Strike ends", body)
        return ChunkItem(
            locator, "h", replace(made, article=replace(made.article, locator=locator))
        )

    body = "Dock workers ended a week-long strike at the harbour. The union agreed to a deal."
    any_store.articles.add_chunk([at("a.json", body), at("b.json", body)], now=NOW)
    _alembic(any_store, "downgrade", "0017")
    with any_store.engine.begin() as conn:  # as the race left it before 0019
        conn.execute(
            update(documents).where(documents.c.locator == "a.json").values(status="duplicate")
        )
    assert [r["locator"] for r in articles_rows(any_store.engine)] == ["a.json"] * 2 + ["b.json"]
    any_store.migrate()
    states = any_store.articles.documents(["a.json", "b.json"])
    assert {k: v.status for k, v in states.items()} == {"a.json": "added", "b.json": "duplicate"}
    assert [r["locator"] for r in articles_rows(any_store.engine)] == ["a.json", "b.json"]


def test_a_subscriptions_workspace_is_kept_unless_the_config_sync_clears_it(
    any_store: Store,
) -> None:
    args = dict(platform="slack", channel="C1", topics=[], cron="0 8 * * *", timezone="UTC")
    any_store.subscriptions.upsert("s", origin="config", now=NOW, team_id="T1", **args)
    assert any_store.subscriptions.upsert("s", origin="chat", now=NOW, **args).team_id == "T1"
    cleared = any_store.subscriptions.upsert("s", origin="config", now=NOW, clear_team=True, **args)
    assert cleared.team_id is None


def test_one_article_time_in_python_and_in_sql(any_store: Store) -> None:
    """Published, else stored: StoredArticle.dated and the store's --since filter agree."""
    old = NOW - timedelta(days=30)
    dated = any_store.articles.add(make_processed("Dated", "Old news.", published=old), now=NOW)
    undated = any_store.articles.add(make_processed("Undated", "Stored news."), now=NOW)
    by_id = {a.id: a for a in any_store.articles.get([dated, undated])}
    assert by_id[dated].dated == old and by_id[undated].dated == NOW
    for after in (old - timedelta(days=1), old + timedelta(days=1), NOW + timedelta(days=1)):
        expected = {i for i, a in by_id.items() if a.dated >= after}
        assert {a.id for a in any_store.articles.since(0, after=after)} == expected, after


def test_replays_are_recognised_across_store_objects_for_their_lifetime(tmp_path) -> None:
    from datetime import timedelta

    from digests.store import Store

    url = f"sqlite:///{tmp_path / 'r.db'}"
    one, two = Store.open(url), Store.open(url)  # two replicas on one database
    t0 = NOW
    assert one.replays.first_time("discord:1", now=t0)
    assert not two.replays.first_time("discord:1", now=t0 + timedelta(minutes=14))
    assert two.replays.first_time("discord:2", now=t0)
    # After its lifetime an id is forgotten (deleted as new ones arrive).
    assert one.replays.first_time("discord:3", now=t0 + timedelta(minutes=16))
    assert two.replays.first_time("discord:1", now=t0 + timedelta(minutes=16))
    one.close()
    two.close()


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://bob:hunter2@127.0.0.1:notaport/db",
        "nosuchdialect://bob:hunter2@127.0.0.1/db",
        "postgresql+nodriver://bob:hunter2@127.0.0.1/db",
        "bob:hunter2@127.0.0.1/db",
    ],
)
def test_a_malformed_database_url_is_one_error_without_its_password(url: str) -> None:
    from digests.errors import StoreError
    from digests.store import Store

    with pytest.raises(StoreError) as caught:
        Store.open(url)
    assert "hunter2" not in str(caught.value) and "database" in str(caught.value)
    assert caught.value.__cause__ is None or "hunter2" not in str(caught.value.__cause__)


def test_0021_keeps_each_reader_s_word_once_and_chains_the_changes_of_mind(
    any_store: Store,
) -> None:
    """Corrections stored twice before 0021 (two replicas, one click) are stored once after,
    a change of mind ("not", "more", "not") kept; then a click is unique in the database."""
    from sqlalchemy import text

    article = any_store.articles.add(make_processed("Kept", "Kept across the upgrade."), now=NOW)
    _alembic(any_store, "downgrade", "0020")
    row = ("INSERT INTO topic_feedback (article_id, topic, kind, user_id, workspace, platform, "
           "created_at) VALUES (:a, 'sport', :k, :u, 'T1', 'slack', :t)")  # fmt: skip
    with any_store.engine.begin() as conn:
        for kind, user in [("not", "U1"), ("not", "U1"), ("not", "U2"), ("more", "U1"),
                           ("not", "U1"), ("not", "U1")]:  # fmt: skip
            conn.execute(text(row), {"a": article, "k": kind, "u": user, "t": NOW})
    any_store.migrate()
    assert _schema_diff(any_store) == []
    said = [(f.user_id, f.kind) for f in reversed(any_store.topics.feedback())]
    assert said == [("U1", "not"), ("U2", "not"), ("U1", "more"), ("U1", "not")]
    assert article is not None
    _, stored = any_store.topics.add_story_feedback(
        article, "sport", "not", user_id="U1", workspace="T1", platform="slack", now=NOW
    )
    assert not stored
    _, stored = any_store.topics.add_story_feedback(
        article, "sport", "more", user_id="U1", workspace="T1", platform="slack", now=NOW
    )
    assert stored

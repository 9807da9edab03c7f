"""Statements run on the driver (digests/store/_prepared.py) write what Core writes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from sqlalchemy import bindparam, insert, select, update

from digests.store import Store
from digests.store._prepared import Prepared, read_datetime
from digests.store.schema import as_utc, stories


def test_rows_written_on_the_driver_read_back_through_core_as_written(any_store: Store) -> None:
    when = datetime(2026, 12, 6, 9, 30, 15, 250_000, tzinfo=UTC)
    values = {
        "headline": "Strait talks",
        "first_seen": when,
        "last_seen": when + timedelta(days=2),
        "article_count": 2,
        "profile": {"strait": 0.8, "talk": 0.6},
        "created_at": when,
    }
    start = Prepared(
        insert(stories).values({k: bindparam(k) for k in values}).returning(stories.c.id)
    )
    save = Prepared(
        update(stories)
        .where(stories.c.id == bindparam("b_id"))
        .values(article_count=bindparam("article_count"))
    )
    with any_store.engine.begin() as conn:
        prepared_id = start.execute(conn, values).scalar()
        core_id = conn.execute(insert(stories).values(values).returning(stories.c.id)).scalar()
        save.execute(conn, [{"b_id": prepared_id, "article_count": 3}])
    with any_store.engine.connect() as conn:
        rows = {
            r.id: r
            for r in conn.execute(select(stories).where(stories.c.id.in_([prepared_id, core_id])))
        }
        raw = conn.execute(
            select(stories.c.last_seen).where(stories.c.id.in_([prepared_id, core_id]))
        ).all()
    mine, theirs = rows[prepared_id], rows[core_id]
    assert mine.article_count == 3
    for column in ("headline", "profile", "first_seen", "last_seen", "created_at"):
        assert getattr(mine, column) == getattr(theirs, column), column
    assert as_utc(mine.last_seen) == when + timedelta(days=2)
    assert raw[0] == raw[1]


def test_times_shared_by_the_rows_of_one_call_are_converted_per_offset(any_store: Store) -> None:
    """One instant at two UTC offsets: each row is written as Core writes it (on SQLite, two
    different texts), though the rows of one call share their converted times."""
    utc = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
    plus_one = utc.astimezone(timezone(timedelta(hours=1)))
    columns = ("headline", "first_seen", "last_seen", "article_count", "profile", "created_at")
    start = Prepared(insert(stories).values({k: bindparam(k) for k in columns}))

    def row(name: str, first: datetime) -> dict[str, object]:
        times = {"first_seen": first, "last_seen": utc, "created_at": utc}
        return {"headline": name, "article_count": 1, "profile": {}, **times}

    with any_store.engine.begin() as conn:
        start.execute(conn, [row("driver utc", utc), row("driver +1", plus_one)])
        conn.execute(insert(stories), [row("core utc", utc), row("core +1", plus_one)])
    with any_store.engine.connect() as conn:
        raw = dict(conn.execute(select(stories.c.headline, stories.c.first_seen)).all())
    assert raw["driver utc"] == raw["core utc"]
    assert raw["driver +1"] == raw["core +1"]
    assert read_datetime("2026-12-06 12:00:00.000000") == datetime(2026, 12, 6, 12, 0)

"""The store: articles, tags, sentences, subscriptions, runs and the outbox, in SQL.

SQLite (WAL) in the data dir by default, PostgreSQL by URL. ``Store.open`` migrates the schema
to the latest Alembic revision. Each concern has its own small repository object:

    store.articles       add / fetch / search articles, tag counts, document hashes
    store.subscriptions  who gets which digest where and when, and each one's watermark
    store.runs           digest run claims, take-overs and commits (exactly-once)
    store.outbox         rendered messages waiting to be delivered
    store.sources        per-source fetch state and health
    store.replays        ids of requests already run (a replayed interaction runs nothing)
"""

from __future__ import annotations

from digests.store._engine import Store
from digests.store._faults import unavailable

__all__ = ["Store", "unavailable"]

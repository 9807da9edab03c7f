"""Alembic migrations for the store (run by digests.store.Store.open, or `alembic` by hand)."""

"""serve's start-up work on the store is bounded, whatever the store's size.

It ran ``PRAGMA quick_check`` over the whole SQLite file (16 s cold on a 955 MB one) and the
full sealing pass (every token, channel and outbox row) at every start. Now a file over
``START_CHECK_BYTES`` is not read whole (a log line names ``status --check``) and the
sealing is the commands' own (``Store.seal_pending``: one row once a pass ran with the keys).
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from bot.serve import START_CHECK_BYTES, ready_store
from digests.errors import StoreError
from digests.store import Store
from testkit.sqlcount import sqlite_steps
from tests.conftest import write_damaged_sqlite
from tests.digests.test_sealing_cost import _store


def test_start_on_a_sealed_store_reads_the_same_whatever_its_size(tmp_path: Path) -> None:
    costs = {}
    for n in (200, 2000):
        store = _store(tmp_path / f"{n}.db", n)
        try:
            store.seal_pending()  # an earlier command (or start) with the key ran the pass
            # Files over the budget: their pages are not read (quick_check is one VM step).
            costs[n] = sqlite_steps(store.engine, lambda s=store: ready_store(s, check_bytes=4096))
        finally:
            store.close()
    assert costs[200] == costs[2000] < 50, costs


def _damaged(path: Path) -> Store:
    write_damaged_sqlite(path)
    return Store.open(f"sqlite:///{path}")


def test_a_file_over_the_budget_is_not_read_whole_at_start_and_the_log_says_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = _damaged(tmp_path / "big.db")
    try:
        size = store.file_size()
        assert size is not None and 512 * 1024 < size < START_CHECK_BYTES
        with caplog.at_level(logging.INFO, logger="bot.serve"):
            ready_store(store, check_bytes=512 * 1024)  # over it: not read whole, no error
        [line] = [r.getMessage() for r in caplog.records if "not read whole" in r.getMessage()]
        assert "digestbot status --check" in line
        # Within the budget (the default; this file is ~1 MB) it is read whole and refused.
        with pytest.raises(StoreError, match="damaged"):
            ready_store(store)
    finally:
        store.close()

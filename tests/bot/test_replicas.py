"""Two `digestbot serve` replicas share the polling of loopback feeds through one PostgreSQL.

The scaled-down acceptance test of issue 14 (the full one, 300 feeds for 150 s, is
``benchmarks/replicas.py``): one replica is SIGKILLed half-way; the feeds are still fetched
about once per interval in total, all of them again after the kill, and every story is
stored exactly once.
"""

from __future__ import annotations

import pytest

from digests.store import Store
from testkit.feedsim import replica_experiment


@pytest.mark.postgres
def test_two_replicas_share_polling_and_survive_a_kill(pg_store: Store) -> None:
    url = pg_store.engine.url.render_as_string(hide_password=False)
    run = replica_experiment(
        url,
        feeds=40,
        seconds=28,
        interval=6,
        kill_at=13,
        poll={"tick_seconds": 0.5, "lease_seconds": 4, "workers": 4, "jitter": 0.1},
        change_every=8,
        settle=5,
        timeout=3,
    )
    summary = "\n".join(run.lines())
    # Once per interval per feed in total (two replicas each polling would be ~2).
    assert run.max_per_interval <= 1.5, summary
    assert run.mean_per_interval >= 0.6, summary  # and the polling really happened
    assert run.fetched_after_kill == run.feeds, summary
    assert run.duplicates == 0 and run.stored_once == run.checked > 40, summary
    assert run.not_modified > 0, summary  # unchanged feeds answered 304

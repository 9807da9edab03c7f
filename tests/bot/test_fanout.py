"""Many digests due at once, two `digestbot serve` replicas on PostgreSQL, one killed.

The scaled-down run of ``benchmarks/fanout.py`` (1,000 subscriptions over 200 channels):
60 subscriptions over 10 channels, due at the same second, delivered by two real serve
processes against the Slack stand-in, which takes one post per second per channel (429 +
Retry-After sooner). The first replica is SIGKILLed 3 s after the due instant, mid-fan-out
(runs claimed and not queued, rows claimed and not sent: the survivor takes them over after
the 4 s lease). Read from the channels: every message exactly once, in queue order per
channel, and never a 429.
"""

from __future__ import annotations

import pytest

from digests.store import Store
from testkit.fanout import fanout_experiment

FAST = {  # delivery timings scaled down (production: 20 s, 45 s lease, 5 s sweep, 15 s)
    "DIGESTBOT_SEND_TIMEOUT": "2",
    "DIGESTBOT_OUTBOX_LEASE": "4",
    "DIGESTBOT_OUTBOX_SWEEP": "0.5",
    "DIGESTBOT_RETRY_BASE": "0.5",
}


@pytest.mark.postgres
def test_two_replicas_deliver_every_digest_once_in_order_despite_a_kill(pg_store: Store) -> None:
    url = pg_store.engine.url.render_as_string(hide_password=False)
    run = fanout_experiment(
        url, subscriptions=60, channels=10, articles=8, replicas=2, lead=15, timeout=90,
        kill_at=3, env=FAST,
    )  # fmt: skip
    summary = "\n".join(run.lines())
    assert run.killed, summary
    assert run.runs == {"queued": 60}, summary  # every digest queued, none left claimed
    assert run.exactly_once and run.expected == 120, summary  # headline + 1 reply each
    assert run.order_breaks == [] and run.part_breaks == 0, summary
    # Paced from each answer, across replicas: the stand-in never had to refuse a post.
    assert run.limited == 0, summary

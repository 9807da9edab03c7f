"""The topic fit's lock across processes (digests/store/locks.py): a lease row in the database,
held by a heartbeat, not a connection's session. A holder whose connection the server ends
(pg_terminate_backend, an idle timeout, a pooler handing its server connection to another
client) still holds it; a holder killed outright holds it until it runs out; then, and only
then, the next fit runs. Real SQLite and PostgreSQL, real processes."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text

from digests import encode
from digests.errors import LeaseLost
from digests.refit import FIT_LOCK, _refit, load_model, refresh
from digests.store import Store
from digests.store.locks import LEASE, Lease
from digests.store.schema import article_tags, as_utc, leases
from tests.conftest import NOW
from tests.digests.test_refit import TOPICS, _fill
from tests.digests.topic_corpus import corpus

ROOT = Path(__file__).resolve().parents[2]


def _another(store: Store, name: str) -> Store:
    """A second process's store on the same database; on PostgreSQL its connections carry
    ``name`` (application_name), so a test can end them as the server would."""
    url = store.engine.url
    if url.get_backend_name() == "postgresql":
        url = url.update_query_dict({"application_name": name})
    return Store.open(url.render_as_string(hide_password=False), migrate=False)


def _terminate(store: Store, name: str) -> int:
    """End, as an operator or an idle timeout would, every server connection named ``name``."""
    with store.engine.connect() as conn:
        ended = conn.exec_driver_sql(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
            (name,),
        ).all()
    return len(ended)


def _expires(store: Store) -> datetime:
    with store.engine.connect() as conn:
        value = conn.scalar(select(leases.c.expires_at).where(leases.c.name == FIT_LOCK))
    expires = as_utc(value)
    assert expires is not None
    return expires


class _Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def test_one_taker_of_many_at_once_holds_it(any_store: Store) -> None:
    """Eight processes (a Store each) ask for the lease at the same moment: one gets it."""
    others = [_another(any_store, f"taker{i}") for i in range(8)]
    together = threading.Barrier(len(others))
    held: list[bool] = []

    def take(store: Store) -> None:
        together.wait()
        with store.exclusive(FIT_LOCK, clock=lambda: NOW) as lease:
            held.append(lease is not None)
            together.wait()  # every other taker has asked while this one holds (or not)

    try:
        threads = [threading.Thread(target=take, args=(s,)) for s in others]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    finally:
        for s in others:
            s.close()
    assert sorted(held) == [False] * 7 + [True]


def test_a_lease_is_free_once_expired_unless_renewed(any_store: Store) -> None:
    """The holder renews it (what its heartbeat does): another taker is refused until the
    renewed expiry, and gets it at that instant; the first holder then has lost it, renews
    nothing and can write nothing under it (the fence). Released, it is free at once. (The
    lease row alone: the first holder takes it by Lease.take, not `exclusive`, which also
    takes the lock of the release before the lease, kept by a live holder until it lets go:
    test_a_replica_of_the_release_before_the_lease_row_holds_the_fit_off.)"""
    holder = _another(any_store, "holder")
    clock = _Clock(NOW)
    try:
        first = Lease.take(holder.engine, FIT_LOCK, clock=clock)
        try:
            assert first is not None
            assert _expires(any_store) == NOW + LEASE
            with any_store.exclusive(FIT_LOCK, clock=lambda: NOW + LEASE / 2) as lease:
                assert lease is None
            clock.now = NOW + LEASE * 3 / 4
            assert first.renew()  # a heartbeat: runs out one LEASE from now
            renewed = NOW + LEASE * 7 / 4
            assert _expires(any_store) == renewed
            with any_store.exclusive(FIT_LOCK, clock=lambda: renewed - timedelta(0, 1)) as lease:
                assert lease is None  # past the first expiry: renewed, still held
            with any_store.exclusive(FIT_LOCK, clock=lambda: renewed) as second:
                assert second is not None  # the holder stopped beating: taken over
                clock.now = renewed
                assert not first.renew()
                with pytest.raises(LeaseLost), any_store.engine.begin() as conn:
                    first.fence(conn)
                with any_store.engine.begin() as conn:
                    second.fence(conn)  # the new holder's writes go through
        finally:
            if first is not None:
                first.release()
        # Released by the new holder (the old one's release leaves its lease alone).
        with any_store.exclusive(FIT_LOCK, clock=lambda: NOW) as third:
            assert third is not None
    finally:
        holder.close()


@pytest.mark.postgres
def test_the_heartbeat_renews_the_lease_over_a_connection_the_server_ended(
    pg_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While the block runs, the holder's heartbeat renews the lease by its clock, on a new
    connection once PostgreSQL has ended its old ones."""
    from digests.store import locks

    monkeypatch.setattr(locks, "BEAT", 0.05)
    holder = _another(pg_store, "beating")
    clock = _Clock(NOW)
    try:
        with holder.exclusive(FIT_LOCK, clock=clock) as lease:
            assert lease is not None
            holder.articles.count()  # a pooled connection, which the server ends
            assert _terminate(pg_store, "beating") >= 1
            clock.now = NOW + timedelta(minutes=1)
            waited = time.monotonic()  # for the next beat (a wait for an event, not a timing)
            while _expires(pg_store) != clock.now + LEASE and time.monotonic() - waited < 30:
                time.sleep(0.05)
            assert _expires(pg_store) == clock.now + LEASE
            lease.check()  # not lost
    finally:
        holder.close()


def _blocking_encoder(
    monkeypatch: pytest.MonkeyPatch, holder: threading.Thread, fitting: threading.Event
) -> threading.Event:
    """Encoder.encode blocks in ``holder``'s thread (mid-fit) until the event returned is set."""
    go_on = threading.Event()
    real = encode.Encoder.encode

    def encode_(self: encode.Encoder, texts: Sequence[str]) -> Any:
        if threading.current_thread() is holder:
            fitting.set()
            assert go_on.wait(120)
        return real(self, texts)

    monkeypatch.setattr(encode.Encoder, "encode", encode_)
    return go_on


@pytest.mark.postgres
def test_the_fitting_process_keeps_the_fit_when_the_server_ends_its_connections(
    pg_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A process is fitting when PostgreSQL ends its connections (pg_terminate_backend, as an
    idle_session_timeout or a restarted pooler does): a session advisory lock went with
    them, and a second process fitted beside it. The lease stays: the second process goes on
    without fitting until the lease runs out unrenewed; then it fits, and the first, coming
    back, finds its lease taken and writes nothing."""
    _fill(pg_store, corpus(30))
    first = _another(pg_store, "fit-holder")
    outcome: list[object] = []

    def fit() -> None:
        try:
            outcome.append(refresh(first, TOPICS, now=NOW))
        except Exception as exc:
            outcome.append(exc)

    fitting = threading.Event()
    holder = threading.Thread(target=fit)
    go_on = _blocking_encoder(monkeypatch, holder, fitting)
    holder.start()
    try:
        assert fitting.wait(120), outcome
        assert _terminate(pg_store, "fit-holder") >= 1
        report = refresh(pg_store, TOPICS, now=NOW + timedelta(seconds=30))
        assert report.busy and not report.fitted
        assert load_model(pg_store) is None
        # Never renewed again (the holder is stuck): once its lease has run out, the next
        # refresh fits. (A heartbeat of the holder meanwhile moves it on by seconds.)
        later = NOW + LEASE + timedelta(minutes=10)
        assert _expires(pg_store) < later
        report = refresh(pg_store, TOPICS, now=later)
        assert report.fitted and not report.busy
    finally:
        go_on.set()
        holder.join(120)
        first.close()
    [lost] = outcome
    assert isinstance(lost, LeaseLost), lost
    stored = pg_store.topics.latest_model()
    assert stored is not None and stored.fitted_at == later  # the second fit's, alone


_HOLDER = """
import sys, time
from datetime import datetime
from digests import encode
from digests.refit import refresh
from digests.store import Store
from tests.digests.test_refit import TOPICS

def stuck(self, texts):
    print("fitting", flush=True)
    time.sleep(600)

encode.Encoder.encode = stuck
refresh(Store.open(sys.argv[1], migrate=False), TOPICS, now=datetime.fromisoformat(sys.argv[2]))
"""


def test_a_killed_fitting_process_holds_the_fit_until_its_lease_runs_out(
    any_store: Store,
) -> None:
    """`kill -9` of a process mid-fit: its lock is not handed on at once (a flock or a session
    lock was, and the next fit ran while nothing said the first was dead rather than slow),
    nor kept forever: the next refresh fits from the instant the lease runs out."""
    _fill(any_store, corpus(30))
    url = any_store.engine.url.render_as_string(hide_password=False)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with subprocess.Popen(
        [sys.executable, "-c", _HOLDER, url, NOW.isoformat()],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
        start_new_session=True,
    ) as proc:
        try:
            assert proc.stdout is not None
            assert proc.stdout.readline().strip() == "fitting"
        finally:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(30)
    report = refresh(any_store, TOPICS, now=NOW + timedelta(seconds=30))
    assert report.busy and not report.fitted
    expires = _expires(any_store)  # the dead holder's, never renewed again
    assert NOW + LEASE <= expires < NOW + LEASE + timedelta(minutes=5)
    assert refresh(any_store, TOPICS, now=expires - timedelta(seconds=1)).busy
    report = refresh(any_store, TOPICS, now=expires)
    assert report.fitted and not report.busy and load_model(any_store) is not None


def _learned_tags(store: Store) -> set[tuple[int, str]]:
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(article_tags.c.article_id, article_tags.c.tag).where(
                article_tags.c.tag.in_([t.name for t in TOPICS])
            )
        )
        return {(int(a), str(t)) for a, t in rows}


def test_a_fit_whose_lease_is_lost_during_the_re_tag_keeps_nothing_and_the_next_one_runs(
    any_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The lease runs out while the fit re-tags (a stalled process; the clock passed in moved
    past the expiry) and another process takes it: the stalled fit writes no re-tag chunk
    (each is fenced) and keeps no model (saved last, behind the same fence), so the fit is
    still due and the next holder fits and re-tags everything. Before, the model was saved
    first: the next refresh found no fit due, and the re-tag was left half done."""
    stored_ids = _fill(any_store, corpus(30))
    before = _learned_tags(any_store)
    clock = _Clock(NOW)
    other = _another(any_store, "next-holder")
    real = any_store.topics.declared
    taken: list[Lease | None] = []

    def declared(ids: Sequence[int]) -> dict[int, dict[str, str]]:
        if not taken:  # the first re-tag chunk: the lease runs out, another process takes it
            clock.now = NOW + LEASE * 2
            taken.append(Lease.take(other.engine, FIT_LOCK, clock=lambda: clock.now))
            assert taken[0] is not None
        return real(ids)

    monkeypatch.setattr(any_store.topics, "declared", declared)
    try:
        with any_store.exclusive(FIT_LOCK, clock=clock) as lease:
            assert lease is not None
            with pytest.raises(LeaseLost):
                _refit(any_store, TOPICS, now=NOW, added=[], lease=lease)
        assert taken, "the re-tag never ran"
        assert load_model(any_store) is None  # nothing kept: the fit is still due
        assert _learned_tags(any_store) == before  # no chunk written after the lease was lost
        assert taken[0] is not None
        taken[0].release()
    finally:
        other.close()
    monkeypatch.undo()
    later = NOW + LEASE * 3
    report = refresh(any_store, TOPICS, now=later)
    assert report.fitted and report.tagged == len(stored_ids)  # all undelivered
    stored = any_store.topics.latest_model()
    assert stored is not None and stored.id == 1 and as_utc(stored.fitted_at) == later
    assert _learned_tags(any_store) != before


@contextlib.contextmanager
def _old_release_lock(store: Store) -> Iterator[bool]:
    """The lock a replica of the release before the lease row (578cde7^,
    digests/store/locks.py) took to fit: PostgreSQL's session advisory lock keyed by the
    name, on a connection of its own (another process's here), or a flock on the file beside
    SQLite's; whether it got it."""
    if store.engine.dialect.name == "postgresql":
        old = _another(store, "old-replica")
        key = int.from_bytes(hashlib.sha256(FIT_LOCK.encode()).digest()[:8], "big", signed=True)
        try:
            with old.engine.connect() as conn:
                held = bool(conn.scalar(text("SELECT pg_try_advisory_lock(:key)"), {"key": key}))
                conn.commit()
                yield held
                if held:
                    conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
                    conn.commit()
        finally:
            old.close()
        return
    with open(f"{store.engine.url.database}.{FIT_LOCK}.lock", "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
        fcntl.flock(handle, fcntl.LOCK_UN)


def test_a_replica_of_the_release_before_the_lease_row_holds_the_fit_off(
    any_store: Store,
) -> None:
    """A rolling upgrade: a replica still on the release before migration 0026 fits under the
    old lock and knows no lease row, so a new one took the lease and fitted beside it. The new
    one takes the old lock too while it holds the lease: busy while an old one fits, its lease
    handed back; and the other way, an old replica finds the lock taken while a new one fits."""
    _fill(any_store, corpus(30))
    with _old_release_lock(any_store) as held:
        assert held
        report = refresh(any_store, TOPICS, now=NOW)
        assert report.busy and not report.fitted and load_model(any_store) is None
        with any_store.engine.connect() as conn:  # the lease handed back at once
            assert conn.scalar(select(leases.c.holder).where(leases.c.name == FIT_LOCK)) is None
    with (
        any_store.exclusive(FIT_LOCK, clock=_Clock(NOW)) as lease,
        _old_release_lock(any_store) as held,
    ):
        assert lease is not None and not held
    report = refresh(any_store, TOPICS, now=NOW)
    assert report.fitted and not report.busy and load_model(any_store) is not None

"""The `/brief` pool: teams served round-robin, requests admitted by their expected wait.

Slack wants an ack within 3 s and the answer "within a second or two" (README). A brief is
CPU and database work (threads help while a brief waits on the database), so answers to a
burst queue up. Unbounded, that queue made answers arrive minutes late (issue #16: p99 100 s
at 100 in flight); a fixed count (6 running + 14 waiting) told 80 of 100 simultaneous
requests "busy" although most could have been answered in time, and let one team's burst of
60 make another team's single `/brief` "busy" (issues 24, 25).

So here:

* **Round-robin by team.** Each team (Slack workspace, Discord server) has its own FIFO; a
  free worker takes the next job of the next team in turn. One team's burst waits behind
  itself: another team's request runs after at most one job of each team ahead of it.
* **Admission by expected wait.** A request is admitted when its answer is expected within
  ``max_wait`` seconds: under round-robin, the jobs that run before it are, per team, at
  most as many as its own team has waiting plus one; times the mean job time (a moving
  average of jobs done), over the workers. A burst is admitted as far as it can be answered
  in time; beyond that the ack says at once that the bot is busy. ``waiting`` caps the
  jobs held at all (memory), whatever the estimate.
* **Corrected by what happened.** Threads share one interpreter (the event loop that acks
  and answers competes with them) and the machine other work, so the model is optimistic
  under load: each job's real wait — admitted → the request's coroutine resumed with the
  result — over the wait predicted at admission is a moving ratio that scales later
  predictions. Time a request already spent before its ack (``waited``) counts too.

Admission happens in the ack (:meth:`WorkPool.admit`, keyed by the request), the work in the
lazy listener (:meth:`WorkPool.run` with the same key), so the ack can say "busy" right away.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

T = TypeVar("T")

BUSY = ":hourglass: Busy answering other requests — try again shortly."
# Seconds from admission to the answer that admission aims for; the ack, the lazy listener
# and the answer's POST add a little, and Slack's users expect it within a few seconds.
DEFAULT_MAX_WAIT = 2.5
_FIRST_GUESS = 0.5  # seconds per job before any has been timed
_SMOOTHING = 0.2  # weight of the newest job time in the moving average


@dataclass
class _Team:
    admitted: set[str] = field(default_factory=set)  # holding a place, not yet running
    queue: deque[tuple[str, Callable[[], Any], Future[Any]]] = field(default_factory=deque)


class WorkPool:
    """At most ``workers`` jobs at once, teams in turn; a request is refused when its answer
    would come later than ``max_wait`` seconds, or when ``waiting`` jobs already wait."""

    def __init__(
        self,
        workers: int = 6,
        waiting: int = 200,
        *,
        max_wait: float = DEFAULT_MAX_WAIT,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.workers, self.waiting, self.max_wait = workers, waiting, max_wait
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="brief")
        self._clock = clock
        self._lock = threading.Lock()
        self._teams: dict[str, _Team] = {}
        self._turns: deque[str] = deque()  # teams with queued jobs, in serving order
        self._team_of: dict[str, str] = {}  # admitted key → team
        self._running = 0
        self.job_seconds = _FIRST_GUESS  # moving average of a job's time
        self.slowdown = 1.0  # moving ratio of real to predicted waits (≥ 1: never trust less)
        self._promised: dict[str, tuple[float, float]] = {}  # key → (admitted at, predicted)
        self.refused = 0  # requests told "busy" since start (for logs and metrics)

    def expected_wait(self, team: str = "") -> float:
        """Seconds until a new request of ``team`` would be answered, by the current load."""
        with self._lock:
            return self._expected_wait(team)

    def _expected_wait(self, team: str) -> float:
        own = len(self._teams[team].admitted) if team in self._teams else 0
        ahead = sum(
            min(len(t.admitted), own + 1) for name, t in self._teams.items() if name != team
        )
        jobs = ahead + own + 1  # this request's own job included
        busy = self.job_seconds / 2 if self._running >= self.workers else 0.0
        return self.slowdown * (busy + self.job_seconds * jobs / self.workers)

    def admit(self, key: str, team: str | None = None, *, waited: float = 0.0) -> bool:
        """Reserve a place for the job ``key`` of ``team``; False: answer "busy" now.

        ``waited``: seconds the request already spent before it got here (under load its
        ack is late too); its answer must still come within ``max_wait`` of its arrival.
        """
        team = team or ""
        with self._lock:
            if key in self._team_of:
                return True
            held = sum(len(t.admitted) for t in self._teams.values())
            expected = self._expected_wait(team)
            if held >= self.waiting + max(0, self.workers - self._running) or (
                max(0.0, waited) + expected > self.max_wait
            ):
                self.refused += 1
                return False
            self._teams.setdefault(team, _Team()).admitted.add(key)
            self._team_of[key] = team
            self._promised[key] = (self._clock(), expected / self.slowdown)
            return True

    def admitted(self, key: str) -> bool:
        """Whether ``key`` holds a place (its work should run)."""
        with self._lock:
            return key in self._team_of

    async def run(self, key: str, fn: Callable[..., T], *args: object, **kwargs: object) -> T:
        """Run ``fn`` on a worker thread in its team's turn; frees the place of ``key`` after.

        A key not admitted before (e.g. a share button) is admitted here without a check.
        """
        future: Future[T] = Future()
        with self._lock:
            team = self._team_of.get(key)
            if team is None:
                team = self._team_of[key] = ""
                self._teams.setdefault(team, _Team()).admitted.add(key)
            state = self._teams[team]
            if not state.queue:
                self._turns.append(team)
            state.queue.append((key, lambda: fn(*args, **kwargs), future))
            self._promised.setdefault(key, (self._clock(), 0.0))
        self._dispatch()
        try:
            return await asyncio.wrap_future(future)
        finally:
            self._observe(key)

    def _observe(self, key: str) -> None:
        """Learn from one job how far off its predicted wait was."""
        now = self._clock()
        with self._lock:
            promise = self._promised.pop(key, None)
            if promise is not None and promise[1] > 0:
                ratio = min(10.0, max(1.0, (now - promise[0]) / promise[1]))
                self.slowdown += _SMOOTHING * (ratio - self.slowdown)

    def _dispatch(self) -> None:
        """Start queued jobs, teams in turn, while a worker is free."""
        while True:
            with self._lock:
                if self._running >= self.workers or not self._turns:
                    return
                team = self._turns.popleft()
                state = self._teams[team]
                key, job, future = state.queue.popleft()
                if state.queue:
                    self._turns.append(team)  # its next job waits for the other teams' turns
                state.admitted.discard(key)
                self._team_of.pop(key, None)
                if not state.admitted and not state.queue:
                    del self._teams[team]
                self._running += 1
            try:
                self._executor.submit(self._work, job, future)
            except RuntimeError as exc:  # the pool was closed
                with self._lock:
                    self._running -= 1
                future.set_exception(exc)

    def _work(self, job: Callable[[], Any], future: Future[Any]) -> None:
        started = self._clock()
        try:
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(job())
                except BaseException as exc:  # handed to the awaiting request
                    future.set_exception(exc)
        finally:
            took = self._clock() - started
            with self._lock:
                self._running -= 1
                self.job_seconds += _SMOOTHING * (took - self.job_seconds)
            self._dispatch()

    def release(self, key: str) -> None:
        """Give back a place whose work will not run."""
        with self._lock:
            self._promised.pop(key, None)
            team = self._team_of.pop(key, None)
            state = self._teams.get(team) if team is not None else None
            if state is not None:
                state.admitted.discard(key)
                if not state.admitted and not state.queue:
                    del self._teams[team]  # type: ignore[arg-type]

    def close(self) -> None:
        """Stop the worker threads (running jobs finish)."""
        self._executor.shutdown(wait=False, cancel_futures=True)

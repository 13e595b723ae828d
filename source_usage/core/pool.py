"""A vendor's requests in flight: one pool of worker threads per vendor, and how many may be sent
at once.

Over a real network each request spends most of its time waiting for its answer, so a sync sends
several at once. :class:`VendorPool` is the vendor's (one per :class:`~source_usage.core.vendor.Connection`):
its worker threads read the request slices every stream of the vendor submits, first come first
served, and hand each one's records back as a :class:`Job` that its stream reads in the order it
planned; a stream's state therefore moves exactly as if it had read one request at a time.

:class:`AdaptiveLimit` says how many attempts are on the wire at once, over all the vendor's
streams (the pool's workers and any stream that sends from its own thread). Vendors publish rate
limits, rarely a concurrency limit, and some answer too many requests at once with a 429 or a
reset connection. So the limit starts at one request (a wrong key or host fails on one request,
not on dozens), grows by one with each answer (doubling each round trip) up to the vendor's
ceiling, halves at a sign of congestion (a rate-limit answer, a reset connection) and then grows
again only slowly, by one per several rounds of calm answers: a vendor's unpublished limit is
found and kept to, not fought.

Memory is bounded per vendor in records: a job that is not yet being read holds its records
against the pool's ``record_budget`` (its worker waits when none is left); the job its stream is
reading holds at most a small buffer of its own, so the reader can always go on and the budget
never deadlocks. A request's answer is held whole by its worker while its records are handed on
(a Workato answer can be 10,000 rows), so a job nobody reads yet starts only when the budget has
room for as many records as its stream's largest job gave (at most half the budget), set aside
for it then (a stream's first such job, size unknown, starts alone); a job its stream is reading
always starts. Without
that, a slow destination let every worker hold an answer (Workato, 40 answers of 5,000 rows:
280 MB).

A rejected credential stops the vendor: :meth:`VendorPool.reject` fails every queued job, and
every later attempt fails before it is sent, so at most the requests already in flight follow the
first rejection. :meth:`VendorPool.cancel` drops one stream's queued jobs and stops its running
ones at their next record (a failed stream): nobody waits for them, the worker threads are
daemons, and a sync that failed exits without waiting out requests it no longer needs.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections import deque
from contextlib import contextmanager
from typing import Any, Callable, Deque, Dict, Generic, Iterable, Iterator, List, Optional, Tuple, TypeVar

T = TypeVar("T")

#: After a congestion signal, the limit grows by one per this many rounds of calm answers (a
#: round: as many answers as the limit), so a vendor's concurrency limit is probed rarely.
CALM_ROUNDS = 4
#: A congestion signal halves the limit at most this often: the answers to one burst of requests
#: arrive together and are one signal, not many.
CUT_SPACING_SECONDS = 1.0
#: Records buffered per vendor in the jobs no stream is reading yet.
RECORD_BUDGET = 10_000
#: Records buffered in the job a stream is reading (its worker waits when the reader is behind).
READING_BUFFER = 250


#: The planned order of the job the current thread sends for (:func:`sending_for`): a free slot
#: goes to the earliest job waiting for one, so a stream's next period is never left waiting behind
#: requests read ahead of it (which may hang). A thread that sends for no job goes first.
_sending = threading.local()


@contextmanager
def sending_for(order: int) -> Iterator[None]:
    """Mark the attempts the current thread makes meanwhile as those of the job ``order``."""
    _sending.order = order
    try:
        yield
    finally:
        _sending.order = -1


class AdaptiveLimit:
    """How many attempts of one vendor may be in flight at once (see the module's docstring)."""

    def __init__(self, ceiling: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.ceiling = max(1, ceiling)
        self._clock = clock
        self._cond = threading.Condition()
        #: The attempts allowed on the wire now; grows to ``ceiling``, halves at congestion.
        self.limit = 1
        #: Up to here the limit grows by one per answer (slow start); beyond, one per calm rounds.
        self.threshold = self.ceiling
        self.in_flight = 0
        #: The attempts waiting for a slot, as (job order, arrival): the least goes next.
        self._waiting: List[Tuple[int, int]] = []
        self._arrivals = itertools.count()
        self._calm = 0
        self._last_cut = float("-inf")
        #: Counts of signals, for tests and the sync's log.
        self.congestions = 0
        self.most_in_flight = 0

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Hold one of the in-flight slots for the duration of one attempt; a free slot goes to
        the waiting attempt of the earliest job (see :func:`sending_for`)."""
        with self._cond:
            ticket = (getattr(_sending, "order", -1), next(self._arrivals))
            heapq.heappush(self._waiting, ticket)
            while self._waiting[0] != ticket or self.in_flight >= self.limit:
                self._cond.wait()
            heapq.heappop(self._waiting)
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
            self._cond.notify_all()  # the next waiting attempt may take another free slot
        try:
            yield
        finally:
            with self._cond:
                self.in_flight -= 1
                self._cond.notify_all()

    def calm(self) -> None:
        """An answer came that was no sign of congestion."""
        with self._cond:
            if self.limit >= self.ceiling:
                return
            self._calm += 1
            if self.limit < self.threshold or self._calm >= CALM_ROUNDS * self.limit:
                self.limit, self._calm = self.limit + 1, 0
                self._cond.notify_all()

    def congested(self) -> None:
        """An answer said the vendor is overloaded (a rate-limit answer, a reset connection)."""
        with self._cond:
            self.congestions += 1
            now = self._clock()
            if now - self._last_cut < CUT_SPACING_SECONDS:
                return
            self._last_cut = now
            self.limit = self.threshold = max(1, self.limit // 2)
            self._calm = 0


class JobCancelled(Exception):
    """What reading a job its stream dropped raises (no stream reads one: a safeguard)."""


class Job(Generic[T]):
    """One request slice submitted to the pool: its records as its worker produces them, then its
    end or its error. Its stream reads it with :meth:`records`, in the order it planned."""

    def __init__(self, pool: VendorPool, owner: Any, tag: Any, read: Callable[[], Iterable[T]]) -> None:
        self.pool = pool
        self.owner = owner
        self.tag = tag
        self.read = read
        #: Its place among all the jobs submitted to the pool (:func:`sending_for`).
        self.order = 0
        self._items: Deque[T] = deque()
        #: How many of ``_items`` hold a credit of the pool's record budget.
        self._charged = 0
        #: Credits set aside for this job when it started (its stream's largest job), not yet used.
        self._reserved = 0
        #: Records put so far (the pool learns its stream's job size from it).
        self.count = 0
        self._done = False
        self._error: Optional[BaseException] = None
        self.cancelled = False
        self._reading = False
        #: Called once, from the worker's thread, when the job gives its first record or ends.
        self.on_answer: Optional[Callable[[], None]] = None

    def _answered(self) -> None:
        hook, self.on_answer = self.on_answer, None
        if hook is not None:
            hook()

    # -- the worker's side

    def put(self, item: T) -> bool:
        """Hand one record on; ``False`` once the job was cancelled (the worker then stops)."""
        self._answered()
        cond = self.pool.cond
        with cond:
            while not self.cancelled:
                if self._reading:
                    if len(self._items) < READING_BUFFER:
                        break
                elif self._reserved > 0:
                    self._reserved -= 1
                    self._charged += 1
                    break
                elif self.pool.credits > 0:
                    self.pool.credits -= 1
                    self._charged += 1
                    break
                cond.wait()
            if self.cancelled:
                return False
            self._items.append(item)
            self.count += 1
            cond.notify_all()
            return True

    def finish(self, error: Optional[BaseException] = None) -> None:
        with self.pool.cond:
            self._done, self._error = True, error
            self.pool.finished(self)
            self.pool.cond.notify_all()
        self._answered()

    # -- the stream's side

    def records(self) -> Iterator[T]:
        """The job's records in order, waiting for its worker; its error, raised at its end."""
        cond = self.pool.cond
        with cond:
            self._reading = True
            self.pool.release(self)
            self.pool._startable.notify()  # if it is queued, it may start now
            cond.notify_all()
        while True:
            with cond:
                while not self._items and not self._done:
                    cond.wait()
                if self._items:
                    item = self._items.popleft()
                    if self._charged:
                        self._charged -= 1
                        self.pool.credits += 1
                        if self.pool.credits == self.pool._wanted:  # enough for a job that waits
                            self.pool._startable.notify()
                    cond.notify_all()
                elif self._error is not None:
                    raise self._error
                else:
                    return
            yield item

    def drop(self) -> None:
        """Stop the job: its worker stops at its next record, and its records' credits return."""
        with self.pool.cond:
            self.cancelled = True
            self.pool.credits += self._charged
            self._charged = 0
            self.pool.release(self)
            self.pool._startable.notify()
            self._items.clear()
            if not self._done:
                self._done, self._error = True, JobCancelled(f"{self.tag} was cancelled")
            self.pool.cond.notify_all()


class VendorPool:
    """The worker threads that read one vendor's request slices (see the module's docstring)."""

    def __init__(self, vendor: str, workers: int, limit: AdaptiveLimit, record_budget: int = RECORD_BUDGET) -> None:
        self.vendor = vendor
        self.workers = max(1, workers)
        self.limit = limit
        lock = threading.RLock()
        #: What a job's records, credits and ends are waited for on (the pool's lock).
        self.cond = threading.Condition(lock)
        #: What idle workers wait on (the same lock): a job they may start. Each change that may
        #: let a job start wakes one; a worker that starts a job wakes the next.
        self._startable = threading.Condition(lock)
        self.record_budget = max(1, record_budget)
        self.credits = self.record_budget
        #: The most records one finished job of each owner gave (by ``id``), and the least credits
        #: a queued job waited for when none could start (idle workers are woken only past it).
        self._largest: Dict[int, int] = {}
        self._wanted = 1
        self._queue: Deque[Job[Any]] = deque()
        self._orders = itertools.count()
        self._running: List[Job[Any]] = []
        self._threads: List[threading.Thread] = []
        self._rejected: Optional[BaseException] = None
        #: Owners one of whose jobs failed: their later jobs are not read (see :meth:`_run`).
        self._stopped: List[Any] = []

    def submit(self, owner: Any, tag: Any, read: Callable[[], Iterable[T]]) -> Job[T]:
        """Queue ``read`` (one request slice of ``owner``, a stream); its records come back in the job."""
        job: Job[T] = Job(self, owner, tag, read)
        with self.cond:
            job.order = next(self._orders)
            if self._rejected is not None:
                job.finish(self._rejected)
                return job
            if any(stopped is owner for stopped in self._stopped):
                job.drop()
                return job
            self._queue.append(job)
            if len(self._threads) < self.workers:
                self._start_worker()
            self._startable.notify()
        return job

    def start_reading(self, owner: Any) -> None:
        """``owner`` starts a read: a failure of an earlier one no longer stops its jobs."""
        with self.cond:
            self._stopped = [stopped for stopped in self._stopped if stopped is not owner]

    def cancel(self, owner: Any, running: bool = True) -> None:
        """Drop every queued job of ``owner`` and, with ``running``, stop its running ones at
        their next record (nobody waits for them)."""
        with self.cond:
            for job in [job for job in self._queue if job.owner is owner]:
                self._queue.remove(job)
                job.drop()
            for job in self._running if running else ():
                if job.owner is owner:
                    job.drop()

    def reject(self, error: BaseException) -> None:
        """The vendor refused the credentials: every queued job and every later one fails with
        ``error``, and every later attempt too (:meth:`raise_if_rejected`)."""
        with self.cond:
            if self._rejected is not None:
                return
            self._rejected = error
            while self._queue:
                self._queue.popleft().finish(error)

    def raise_if_rejected(self) -> None:
        """Before an attempt goes out: fail it if the vendor already refused the credentials."""
        if self._rejected is not None:
            raise self._rejected

    @property
    def queued(self) -> int:
        with self.cond:
            return len(self._queue)

    def _start_worker(self) -> None:
        thread = threading.Thread(target=self._work, name=f"{self.vendor.lower()}-request-{len(self._threads) + 1}", daemon=True)
        self._threads.append(thread)
        thread.start()

    def finished(self, job: Job[Any]) -> None:
        """``job`` ended (the pool's lock held): its stream's job size is known, and what it set
        aside and did not use returns."""
        key = id(job.owner)
        learnt = key not in self._largest
        self._largest[key] = max(self._largest.get(key, 0), job.count)
        self.release(job)
        if learnt:  # its stream's next jobs no longer wait for it
            # A job of the stream that started before its size was known set nothing aside: it
            # does now, so the jobs that start next count with its records.
            need = min(self._largest[key], self.record_budget // 2)
            for running in self._running:
                if running.owner is job.owner and running is not job and not running._reading and not running._done:
                    taken = min(max(0, need - running._charged - running._reserved), self.credits)
                    running._reserved += taken
                    self.credits -= taken
            self._startable.notify()

    def release(self, job: Job[Any]) -> None:
        """Give back the credits ``job`` set aside and did not use (the pool's lock held)."""
        if job._reserved:
            self.credits += job._reserved
            job._reserved = 0
            self.cond.notify_all()
            self._startable.notify()

    def _next_job(self) -> Optional[Job[Any]]:
        """The queued job a worker may start now (the pool's lock held): the first one its stream
        is reading, else the first whose stream's largest job fits in the credits left, never
        past an earlier job of its stream (a stream's jobs start in order). Its credits are set
        aside for it."""
        passed: List[int] = []
        wanted: Optional[int] = None
        for job in self._queue:
            if job._reading:
                return job
            key = id(job.owner)
            if key in passed:
                continue
            passed.append(key)
            largest = self._largest.get(key)
            if largest is None and any(running.owner is job.owner and not running._reading for running in self._running):
                continue  # its size is learnt from the one running
            # A job of more than half the budget waits for half: other streams' read-ahead would
            # otherwise keep it from ever starting ahead.
            need = max(1, min(largest or 1, self.record_budget // 2))
            if self.credits >= need:
                job._reserved = need if largest is not None else 0
                self.credits -= job._reserved
                return job
            wanted = need if wanted is None else min(wanted, need)
        self._wanted = wanted or 1
        return None

    def _work(self) -> None:
        while True:
            with self.cond:
                while (job := self._next_job()) is None:
                    self._startable.wait()
                self._queue.remove(job)
                self._running.append(job)
                if self._queue:  # one idle worker is woken at a time: the next may start another
                    self._startable.notify()
            try:
                self._run(job)
            finally:
                with self.cond:
                    self._running.remove(job)

    def _run(self, job: Job[Any]) -> None:
        try:
            with sending_for(job.order):
                for item in job.read():
                    if not job.put(item):
                        return
        except BaseException as error:  # noqa: BLE001 - raised where the stream reads the job
            # The stream stops at this job: none of its later requests that are not started yet
            # is sent. (Every earlier one started before this one: the queue is first come, first
            # served.) The ones running finish; their stream drops them when it stops.
            with self.cond:
                self._stopped.append(job.owner)
            self.cancel(job.owner, running=False)
            job.finish(error)
            return
        job.finish()


class PlannedReads(Generic[T]):
    """One stream's request slices, submitted to its vendor's pool at most ``window`` ahead of the
    one the stream is reading, and given back in the planned order.

    It starts with one job, and submits the rest of its window once that job gave a record or
    ended (from the worker's thread: the stream may be busy meanwhile): a stream whose first
    request says the rest need not be asked (a feature not licensed, a wrong key) sends no other."""

    def __init__(self, pool: VendorPool, owner: Any, work: Iterator[Tuple[Any, Callable[[], Iterable[T]]]], window: int) -> None:
        self.pool = pool
        self.owner = owner
        self._work = work
        self._window = max(1, window)
        self._submitted: Deque[Job[T]] = deque()
        self._lock = threading.Lock()
        self._exhausted = False
        self._closed = False
        self._proven = False
        #: The one job submitted before the window opens.
        self._first: Optional[Job[T]] = None
        pool.start_reading(owner)

    def peek_tag(self) -> Any:
        """The tag of the next job :meth:`take` gives, or ``None`` when there is none."""
        with self._lock:
            self._fill()
            return self._submitted[0].tag if self._submitted else None

    def take(self) -> Optional[Job[T]]:
        """The next job in planned order (``None``: every one was taken); submits more meanwhile."""
        with self._lock:
            self._fill()
            if not self._submitted:
                return None
            job = self._submitted.popleft()
            self._fill()
            return job

    def close(self) -> None:
        """Stop: no more jobs, and the submitted ones dropped (also when the stream failed)."""
        with self._lock:
            self._closed = True
            self.pool.cancel(self.owner)
            self._submitted.clear()

    def _fill(self) -> None:
        while not self._closed and not self._exhausted and (len(self._submitted) < self._window if self._proven else self._first is None):
            try:
                tag, read = next(self._work)
            except StopIteration:
                self._exhausted = True
                return
            job = self.pool.submit(self.owner, tag, read)
            if not self._proven:
                self._first, job.on_answer = job, self._answered
            self._submitted.append(job)

    def _answered(self) -> None:
        """The first job gave a record or ended: the window opens."""
        with self._lock:
            self._proven = True
            self._fill()


def thread_local_worker(make: Callable[[], T]) -> Callable[[], T]:
    """``make()`` once per thread: what a worker thread reads one stream's requests with."""
    local = threading.local()

    def worker() -> T:
        made: Optional[T] = getattr(local, "made", None)
        if made is None:
            made = local.made = make()
        return made

    return worker

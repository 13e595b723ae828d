"""A vendor's requests in flight (core.pool): one pool of workers for every stream of a vendor,
records handed back in each stream's planned order, memory bounded per vendor in records, a
limit on requests in flight that starts at one, grows while answers come and halves at
congestion, a rejected credential that stops the vendor, and a failed stream nobody waits for.

Order is proven with events (gates the test opens, counts it waits for), never with sleeps."""

from __future__ import annotations

import threading
import time
from typing import Callable, Iterable, Iterator, List, Optional, Tuple

import pytest

from source_usage.core.pool import (
    CALM_ROUNDS,
    CUT_SPACING_SECONDS,
    AdaptiveLimit,
    Job,
    PlannedReads,
    VendorPool,
    sending_for,
    thread_local_worker,
)

#: Only a hang reaches this.
HANG = 30.0


def eventually(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + HANG
    while not condition():
        assert time.monotonic() < deadline, f"{what}: not within {HANG:g} s"
        time.sleep(0.005)


class Recorder:
    """Request slices that each yield their records, noting when each started and what ran at once."""

    def __init__(self) -> None:
        self.started: List[int] = []
        self.running = 0
        self.most_running = 0
        self.lock = threading.Lock()

    def request(
        self, number: int, records: Iterable[int], gate: Optional[threading.Event] = None, fail: bool = False
    ) -> Callable[[], Iterator[int]]:
        def read() -> Iterator[int]:
            with self.lock:
                self.started.append(number)
                self.running += 1
                self.most_running = max(self.most_running, self.running)
            try:
                if gate is not None:
                    assert gate.wait(HANG), "the gate was never opened"
                yield from records
                if fail:
                    raise RuntimeError(f"request {number} failed")
            finally:
                with self.lock:
                    self.running -= 1

        return read


def pool(workers: int, ceiling: Optional[int] = None, record_budget: int = 10_000) -> VendorPool:
    limit = AdaptiveLimit(ceiling or workers)
    limit.limit = limit.ceiling  # these tests are about the pool, not the limit's growth
    return VendorPool("Toy", workers, limit, record_budget)


def read_all(reads: PlannedReads[int]) -> List[Tuple[object, List[int]]]:
    taken = []
    while (job := reads.take()) is not None:
        taken.append((job.tag, list(job.records())))
    reads.close()
    return taken


# --- the pool and a stream's planned reads ---------------------------------------------------


def test_records_come_job_by_job_in_the_planned_order_whatever_order_the_answers_arrive_in() -> None:
    recorder, gates = Recorder(), [threading.Event() for _ in range(5)]
    work = iter([(f"p{n}", recorder.request(n, [n * 10, n * 10 + 1], gate=gates[n])) for n in range(5)])
    reads: PlannedReads[int] = PlannedReads(pool(4), "stream", work, window=8)
    assert reads.peek_tag() == "p0"
    gates[0].set()  # the first request answers first; the window opens
    eventually(lambda: len(recorder.started) == 5, "every request started")
    for gate in reversed(gates[1:]):  # then the later ones answer before the earlier ones
        gate.set()
    assert read_all(reads) == [(f"p{n}", [n * 10, n * 10 + 1]) for n in range(5)]
    assert recorder.most_running > 1


def test_only_the_first_request_runs_until_it_gives_a_record_then_the_window_opens() -> None:
    recorder, gate = Recorder(), threading.Event()
    work = iter([("p0", recorder.request(0, [1], gate=gate))] + [(f"p{n}", recorder.request(n, [n])) for n in range(1, 10)])
    reads: PlannedReads[int] = PlannedReads(pool(3), "stream", work, window=6)
    assert reads.peek_tag() == "p0"
    first = reads.take()
    assert first is not None
    eventually(lambda: recorder.started == [0], "the first request started")
    time.sleep(0.05)  # room for a second to start wrongly (a busy machine only makes that less likely)
    assert recorder.started == [0]  # a wrong key fails on one request, not on a window of them
    gate.set()
    assert list(first.records()) == [1]
    eventually(lambda: len(recorder.started) >= 7, "the window opened")
    assert sorted(recorder.started) == list(range(7))  # the first and the window of 6 after it, not more
    assert [tag for tag, _ in read_all(reads)] == [f"p{n}" for n in range(1, 10)]


def test_a_request_with_many_records_does_not_hold_the_others_back() -> None:
    recorder, more = Recorder(), threading.Event()

    def many_pages() -> Iterator[int]:
        yield 0  # its first page answered
        assert more.wait(HANG)
        yield 1

    work = iter([("p0", many_pages)] + [(f"p{n}", recorder.request(n, [n])) for n in range(1, 4)])
    reads: PlannedReads[int] = PlannedReads(pool(4), "stream", work, window=4)
    first = reads.take()
    assert first is not None
    records = first.records()
    assert next(records) == 0
    eventually(lambda: len(recorder.started) >= 3, "the later requests started")
    assert sorted(recorder.started) == [1, 2, 3]
    more.set()
    assert list(records) == [1]
    assert [tag for tag, _ in read_all(reads)] == ["p1", "p2", "p3"]


def test_a_failed_request_raises_at_its_position_after_every_earlier_record_and_no_later_one_starts() -> None:
    recorder, hold = Recorder(), threading.Event()
    work = iter(
        [("p0", recorder.request(0, [0])), ("p1", recorder.request(1, [10, 11], fail=True))]
        + [(f"p{n}", recorder.request(n, [n], gate=hold)) for n in range(2, 40)]
    )
    reads: PlannedReads[int] = PlannedReads(pool(2), "stream", work, window=4)
    emitted: List[int] = []
    with pytest.raises(RuntimeError, match="request 1 failed"):
        while (job := reads.take()) is not None:
            emitted.extend(job.records())
    reads.close()
    hold.set()
    assert emitted == [0, 10, 11]
    # At most the window past the first was ever started: the failure stopped the rest.
    assert len(recorder.started) <= 1 + 4 + 1


def test_a_job_not_yet_read_holds_no_more_than_the_vendors_record_budget() -> None:
    produced: List[int] = []

    def many() -> Iterator[int]:
        for record in range(100):
            produced.append(record)
            yield record

    shared = pool(2, record_budget=7)
    first_gate = threading.Event()
    work = iter([("p0", Recorder().request(0, [0], gate=first_gate)), ("p1", many)])
    reads: PlannedReads[int] = PlannedReads(shared, "stream", work, window=2)
    head = reads.take()
    assert head is not None
    first_gate.set()  # p0 answers (its record takes a credit), the window opens, p1 reads ahead into the rest
    eventually(lambda: len(produced) >= 7, "the budget filled")
    time.sleep(0.05)  # room for the worker to run on wrongly (a busy machine only makes that less likely)
    assert len(produced) == 6 + 1 and shared.credits == 0  # p0's one and p1's six, and the one p1's worker waits to put
    assert list(head.records()) == [0]
    second = reads.take()
    assert second is not None and list(second.records()) == list(range(100))  # read now: no budget needed
    assert shared.credits == 7


def test_the_streams_of_a_vendor_share_its_workers() -> None:
    shared, recorder, gate = pool(3), Recorder(), threading.Event()
    reads = [
        PlannedReads(shared, name, iter([(f"{name}{n}", recorder.request(index * 100 + n, [n], gate=gate)) for n in range(5)]), window=5)
        for index, name in enumerate(("a", "b"))
    ]
    for stream in reads:
        stream.take()
    gate.set()
    eventually(lambda: len(recorder.started) == 10, "every request started")
    assert recorder.most_running <= 3  # the vendor's three workers, whatever the streams


def test_each_worker_thread_reads_with_its_own_worker_object() -> None:
    seen: List[Tuple[str, int]] = []
    lock = threading.Lock()
    made: List[object] = []

    def new_worker() -> object:
        worker = object()
        with lock:
            made.append(worker)
        return worker

    worker = thread_local_worker(new_worker)

    def read() -> Iterator[int]:
        mine = worker()
        with lock:
            seen.append((threading.current_thread().name, id(mine)))
        yield 1

    reads: PlannedReads[int] = PlannedReads(pool(3), "stream", iter([(n, read) for n in range(12)]), window=6)
    assert len(read_all(reads)) == 12
    by_thread: dict[str, set[int]] = {}
    for thread, made_id in seen:
        by_thread.setdefault(thread, set()).add(made_id)
    assert all(len(workers) == 1 for workers in by_thread.values())
    assert len(made) == len(by_thread) <= 3


def test_a_rejected_credential_fails_every_queued_job_and_every_later_one() -> None:
    shared, gate, recorder = pool(1), threading.Event(), Recorder()
    running = shared.submit("a", "first", recorder.request(0, [0], gate=gate))
    eventually(lambda: recorder.started == [0], "the first request in flight")
    queued = shared.submit("b", "queued", Recorder().request(1, [1]))
    shared.reject(PermissionError("the key was rejected"))
    later = shared.submit("a", "later", Recorder().request(2, [2]))
    for job in (queued, later):
        with pytest.raises(PermissionError):
            list(job.records())
    with pytest.raises(PermissionError):
        shared.raise_if_rejected()  # what every later attempt meets before it is sent
    gate.set()
    assert list(running.records()) == [0]  # a request already in flight answers as it will


def test_cancelling_a_stream_drops_its_queued_jobs_and_stops_its_running_one_at_its_next_record() -> None:
    shared, gate = pool(1), threading.Event()
    produced: List[int] = []

    def endless() -> Iterator[int]:
        for record in range(10_000):
            assert gate.wait(HANG)
            produced.append(record)
            yield record

    running: Job[int] = shared.submit("a", "running", endless)
    eventually(lambda: shared.queued == 0, "the first job running")
    queued = shared.submit("a", "queued", Recorder().request(1, [1]))
    other = shared.submit("b", "other", Recorder().request(2, [2]))
    shared.cancel("a")
    gate.set()
    assert list(other.records()) == [2]  # the worker went on to the other stream's job
    assert len(produced) <= 1 and running.cancelled and queued.cancelled


# --- the limit on requests in flight ---------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_limit_starts_at_one_and_grows_by_one_with_each_answer_up_to_the_ceiling() -> None:
    limit = AdaptiveLimit(5, Clock())
    grown = [limit.limit]
    for _ in range(6):
        limit.calm()
        grown.append(limit.limit)
    assert grown == [1, 2, 3, 4, 5, 5, 5]


def test_congestion_halves_the_limit_once_per_burst_and_calm_regrows_it_one_per_calm_rounds() -> None:
    clock = Clock()
    limit = AdaptiveLimit(40, clock)
    for _ in range(39):
        limit.calm()
    assert limit.limit == 40
    limit.congested()
    limit.congested()  # the same burst's answers: one signal
    assert (limit.limit, limit.congestions) == (20, 2)
    clock.now += CUT_SPACING_SECONDS
    limit.congested()
    assert limit.limit == 10
    for _ in range(CALM_ROUNDS * 10 - 1):
        limit.calm()
    assert limit.limit == 10  # after congestion: slowly
    limit.calm()
    assert limit.limit == 11


def test_attempts_wait_for_a_slot_while_the_limit_is_reached() -> None:
    limit = AdaptiveLimit(3, Clock())
    holding, release = threading.Event(), threading.Event()
    results: List[str] = []

    def attempt(name: str) -> None:
        with limit.slot():
            results.append(name)
            holding.set()
            assert release.wait(HANG)

    first = threading.Thread(target=attempt, args=("first",))
    first.start()
    assert holding.wait(HANG)
    second = threading.Thread(target=attempt, args=("second",))
    second.start()
    time.sleep(0.05)  # room for the second to take a slot wrongly
    assert results == ["first"] and limit.in_flight == 1
    limit.calm()  # an answer: the limit grows to 2, the second goes
    eventually(lambda: results == ["first", "second"], "the second attempt")
    release.set()
    first.join(HANG)
    second.join(HANG)
    assert limit.most_in_flight == 2


def test_a_job_nobody_reads_yet_starts_only_when_the_budget_has_room_for_its_streams_largest_job() -> None:
    # A request's whole answer is held by its worker while its records are handed on: jobs of four
    # records under a budget of ten may run ahead two at a time, not one per worker.
    recorder = Recorder()
    shared = pool(5, record_budget=10)
    work = iter([(f"p{n}", recorder.request(n, range(4))) for n in range(6)])
    reads: PlannedReads[int] = PlannedReads(shared, "stream", work, window=5)
    first = reads.take()
    assert first is not None and list(first.records()) == list(range(4))  # read: its size is learnt
    eventually(lambda: len(recorder.started) == 3, "two jobs ran ahead")
    time.sleep(0.05)  # room for a fourth to start wrongly (a busy machine only makes that less likely)
    assert sorted(recorder.started) == [0, 1, 2] and shared.credits == 2  # p1's and p2's records hold eight
    assert [tag for tag, _ in read_all(reads)] == [f"p{n}" for n in range(1, 6)]
    assert sorted(recorder.started) == list(range(6)) and shared.credits == 10


def test_a_job_larger_than_the_whole_budget_runs_ahead_once_half_the_budget_is_free() -> None:
    recorder = Recorder()
    shared = pool(3, record_budget=4)
    work = iter([(f"p{n}", recorder.request(n, range(9))) for n in range(3)])
    reads: PlannedReads[int] = PlannedReads(shared, "stream", work, window=3)
    first = reads.take()
    assert first is not None and list(first.records()) == list(range(9))
    eventually(lambda: len(recorder.started) >= 2, "the next job started")  # it waits for credits as it goes
    assert [tag for tag, _ in read_all(reads)] == ["p1", "p2"]
    assert shared.credits == 4


def test_a_free_slot_goes_to_the_earliest_job_waiting_not_to_a_later_one_that_asked_first() -> None:
    # A stream's next period must not wait behind periods read ahead of it, which may hang.
    limit = AdaptiveLimit(ceiling=1)
    holder_release, got = threading.Event(), []

    def hold() -> None:
        with limit.slot():
            holder_release.wait(HANG)

    def attempt(order: int) -> None:
        with sending_for(order), limit.slot():
            got.append(order)

    holder = threading.Thread(target=hold)
    holder.start()
    eventually(lambda: limit.in_flight == 1, "the slot is held")
    later = threading.Thread(target=attempt, args=(7,))
    later.start()
    eventually(lambda: len(limit._waiting) == 1, "the later job waits")
    earlier = threading.Thread(target=attempt, args=(3,))
    earlier.start()
    eventually(lambda: len(limit._waiting) == 2, "the earlier job waits too")
    holder_release.set()
    for thread in (holder, later, earlier):
        thread.join(HANG)
    assert got == [3, 7]

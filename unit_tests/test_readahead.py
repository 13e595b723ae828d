"""The ordered read-ahead (core.readahead): requests read concurrently, records handed on in the
planned order, a bounded window, a slow start and no new requests after a failure."""

from __future__ import annotations

import threading
import time
from typing import Callable, Iterable, Iterator, List, Optional, Tuple

import pytest

from source_usage.core.readahead import OrderedReadAhead

Read = Callable[[object], Iterable[int]]


class Recorder:
    """Requests that each yield their records; it notes when each one started and what ran at once."""

    def __init__(self) -> None:
        self.started: List[int] = []
        self.running = 0
        self.most_running = 0
        self.lock = threading.Lock()

    def request(
        self, number: int, records: Iterable[int], gate: Optional[threading.Event] = None, fail: bool = False, delay: float = 0.0
    ) -> Read:
        def read(worker: object) -> Iterator[int]:
            with self.lock:
                self.started.append(number)
                self.running += 1
                self.most_running = max(self.most_running, self.running)
            try:
                if gate is not None:
                    assert gate.wait(30), "the gate was never opened"
                time.sleep(delay)
                yield from records
                if fail:
                    raise RuntimeError(f"request {number} failed")
            finally:
                with self.lock:
                    self.running -= 1

        return read


def eventually(condition: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    """Wait until ``condition()`` holds (the bound only catches a hang)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what}: not within {timeout:g} s"
        time.sleep(0.01)


def read_all(ahead: OrderedReadAhead[object, int]) -> List[Tuple[object, List[int]]]:
    taken = []
    while (running := ahead.take()) is not None:
        taken.append((running.tag, list(running)))
    ahead.close()
    return taken


def test_records_come_request_by_request_in_the_planned_order_whatever_order_the_answers_arrive_in() -> None:
    recorder = Recorder()
    # Later requests answer first: the earlier ones take longer (the first one is quick, so the
    # window opens).
    delays = [0.0, 0.2, 0.15, 0.1, 0.05]
    work = iter([(f"p{n}", recorder.request(n, [n * 10, n * 10 + 1], delay=delays[n])) for n in range(5)])
    ahead: OrderedReadAhead[object, int] = OrderedReadAhead(work, object, workers=4, window=8, buffer=10)
    assert read_all(ahead) == [(f"p{n}", [n * 10, n * 10 + 1]) for n in range(5)]
    assert recorder.most_running > 1


def test_only_the_first_request_runs_until_it_gives_a_record_then_the_window_opens() -> None:
    recorder = Recorder()
    gate = threading.Event()
    work = iter([("p0", recorder.request(0, [1], gate=gate))] + [(f"p{n}", recorder.request(n, [n])) for n in range(1, 10)])
    ahead: OrderedReadAhead[object, int] = OrderedReadAhead(work, object, workers=3, window=6, buffer=10)
    assert ahead.peek_tag() == "p0"
    time.sleep(0.1)
    assert recorder.started == [0]  # a wrong key fails on one request, not on a window of them
    gate.set()
    first = ahead.take()
    assert first is not None and list(first) == [1]
    eventually(lambda: len(recorder.started) >= 7, "the window opened")
    time.sleep(0.1)  # room for an eighth to start wrongly
    # The window opened: besides the one taken, 6 started and not taken, not more.
    assert sorted(recorder.started) == [0, 1, 2, 3, 4, 5, 6]
    assert [tag for tag, _ in read_all(ahead)] == [f"p{n}" for n in range(1, 10)]


def test_a_request_with_many_pages_does_not_hold_the_others_back() -> None:
    recorder = Recorder()
    first_gate = threading.Event()

    def many_pages(worker: object) -> Iterator[int]:
        yield 0  # its first page answered
        assert first_gate.wait(30)
        yield 1

    work = iter([("p0", many_pages)] + [(f"p{n}", recorder.request(n, [n])) for n in range(1, 4)])
    ahead: OrderedReadAhead[object, int] = OrderedReadAhead(work, object, workers=4, window=4, buffer=10)
    first = ahead.take()
    assert first is not None
    records = iter(first)
    assert next(records) == 0
    eventually(lambda: len(recorder.started) >= 3, "the later requests started")
    assert sorted(recorder.started) == [1, 2, 3]
    first_gate.set()
    assert list(records) == [1]
    assert [tag for tag, _ in read_all(ahead)] == ["p1", "p2", "p3"]


def test_no_more_than_the_window_is_started_ahead_of_the_consumer() -> None:
    recorder = Recorder()
    work = iter([(f"p{n}", recorder.request(n, [n])) for n in range(20)])
    ahead: OrderedReadAhead[object, int] = OrderedReadAhead(work, object, workers=2, window=5, buffer=10)
    first = ahead.take()
    assert first is not None and list(first) == [0]
    # Taken: 1; started and not taken: the window of 5, and no more however long the consumer waits.
    eventually(lambda: len(recorder.started) >= 6, "the window filled")
    time.sleep(0.1)  # room for a seventh to start wrongly (a busy machine only makes that less likely)
    assert len(recorder.started) == 6
    assert [tag for tag, _ in read_all(ahead)] == [f"p{n}" for n in range(1, 20)]
    assert recorder.most_running <= 2  # the workers


def test_a_failed_request_raises_at_its_position_after_every_earlier_record_and_nothing_more_starts() -> None:
    recorder = Recorder()
    work = iter(
        [("p0", recorder.request(0, [0])), ("p1", recorder.request(1, [10, 11], fail=True))]
        + [(f"p{n}", recorder.request(n, [n])) for n in range(2, 40)]
    )
    ahead: OrderedReadAhead[object, int] = OrderedReadAhead(work, object, workers=2, window=4, buffer=10)
    emitted: List[int] = []
    with pytest.raises(RuntimeError, match="request 1 failed"):
        while (running := ahead.take()) is not None:
            for record in running:
                emitted.append(record)
    ahead.close()
    assert emitted == [0, 10, 11]
    # At most one window past the first request was ever started: the failure shut it.
    assert len(recorder.started) <= 1 + 4 + 1


def test_a_request_holds_at_most_its_buffer_of_records_while_the_consumer_is_behind() -> None:
    produced: List[int] = []

    def many(worker: object) -> Iterator[int]:
        for record in range(100):
            produced.append(record)
            yield record

    work = iter([("p0", many)])
    ahead: OrderedReadAhead[object, int] = OrderedReadAhead(work, object, workers=2, window=2, buffer=7)
    running = ahead.take()
    assert running is not None
    # The buffer, and the one its worker waits to put; then the worker waits for the consumer.
    eventually(lambda: len(produced) >= 7 + 1, "the buffer filled")
    time.sleep(0.1)  # room for the worker to run on wrongly
    assert len(produced) == 7 + 1
    assert list(running) == list(range(100))
    ahead.close()


def test_each_worker_thread_reads_with_its_own_worker_object() -> None:
    seen: List[Tuple[str, int]] = []
    lock = threading.Lock()

    def read(worker: object) -> Iterator[int]:
        with lock:
            seen.append((threading.current_thread().name, id(worker)))
        time.sleep(0.02)
        yield 1

    made: List[object] = []

    def new_worker() -> object:
        worker = object()
        with lock:
            made.append(worker)
        return worker

    ahead: OrderedReadAhead[object, int] = OrderedReadAhead(iter([(n, read) for n in range(12)]), new_worker, workers=3, window=6, buffer=5)
    assert len(read_all(ahead)) == 12
    by_thread = {}
    for thread, worker in seen:
        by_thread.setdefault(thread, set()).add(worker)
    assert all(len(workers) == 1 for workers in by_thread.values())
    assert len(made) == len(by_thread) <= 3

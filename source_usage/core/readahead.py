"""Reading the requests of one stream concurrently, and handing their records on in order.

A period stream's requests (one per period, or one per chunk of ids per period) are independent:
over a real network each spends most of its time waiting for the answer, so one request at a
time leaves the vendor's rate limit mostly unused. :class:`OrderedReadAhead` runs them on a
pool of worker threads, at most ``window`` requests ahead of the one being emitted, and gives
back their records request by request, in the order the requests were planned; the pages of one
request stay in order because one worker reads all of them. What a stream emits, and therefore
when its state moves, is exactly what a sequential read would emit: a period's state is written
only after its records and those of every earlier period, and a kill loses at most the
requests in flight (which the next sync reads again).

It starts like TCP: one request, and the full window as soon as that request gave its first
record (or ended without any), so a wrong key or host fails on one request instead of on a window
of them, and a period of many pages does not hold the others back while it is read; after any
failure it starts no more.

Memory is bounded: at most ``window`` requests are started and not yet emitted, and each holds
at most ``buffer`` records (its worker waits when the consumer is behind).
"""

from __future__ import annotations

import queue
import threading
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Deque, Generic, Iterable, Iterator, Optional, Tuple, TypeVar

W = TypeVar("W")  # what a worker reads with: its own copy of the stream
T = TypeVar("T")

#: A request to read: a tag the consumer groups by (its period) and what reads it.
Work = Tuple[Any, Callable[[W], Iterable[T]]]

_END = object()
#: How often a worker whose consumer is behind looks whether the read was abandoned.
_POLL_SECONDS = 0.2


class _Running(Generic[T]):
    """One started request: its records as its worker produces them, then its end or error."""

    def __init__(self, tag: Any, buffer: int, stopped: threading.Event) -> None:
        self.tag = tag
        self._items: queue.Queue[Any] = queue.Queue(maxsize=buffer)
        self._stopped = stopped
        self._error: Optional[BaseException] = None

    def put(self, item: Any) -> bool:
        """Hand one item on; ``False`` once the read was abandoned (the worker then ends)."""
        while not self._stopped.is_set():
            try:
                self._items.put(item, timeout=_POLL_SECONDS)
                return True
            except queue.Full:
                continue
        return False

    def fail(self, error: BaseException) -> None:
        self._error = error
        self.put(_END)

    def __iter__(self) -> Iterator[T]:
        while True:
            item = self._items.get()
            if item is _END:
                if self._error is not None:
                    raise self._error
                return
            yield item


class OrderedReadAhead(Generic[W, T]):
    """Reads ``work`` on ``workers`` threads, each with its own worker object from
    ``new_worker``, at most ``window`` requests ahead of the consumer.

    The consumer calls :meth:`take` for the next request in planned order and iterates it; an
    error of that request is raised there, at its position, after every earlier request's
    records. :meth:`close` (also when the consumer stops early) stops the workers at their next
    record.
    """

    def __init__(
        self,
        work: Iterator[Work[W, T]],
        new_worker: Callable[[], W],
        workers: int,
        window: int,
        buffer: int,
    ) -> None:
        self._work = work
        self._new_worker = new_worker
        self._window = max(window, workers)
        self._buffer = buffer
        self._stopped = threading.Event()
        self._local = threading.local()
        self._started: Deque[_Running[T]] = deque()
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="request")
        self._exhausted = False
        #: Set once a request gave a record or ended (the window opens), and once one failed (it shuts).
        self._proven = threading.Event()
        self._failed = threading.Event()
        #: Requests started and not yet read whole (before the window opens: at most one).
        self._unfinished = 0
        self._count_lock = threading.Lock()
        #: Starting requests happens in the consumer's thread (take) and, once, in the worker's
        #: that opens the window: the work iterator and the started queue are the lock's.
        self._fill_lock = threading.RLock()

    def peek_tag(self) -> Any:
        """The tag of the next request :meth:`take` gives, or ``None`` when there is none."""
        with self._fill_lock:
            self._fill()
            return self._started[0].tag if self._started else None

    def take(self) -> Optional[_Running[T]]:
        """The next request in planned order (``None``: all were taken); starts more meanwhile."""
        with self._fill_lock:
            self._fill()
            if not self._started:
                return None
            running = self._started.popleft()
            self._fill()
            return running

    def close(self) -> None:
        with self._fill_lock:  # no worker starts a request past this point
            self._stopped.set()
            self._pool.shutdown(wait=False, cancel_futures=True)

    def _may_start(self) -> bool:
        if self._exhausted or self._stopped.is_set() or self._failed.is_set():
            return False
        if not self._proven.is_set():
            with self._count_lock:
                return self._unfinished == 0
        return len(self._started) < self._window

    def _fill(self) -> None:
        while self._may_start():
            try:
                tag, read = next(self._work)
            except StopIteration:
                self._exhausted = True
                return
            running: _Running[T] = _Running(tag, self._buffer, self._stopped)
            self._started.append(running)
            with self._count_lock:
                self._unfinished += 1
            self._pool.submit(self._run, running, read)

    def _worker(self) -> W:
        worker: Optional[W] = getattr(self._local, "worker", None)
        if worker is None:
            worker = self._local.worker = self._new_worker()
        return worker

    def _run(self, running: _Running[T], read: Callable[[W], Iterable[T]]) -> None:
        if self._stopped.is_set():
            return
        try:
            for item in read(self._worker()):
                if not self._proven.is_set():
                    self._open_window()
                if not running.put(item):
                    return
        except BaseException as error:  # noqa: BLE001 - raised in the consumer, at its position
            self._failed.set()
            self._finished()
            running.fail(error)
            return
        self._finished()
        if not self._proven.is_set():
            self._open_window()
        running.put(_END)

    def _open_window(self) -> None:
        """A request was answered: start the rest of the window now, not when the consumer next
        takes one (it may be reading this request's many pages meanwhile)."""
        self._proven.set()
        with self._fill_lock:
            self._fill()

    def _finished(self) -> None:
        with self._count_lock:
            self._unfinished -= 1

"""Reading several streams side by side, one thread per stream, into one ordered output.

Each vendor's rate limit is per endpoint (or per vendor), so a sequential read would leave every
other endpoint idle while one waits for its budget. Every message of a stream keeps its order
(records, then the STATE after them), so a stream's state is never ahead of its records; streams
interleave freely, which Airbyte's per-stream state allows.
"""

from __future__ import annotations

import queue
import threading
from typing import Any, Callable, Dict, Iterable, Iterator, List, Sequence, TypeVar

from airbyte_cdk.models import FailureType
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

T = TypeVar("T")

#: Messages waiting between the stream threads and stdout. Bounded, so a slow destination
#: pauses the readers instead of growing memory.
QUEUE_SIZE = 500
_DONE = object()


class SideBySide:
    """Runs ``read(name)`` for every name in its own thread and yields what they produce."""

    def __init__(self, read: Callable[[str], Iterable[Any]], names: Sequence[str]) -> None:
        self._read = read
        self._names = list(names)
        self._messages: queue.Queue[Any] = queue.Queue(maxsize=QUEUE_SIZE)
        self._stop = threading.Event()
        self.failed: Dict[str, BaseException] = {}

    def __iter__(self) -> Iterator[Any]:
        threads = [threading.Thread(target=self._run, args=(name,), name=f"read-{name}", daemon=True) for name in self._names]
        for thread in threads:
            thread.start()
        try:
            yield from self._drain(len(threads))
        finally:
            self._stop.set()
            for thread in threads:
                thread.join(timeout=5)
        if self.failed:
            raise self._failure()

    def _drain(self, running: int) -> Iterator[Any]:
        while running:
            item = self._messages.get()
            if item is _DONE:
                running -= 1
            else:
                yield item

    def _put(self, item: Any) -> bool:
        """Hand ``item`` on; ``False`` once the consumer has stopped (the caller then ends)."""
        while not self._stop.is_set():
            try:
                self._messages.put(item, timeout=0.5)
                return True
            except queue.Full:
                continue
        return False

    def _run(self, name: str) -> None:
        try:
            for message in self._read(name):
                if not self._put(message):
                    return
        except BaseException as error:  # noqa: BLE001 - reported once all streams ended
            self.failed[name] = error
        finally:
            self._put(_DONE)

    def _failure(self) -> AirbyteTracedException:
        """One error for the whole read: a failure in one stream does not stop the others."""
        names = ", ".join(sorted(self.failed))
        kinds: List[Any] = [getattr(error, "failure_type", None) for error in self.failed.values()]
        return AirbyteTracedException(
            message=f"During the sync, the following streams did not sync successfully: {names}.",
            failure_type=FailureType.config_error if all(kind == FailureType.config_error for kind in kinds) else FailureType.system_error,
        )

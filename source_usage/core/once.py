"""What happens once per sync, whichever stream (or worker thread of a stream) gets there first.

- :class:`FetchedOnce`: a value several streams need (a vendor's organisation, a listing of ids)
  is fetched by the first caller; the others wait for its answer instead of sending the same
  requests again.
- :class:`FirstTime`: a thing said once (one warning a sync, one comparison), whichever copy of a
  stream meets it first. A stream's worker copies share its attributes, so a bool set on one copy
  would not be seen by another; this set is shared.

Both are made by a vendor's ``streams()``, so "once" is once per sync.
"""

from __future__ import annotations

import threading
from typing import Callable, Generic, Optional, Set, TypeVar

V = TypeVar("V")


class FetchedOnce(Generic[V]):
    """A value fetched on first use and then shared by every caller.

    The failure policy, one for every vendor: a failed fetch is remembered, and every later caller
    gets the same error at once. The fetch already spent its retries (and, for a listing that
    shares a vendor's tight limit, its requests): asking again from the next stream would spend
    them again to meet the same error. Each stream still fails with it, named as its own.
    """

    def __init__(self, fetch: Callable[[], V]) -> None:
        self._fetch = fetch
        self._lock = threading.Lock()
        self._value: Optional[V] = None
        self._error: Optional[Exception] = None

    def get(self) -> V:
        with self._lock:
            if self._value is None and self._error is None:
                try:
                    self._value = self._fetch()
                except Exception as error:  # noqa: BLE001 - remembered, raised to every caller
                    self._error = error
            if self._error is not None:
                raise self._error
            assert self._value is not None
            return self._value


class FirstTime:
    """Things that happen once a sync: :meth:`first` is true for the first caller only."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: Set[str] = set()

    def first(self, what: str = "") -> bool:
        """Whether this is the first time ``what`` happens (and from now on it is not)."""
        with self._lock:
            if what in self._seen:
                return False
            self._seen.add(what)
            return True

    def __contains__(self, what: str) -> bool:
        with self._lock:
            return what in self._seen

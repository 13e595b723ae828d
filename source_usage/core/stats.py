"""Per-stream request accounting, for the one-line sync summary at the end of every read:
requests, retries, rate-limit waits, records, then the stream's wall time and how much of it
its requests waited for the client-side budget (``core.limits.TimedBudget``).

Stats only count: what an answer means is the error handler's to say, how long to wait the
backoff strategy's, and whether a retry happened the request ledger's (``core.limits``); each
tells the stats what happened, and none reads them back.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Optional

from airbyte_cdk.sources.streams.http.error_handlers.response_models import ResponseAction


@dataclass
class RequestStats:
    """What one stream's HTTP clients did. A stream's requests may be sent from several threads
    (``core.readahead``), each with its own copy of the stream and these stats shared: a lock."""

    requests: int = 0
    retries: int = 0
    rate_limit_waits: int = 0
    rate_limit_wait_seconds: float = 0.0
    records: int = 0
    #: Seconds during which at least one of the stream's requests waited for the budget before
    #: being sent: waits of requests in flight at once that overlap count once, so this is the
    #: part of the stream's wall time it was held back by the budget.
    budget_wait_seconds: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False, compare=False)
    _waiting: int = field(default=0, init=False, repr=False, compare=False)
    _waiting_since: float = field(default=0.0, init=False, repr=False, compare=False)

    def observe(self, action: ResponseAction) -> None:
        """One answer (or connection error) and what the error handler made of it."""
        with self._lock:
            self.requests += 1

    def retried(self, rate_limited: bool, waited: float) -> None:
        """A retry that happened (never one the CDK gave up before making), after a wait of
        ``waited`` seconds, for a rate limit or not."""
        with self._lock:
            self.retries += 1
            if rate_limited:
                self.rate_limit_waits += 1
                self.rate_limit_wait_seconds += waited

    def budget_wait_began(self, now: float) -> None:
        """A request started waiting for the budget at ``now`` (a monotonic clock's seconds)."""
        with self._lock:
            if self._waiting == 0:
                self._waiting_since = now
            self._waiting += 1

    def budget_wait_ended(self, now: float) -> None:
        """A request's wait for the budget ended at ``now``."""
        with self._lock:
            self._waiting -= 1
            if self._waiting == 0:
                self.budget_wait_seconds += now - self._waiting_since

    def summary(self, stream_name: str, wall_seconds: Optional[float] = None) -> str:
        wall = f"wall time {wall_seconds:.1f} s, " if wall_seconds is not None else ""
        return (
            f"Sync summary: {stream_name}: {self.requests} requests, {self.retries} retries, "
            f"{self.rate_limit_waits} rate-limit waits ({self.rate_limit_wait_seconds:.1f} s), "
            f"{self.records} records. Timing: {wall}{self.budget_wait_seconds:.1f} s of it waiting for the request budget."
        )

"""Per-stream request accounting, for the one-line sync summary at the end of every read:
requests, retries, rate-limit waits, records, then the stream's wall time and the time its
requests waited for the client-side budget (``core.limits.TimedBudget``), summed over threads.

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
    #: Seconds requests waited for the budget before being sent; with requests sent from several
    #: threads at once their waits add up, so this may pass the stream's wall time.
    budget_wait_seconds: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False, compare=False)

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

    def waited_for_budget(self, seconds: float) -> None:
        with self._lock:
            self.budget_wait_seconds += seconds

    def summary(self, stream_name: str, wall_seconds: Optional[float] = None) -> str:
        wall = f"wall time {wall_seconds:.1f} s, " if wall_seconds is not None else ""
        return (
            f"Sync summary: {stream_name}: {self.requests} requests, {self.retries} retries, "
            f"{self.rate_limit_waits} rate-limit waits ({self.rate_limit_wait_seconds:.1f} s), "
            f"{self.records} records. Timing: {wall}{self.budget_wait_seconds:.1f} s waiting for the request budget."
        )

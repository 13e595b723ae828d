"""What a user sees of a long sync while it runs: its plan, then its progress.

At the start of a period stream's read, one plan line: the periods to read, the least number of
requests they take (pages beyond the first of a request cannot be known before it is answered,
hence "at least") and the least time those requests take at the vendor's published limit. While
it reads, after a period is done and at most once every :attr:`ProgressOptions.interval`
seconds, a progress line: periods done of all, records so far, and how long the rest will take
at the rate observed so far.

The least time at a limit of ``calls`` requests per ``seconds`` (a moving window): the first
window's ``calls`` requests may go at once, and each further ``calls`` one window later, so
``N`` requests take at least ``(ceil(N / calls) - 1) * seconds``. Streams of a vendor that share
one limit share its windows too, so each stream's time is a lower bound, never a promise.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, Hashable, Optional

from source_usage.core.budget import EndpointLimit
from source_usage.core.stats import RequestStats

logger = logging.getLogger("airbyte")

#: Seconds between two progress lines of one stream, at most one line per interval.
PROGRESS_INTERVAL = 30.0


@dataclass(frozen=True)
class ProgressOptions:
    """How often a stream says how far it got, and the clock it measures with (injectable, so
    tests never wait for it)."""

    interval: float = PROGRESS_INTERVAL
    clock: Callable[[], float] = field(default=time.monotonic, compare=False)


def duration(seconds: float) -> str:
    """``seconds`` as a user reads it: ``45 s``, ``1 min 10 s``, ``2 h 5 min``."""
    whole = max(0, int(round(seconds)))
    if whole < 60:
        return f"{whole} s"
    if whole < 3600:
        return f"{whole // 60} min {whole % 60} s"
    return f"{whole // 3600} h {whole % 3600 // 60} min"


def plural(count: int, noun: str) -> str:
    return noun if count == 1 else f"{noun}s"


def least_seconds(requests: int, limit: EndpointLimit) -> float:
    """The least time ``requests`` take at ``limit`` (see the module's docstring)."""
    if requests <= 0:
        return 0.0
    return (math.ceil(requests / limit.calls) - 1) * limit.seconds


def plan_line(stream: str, periods: int, requests: int, vendor: str, limit: Optional[EndpointLimit], in_flight: int) -> str:
    """The plan of one stream's read, e.g. ``Plan: acme_usage: 168 periods, at least 1,176
    requests, at least 1 min 0 s at Acme's limit of 1,000 requests per 60 s.``"""
    head = f"Plan: {stream}: {periods:,} {plural(periods, 'period')}, at least {requests:,} {plural(requests, 'request')}"
    if limit is None:
        in_flight_text = f"{in_flight} request in flight" if in_flight == 1 else f"up to {in_flight} requests in flight"
        return f"{head}; {vendor} publishes no rate limit, so the time depends on its answer times ({in_flight_text})."
    return (
        f"{head}, at least {duration(least_seconds(requests, limit))} at {vendor}'s limit of "
        f"{limit.calls:,} {plural(limit.calls, 'request')} per {limit.seconds:g} s."
    )


class StreamProgress:
    """How far one stream's read got; says so at most once per interval, after a period ends.

    ``periods_by_slice`` holds how many periods each slice (by its tag) covers: a slice may be
    several periods (an endpoint that answers them all in one request).
    """

    def __init__(self, stream: str, periods_by_slice: Dict[Hashable, int], stats: RequestStats, options: ProgressOptions) -> None:
        self.stream = stream
        self.periods_by_slice = periods_by_slice
        self.total = sum(periods_by_slice.values())
        self.done = 0
        self.stats = stats
        self.options = options
        self.started = options.clock()
        self._next_line = self.started + options.interval

    def slice_done(self, tag: Hashable) -> None:
        """The periods of the slice ``tag`` were read and their records handed on."""
        self.done += self.periods_by_slice.get(tag, 0)
        now = self.options.clock()
        if now >= self._next_line and self.done < self.total:
            self._next_line = now + self.options.interval
            logger.info(self.line(now))

    def line(self, now: float) -> str:
        elapsed = now - self.started
        left = (self.total - self.done) * elapsed / self.done if self.done else None
        eta = f"about {duration(left)} left at the rate so far" if left is not None else "time left not known yet"
        return (
            f"Progress: {self.stream}: {self.done:,} of {self.total:,} periods, {self.stats.records:,} records, "
            f"{duration(elapsed)} so far, {eta}."
        )

"""The client-side request budget: never send faster than the vendor allows.

Built on the CDK's ``HttpAPIBudget``: one moving-window policy per rate-limited group of
endpoints. One budget object is shared by all streams of a vendor, so a limit that spans
endpoints (a vendor's N requests/minute over all its usage endpoints) holds across streams. A
request counts against *every* policy that matches it (the CDK's budget applies only the first),
so a per-endpoint limit and a company-wide one over the same endpoints both hold.
The budget is asked before each attempt by ``core.limits.DeadlineAdapter``, once that attempt
holds one of the vendor's in-flight slots: a request that took its place in the window and then
waited for a slot would go out later than the window thinks, and arrive too close to the next.

A vendor counts a request when it *arrives*; we can only pace when we *send*. Two requests sent
exactly one window apart arrive closer than that when the first one's trip was the slower, so
each window is widened by a guard (:class:`PacedWindowPolicy`) that learns from the network.
Until a few round trips were seen, the guard is the longest of them (a one-way trip can differ
from another by at most a whole round trip); then it is their spread (what jitter there is);
after each answer the vendor gave because we were too fast it grows, and never shrinks below
what those answers taught.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Deque, List, Optional, Sequence
from urllib.parse import urlsplit

import requests
from airbyte_cdk.sources.streams.call_rate import (
    CallRateLimitHit,
    HttpAPIBudget,
    HttpRequestRegexMatcher,
    MovingWindowCallRatePolicy,
    Rate,
    RequestMatcher,
)
from pyrate_limiter import Rate as PyRateRate

from source_usage.core.cdk import replace_window_rates

#: The least a window is widened by, as a share of it: our clock at send time and the vendor's
#: at arrival differ by connection set-up and scheduling even at a constant latency. 2% of a
#: one-second window costs 2% of throughput at the floor.
WINDOW_GUARD = 0.02
#: The most a window is widened by, as a share of it: beyond that a vendor's limit is not what
#: we think it is, and the backoff (not a slower budget) must deal with it.
MAX_GUARD = 0.5
#: The first widening after a rate-limit answer, as a share of the window; each further one
#: doubles the learned part.
FIRST_BUMP = 0.05
#: Round trips remembered for the spread; the largest one is left out of it, so one slow answer
#: (a long page, a pause of the vendor) does not slow the whole sync down.
ROUND_TRIPS_KEPT = 64
#: Round trips seen before their spread is trusted; until then the guard is the longest one.
ROUND_TRIPS_TRUSTED = 8
#: The least a request waits for room in a window, when the window says it has room sooner (a
#: wait of 0 would spin).
MIN_WAIT_SECONDS = 0.001


@dataclass(frozen=True)
class EndpointLimit:
    """At most ``calls`` requests per ``seconds`` to the paths matching ``path_pattern``."""

    path_pattern: str
    calls: int
    seconds: float
    method: Optional[str] = None


class PacedWindowPolicy(MovingWindowCallRatePolicy):
    """The CDK's moving window of ``calls`` per ``seconds``, widened by a guard:
    ``max(WINDOW_GUARD x window, what the round trips say, what rate-limit answers taught)``,
    at most ``MAX_GUARD x window``."""

    def __init__(self, limit: EndpointLimit, matchers: List[RequestMatcher]) -> None:
        self.limit = limit
        self._learned = 0.0  # seconds, from rate-limit answers
        self._spread = 0.0  # seconds, from round trips
        self.guard_seconds = WINDOW_GUARD * limit.seconds
        super().__init__(rates=[Rate(limit=limit.calls, interval=self._interval())], matchers=matchers)

    def _interval(self) -> timedelta:
        return timedelta(seconds=self.limit.seconds + self.guard_seconds)

    def observe_spread(self, spread: float) -> None:
        """Two requests' one-way trips may differ by ``spread`` seconds, the round trips say."""
        if spread != self._spread:
            self._spread = spread
            self._set_guard()

    def rate_limited(self) -> None:
        """The vendor said we were too fast: widen the window (first by ``FIRST_BUMP``, then
        twice what was learned before)."""
        self._learned = max(FIRST_BUMP * self.limit.seconds, 2 * self._learned)
        self._set_guard()

    def _set_guard(self) -> None:
        wanted = max(WINDOW_GUARD * self.limit.seconds, self._spread, self._learned)
        guard = min(wanted, MAX_GUARD * self.limit.seconds)
        if guard == self.guard_seconds:
            return
        self.guard_seconds = guard
        replace_window_rates(self, [PyRateRate(limit=self.limit.calls, interval=int(self._interval().total_seconds() * 1000))])


class PacingBudget(HttpAPIBudget):
    """The vendor's budget: its :class:`PacedWindowPolicy` list, and what the network taught it.

    Rate-limit answers are the error handler's to recognise (a vendor's "too fast" may be a 400
    with a body code): it tells the budget through :meth:`rate_limited`; the CDK's own
    status-code check is off, because a 429 would otherwise fill the window and stall a whole
    window."""

    def __init__(self, policies: Sequence[PacedWindowPolicy]) -> None:
        super().__init__(policies=list(policies), status_codes_for_ratelimit_hit=[])
        self.paced: List[PacedWindowPolicy] = list(policies)
        self._round_trips: Deque[float] = deque(maxlen=ROUND_TRIPS_KEPT)
        self._lock = threading.Lock()

    def update_from_response(self, request: Any, response: Any) -> None:
        super().update_from_response(request, response)
        if not isinstance(response, requests.Response):
            return
        with self._lock:
            self._round_trips.append(response.elapsed.total_seconds())
            ordered = sorted(self._round_trips)
        if len(ordered) < ROUND_TRIPS_TRUSTED:
            spread = ordered[-1]  # too few to know the jitter: the worst a trip can differ
        else:
            spread = ordered[-2] - ordered[0]  # the slowest one left out
        # Every window is widened by the same network spread: the requests share one path.
        for policy in self.paced:
            policy.observe_spread(spread)

    def matching_policies(self, request: Any) -> List[PacedWindowPolicy]:
        """Every policy ``request`` counts against, in the order they were given."""
        return [policy for policy in self.paced if policy.matches(request)]

    def acquire_call(self, request: Any, block: bool = True, timeout: Optional[float] = None) -> None:
        """Wait until every policy matching ``request`` has room for it, taking its place in each.

        A place taken in one policy while another makes the request wait is a request counted a
        little early there: the budget errs on the slow side, never the fast one."""
        deadline = None if timeout is None else time.monotonic() + timeout
        for policy in self.matching_policies(request):
            while True:
                try:
                    policy.try_acquire(request, weight=1)
                    break
                except CallRateLimitHit as hit:
                    wait = hit.time_to_wait.total_seconds()
                    if not block or (deadline is not None and time.monotonic() + wait > deadline):
                        raise
                    time.sleep(max(wait, MIN_WAIT_SECONDS))

    def rate_limited(self, request: Optional[requests.PreparedRequest]) -> None:
        """An answer to ``request`` said we were too fast: widen the window of every policy it counts against."""
        for policy in self.matching_policies(request) if request is not None else []:
            policy.rate_limited()


def request_budget(url_base: str, limits: Sequence[EndpointLimit]) -> Optional[PacingBudget]:
    """A budget with one policy per limit; ``None`` when there are no limits (no throttling)."""
    if not limits:
        return None
    parts = urlsplit(url_base)
    origin = f"{parts.scheme}://{parts.netloc}"  # the matcher compares scheme://host[:port] only
    return PacingBudget(
        [
            PacedWindowPolicy(
                limit,
                [HttpRequestRegexMatcher(method=limit.method, url_base=origin, url_path_pattern=limit.path_pattern)],
            )
            for limit in limits
        ]
    )

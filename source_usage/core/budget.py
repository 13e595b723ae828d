"""The client-side request budget: never send faster than the vendor allows.

Built on the CDK's ``HttpAPIBudget``: one moving-window policy per rate-limited group of
endpoints. One budget object is shared by all streams of a vendor, so a limit that spans
endpoints (a vendor's N requests/minute over all its usage endpoints) holds across streams, and ``HttpClient`` blocks in
``acquire_call`` before each send.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Optional, Sequence
from urllib.parse import urlsplit

from airbyte_cdk.sources.streams.call_rate import (
    HttpAPIBudget,
    HttpRequestRegexMatcher,
    MovingWindowCallRatePolicy,
    Rate,
)

#: A window is widened by this much so that the gap between our clock at send time and the
#: vendor's clock at arrival (connection set-up, scheduling) cannot squeeze two requests into
#: one of the vendor's windows. 2% of a one-second window costs 2% of throughput at the floor.
WINDOW_GUARD = 0.02


@dataclass(frozen=True)
class EndpointLimit:
    """At most ``calls`` requests per ``seconds`` to the paths matching ``path_pattern``."""

    path_pattern: str
    calls: int
    seconds: float
    method: Optional[str] = None


def request_budget(url_base: str, limits: Sequence[EndpointLimit]) -> Optional[HttpAPIBudget]:
    """A budget with one policy per limit; ``None`` when there are no limits (no throttling)."""
    if not limits:
        return None
    parts = urlsplit(url_base)
    origin = f"{parts.scheme}://{parts.netloc}"  # the matcher compares scheme://host[:port] only
    policies = [
        MovingWindowCallRatePolicy(
            rates=[Rate(limit=limit.calls, interval=timedelta(seconds=limit.seconds * (1 + WINDOW_GUARD)))],
            matchers=[
                HttpRequestRegexMatcher(
                    method=limit.method, url_base=origin, url_path_pattern=limit.path_pattern
                )
            ],
        )
        for limit in limits
    ]
    # Rate-limit answers are handled by the error handler and backoff strategy; the budget only
    # paces. (A 429 would otherwise fill the moving window and stall a whole window.)
    return HttpAPIBudget(policies=policies, status_codes_for_ratelimit_hit=[])

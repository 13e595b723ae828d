"""The vendor's own clock, as its answers tell it (the HTTP ``Date`` header).

A sync decides which periods are over by the machine's clock. A machine whose clock runs ahead
(two days, say) would ask for windows the vendor has not finished, get them empty, and checkpoint
them: no later sync would read those days again. Every answer carries the vendor's time in its
``Date`` header (RFC 9110 requires it of an origin server that has a clock), so the streams of a
vendor share one :class:`VendorClock`: no period that ends after it is checkpointed (it is read,
and read again by the next sync), and a machine clock more than :data:`SKEW_WARNING` away from it
is said once, naming both clocks.
"""

from __future__ import annotations

import email.utils
import logging
import threading
import time
from datetime import datetime, timezone
from typing import Callable, Optional

import requests

logger = logging.getLogger("airbyte")

#: How far the machine's clock may be from the vendor's before the sync says so. A header has one
#: second's resolution and a request takes some: a few minutes is wrong, not noise.
SKEW_WARNING = 5 * 60


class VendorClock:
    """The latest ``Date`` a vendor's answers carried, run on by the machine's monotonic clock."""

    def __init__(self, vendor: str, wall: Callable[[], float] = time.time, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.vendor = vendor
        self._wall = wall
        self._monotonic = monotonic
        self._lock = threading.Lock()
        #: The vendor's time at the latest answer (Unix seconds), and the monotonic time it came.
        self._said: Optional[float] = None
        self._heard_at = 0.0
        self._warned = False

    def observe(self, response: requests.Response) -> None:
        """Learn the vendor's time from one answer (one without a readable ``Date``: nothing)."""
        header = response.headers.get("Date")
        try:
            moment = email.utils.parsedate_to_datetime(header) if header else None
        except (TypeError, ValueError):
            moment = None
        if moment is None or moment.tzinfo is None:
            return
        said, heard_at, ours = moment.timestamp(), self._monotonic(), self._wall()
        with self._lock:
            if self._said is None or said >= self._said + (heard_at - self._heard_at):
                self._said, self._heard_at = said, heard_at
            warn = abs(ours - said) > SKEW_WARNING and not self._warned
            self._warned = self._warned or warn
        if warn:
            logger.warning(
                f"This machine's clock ({_utc(ours)}) is {_apart(ours - said)} {self.vendor}'s ({_utc(said)}, "
                "the Date of its answers): a period is checkpointed only once it is over by both clocks. "
                "Set the machine's clock right (NTP)."
            )

    def now(self) -> Optional[float]:
        """The vendor's time now (Unix seconds), or ``None`` before an answer told it."""
        with self._lock:
            if self._said is None:
                return None
            return self._said + (self._monotonic() - self._heard_at)

    def has_passed(self, moment: datetime) -> bool:
        """Whether the vendor's clock is past ``moment`` (``True`` when it never said its time)."""
        vendor_now = self.now()
        return vendor_now is None or moment.timestamp() <= vendor_now


def _utc(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _apart(seconds: float) -> str:
    minutes = round(abs(seconds) / 60)
    span = f"{minutes // 60} h {minutes % 60} min" if minutes >= 60 else f"{minutes} min"
    return f"{span} {'ahead of' if seconds > 0 else 'behind'}"

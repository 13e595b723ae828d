"""Statistics periods in a vendor's own time zone.

Every usage API here reports on calendar periods (a day, a week, a month, an hour) in one time
zone that is the vendor's, never the machine's: a fixed zone such as UTC+8 or UTC, or one the
user configures (the zone of the account). A period is a half-open interval ``[start, end)``
of zone-aware instants; its ``start`` is the cursor value a stream checkpoints.

Arithmetic is done on the wall clock (``add(days=1)``, ``add(months=1)``), so a day that a DST
change makes 23 or 25 hours long is still one day, and consecutive periods neither gap nor
overlap. Hours are the exception: they are added as absolute time, so a DST night has 23 or 25
one-hour periods, each exactly one hour long.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum
from typing import Iterator, Optional

import pendulum
from pendulum import Date, DateTime


class Granularity(str, Enum):
    """The length of one statistics period."""

    HOUR = "hour"
    DAY = "day"
    WEEK = "week"
    MONTH = "month"

    def floor(self, moment: DateTime) -> DateTime:
        """The start of the period that contains ``moment`` (weeks start on Monday)."""
        if self is Granularity.HOUR:
            return moment.start_of("hour")
        if self is Granularity.DAY:
            return moment.start_of("day")
        if self is Granularity.WEEK:
            return moment.start_of("week")
        return moment.start_of("month")

    def step(self, start: DateTime, count: int = 1) -> DateTime:
        """``count`` periods after ``start`` (negative: before)."""
        if self is Granularity.HOUR:
            return start.add(hours=count)
        if self is Granularity.DAY:
            return start.add(days=count)
        if self is Granularity.WEEK:
            return start.add(weeks=count)
        return start.add(months=count)

    def periods_in_days(self, days: int) -> int:
        """How many whole periods cover ``days`` days (a lookback in days, rounded up)."""
        if days <= 0:
            return 0
        per_day = {Granularity.HOUR: 1 / 24, Granularity.DAY: 1, Granularity.WEEK: 7, Granularity.MONTH: 28}
        return max(1, math.ceil(days / per_day[self]))


@dataclass(frozen=True)
class Period:
    """One statistics period ``[start, end)`` in the vendor's zone."""

    start: DateTime
    end: DateTime

    @property
    def day(self) -> str:
        """The start as a calendar date, ``YYYY-MM-DD``."""
        return self.start.to_date_string()

    @property
    def start_iso(self) -> str:
        """The start as ISO-8601 with the zone's offset, e.g. ``2026-03-08T00:00:00-08:00``."""
        return self.start.isoformat()

    @property
    def end_iso(self) -> str:
        return self.end.isoformat()


def day_start(day: Date, timezone: str) -> DateTime:
    """Midnight at the start of ``day`` in ``timezone``."""
    return pendulum.datetime(day.year, day.month, day.day, tz=timezone)


@dataclass(frozen=True)
class PeriodPlan:
    """Which periods a sync may read: from ``first`` up to the last period that ends by ``stop``.

    ``first`` is the start of the first allowed period and ``stop`` the exclusive end of the last
    one, both already clamped to what the vendor serves. A period that ends after ``finished_by``
    (default: ``stop``) is served before it is over: it is read, but no cursor moves past it.
    ``lookback_periods`` is the configured lookback in whole periods. A plan turns a stream's cursor
    into the list of periods to read.
    """

    granularity: Granularity
    first: DateTime
    stop: DateTime
    lookback_periods: int = 0
    finished_by: Optional[DateTime] = None

    @property
    def timezone(self) -> str:
        """The zone every period of the plan is counted in."""
        return self.first.timezone_name or "UTC"

    def is_finished(self, period: Period) -> bool:
        return period.end <= (self.finished_by or self.stop)

    def latest_finished_start(self) -> DateTime:
        """The start of the latest period that is over (by the clock, or by ``stop``)."""
        return self.granularity.step(self.granularity.floor(self.finished_by or self.stop), -1)

    def periods(self, cursor: Optional[DateTime] = None) -> list[Period]:
        """The periods to read, oldest first.

        With no cursor: every period of the plan. With a cursor (the start of the last period read
        in full): from ``lookback_periods`` periods before the one after the cursor, never before
        ``first``. That is ``max(start, cursor + 1 period - lookback)``.
        """
        begin = self.first
        if cursor is not None:
            resume = self.granularity.step(self.granularity.floor(cursor), 1 - self.lookback_periods)
            begin = max(begin, resume)
        return list(self._iterate(begin))

    def _iterate(self, begin: DateTime) -> Iterator[Period]:
        start = self.granularity.floor(begin)
        if start < begin:  # ``first`` inside a period: that partial period is not a whole one
            start = self.granularity.step(start, 1)
        while True:
            end = self.granularity.step(start, 1)
            if end > self.stop:
                return
            yield Period(start, end)
            start = end

"""The config fields every vendor shares, and turning them into a plan of periods."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Optional

import pendulum
from airbyte_cdk.models import FailureType
from airbyte_cdk.utils.traced_exception import AirbyteTracedException
from pendulum import Date, DateTime

from source_usage.core.periods import Granularity, PeriodPlan, day_start

logger = logging.getLogger("airbyte")

#: When ``start_date`` is not set: this many days before the latest finished day.
DEFAULT_HISTORY_DAYS = 30


def config_error(message: str) -> AirbyteTracedException:
    """An error the user fixes in the config: ``check`` answers FAILED, ``read`` ends with a
    ``config_error`` trace. The message is shown as is, so it is one sentence naming the field."""
    return AirbyteTracedException(message=message, internal_message=message, failure_type=FailureType.config_error)


def oldest_day(now: DateTime, timezone: str, history_days: int) -> DateTime:
    """The start of the oldest day a vendor that keeps ``history_days`` days of statistics in
    ``timezone`` still serves at ``now``."""
    return now.in_timezone(timezone).start_of("day").subtract(days=history_days)


def _parse_date(value: Optional[str]) -> Optional[Date]:
    if not value:
        return None
    parsed = pendulum.parse(value, exact=True)
    if not isinstance(parsed, Date) or isinstance(parsed, DateTime):
        raise ValueError(value)
    return parsed


@dataclass(frozen=True)
class SharedSettings:
    """``start_date``, ``end_date`` and ``lookback_days``, parsed; ``now`` is the clock (tests
    freeze it)."""

    start_date: Optional[Date]
    end_date: Optional[Date]
    lookback_days: int
    now: Callable[[], DateTime] = pendulum.now

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> SharedSettings:
        """Parse a config that :mod:`source_usage.core.validation` has already accepted."""
        return cls(
            start_date=_parse_date(config.get("start_date")),
            end_date=_parse_date(config.get("end_date")),
            lookback_days=int(config.get("lookback_days", 1)),
        )

    def plan(
        self,
        vendor: str,
        timezone: str,
        granularity: Granularity,
        history_days: Optional[int] = None,
        with_current: bool = False,
    ) -> PeriodPlan:
        """The periods a vendor may be asked for, in its own ``timezone``, with the configured
        lookback in whole periods.

        The last one is the latest period that has finished in that zone (for days: yesterday
        there, T-1), and no later than the one holding ``end_date``; a future end is clamped, not
        an error. ``with_current``: the period running now is served too (it is read, never
        checkpointed). The first is the period holding ``start_date`` (default:
        ``DEFAULT_HISTORY_DAYS`` before the latest finished day), moved up to the vendor's oldest
        day when it keeps only ``history_days`` days.
        """
        now = self.now().in_timezone(timezone)
        return PeriodPlan(
            granularity=granularity,
            first=self._first(vendor, now, timezone, granularity, history_days),
            stop=self._stop(now, timezone, granularity, with_current),
            lookback_periods=granularity.periods_in_days(self.lookback_days),
            finished_by=granularity.floor(now),
        )

    def _stop(self, now: DateTime, timezone: str, granularity: Granularity, with_current: bool) -> DateTime:
        if not with_current:
            stop = granularity.floor(now)
            if self.end_date is not None:
                stop = min(stop, day_start(self.end_date.add(days=1), timezone))
            return stop
        stop = granularity.step(granularity.floor(now), 1)
        if self.end_date is not None:
            end_period = granularity.floor(day_start(self.end_date, timezone))
            stop = min(stop, granularity.step(end_period, 1))
        return stop

    def _first(self, vendor: str, now: DateTime, timezone: str, granularity: Granularity, history_days: Optional[int]) -> DateTime:
        if self.start_date is not None:
            first = granularity.floor(day_start(self.start_date, timezone))
        else:
            latest_day = now.start_of("day").subtract(days=1)
            first = granularity.floor(latest_day.subtract(days=DEFAULT_HISTORY_DAYS))
        if history_days is None:
            return first
        oldest = oldest_day(now, timezone, history_days)
        if first >= oldest:
            return first
        if self.start_date is not None:
            logger.warning(
                f"{vendor} keeps {history_days} days of statistics: start_date "
                f"{self.start_date.to_date_string()} is moved up to {oldest.to_date_string()}."
            )
        return oldest

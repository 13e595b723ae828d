"""Usage buckets: which period each bucket of an answer stands for, and what adds up across users."""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Sequence, Tuple

from airbyte_cdk.utils.traced_exception import AirbyteTracedException
from pendulum import DateTime

from source_usage.core.errors import answer_error
from source_usage.core.values import utc_instant

#: Counts that do not add up across users (each is a number of distinct users).
NOT_ADDITIVE = frozenset({"activeUsers", "uniqueUsers"})


def bucket_periods(buckets: Sequence[Mapping[str, Any]], window: Mapping[str, Any], where: str) -> List[Tuple[str, str]]:
    """The period of each bucket of one window's answer.

    One bucket (what ``granularity=all`` promises) has the window as its period, whatever its own
    ``from``/``to`` say (a server's own formatting or clipping changes no key). Several buckets
    each have their own ``from``/``to``, which must lie in the window and not overlap: two records
    under one key, or one bucket counted in two windows, would change the numbers silently.
    """
    if len(buckets) <= 1:
        return [(str(window["period_start"]), str(window["period_end"]))] * len(buckets)
    first, end = utc_instant(str(window["period_start"])), utc_instant(str(window["period_end"]))
    assert first is not None and end is not None, "a window is always two instants"
    spans = [bucket_span(bucket, index, len(buckets), where) for index, bucket in enumerate(buckets)]
    previous_end = first
    for start, stop in sorted(spans):
        if start < previous_end or stop > end or stop <= start:
            raise bucket_error(
                f"{where} answered {len(buckets)} buckets for the window from {window['period_start']} to "
                f"{window['period_end']}, and the one from {start.isoformat()} to {stop.isoformat()} overlaps "
                "another or lies outside the window"
            )
        previous_end = stop
    return [(start.isoformat(), stop.isoformat()) for start, stop in spans]


def bucket_span(bucket: Mapping[str, Any], index: int, count: int, where: str) -> Tuple[DateTime, DateTime]:
    """A bucket's own ``[from, to)`` in UTC, or an error naming the field it lacks."""
    span = []
    for field in ("from", "to"):
        moment = utc_instant(bucket.get(field))
        if moment is None:
            raise bucket_error(
                f"{where} answered {count} buckets for one window, and bucket {index} has no date-time '{field}' "
                f"(it has: {', '.join(sorted(bucket)) or 'none'}); with several buckets each one's from/to is its period"
            )
        span.append(moment)
    return span[0], span[1]


def bucket_error(what: str) -> AirbyteTracedException:
    message = f"{what}. No bucket is emitted under a period that could collide with another; report it to Tabnine."
    return answer_error(message)


def bucket_counts(bucket: Mapping[str, Any]) -> Dict[str, float]:
    """A bucket's counts that add up across users, by path (``codeCompletions.lines``): the numbers
    of its groups (``codeCompletions``, ``chat``, ``agent``), but not their distinct-user counts."""
    counts: Dict[str, float] = {}
    for group, fields in bucket.items():
        if isinstance(fields, Mapping):
            for name, value in fields.items():
                if type(value) in (int, float) and name not in NOT_ADDITIVE:
                    counts[f"{group}.{name}"] = value
    return counts

"""What the end-to-end tests of a killed and resumed sync assert, shared by every vendor's test file.

A period stream reads its requests concurrently (``core.readahead``): when it is killed it may
have started, besides the request whose records it was emitting, up to its read-ahead window of
later requests, and emitted some records of the period after its last checkpoint. The resumed
sync reads again from that period on, so between the two runs no key may be missing, and only the
records of the periods those requests cover may come twice. Every bound here is computed from the
stream the connector builds for the test's config, so a vendor's cap on requests in flight may
change without a test changing.
"""

from __future__ import annotations

import math
from datetime import date, datetime
from itertools import pairwise
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from emulator import LoggedRequest
from integration_tests.assertions import assert_matches, keyed
from integration_tests.runner import Run
from source_usage import SourceUsage
from source_usage.core.streams import READ_AHEAD_WINDOW, PeriodStream


def requests_ahead(config: Mapping[str, Any], stream: str) -> int:
    """The most requests of ``stream`` that can be started and not yet emitted whole: the one
    being emitted and the read-ahead window after it."""
    (built,) = [s for s in SourceUsage().streams(dict(config)) if s.name == stream]
    assert isinstance(built, PeriodStream), f"{stream} is not a period stream"
    return READ_AHEAD_WINDOW * built.requests_in_flight + 1


def periods_in_flight(config: Mapping[str, Any], stream: str, requests_per_period: int) -> int:
    """How many periods the requests of :func:`requests_ahead` can span (the first of them may
    be any request of its period)."""
    return math.ceil(requests_ahead(config, stream) / requests_per_period) + (1 if requests_per_period > 1 else 0)


def moment(value: str) -> datetime | date:
    """A cursor value as something ordered: a date, or an instant (offsets may differ across a
    DST change, so their strings do not sort)."""
    return datetime.fromisoformat(value) if "T" in value else date.fromisoformat(value)


def checkpoint_of(run: Run, stream: str) -> Optional[str]:
    """The cursor value of ``stream``'s last STATE in ``run`` (``None``: it wrote none)."""
    states = run.states(stream)
    if not states:
        return None
    (value,) = states[-1].values()
    return str(value)


def in_flight_records(
    truth: Sequence[Mapping[str, Any]], cursor: str, periods: Sequence[str], checkpoint: Optional[str], count: int
) -> List[Mapping[str, Any]]:
    """The ground-truth records of the ``count`` planned ``periods`` (their cursor values, in
    order) that follow ``checkpoint`` (``None``: from the first)."""
    after = [p for p in periods if checkpoint is None or moment(p) > moment(checkpoint)]
    flying = {moment(p) for p in after[:count]}
    return [record for record in truth if moment(str(record[cursor])) in flying]


def assert_states_follow_their_records(
    run: Run, stream: str, truth: Sequence[Mapping[str, Any]], cursor: str, resumed_from: Optional[str] = None
) -> None:
    """Every STATE of ``stream`` in ``run`` comes after every record of the periods it names
    as done (those up to its cursor value, after ``resumed_from``, the state ``run`` was given):
    a state never passes a period not yet emitted whole."""
    emitted: set[Tuple[Any, ...]] = set()
    by_moment = [(moment(str(record[cursor])), key) for key, record in keyed(stream, truth).items()]
    if resumed_from is not None:
        by_moment = [(at, key) for at, key in by_moment if at > moment(resumed_from)]
    for message in run.messages:
        if message["type"] == "RECORD" and message["record"]["stream"] == stream:
            emitted.update(keyed(stream, [message["record"]["data"]]))
        elif message["type"] == "STATE" and message["state"]["stream"]["stream_descriptor"]["name"] == stream:
            (value,) = message["state"]["stream"]["stream_state"].values()
            done = {key for at, key in by_moment if at <= moment(str(value))}
            missing = sorted(done - emitted)
            assert not missing, f"{stream}: the STATE {value} came before {len(missing)} of its records, e.g. {missing[:3]}"


def assert_resumed_without_loss(
    stream: str, killed: Run, resumed: Run, truth: Sequence[Mapping[str, Any]], in_flight: Sequence[Mapping[str, Any]]
) -> int:
    """Between the killed and the resumed run every key of ``truth`` is there, as the ground truth
    has it, none twice within a run, and the keys of both runs are among the ``in_flight``
    records; returns how many keys came twice."""
    first, second = keyed(stream, killed.records(stream)), keyed(stream, resumed.records(stream))
    union: Dict[Tuple[Any, ...], Any] = {**first, **second}
    assert_matches(stream, list(union.values()), truth)
    twice = set(first) & set(second)
    allowed = set(keyed(stream, in_flight))
    beyond = sorted(twice - allowed)
    assert not beyond, f"{stream}: {len(twice)} keys read twice, {len(beyond)} of them outside the periods in flight, e.g. {beyond[:3]}"
    return len(twice)


def overlapping(requests: Sequence[LoggedRequest]) -> bool:
    """Whether two of ``requests`` were on the wire at once: by the emulator's own ledger, one was
    received before the one before it was answered (or dropped, when the kill closed its
    connection)."""
    by_arrival = sorted(requests, key=lambda e: e.received)
    return any(later.received < earlier.answered for earlier, later in pairwise(by_arrival))

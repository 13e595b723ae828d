"""End to end, for every vendor the emulator serves: servers that limit, refuse or fail requests
while the connector has several in flight (issue 23).

- A vendor that answers 429 whenever more than K requests are in flight (with or without
  ``Retry-After``), or resets the connections past N: the vendor's requests in flight shrink to
  what it takes (``core.pool.AdaptiveLimit``), every record arrives once, and no request gives up.
- One period failing for good while later ones are read ahead: the error names the period, no
  STATE reaches it, and a resume ends exact.

Each vendor is read through its daily usage stream (``VendorEmulator.usage_stream``) over days
ending three days ago (over in every vendor's zone), the emulator's rate limits off.
"""

from __future__ import annotations

import signal
import threading
import time as clock
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from emulator import Emulator, discover_vendors
from integration_tests.assertions import assert_matches, assert_succeeded, keyed
from integration_tests.conftest import CheckedConnector, EmulatorFactory
from integration_tests.every_vendor import VENDORS, days, one_vendor
from integration_tests.every_vendor import emulated as every_vendor_emulated
from integration_tests.resumption import assert_states_follow_their_records, checkpoint_of
from integration_tests.runner import configured_catalog
from source_usage.core.pool import READING_BUFFER, RECORD_BUDGET

JIANDAOYUN_E2E = dict(discover_vendors()["jiandaoyun"].e2e_options)
#: Jiandaoyun's requests in flight at most (the connection's ceiling at 50 per second).
JIANDAOYUN_IN_FLIGHT = 50
TITLES = {"jiandaoyun": "Jiandaoyun", "workato": "Workato", "tabnine": "Tabnine"}
#: Requests a server takes at once before it refuses more.
SERVER_LIMIT = 3
#: Round trip of every request: long enough that requests overlap.
LATENCY_MS = 100
#: The most refusals a sync of 30 days (10 x SERVER_LIMIT requests) may meet: the limit's slow
#: start overshoots once, and each later probe by one request (measured: 3 to 12).
MOST_REFUSALS = 5 * SERVER_LIMIT


def emulated(emulator_factory: EmulatorFactory, **options: Any) -> Emulator:
    return every_vendor_emulated(emulator_factory, latency_ms=LATENCY_MS, **options)


def cursor_value(stream: str, day: date, zone: ZoneInfo) -> str:
    """The cursor value of ``day``'s period: the date itself, or the instant it starts."""
    return day.isoformat() if cursor_of(stream) == "date" else datetime.combine(day, time(), zone).isoformat()


def cursor_of(stream: str) -> str:
    (configured,) = configured_catalog([stream])["streams"]
    return str(configured["cursor_field"][0])


@pytest.mark.process
@pytest.mark.parametrize("over", ["429", "429-retry-after", "reset"])
@pytest.mark.parametrize("vendor", VENDORS)
def test_a_server_refusing_more_than_k_requests_at_once_is_read_whole_within_its_limit(
    connector: CheckedConnector, emulator_factory: EmulatorFactory, vendor: str, over: str
) -> None:
    emulator = emulated(emulator_factory, concurrency_limit=SERVER_LIMIT, over_concurrency=over)
    stream = emulator.vendor(vendor).usage_stream
    start, end = days(30)

    run = connector.read(one_vendor(emulator, vendor, start, end), configured_catalog([stream]))

    refused = [e for e in emulator.log.entries() if e.fault == "concurrency"]
    assert_succeeded(run)
    assert_matches(stream, run.records(stream), emulator.ground_truth(stream, start_date=start, end_date=end))
    assert 0 < len(refused) <= MOST_REFUSALS, f"{len(refused)} refusals"
    # Every refused request was sent again, once per refusal, and none gave up.
    assert f"Sync summary: {stream}: " in run.stdout and f", {len(refused)} retries, " in run.stdout, run.describe()


@pytest.mark.process
@pytest.mark.parametrize("vendor", VENDORS)
def test_a_period_failing_for_good_while_later_ones_are_read_ahead_is_named_no_state_reaches_it_and_a_resume_ends_exact(
    connector: CheckedConnector, emulator_factory: EmulatorFactory, vendor: str
) -> None:
    emulator = emulated(emulator_factory)
    served = emulator.vendor(vendor)
    stream, cursor = served.usage_stream, cursor_of(served.usage_stream)
    start, end = days(8)
    failing = start + timedelta(days=4)
    pattern = served.usage_day_pattern.format(day=failing.isoformat())
    # Answered once two requests of later days were received too (4 days before it, it, 2 after).
    unprocessable = {"status": 422, "body": {"message": "unprocessable"}}
    fault = emulator.faults.add("reply", path=served.usage_path, carrying=pattern, held_until_received=7, **unprocessable)
    config = one_vendor(emulator, vendor, start, end)
    truth = emulator.ground_truth(stream, start_date=start, end_date=end)

    failed = connector.read(config, configured_catalog([stream]))

    assert failed.returncode == 1 and fault.fired == 1
    # Later periods were on the wire when it failed (the fault held its answer until they were).
    assert emulator.receipts.count(served.usage_path) >= 7
    (error, *_) = failed.errors()
    assert error["failure_type"] == "system_error"
    zone = ZoneInfo(served.usage_zone)
    period = " to ".join(datetime.combine(day, time(), zone).isoformat() for day in (failing, failing + timedelta(days=1)))
    assert error["message"] == (
        f"{TITLES[vendor]} {served.usage_path.lstrip('/')} rejected the request (HTTP 422): unprocessable. The period {period} "
        f"of {stream} was not read whole, so the state stays before it: the next sync reads it again."
    )
    # The last STATE names the day before; no record of the failed day or later was emitted.
    assert failed.states(stream)[-1] == {cursor: cursor_value(stream, failing - timedelta(days=1), zone)}
    assert_states_follow_their_records(failed, stream, truth, cursor)
    assert {str(record[cursor]) for record in failed.records(stream)} == {
        cursor_value(stream, start + timedelta(days=offset), zone) for offset in range(4)
    }

    emulator.faults.clear()
    resumed = connector.read(config, configured_catalog([stream]), state=failed.last_states())

    assert_succeeded(resumed)
    union = {**keyed(stream, failed.records(stream)), **keyed(stream, resumed.records(stream))}
    assert_matches(stream, list(union.values()), truth)


@pytest.mark.process
@pytest.mark.parametrize("vendor", VENDORS)
def test_a_token_revoked_mid_sync_stops_the_vendors_requests_and_only_those_in_flight_follow_the_first_rejection(
    connector: CheckedConnector, emulator_factory: EmulatorFactory, vendor: str
) -> None:
    emulator = emulated(emulator_factory)
    served = emulator.vendor(vendor)
    stream = served.usage_stream
    start, end = days(60)
    config = one_vendor(emulator, vendor, start, end)

    def revoke() -> None:
        if emulator.wait_for_receipts(3, served.usage_path):  # the slow start's first two rounds
            setattr(served.options, served.key_option, "revoked-" + served.options.api_key)

    revoker = threading.Thread(target=revoke, daemon=True)
    revoker.start()
    run = connector.read(config, configured_catalog([stream]))
    revoker.join()

    assert run.returncode == 1
    errors = run.errors()
    assert errors[0]["failure_type"] == "config_error" and errors[0]["message"].startswith(f"{TITLES[vendor]} rejected the credentials")
    assert emulator.log.wait_for(len(emulator.receipts)), "a request the emulator received was never answered"
    rejected = [e for e in emulator.log.entries() if e.status == served.unauthorized().status]
    first = min(rejected, key=lambda e: e.answered)
    after = [e for e in emulator.log.entries() if e.received > first.answered]
    # Only requests already in flight follow the first rejection. One sent after it was answered
    # took the slot of a request that ended before the connector read the rejection: one on the
    # wire with it (on a loaded machine reading an answer lags), or a success answered after it.
    # A connector that went on would send the rest of the 60 days' requests.
    freed = [
        e for e in emulator.log.entries()
        if e is not first and e.answered >= first.received and (e.received <= first.answered or e.status == 200)
    ]  # fmt: skip
    assert len(after) <= len(freed), [(e.path, e.status) for e in after]
    assert len(rejected) <= emulator.most_held, (len(rejected), emulator.most_held)
    assert len(emulator.receipts) < 60


#: How soon a failed sync exits after its first error, whatever its other requests do.
EXIT_SECONDS = 10


@pytest.mark.process
@pytest.mark.parametrize("vendor", VENDORS)
def test_a_failed_sync_exits_within_seconds_of_its_first_error_while_its_other_requests_hang(
    connector: CheckedConnector, emulator_factory: EmulatorFactory, vendor: str
) -> None:
    emulator = emulated(emulator_factory)
    served = emulator.vendor(vendor)
    stream = served.usage_stream
    start, end = days(8)
    failing = start + timedelta(days=4)
    hanging = "|".join((failing + timedelta(days=offset)).isoformat() for offset in (1, 2, 3))
    # The later days hang for good; the failing day is answered once they were all received.
    emulator.faults.add("hang", path=served.usage_path, carrying=served.usage_day_pattern.format(day=f"(?:{hanging})"))
    unprocessable = {"status": 422, "body": {"message": "unprocessable"}}
    pattern = served.usage_day_pattern.format(day=failing.isoformat())
    emulator.faults.add("reply", path=served.usage_path, carrying=pattern, held_until_received=8, **unprocessable)

    config = one_vendor(emulator, vendor, start, end)
    process = connector.start(connector.arguments("read", config=config, catalog=configured_catalog([stream])))
    assert process.stdout is not None
    first_error: float | None = None
    for line in process.stdout:
        if first_error is None and '"type":"TRACE"' in line.replace(" ", "") and '"ERROR"' in line:
            first_error = clock.monotonic()
    process.wait(timeout=120)
    exited = clock.monotonic()

    assert first_error is not None and process.returncode == 1
    assert emulator.receipts.count(served.usage_path) == 8  # the three hanging requests were on the wire
    assert exited - first_error <= EXIT_SECONDS, f"exited {exited - first_error:.1f} s after its first error"


@pytest.mark.process
@pytest.mark.parametrize("vendor", VENDORS)
def test_sigterm_with_requests_in_flight_exits_within_seconds_and_a_resume_loses_nothing(
    connector: CheckedConnector, emulator_factory: EmulatorFactory, vendor: str
) -> None:
    emulator = emulated(emulator_factory)
    served = emulator.vendor(vendor)
    stream, cursor = served.usage_stream, cursor_of(served.usage_stream)
    start, end = days(8)
    hanging = "|".join((start + timedelta(days=offset)).isoformat() for offset in (4, 5, 6, 7))
    emulator.faults.add("hang", path=served.usage_path, carrying=served.usage_day_pattern.format(day=f"(?:{hanging})"))
    config = one_vendor(emulator, vendor, start, end)
    truth = emulator.ground_truth(stream, start_date=start, end_date=end)

    process = connector.start(connector.arguments("read", config=config, catalog=configured_catalog([stream])))
    assert process.stdout is not None
    lines = []
    for line in process.stdout:
        lines.append(line)
        if '"STATE"' in line:
            break  # a state written: the first days were read
    assert emulator.wait_for_receipts(8, served.usage_path), [(e.path, e.body or e.query, e.status) for e in emulator.log.entries()]
    process.send_signal(signal.SIGTERM)
    signalled = clock.monotonic()
    rest, _ = process.communicate(timeout=120)
    exited = clock.monotonic()
    stopped = connector.keep(["read"], process.returncode, "".join(lines) + rest, "")

    assert process.returncode != 0 and checkpoint_of(stopped, stream) is not None
    assert exited - signalled <= EXIT_SECONDS, f"exited {exited - signalled:.1f} s after SIGTERM"
    assert_states_follow_their_records(stopped, stream, truth, cursor)

    emulator.faults.clear()
    resumed = connector.read(config, configured_catalog([stream]), state=stopped.last_states())

    assert_succeeded(resumed)
    union = {**keyed(stream, stopped.records(stream)), **keyed(stream, resumed.records(stream))}
    assert_matches(stream, list(union.values()), truth)


def settled(emulator: Emulator, quiet_seconds: float = 2.0, most_seconds: float = 60.0) -> int:
    """How many requests the emulator received once none came for ``quiet_seconds``."""
    deadline = clock.monotonic() + most_seconds
    while True:
        seen = len(emulator.receipts)
        if emulator.wait_for_receipts(seen + 1, timeout=quiet_seconds) is False or clock.monotonic() > deadline:
            return len(emulator.receipts)


@pytest.mark.process
def test_a_destination_that_stops_reading_stops_the_requests_once_the_vendors_records_buffer_is_full(
    connector: CheckedConnector, emulator_factory: EmulatorFactory
) -> None:
    # 1,000 members a day in pages of 100: 300 requests and 30,000 records over 30 days.
    emulator = emulator_factory(seed=7, rate_limits=False, jiandaoyun={**JIANDAOYUN_E2E, "members": 1000})
    stream = "jiandaoyun_member_usage"
    start, end = days(30)
    config = one_vendor(emulator, "jiandaoyun", start, end)

    process = connector.start(connector.arguments("read", config=config, catalog=configured_catalog([stream])))
    assert process.stdout is not None
    received_while_stopped = settled(emulator)
    stdout, _ = process.communicate(timeout=120)
    run = connector.keep(["read"], process.returncode, stdout, "")

    # Buffered: the vendor's record budget, the job being read, a pipe of lines, and the
    # requests in flight (a page of 100 records each).
    pages_buffered = (RECORD_BUDGET + READING_BUFFER) // 100 + JIANDAOYUN_IN_FLIGHT + 2
    assert received_while_stopped <= pages_buffered < 300, received_while_stopped
    assert_succeeded(run)
    assert_matches(stream, run.records(stream), emulator.ground_truth(stream, start_date=start, end_date=end))

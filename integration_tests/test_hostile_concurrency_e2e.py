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

import threading
from datetime import date, datetime, time, timedelta, timezone
from typing import Any, Dict, Tuple
from zoneinfo import ZoneInfo

import pytest

from emulator import Emulator, discover_vendors, vendor_options
from integration_tests.assertions import assert_matches, assert_succeeded, keyed
from integration_tests.conftest import CheckedConnector, EmulatorFactory
from integration_tests.resumption import assert_states_follow_their_records
from integration_tests.runner import configured_catalog

VENDORS = sorted(discover_vendors())
TITLES = {"jiandaoyun": "Jiandaoyun", "workato": "Workato", "tabnine": "Tabnine"}
#: Requests a server takes at once before it refuses more.
SERVER_LIMIT = 3
#: Round trip of every request: long enough that requests overlap.
LATENCY_MS = 100
#: The most refusals a sync of 30 days (10 x SERVER_LIMIT requests) may meet: the limit's slow
#: start overshoots once, and each later probe by one request (measured: 3 to 12).
MOST_REFUSALS = 5 * SERVER_LIMIT


def days(count: int) -> Tuple[date, date]:
    end = datetime.now(timezone.utc).date() - timedelta(days=3)
    return end - timedelta(days=count - 1), end


def emulated(emulator_factory: EmulatorFactory, **options: Any) -> Emulator:
    return emulator_factory(
        seed=7, rate_limits=False, latency_ms=LATENCY_MS, **vendor_options(lambda vendor: vendor.e2e_options), **options
    )


def one_vendor(emulator: Emulator, vendor: str, start: date, end: date) -> Dict[str, Any]:
    section = emulator.vendor(vendor).connector_section(emulator.url)
    return {"start_date": start.isoformat(), "end_date": end.isoformat(), "lookback_days": 0, vendor: section}


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
    # Only requests already in flight follow the first rejection: a request sent after it was
    # answered is one a worker sent on a success answered after it, before the rejection stopped it.
    late_successes = [e for e in emulator.log.entries() if e.status == 200 and e.answered >= first.answered]
    assert len(after) <= len(late_successes), [(e.path, e.status) for e in after]
    assert len(rejected) <= emulator.most_held, (len(rejected), emulator.most_held)
    assert len(emulator.receipts) < 60

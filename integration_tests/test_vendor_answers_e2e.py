"""End to end, for every vendor the emulator serves: answers that differ from the emulator's in
ways no vendor document rules out (issue 22), read so that no number changes without a word.

- An HTTP 200 whose body is an error envelope (an error, status or message field beside missing
  or empty data: a gateway's, or Tabnine's own 500 sent with 200) is the error it names, never a
  window without usage that the state moves past.
- A body after a UTF-8 byte order mark is read.
- The vendor's own clock (its answers' ``Date``) decides with this machine's when a period is
  over: with the machine two days ahead, the days the vendor has not finished are read but not
  checkpointed, the skew is one warning naming both clocks, and a later sync reads them again.

Each vendor is read through its daily usage stream (``VendorEmulator.usage_stream``), the faults on
its path (``usage_path``), over the days ending three days ago (over in every vendor's zone).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import List, Tuple
from zoneinfo import ZoneInfo

import pytest

from emulator import Emulator
from integration_tests.assertions import assert_matches, assert_succeeded
from integration_tests.catalog import default_catalog
from integration_tests.conftest import CheckedConnector, EmulatorFactory
from integration_tests.every_vendor import VENDORS, days, emulated, one_vendor
from integration_tests.runner import configured_catalog, parse_messages

TWO_DAYS = 2 * 86400
#: What a gateway or Tabnine sends with a 200 instead of data.
SERVER_ERROR_ENVELOPE = {"error": "Internal Server Error", "message": "upstream timed out", "status": 500}


def usage(emulator: Emulator, vendor: str) -> Tuple[str, str]:
    served = emulator.vendor(vendor)
    return served.usage_stream, served.usage_path


@pytest.mark.parametrize("vendor", VENDORS)
def test_a_200_error_envelope_is_retried_as_the_server_error_it_names_and_the_sync_equals_the_ground_truth(
    connector: CheckedConnector, emulator_factory: EmulatorFactory, vendor: str
) -> None:
    emulator = emulated(emulator_factory)
    stream, path = usage(emulator, vendor)
    fault = emulator.faults.add("reply", path=path, times=1, status=200, body=SERVER_ERROR_ENVELOPE)
    start, end = days(2)

    run = connector.read(one_vendor(emulator, vendor, start, end), configured_catalog([stream]))

    assert_succeeded(run)
    assert fault.fired == 1
    assert_matches(stream, run.records(stream), emulator.ground_truth(stream, start_date=start, end_date=end))
    assert f"Sync summary: {stream}: " in run.stdout and ", 1 retries, 0 rate-limit waits" in run.stdout


@pytest.mark.parametrize("vendor", VENDORS)
def test_a_200_error_envelope_naming_a_client_error_fails_the_stream_at_once_and_no_state_passes_its_window(
    connector: CheckedConnector, emulator_factory: EmulatorFactory, vendor: str
) -> None:
    emulator = emulated(emulator_factory)
    stream, path = usage(emulator, vendor)
    envelope = {"error": "Bad Request", "message": "query rejected by the gateway", "status": 400, "data": None}
    emulator.faults.add("reply", path=path, status=200, body=envelope)
    start, end = days(2)

    run = connector.run("read", timeout=60, config=one_vendor(emulator, vendor, start, end), catalog=configured_catalog([stream]))

    assert run.returncode != 0 and run.records(stream) == []
    assert run.states(stream) in ([], [{}]), run.states(stream)  # nothing checkpointed: the window is read again
    messages = [error["message"] for error in run.errors()]
    assert any(
        path.lstrip("/") in message
        and "rejected the request (HTTP 400): HTTP 200 with an error instead of data (error: Bad Request; message: "
        "query rejected by the gateway; status: 400)" in message
        for message in messages
    ), messages
    assert len([e for e in emulator.log.entries(path) if e.fault == "reply"]) == 1  # not retried: a client error


@pytest.mark.parametrize("vendor", VENDORS)
def test_a_body_after_a_utf8_byte_order_mark_is_read_and_the_sync_equals_the_ground_truth(
    connector: CheckedConnector, emulator_factory: EmulatorFactory, vendor: str
) -> None:
    emulator = emulated(emulator_factory)
    stream, path = usage(emulator, vendor)
    emulator.faults.add("bom", path=path)
    start, end = days(2)

    run = connector.read(one_vendor(emulator, vendor, start, end), configured_catalog([stream]))

    assert_succeeded(run)
    assert {e.fault for e in emulator.log.entries(path)} == {"bom"}
    assert_matches(stream, run.records(stream), emulator.ground_truth(stream, start_date=start, end_date=end))


@pytest.mark.reads_today
@pytest.mark.parametrize("vendor", VENDORS)
def test_days_the_vendors_clock_has_not_finished_are_not_checkpointed_and_the_next_sync_reads_them(
    connector: CheckedConnector, emulator_factory: EmulatorFactory, vendor: str
) -> None:
    # The vendor's clock two days behind this machine's (or this machine's two days ahead): the
    # last days this machine calls finished, the vendor has not (it answers them as it answers a
    # day that is not over: empty, or refused). Then another emulator of the same data with the
    # clock right, as after the machine's clock was set right.
    behind = emulated(emulator_factory, clock_offset_seconds=-TWO_DAYS)
    right = emulated(emulator_factory)
    stream, _ = usage(behind, vendor)
    (cursor_field,) = default_catalog().cursor(stream)
    start, end = days(6, ending_days_ago=1)

    first = connector.read(one_vendor(behind, vendor, start, end), configured_catalog([stream]))
    second = connector.read(one_vendor(right, vendor, start, end), configured_catalog([stream]), state=first.last_states())

    assert_succeeded(first)
    assert_succeeded(second)
    # Checkpointed: the latest day the vendor has finished by its own clock, and not one more.
    (cursor,) = first.states(stream)[-1].values()
    vendor_now = datetime.now(timezone.utc) - timedelta(seconds=TWO_DAYS)
    ends = day_end(str(cursor), behind.vendor(vendor).usage_zone)
    assert vendor_now - timedelta(days=1) < ends <= vendor_now, (first.states(stream), vendor_now)
    said = warnings(first.stdout)
    skew = [line for line in said if line.startswith("This machine's clock")]
    assert len(skew) == 1 and "is 48 h 0 min ahead of" in skew[0] and behind.vendor(vendor).usage_path, said
    assert len([line for line in said if "the next sync" in line]) == 1, said  # the days left for it, said once
    assert not [line for line in warnings(second.stdout) if "clock" in line]
    # The second sync reads every day after the first one's state, as the vendor now has it.
    truth = right.ground_truth(stream, start_date=start, end_date=end)
    after = [record for record in truth if str(record[cursor_field])[:10] > str(cursor)[:10]]
    assert after and second.records(stream), "the days left for the next sync hold usage"
    assert_matches(stream, second.records(stream), after)


def day_end(cursor: str, zone: str) -> datetime:
    """The end of the day a cursor value names (a date, or the instant the day starts), in ``zone``."""
    if "T" in cursor:
        start = datetime.fromisoformat(cursor).astimezone(ZoneInfo(zone))
    else:
        start = datetime.combine(date.fromisoformat(cursor), datetime.min.time(), ZoneInfo(zone))
    return datetime.combine(start.date() + timedelta(days=1), datetime.min.time(), ZoneInfo(zone))


def warnings(stdout: str) -> List[str]:
    return [m["log"]["message"] for m in parse_messages(stdout) if m["type"] == "LOG" and m["log"]["level"] == "WARN"]

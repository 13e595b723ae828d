"""End to end, the same promise kept by every vendor the emulator serves: a check, a sync through
faults, and no secret in any output."""

from __future__ import annotations

from collections import Counter

import pytest

from integration_tests.assertions import assert_matches, assert_succeeded
from integration_tests.conftest import CheckedConnector, EmulatorFactory
from integration_tests.every_vendor import VENDORS, days, emulated, one_vendor
from integration_tests.runner import configured_catalog

#: A key no emulated vendor accepts.
WRONG_KEY = "wrong-key-0123456789abcdef"


@pytest.mark.process
@pytest.mark.parametrize("vendor", VENDORS)
def test_check_succeeds_with_a_good_key_in_one_request(connector: CheckedConnector, emulator_factory: EmulatorFactory, vendor: str) -> None:
    emulator = emulated(emulator_factory)

    run = connector.check(one_vendor(emulator, vendor, *days(1)))

    assert run.connection_status() == {"status": "SUCCEEDED"}, run.describe()
    assert [e.status for e in emulator.log.entries()] == [200]


@pytest.mark.process
@pytest.mark.parametrize("vendor", VENDORS)
def test_no_secret_reaches_the_output_of_a_check_rejected_after_a_server_error(
    connector: CheckedConnector, emulator_factory: EmulatorFactory, vendor: str
) -> None:
    """The ``connector`` fixture checks every run of every test for the emulator's keys; this run
    adds the paths most likely to echo a request: a retried server error, then a rejected key."""
    emulator = emulated(emulator_factory)
    served = emulator.vendor(vendor)
    config = one_vendor(emulator, vendor, *days(1))
    config[vendor] = served.with_options(**{served.key_option: WRONG_KEY}).connector_section(emulator.url)
    connector.secrets.update({getattr(served.options, served.key_option), WRONG_KEY})
    emulator.faults.add("http_500", times=1)

    run = connector.check(config)

    assert run.connection_status()["status"] == "FAILED"
    assert [e.status for e in emulator.log.entries()] == [500, served.unauthorized().status]
    assert connector.leaked() == []


@pytest.mark.process
@pytest.mark.parametrize("vendor", VENDORS)
def test_a_sync_through_one_fault_of_each_kind_equals_the_ground_truth(
    connector: CheckedConnector, emulator_factory: EmulatorFactory, vendor: str
) -> None:
    emulator = emulated(emulator_factory)
    served = emulator.vendor(vendor)
    stream, path = served.usage_stream, served.usage_path
    faults = [
        emulator.faults.add("http_500", every=2, times=1, path=path),
        emulator.faults.add("http_429", every=3, times=1, path=path, retry_after=1),
        emulator.faults.add("invalid_json", every=4, times=1, path=path),
        emulator.faults.add("drop", every=5, times=1, path=path),
    ]
    start, end = days(8)

    run = connector.read(one_vendor(emulator, vendor, start, end), configured_catalog([stream]))

    assert_succeeded(run)
    assert [fault.fired for fault in faults] == [1] * len(faults)
    assert Counter(e.fault for e in emulator.log.entries() if e.fault) == {"http_500": 1, "http_429": 1, "invalid_json": 1, "drop": 1}
    assert_matches(stream, run.records(stream), emulator.ground_truth(stream, start_date=start, end_date=end))

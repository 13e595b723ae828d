"""End to end: the Jiandaoyun config errors of the installed command, what no other vendor has:
its 180 days of history, and its id filters."""

from __future__ import annotations

from datetime import timedelta

import pytest

from emulator import Emulator
from integration_tests.conftest import CheckedConnector, EmulatorFactory
from integration_tests.test_config_errors_e2e import failed_check, one_vendor_config, read_catalog, the_config_error

VENDOR = "jiandaoyun"


@pytest.fixture
def jdy(emulator_factory: EmulatorFactory) -> Emulator:
    return emulator_factory(seed=5, rate_limits=False)


@pytest.mark.reads_today
def test_an_end_date_older_than_the_180_days_jiandaoyun_keeps_ends_read_with_a_config_error(
    connector: CheckedConnector, jdy: Emulator
) -> None:
    # The oldest day follows today in UTC+8: a run that crosses its midnight is run again.
    for _ in range(2):
        today = jdy.vendor(VENDOR).today()
        start, end = today - timedelta(days=220), today - timedelta(days=200)
        config = one_vendor_config(jdy, VENDOR, start_date=start.isoformat(), end_date=end.isoformat())
        oldest = (today - timedelta(days=180)).isoformat()
        sentence = f"'end_date' ({end.isoformat()}) is older than the 180 days Jiandaoyun keeps (its oldest day is {oldest})."
        checked = failed_check(connector.check(config))
        read = the_config_error(connector.read(config, read_catalog(jdy, VENDOR)), jdy)
        if jdy.vendor(VENDOR).today() == today:
            break

    assert checked == sentence
    assert read == sentence


@pytest.mark.parametrize("field", ["member_ids", "app_ids"])
def test_an_empty_id_in_a_filter_fails_check_naming_the_item(connector: CheckedConnector, jdy: Emulator, field: str) -> None:
    config = one_vendor_config(jdy, VENDOR)
    config[VENDOR][field] = ["an-id", ""]

    assert failed_check(connector.check(config)) == f"'jiandaoyun.{field}.1' must not be empty."
    assert len(jdy.log) == 0

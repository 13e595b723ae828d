"""End to end: the Workato config errors of the installed command, what no other vendor has: its
time zone and its workspace filters."""

from __future__ import annotations

from typing import Any

import pytest

from emulator import Emulator
from integration_tests.conftest import CheckedConnector, EmulatorFactory
from integration_tests.test_config_errors_e2e import failed_check, one_vendor_config, read_catalog, the_config_error

VENDOR = "workato"
NOT_IANA = "'workato.timezone' must be an IANA time zone name such as America/Los_Angeles."


@pytest.fixture
def workato(emulator_factory: EmulatorFactory) -> Emulator:
    return emulator_factory(seed=5, rate_limits=False)


@pytest.mark.parametrize("zone", ["localtime", "Mars/Olympus_Mons"])
def test_a_time_zone_that_is_not_an_iana_name_ends_read_with_a_config_error(
    connector: CheckedConnector, workato: Emulator, zone: str
) -> None:
    config = one_vendor_config(workato, VENDOR)
    config[VENDOR]["timezone"] = zone

    assert the_config_error(connector.read(config, read_catalog(workato, VENDOR)), workato) == NOT_IANA


@pytest.mark.parametrize(
    "field, ids, sentence",
    [
        ("workspace_ids", [12, -1], "'workato.workspace_ids.1' must be at least 1."),
        ("external_ids", [""], "'workato.external_ids.0' must not be empty."),
    ],
)
def test_an_id_no_workspace_has_fails_check_naming_the_item(
    connector: CheckedConnector, workato: Emulator, field: str, ids: Any, sentence: str
) -> None:
    config = one_vendor_config(workato, VENDOR)
    config[VENDOR][field] = ids

    assert failed_check(connector.check(config)) == sentence
    assert len(workato.log) == 0

"""The extension promise: a vendor is one connector module and one emulator module.

The toy vendor (``integration_tests/toy_vendor``, shipped nowhere) is plugged into the source
(``SourceUsage(vendors=[*all_vendors(), Toy()])``) and the emulator
(``Emulator(extra_vendors=[ToyEmulator])``), and then runs through the same shared machinery as
the shipped vendors (the emulator's ``connector_config`` and ``vendor_options``, the catalog from
discover, ``configured_catalog``, ``assert_matches``), in-process because the installed command
cannot know a vendor of the test suite. Nothing shared names it.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Dict, Iterator, List

import pytest

from emulator import Emulator, discover_vendors, vendor_options
from integration_tests.assertions import assert_matches, assert_succeeded
from integration_tests.catalog import Catalog, discover
from integration_tests.runner import InProcessConnector, configured_catalog
from integration_tests.toy_vendor.connector import SCHEMA, STREAM, Toy
from integration_tests.toy_vendor.emulator import ToyEmulator
from source_usage import SourceUsage
from source_usage.vendors import all_vendors

#: One worker runs the module: its tests share one module-scoped fixture.
pytestmark = pytest.mark.xdist_group("extension")

EXTRA = [ToyEmulator]


@pytest.fixture(scope="module")
def source() -> SourceUsage:
    return SourceUsage(vendors=[*all_vendors(), Toy()])


@pytest.fixture(scope="module")
def catalog(source: SourceUsage) -> Catalog:
    return discover(source, discover_vendors(EXTRA).values())


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    sizes = vendor_options(lambda vendor: vendor.e2e_options, extra_vendors=EXTRA)
    with Emulator(seed=17, rate_limits=False, extra_vendors=EXTRA, **sizes) as running:
        yield running


@pytest.fixture
def connector(tmp_path: Path, source: SourceUsage) -> InProcessConnector:
    return InProcessConnector(tmp_path, source)


def finished_day(days_ago: int) -> date:
    # Days that are over in UTC (the toy's zone) and in every shipped vendor's.
    return datetime.now(timezone.utc).date() - timedelta(days=days_ago)


def config(emulator: Emulator, start: date, end: date) -> Dict[str, Any]:
    return emulator.connector_config(start_date=start.isoformat(), end_date=end.isoformat(), lookback_days=1)


def toy_days_asked(emulator: Emulator) -> List[str]:
    toy = emulator.vendor("toy")
    return [day for entry in emulator.log.entries(vendor="toy") if (day := toy.requested_day(entry))]


def test_spec_has_the_toy_section_after_the_shipped_vendors(connector: InProcessConnector) -> None:
    run = connector.spec()

    assert_succeeded(run)
    (spec,) = [message["spec"] for message in run.of_type("SPEC")]
    properties = spec["connectionSpecification"]["properties"]
    toy = properties["toy"]
    assert toy["properties"]["api_token"]["airbyte_secret"] is True
    # Its place in the form comes from its position: last, after every shipped vendor.
    assert toy["order"] == max(section["order"] for section in properties.values())
    assert set(discover_vendors()) < set(properties)


def test_discover_lists_the_toy_stream_beside_every_shipped_one(connector: InProcessConnector, emulator: Emulator) -> None:
    run = connector.discover(config(emulator, finished_day(3), finished_day(2)))

    assert_succeeded(run)
    (found,) = [message["catalog"] for message in run.of_type("CATALOG")]
    streams = {stream["name"]: stream for stream in found["streams"]}
    assert sorted(streams) == emulator.streams()
    toy = streams[STREAM]
    assert toy["json_schema"] == SCHEMA
    assert toy["source_defined_primary_key"] == [["day"], ["team"]]
    assert toy["default_cursor_field"] == ["day"]
    assert set(toy["supported_sync_modes"]) == {"full_refresh", "incremental"}
    assert not emulator.log.entries(), "discover sends no request"


@pytest.mark.reads_today
def test_check_asks_the_toy_for_the_last_day_the_config_syncs(connector: InProcessConnector, emulator: Emulator) -> None:
    run = connector.check(config(emulator, finished_day(3), finished_day(2)))

    assert_succeeded(run)
    assert run.connection_status() == {"status": "SUCCEEDED"}
    # One request: the first record of the toy's check stream, for the latest day of the plan.
    assert toy_days_asked(emulator) == [finished_day(2).isoformat()]


def test_check_with_a_wrong_toy_token_fails_naming_the_toy(connector: InProcessConnector, emulator: Emulator) -> None:
    settings = config(emulator, finished_day(3), finished_day(2))
    settings["toy"]["api_token"] = "toy-wrong-token-5e1f"

    run = connector.check(settings)

    status = run.connection_status()
    assert status["status"] == "FAILED"
    assert status["message"].startswith("Toy"), status["message"]
    assert "toy.api_token" in status["message"], status["message"]
    assert "toy-wrong-token-5e1f" not in run.stdout


@pytest.mark.reads_today
def test_full_then_incremental_read_of_the_toy_stream(connector: InProcessConnector, emulator: Emulator, catalog: Catalog) -> None:
    first_day, last_day = finished_day(5), finished_day(3)
    days = [(first_day + timedelta(days=n)).isoformat() for n in range(4)]  # the fourth is the next sync's
    toy_catalog = configured_catalog([STREAM], catalog=catalog)

    first = connector.read(config(emulator, first_day, last_day), toy_catalog)

    assert_succeeded(first)
    assert_matches(STREAM, first.records(STREAM), emulator.ground_truth(STREAM, start_date=first_day, end_date=last_day), catalog)
    assert first.states(STREAM) == [{"day": day} for day in days[:3]]
    assert toy_days_asked(emulator) == days[:3]

    emulator.log.clear()
    second = connector.read(config(emulator, first_day, finished_day(2)), toy_catalog, state=first.last_states())

    assert_succeeded(second)
    # The lookback re-reads the last synced day, then the new one: nothing before.
    assert toy_days_asked(emulator) == days[2:]
    assert_matches(STREAM, second.records(STREAM), emulator.ground_truth(STREAM, start_date=days[2], end_date=days[3]), catalog)
    assert second.states(STREAM) == [{"day": days[2]}, {"day": days[3]}]

"""End to end, ``workato_customer_monthly_usage``: each customer's monthly task totals as Workato
bills them (``GET /api/managed_users/usage``, the last 12 months). The installed ``source-usage``
command against the emulated Workato API, compared with the emulator's ground truth.

Workato publishes no shape for this answer: the emulator serves the one the connector assumes,
and, on request, the ways it could differ; each must fail this stream naming the field, and only
this stream.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any, Dict

import pytest

from emulator import Emulator
from integration_tests.assertions import assert_matches, assert_succeeded, keyed
from integration_tests.conftest import CheckedConnector, EmulatorFactory
from integration_tests.runner import Run, configured_catalog
from integration_tests.test_tabnine_seats_e2e import assert_valid
from integration_tests.test_workato_e2e import CUSTOMERS, TOKEN, WORKSPACES, ZONE_NAME, config, dates, today

MONTHLY = "workato_customer_monthly_usage"
MONTHLY_PATH = "/api/managed_users/usage"


def workato(emulator_factory: EmulatorFactory, seed: int = 61, **options: Any) -> Emulator:
    return emulator_factory(seed=seed, rate_limits=False, workato={"api_token": TOKEN, "timezone": ZONE_NAME, **options})


def failed(run: Run) -> Dict[str, str]:
    return {e["stream_descriptor"]["name"]: e["message"] for e in run.errors() if e.get("stream_descriptor")}


def monthly_pages(emulator: Emulator) -> list[list[str]]:
    return [e.query["page"] for e in emulator.log.entries(MONTHLY_PATH) if e.path == MONTHLY_PATH and e.status == 200]


@pytest.mark.reads_today
def test_a_full_sync_equals_the_ground_truth_every_customer_and_month_once(
    connector: CheckedConnector, emulator_factory: EmulatorFactory
) -> None:
    emulator = workato(emulator_factory, workspaces=150)  # two pages of 100, and the empty third
    start, end = dates(1)

    run = connector.read(config(emulator, start, end), configured_catalog([MONTHLY], "full_refresh"))

    assert_succeeded(run)
    records = run.records(MONTHLY)
    assert_matches(MONTHLY, records, emulator.ground_truth(MONTHLY))
    assert len(keyed(MONTHLY, records)) == 150 * 12
    assert_valid(MONTHLY, records)
    this_month = today().replace(day=1).isoformat()
    assert sorted({record["month"] for record in records})[-1] == this_month, "the current month, so far, is the last"
    assert monthly_pages(emulator) == [["1"], ["2"], ["3"]]
    assert all(e.query["per_page"] == ["100"] for e in emulator.log.entries(MONTHLY_PATH))
    assert run.states(MONTHLY) == [{"__ab_no_cursor_state_message": True}], "full refresh, not resumable: no cursor"


@pytest.mark.reads_today
def test_a_finished_months_total_is_the_workspace_usage_of_that_month(
    connector: CheckedConnector, emulator_factory: EmulatorFactory
) -> None:
    emulator = workato(emulator_factory, workspaces=4, recipes=5)
    last_day = today().replace(day=1) - timedelta(days=1)
    first_day = last_day.replace(day=1)

    run = connector.read(config(emulator, first_day, last_day, interval="month"), configured_catalog([MONTHLY, WORKSPACES]))

    assert_succeeded(run)
    # The workspace usage of the whole month (deleted recipes included: no name pattern is set).
    usage = {record["workspace_id"]: record["task_count"] for record in run.records(WORKSPACES)}
    billed = {record["workspace_id"]: record["task_count"] for record in run.records(MONTHLY) if record["month"] == first_day.isoformat()}
    assert len(usage) == 4 and billed == usage


def test_a_year_and_a_month_number_are_read_as_the_same_months(connector: CheckedConnector, emulator_factory: EmulatorFactory) -> None:
    emulator = workato(emulator_factory, workspaces=3, monthly_shape="year_month")
    start, end = dates(1)

    run = connector.read(config(emulator, start, end), configured_catalog([MONTHLY], "full_refresh"))

    assert_succeeded(run)
    assert_matches(MONTHLY, run.records(MONTHLY), emulator.ground_truth(MONTHLY))
    assert all(str(date.fromisoformat(record["month"]).month) == record["vendor_month"] for record in run.records(MONTHLY))


@pytest.mark.parametrize(
    ("shape", "field"),
    [("period_field", "month"), ("tasks_field", "task_count")],
)
def test_a_month_shaped_otherwise_fails_only_this_stream_naming_the_field(
    connector: CheckedConnector, emulator_factory: EmulatorFactory, shape: str, field: str
) -> None:
    emulator = workato(emulator_factory, workspaces=3, monthly_shape=shape)
    start, end = dates(2)
    streams = [MONTHLY, CUSTOMERS, WORKSPACES]

    run = connector.run("read", timeout=60, config=config(emulator, start, end), catalog=configured_catalog(streams))

    assert run.returncode != 0
    assert set(failed(run)) == {MONTHLY}, run.describe()
    message = failed(run)[MONTHLY]
    assert message.startswith("Workato api/managed_users/usage answered a month of customer 100000 without ")
    assert f"'{field}'" in message and "Workato does not publish this answer's shape" in message, message
    assert run.records(MONTHLY) == []
    # The customer workspaces and their usage depend on nothing in doubt: exact.
    assert_matches(CUSTOMERS, run.records(CUSTOMERS), emulator.ground_truth(CUSTOMERS))
    filters = {"start_date": start, "end_date": end, "interval": "day"}
    assert_matches(WORKSPACES, run.records(WORKSPACES), emulator.ground_truth(WORKSPACES, **filters))

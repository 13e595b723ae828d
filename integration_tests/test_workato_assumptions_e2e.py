"""End to end: Workato servers whose answers differ from what the connector assumes (issue 22).

Workato publishes no field of a usage row. A count the row's grouping must carry fails the stream
when absent; one it need not carry (``recipe_count`` on a row that is one recipe) is null; a count
no warehouse integer holds, or a number JSON does not allow, fails at once naming the field.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any, Dict, Tuple
from zoneinfo import ZoneInfo

import pytest

from emulator import Emulator
from integration_tests.assertions import PERIOD_NOTE, assert_matches, assert_succeeded, before_period_note
from integration_tests.conftest import CheckedConnector, EmulatorFactory
from integration_tests.runner import configured_catalog

pytestmark = pytest.mark.process  # the connector's command

TOKEN = "wk-assumptions-secret-19be"
ZONE_NAME = "America/Los_Angeles"
WORKSPACES, RECIPES = "workato_workspace_usage", "workato_recipe_usage"
USAGE_PATH = "/api/v2/managed_users/statistics/usage"


def workato(emulator_factory: EmulatorFactory, **options: Any) -> Emulator:
    return emulator_factory(seed=23, rate_limits=False, workato={"api_token": TOKEN, "timezone": ZONE_NAME, "workspaces": 4, **options})


def dates(count: int) -> Tuple[date, date]:
    end = datetime.now(ZoneInfo(ZONE_NAME)).date() - timedelta(days=2)
    return end - timedelta(days=count - 1), end


def config(emulator: Emulator, start: date, end: date) -> Dict[str, Any]:
    section = {"api_token": TOKEN, "base_url": emulator.url, "timezone": ZONE_NAME, "interval": "day"}
    return {"start_date": start.isoformat(), "end_date": end.isoformat(), "lookback_days": 0, "workato": section}


def test_recipe_rows_without_recipe_count_sync_exactly_with_the_column_null(
    connector: CheckedConnector, emulator_factory: EmulatorFactory
) -> None:
    emulator = workato(emulator_factory, recipe_rows_count_recipes=False)
    start, end = dates(2)

    run = connector.read(config(emulator, start, end), configured_catalog([WORKSPACES, RECIPES]))

    assert_succeeded(run)
    for stream in (WORKSPACES, RECIPES):
        assert_matches(stream, run.records(stream), emulator.ground_truth(stream, start_date=start, end_date=end))
    recipes = run.records(RECIPES)
    assert recipes and all(record.get("recipe_count") is None for record in recipes)  # null: not a column of this grouping
    assert all(isinstance(record["task_count"], int) for record in recipes)
    assert all(isinstance(record["recipe_count"], int) for record in run.records(WORKSPACES))  # a workspace row counts them


def usage_row(emulator: Emulator, **counts: Any) -> Dict[str, Any]:
    """One row of workspace 0 with the four counts, ``counts`` replacing any of them."""
    row = {"workspace_id": emulator.vendor("workato").workspace_id(0), "task_count": 5, "recipe_count": 1}
    return {**row, "successful_job_count": 2, "failed_job_count": 0, **counts}


def test_a_count_beyond_64_bits_fails_the_stream_naming_the_column(connector: CheckedConnector, emulator_factory: EmulatorFactory) -> None:
    # -2**63 - 1, which a reader of 64-bit integers would round to -2**63 without a word.
    emulator = workato(emulator_factory)
    emulator.faults.add("reply", path=USAGE_PATH, status=200, body={"data": [usage_row(emulator, task_count=-(2**63) - 1)]})
    start, end = dates(1)

    run = connector.run("read", timeout=60, config=config(emulator, start, end), catalog=configured_catalog([WORKSPACES]))

    assert run.returncode != 0 and run.records(WORKSPACES) == []
    assert (
        "Workato api/v2/managed_users/statistics/usage answered -9223372036854775809 for 'task_count', beyond the 64-bit "
        "integer a warehouse column of workato_workspace_usage holds; rather than round it, the sync stops (the vendor's count "
        "is likely wrong: report it)."
        in [before_period_note(e["message"], WORKSPACES) for e in run.errors() if PERIOD_NOTE.search(e["message"])]
    ), run.describe()


def test_nan_in_a_count_fails_at_once_naming_the_field(connector: CheckedConnector, emulator_factory: EmulatorFactory) -> None:
    emulator = workato(emulator_factory)
    workspace = emulator.vendor("workato").workspace_id(0)
    row = b'"task_count": NaN, "recipe_count": 1, "successful_job_count": 2, "failed_job_count": 0'
    body = b'{"data": [{"workspace_id": %d, %s}]}' % (workspace, row)
    emulator.faults.add("reply", path=USAGE_PATH, status=200, body=body)
    start, end = dates(1)

    run = connector.run("read", timeout=60, config=config(emulator, start, end), catalog=configured_catalog([WORKSPACES]))

    assert run.returncode != 0 and run.records(WORKSPACES) == []
    assert (
        "Workato api/v2/managed_users/statistics/usage answered a body where 'data.0.task_count' is NaN, which is not a number "
        "JSON allows." in [before_period_note(e["message"], WORKSPACES) for e in run.errors() if PERIOD_NOTE.search(e["message"])]
    ), run.describe()
    assert len(emulator.log.entries(USAGE_PATH)) == 1  # at once: the same body would come again

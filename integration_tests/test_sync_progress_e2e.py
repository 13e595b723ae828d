"""What a user sees of a sync in its log, end to end against the loopback emulator: the plan of
each stream, its progress while it runs, backoff lines that name the request, and a summary with
wall time and the time spent waiting for the request budget.

Read with the toy vendor (``integration_tests/toy_vendor``) paced by this file's own published
limit of 1 request per second, as a vendor documented at 1 req/s is: four days take three
seconds at least. The progress interval is 1 s instead of 30 s, so that a three-second sync
shows it. In-process (the installed command cannot know a vendor of the test suite), so the log
lines are read from the ``airbyte`` loggers' records, as the command would print them.
"""

from __future__ import annotations

import logging
import re
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Dict, Iterator, List, Mapping

import pytest
from airbyte_cdk.sources.streams import Stream

from emulator import Emulator
from integration_tests.assertions import assert_succeeded
from integration_tests.catalog import Catalog, discover
from integration_tests.runner import InProcessConnector, configured_catalog
from integration_tests.toy_vendor.connector import STREAM, Toy, ToyDailyUsage
from integration_tests.toy_vendor.emulator import ToyEmulator
from source_usage import SourceUsage
from source_usage.core.budget import EndpointLimit, request_budget
from source_usage.core.progress import ProgressOptions
from source_usage.core.settings import SharedSettings
from source_usage.core.vendor import HttpOptions

#: One worker runs the module: its tests share one module-scoped fixture.
pytestmark = pytest.mark.xdist_group("sync_progress")

EXTRA = [ToyEmulator]
DAYS = 4
TEAMS = 3


class OneRequestPerSecondToy(Toy):
    """The toy vendor with a published limit of 1 request per second on its usage endpoint."""

    def streams(self, section: Mapping[str, Any], settings: SharedSettings, http: HttpOptions) -> List[Stream]:
        budget = request_budget(section["base_url"], [EndpointLimit(f"/{ToyDailyUsage.endpoint}$", 1, 1.0)])
        return [ToyDailyUsage(self.connection(section, http, budget), self.plan(settings))]


@pytest.fixture(scope="module")
def source() -> SourceUsage:
    return SourceUsage(vendors=[OneRequestPerSecondToy()], http=HttpOptions(progress=ProgressOptions(interval=1.0)))


@pytest.fixture(scope="module")
def catalog(source: SourceUsage) -> Catalog:
    return discover(source, EXTRA)


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with Emulator(seed=5, rate_limits=False, extra_vendors=EXTRA, toy={"teams": TEAMS}) as running:
        yield running


def read(tmp_path: Path, source: SourceUsage, catalog: Catalog, emulator: Emulator, caplog: pytest.LogCaptureFixture) -> List[str]:
    """The log lines of a read of the last four finished days."""
    today = datetime.now(timezone.utc).date()
    first, last = today - timedelta(days=DAYS), today - timedelta(days=1)
    config: Dict[str, Any] = {
        "start_date": date.isoformat(first),
        "end_date": date.isoformat(last),
        "lookback_days": 0,
        "toy": emulator.vendor("toy").connector_section(emulator.url),
    }
    with caplog.at_level(logging.INFO, logger="airbyte"):
        run = InProcessConnector(tmp_path, source).read(config, configured_catalog([STREAM], catalog=catalog))
    assert_succeeded(run)
    assert len(run.records()) == DAYS * TEAMS
    return [record.getMessage() for record in caplog.records]


def starting(lines: List[str], prefix: str) -> List[str]:
    return [line for line in lines if line.startswith(prefix)]


def test_a_1_request_per_second_sync_logs_its_plan_then_its_progress(
    tmp_path: Path, source: SourceUsage, catalog: Catalog, emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    lines = read(tmp_path, source, catalog, emulator, caplog)

    # Four requests at 1 per second: the first goes at once, each further one a second later.
    assert starting(lines, "Plan: ") == [
        f"Plan: {STREAM}: 4 periods, at least 4 requests, at least 3 s at Toy's limit of 1 request per 1 s."
    ]
    progress = starting(lines, "Progress: ")
    assert progress, "a sync of three seconds at a 1 s interval says how far it got"
    for line in progress:
        match = re.fullmatch(
            rf"Progress: {STREAM}: (\d) of 4 periods, (\d+) records, \d+ s so far, about \d+ s left at the rate so far\.", line
        )
        assert match is not None, line
        done, records = int(match[1]), int(match[2])
        assert 1 <= done < DAYS and records == done * TEAMS


def test_the_summary_says_the_wall_time_and_the_time_spent_waiting_for_the_budget(
    tmp_path: Path, source: SourceUsage, catalog: Catalog, emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    lines = read(tmp_path, source, catalog, emulator, caplog)

    [summary] = starting(lines, "Sync summary: ")
    match = re.fullmatch(
        rf"Sync summary: {STREAM}: 4 requests, 0 retries, 0 rate-limit waits \(0\.0 s\), 12 records\. "
        r"Timing: wall time (\d+\.\d) s, (\d+\.\d) s of it waiting for the request budget\.",
        summary,
    )
    assert match is not None, summary
    wall, waited = float(match[1]), float(match[2])
    # Four requests a second apart take three seconds at least, most of it waiting for the budget
    # (the rest is the answers' own time, longer on a busy machine), and the waits are within the
    # stream's time. The exact accounting, on an injected clock: unit_tests/test_progress.py.
    assert 3.0 <= wall < 10
    assert 1.0 <= waited <= wall


def test_a_backoff_line_names_the_vendor_and_the_path_it_waits_for(
    tmp_path: Path, source: SourceUsage, catalog: Catalog, emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    emulator.faults.add("http_429", path=f"/{ToyDailyUsage.endpoint}", times=1, retry_after=1)
    lines = read(tmp_path, source, catalog, emulator, caplog)

    backoffs = [line for line in starting(lines, "") if "Retrying in" in line]
    # Retry-After: 1, and the CDK's extra second; the path without its query (the day).
    assert backoffs == [f"Toy /{ToyDailyUsage.endpoint}: rate limit exceeded (HTTP 429). Retrying in 2.0 seconds."]

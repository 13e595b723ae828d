"""Servers that misbehave on purpose, against the installed ``source-usage``: ``check`` answers
FAILED within 30 s whatever the server does, and says what it tried (issue 12, rows 2, 3, 13).

Every vendor the emulator serves is checked, each with a config of its own section only, side by
side (each run is its own process). A read's limits are the same mechanism with larger numbers
(``HttpOptions``): ``unit_tests/test_http_limits.py`` proves them with small ones.
"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from typing import Any, Dict

import pytest

from emulator import Emulator, vendor_options
from integration_tests.conftest import CheckedConnector, EmulatorFactory
from integration_tests.runner import TimedRun
from source_usage.core.vendor import CHECK_HTTP
from source_usage.vendors import all_vendors

pytestmark = pytest.mark.process  # the connector's command

#: What ``check`` must never exceed. Of it, the process's start-up (importing the CDK: 2-3.5 s
#: on an idle 2-core machine, ``bench/run.py``'s ``startup_s``) is not the connector's to
#: bound, and on a machine running a test suite beside it can take over 10 s; the rest, from the
#: connector's first message to its exit, is bounded by ``CHECK_HTTP.max_time`` (21 s).
CHECK_SECONDS = 30
#: What the connector's part of a check may take: the promise. Its own bound is tighter
#: (``CHECK_HTTP.max_time``), and each message states the seconds it measured, asserted exactly
#: below; the rest of the 30 s is the exit after the answer, which a busy machine may slow.
RUNNING_SECONDS = CHECK_SECONDS
TITLES = {vendor.identity.key: vendor.identity.title for vendor in all_vendors()}


def hostile(emulator_factory: EmulatorFactory, kind: str, **fault: Any) -> Emulator:
    emulator = emulator_factory(rate_limits=False, **vendor_options(lambda vendor: vendor.e2e_options))
    emulator.faults.add(kind, **fault)
    return emulator


def check_each_vendor(connector: CheckedConnector, emulator: Emulator) -> Dict[str, TimedRun]:
    """``check`` of every vendor alone, run side by side, by vendor."""
    start = (date.today() - timedelta(days=3)).isoformat()
    config = emulator.connector_config(start_date=start, lookback_days=0)
    arguments = {
        name: connector.arguments("check", config={"start_date": start, "lookback_days": 0, name: config[name]})
        for name in emulator.vendors
    }

    with ThreadPoolExecutor(max_workers=len(arguments)) as pool:
        finished = {name: pool.submit(connector.timed, args, CHECK_SECONDS + 30) for name, args in arguments.items()}
    return {name: future.result() for name, future in finished.items()}


def failed_check(check: TimedRun) -> str:
    """The message of a check that answered FAILED within its bound."""
    assert check.running < RUNNING_SECONDS, f"check ran {check.running:.1f} s after start-up: {check.run.describe()}"
    # Start-up included, only a hang is caught: a busy machine decides how long the imports take.
    assert check.wall < CHECK_SECONDS + 15, f"check took {check.wall:.1f} s with its start-up: {check.run.describe()}"
    status = check.run.connection_status()
    assert status["status"] == "FAILED", check.run.describe()
    return str(status["message"])


def stated_seconds(message: str, retries: str) -> float:
    found = re.search(rf"Gave up after {retries} in (\d+\.\d) s", message)
    assert found, message
    return float(found.group(1))


def test_a_trickling_server_fails_check_within_30_seconds(connector: CheckedConnector, emulator_factory: EmulatorFactory) -> None:
    emulator = hostile(emulator_factory, "trickle", delay=0.5)  # a byte every 0.5 s: no socket timeout ever trips
    for name, check in check_each_vendor(connector, emulator).items():
        message = failed_check(check)
        path = emulator.log.entries(vendor=name)[0].path.lstrip("/")
        assert message.startswith(f"{TITLES[name]} {path} sent no whole answer within 8 s."), message
        assert 17.0 <= stated_seconds(message, "1 retry") <= CHECK_HTTP.max_time  # two attempts of 8 s, the CDK's 1 s between
        assert [entry.fault for entry in emulator.log.entries(vendor=name)] == ["trickle", "trickle"]


def test_a_server_that_never_answers_fails_check_within_30_seconds_stating_the_retries_total_time(
    connector: CheckedConnector, emulator_factory: EmulatorFactory
) -> None:
    emulator = hostile(emulator_factory, "hang")
    for name, check in check_each_vendor(connector, emulator).items():
        message = failed_check(check)
        path = emulator.log.entries(vendor=name)[0].path.lstrip("/")
        assert f"{path}" in message and TITLES[name] in message, message
        assert 17.0 <= stated_seconds(message, "1 retry") <= CHECK_HTTP.max_time  # two attempts of 8 s, the CDK's 1 s between
        assert [(entry.fault, entry.status) for entry in emulator.log.entries(vendor=name)] == [("hang", None)] * 2


@pytest.mark.parametrize(
    "retry_after",
    [{"retry_after": 999999}, {"retry_after_header": "Fri, 01 Jan 2100 00:00:00 GMT"}],
    ids=["999999-seconds", "a-date-in-2100"],
)
def test_a_huge_retry_after_fails_check_at_the_wait_cap_stating_the_real_retries_and_seconds(
    connector: CheckedConnector, emulator_factory: EmulatorFactory, retry_after: Dict[str, Any]
) -> None:
    emulator = hostile(emulator_factory, "http_429", **retry_after)
    for name, check in check_each_vendor(connector, emulator).items():
        message = failed_check(check)
        path = emulator.log.entries(vendor=name)[0].path.lstrip("/")
        assert re.fullmatch(
            rf"{TITLES[name]} {path} is rate limiting \(HTTP 429\)\. Gave up after 1 retry in \d+\.\d s \(5\.0 s of it waiting\)\. "
            rf"A request waits at most 5 s in all, and {TITLES[name]} asked to wait \d+ s more\.",
            message,
        ), message
        # The 5 s of waiting plus two answers; a loaded machine may add a little to the stated total.
        assert 5.0 <= stated_seconds(message, "1 retry") < 10.0
        assert 5.0 <= check.running < 15.0
        assert len(emulator.log.entries(vendor=name)) == 2

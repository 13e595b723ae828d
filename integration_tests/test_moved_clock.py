"""The suite's clock: under ``tools/test.py --at INSTANT`` every process the suite starts sees one
"now", the instant plus the time since the suite started; without ``--at`` they see the real one.
``tools/test.py --calendar`` runs these at every edge instant, with the tests that read today."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone

import pytest

from emulator import Emulator
from integration_tests import clock
from integration_tests.conftest import CheckedConnector

pytestmark = [pytest.mark.process, pytest.mark.reads_today]

UTC8 = timezone(timedelta(hours=8))
#: Longer than any run of the suite: the moved clock has run at most this long since the instant.
SUITE_HOURS = 6


def test_under_at_this_process_starts_its_day_at_the_instant_given() -> None:
    setting = clock.moved()
    if setting is None:
        pytest.skip("the suite runs on the real clock (tools/test.py --at INSTANT moves it)")
    instant = datetime.fromisoformat(setting.partition("@")[0])
    assert instant <= datetime.now(timezone.utc) < instant + timedelta(hours=SUITE_HOURS)


def test_a_python_the_suite_starts_sees_the_suites_now() -> None:
    before = time.time()
    printed = subprocess.run([sys.executable, "-c", "import time; print(time.time())"], capture_output=True, text=True, check=True)
    after = time.time()
    assert before <= float(printed.stdout) <= after


def test_the_connector_asks_for_the_day_before_the_suites_today_in_the_vendors_zone(
    connector: CheckedConnector, emulator: Emulator
) -> None:
    # Jiandaoyun's check without an end date reads the latest finished day, T-1 in UTC+8.
    section = emulator.vendor("jiandaoyun").connector_section(emulator.url)
    for _ in range(2):  # once more if the day turned in UTC+8 while the check ran
        today = datetime.now(UTC8).date()
        emulator.log.clear()
        run = connector.check({"jiandaoyun": section})
        if datetime.now(UTC8).date() == today:
            break
    assert run.connection_status() == {"status": "SUCCEEDED"}, run.describe()
    assert [entry.body["date"] for entry in emulator.log.entries()] == [(today - timedelta(days=1)).isoformat()]

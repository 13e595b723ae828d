"""The CDK's standard source tests, against the API emulator.

Scenarios come from ``acceptance-test-config.yml``. Their configs name the emulator's URL, whose
port is ephemeral, so this module starts the emulator and writes them before the first test
reads one. Everything runs in-process; ``standard_test_selection`` deselects the pairs of test
and scenario that test nothing, and the Docker-image tests when no Docker engine runs.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Dict, Iterator

import pytest
from airbyte_cdk.test.standard_tests import SourceTestSuiteBase

from integration_tests.emulator import Emulator
from source_usage import SourceUsage

pytest_plugins = ["airbyte_cdk.test.standard_tests.pytest_hooks", "integration_tests.standard_test_selection"]

CONFIGS = Path(__file__).parent / "standard_configs"


def all_vendors_config(url: str, emulator: Emulator, wrong_keys: bool = False) -> Dict[str, Any]:
    keys = {name: vendor.options for name, vendor in emulator.vendors.items()}
    yesterday = date.today() - timedelta(days=1)

    def key(value: str) -> str:
        return value + "-wrong" if wrong_keys else value

    return {
        "start_date": (yesterday - timedelta(days=2)).isoformat(),
        "lookback_days": 1,
        "jiandaoyun": {"api_key": key(keys["jiandaoyun"].api_key), "base_url": url, "requests_per_second": 1000},
        "workato": {"api_token": key(keys["workato"].api_token), "base_url": url, "timezone": "America/Los_Angeles"},
        "tabnine": {"api_token": key(keys["tabnine"].api_token), "base_url": url, "granularity": "daily"},
    }


@pytest.fixture(scope="module", autouse=True)
def emulator_and_configs() -> Iterator[Emulator]:
    emulator = Emulator(seed=11, rate_limits=False, jiandaoyun={"members": 30, "apps": 8})
    url = emulator.start()
    CONFIGS.mkdir(exist_ok=True)
    (CONFIGS / "config.json").write_text(json.dumps(all_vendors_config(url, emulator)))
    (CONFIGS / "wrong_keys_config.json").write_text(json.dumps(all_vendors_config(url, emulator, wrong_keys=True)))
    yield emulator
    emulator.stop()


class TestSourceUsageStandards(SourceTestSuiteBase):
    # The checkout folder is not named source-usage, so the class is named, not derived.
    connector = SourceUsage

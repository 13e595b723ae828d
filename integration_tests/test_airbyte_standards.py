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

from integration_tests.emulator import Emulator, vendor_options
from source_usage import SourceUsage

pytest_plugins = ["airbyte_cdk.test.standard_tests.pytest_hooks", "integration_tests.standard_test_selection"]

CONFIGS = Path(__file__).parent / "standard_configs"


def all_vendors_config(emulator: Emulator, wrong_keys: bool = False) -> Dict[str, Any]:
    """A config with a section for every vendor the emulator serves; ``wrong_keys``: with keys
    it rejects (each vendor's own key with a suffix)."""
    yesterday = date.today() - timedelta(days=1)
    config = emulator.connector_config(start_date=(yesterday - timedelta(days=2)).isoformat(), lookback_days=1)
    if wrong_keys:
        for name, vendor in emulator.vendors.items():
            wrong = vendor.with_options(**{vendor.key_option: vendor.options.api_key + "-wrong"})
            config[name] = wrong.connector_section(emulator.url)
    return config


@pytest.fixture(scope="module", autouse=True)
def emulator_and_configs() -> Iterator[Emulator]:
    emulator = Emulator(seed=11, rate_limits=False, **vendor_options(lambda vendor: vendor.e2e_options))
    emulator.start()
    CONFIGS.mkdir(exist_ok=True)
    (CONFIGS / "config.json").write_text(json.dumps(all_vendors_config(emulator)))
    (CONFIGS / "wrong_keys_config.json").write_text(json.dumps(all_vendors_config(emulator, wrong_keys=True)))
    yield emulator
    emulator.stop()


class TestSourceUsageStandards(SourceTestSuiteBase):
    # The checkout folder is not named source-usage, so the class is named, not derived.
    connector = SourceUsage

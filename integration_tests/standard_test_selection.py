"""A pytest plugin for the standard tests: run each (test, scenario) pair that means something.

- The CDK parametrizes every standard test with every scenario and then *skips* the pairs whose
  config is not listed under the test's section (a wrong-key config under ``connection`` has no
  ``read``). Those pairs test nothing, so they are deselected here instead of reported as skips.
- The Docker-image tests build the image; without a Docker engine (a client alone is not enough)
  they are deselected too.
"""

from __future__ import annotations

import shutil
import subprocess
from functools import lru_cache
from typing import List

import pytest

#: The connector command each parametrized standard test runs (CDK 7.39 test names).
TEST_COMMANDS = {
    "test_check": "check",
    "test_discover": "discover",
    "test_config_matches_spec": "spec",
    "test_basic_read": "read",
    "test_fail_read_with_bad_catalog": "read",
}


@lru_cache(maxsize=1)
def docker_engine_available() -> bool:
    if not shutil.which("docker"):
        return False
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=20).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def pytest_collection_modifyitems(config: pytest.Config, items: List[pytest.Item]) -> None:
    kept, deselected = [], []
    for item in items:
        scenario = getattr(item, "callspec", None) and item.callspec.params.get("scenario")
        command = TEST_COMMANDS.get(getattr(item, "originalname", ""))
        if scenario is not None and command and hasattr(scenario, "runs") and not scenario.runs(command):
            deselected.append(item)
        elif item.get_closest_marker("image_tests") and not docker_engine_available():
            deselected.append(item)
        else:
            kept.append(item)
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = kept

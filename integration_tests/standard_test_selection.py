"""A pytest plugin for the standard tests: each (test, scenario) pair that does not run here is
skipped with the reason, so that pytest's short summary (``-ra``, the project's default) says
why, also under pytest-xdist, whose workers collect (a deselection there is reported as a bare
count, without a word of why).

- The CDK parametrizes every standard test with every scenario, and a pair whose config is not
  listed under the test's section tests nothing (a wrong-key config under ``connection`` has no
  ``read``): one reason for all of them.
- The CDK's Docker-image tests (marker ``image_tests``) never run here: they build the image from
  a Dockerfile template the CDK downloads from GitHub (so not from the project's Dockerfile),
  run it on Docker's default bridge network, where the emulator on the host's loopback cannot be
  reached, and compare the spec with the one published in Airbyte's registry. The project's own
  image is built and run by ``integration_tests/test_image.py`` instead.
"""

from __future__ import annotations

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

NOT_LISTED = (
    "standard test and scenario do not meet: acceptance-test-config.yml lists this scenario's config "
    "only under sections whose command this test does not run"
)
IMAGE_TESTS = (
    "the CDK's Docker-image tests build from a Dockerfile template downloaded from GitHub, run the "
    "container on Docker's bridge network (the emulator on the host's loopback is out of reach) and "
    "fetch the published spec from Airbyte's registry; integration_tests/test_image.py builds and runs "
    "the project's own Dockerfile instead"
)


def pytest_collection_modifyitems(config: pytest.Config, items: List[pytest.Item]) -> None:
    for item in items:
        scenario = getattr(item, "callspec", None) and item.callspec.params.get("scenario")
        command = TEST_COMMANDS.get(getattr(item, "originalname", ""))
        if item.get_closest_marker("image_tests"):
            item.add_marker(pytest.mark.skip(reason=IMAGE_TESTS))
        elif scenario is not None and command and hasattr(scenario, "runs") and not scenario.runs(command):
            item.add_marker(pytest.mark.skip(reason=NOT_LISTED))

"""Fixtures of every test, unit and end-to-end."""

from __future__ import annotations

import logging
from typing import Iterator

import pytest


@pytest.fixture(autouse=True)
def cdk_logs_reach_the_root_logger() -> Iterator[None]:
    """The CDK's test entrypoint and pytest's ``caplog`` capture log lines with a handler on the
    root logger. PyAirbyte, which some end-to-end tests import in the same pytest worker, turns
    off propagation of the ``airbyte`` logger (its package name, and the parent of the CDK's
    ``airbyte.<source>``), so any test run after one of them, unit or end-to-end, would see no
    log lines at all."""
    airbyte = logging.getLogger("airbyte")
    propagate, airbyte.propagate = airbyte.propagate, True
    try:
        yield
    finally:
        airbyte.propagate = propagate

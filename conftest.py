"""Fixtures and hooks of every test, unit and end-to-end.

- The CDK's log lines reach pytest's ``caplog`` even after a PyAirbyte test in the same worker.
- The ``process`` mark is true: a test that starts a process (a subprocess, a fork) without it
  fails, naming the mark, so ``tools/test.py --quick`` (``-m "not process"``) really runs only
  tests that start none. A test using a fixture that runs the connector's command is marked
  without saying so.
"""

from __future__ import annotations

import logging
import os
import subprocess
from typing import Any, Callable, Generator, Iterator, List

import pytest

#: Fixtures that start processes: a test using one is marked ``process``.
PROCESS_FIXTURES = frozenset({"connector"})


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


def pytest_collection_modifyitems(config: pytest.Config, items: List[pytest.Item]) -> None:
    for item in items:
        if PROCESS_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.process)


def _refuses(name: str, what: str) -> Callable[..., Any]:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError(f"{name} starts a process ({what}) but is not marked `process` (pytest.mark.process)")

    return refuse


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, None, None]:
    yield from _without_processes_unless_marked(item)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    yield from _without_processes_unless_marked(item)


def _without_processes_unless_marked(item: pytest.Item) -> Generator[None, None, None]:
    if item.get_closest_marker("process") is not None:
        yield
        return
    popen, fork = subprocess.Popen.__init__, os.fork
    subprocess.Popen.__init__ = _refuses(item.nodeid, "subprocess")  # type: ignore[method-assign]
    os.fork = _refuses(item.nodeid, "fork")
    try:
        yield
    finally:
        subprocess.Popen.__init__ = popen  # type: ignore[method-assign]
        os.fork = fork

"""Fixtures: the API emulator in-process, and the ``source-usage`` command beside it.

- ``emulator``: every vendor on an ephemeral loopback port, default options, seed 1.
- ``emulator_factory(seed=..., <vendor name>={...}, ...)``: one with other options.
- ``connector``: runs ``source-usage``; when the test ends, no run may have printed a secret
  (any emulator's keys, plus whatever the test adds to ``connector.secrets``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator, List, Set

import pytest

from integration_tests.emulator import Emulator
from integration_tests.runner import Connector


class CheckedConnector(Connector):
    def __init__(self, workdir: Path) -> None:
        super().__init__(workdir)
        self.secrets: Set[str] = set()

    def leaked(self) -> List[str]:
        """``run i: stdout has secret 'ab…'`` for every secret found in any output."""
        found = []
        for number, run in enumerate(self.runs):
            for secret in self.secrets:
                for name, text in (("stdout", run.stdout), ("stderr", run.stderr)):
                    if secret in text:
                        found.append(f"run {number} ({run.args[0]}): {name} has secret '{secret[:3]}…'")
        return found


class EmulatorFactory:
    """Starts emulators for one test and stops them all after it."""

    def __init__(self) -> None:
        self.started: List[Emulator] = []

    def __call__(self, **options: Any) -> Emulator:
        emulator = Emulator(**options)
        emulator.start()
        self.started.append(emulator)
        return emulator

    def stop_all(self) -> None:
        for emulator in self.started:
            emulator.stop()


@pytest.fixture
def emulator_factory() -> Iterator[EmulatorFactory]:
    factory = EmulatorFactory()
    yield factory
    factory.stop_all()


@pytest.fixture
def emulator(emulator_factory: EmulatorFactory) -> Emulator:
    return emulator_factory()


@pytest.fixture
def connector(tmp_path: Path, emulator_factory: EmulatorFactory) -> Iterator[CheckedConnector]:
    runner = CheckedConnector(tmp_path)
    yield runner
    for emulator in emulator_factory.started:
        runner.secrets.update(vendor.options.api_key for vendor in emulator.vendors.values())
    leaks = runner.leaked()
    assert not leaks, "secrets reached the connector's output: " + "; ".join(leaks)

"""Fixtures: the API emulator in-process, and the ``source-usage`` command beside it.

- ``emulator``: every vendor on an ephemeral loopback port, default options, seed 1.
- ``emulator_factory(seed=..., <vendor name>={...}, ...)``: one with other options.
- ``connector``: runs ``source-usage``; when the test ends, no run may have printed a secret in
  any form (any emulator's keys, plus whatever the test adds to ``connector.secrets``). Every
  config it writes holds its secrets as a user pastes them, with a trailing ``\r\n`` and spaces,
  so every path a test exercises also proves that a pasted key neither breaks nor leaks.
"""

from __future__ import annotations

import json
import logging
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, Iterator, List, Set

import pytest
from airbyte_cdk.utils.airbyte_secrets_utils import get_secret_paths

from emulator import Emulator
from integration_tests.runner import Connector
from source_usage import SourceUsage

#: What a copy-paste adds to a key.
PASTE_NOISE = "\r\n  "


@lru_cache(maxsize=1)
def secret_paths() -> List[List[str]]:
    """The config paths of every ``airbyte_secret`` field of the spec."""
    spec = SourceUsage().spec(logging.getLogger("test")).connectionSpecification
    return get_secret_paths(spec.get("properties", {}))


def as_pasted(config: Any) -> Any:
    """``config`` with every secret that is a non-empty string followed by ``PASTE_NOISE``."""
    if not isinstance(config, dict):
        return config
    pasted: Dict[str, Any] = json.loads(json.dumps(config))
    for path in secret_paths():
        *sections, field = path
        holder: Any = pasted
        for name in sections:
            holder = holder.get(name) if isinstance(holder, dict) else None
        if isinstance(holder, dict) and isinstance(holder.get(field), str) and holder[field].strip():
            holder[field] = holder[field] + PASTE_NOISE
    return pasted


def printed_forms(secret: str) -> Set[str]:
    """Every way ``secret`` (as configured or as pasted) could be printed: raw, JSON-escaped, as a
    Python ``repr`` of the text or of its bytes (how requests quotes an invalid header)."""
    forms: Set[str] = set()
    for text in (secret, secret.strip(), secret + PASTE_NOISE):
        forms.update({text, json.dumps(text)[1:-1], repr(text)[1:-1], repr(text.encode())[2:-1]})
    return {form for form in forms if form.strip()}


class CheckedConnector(Connector):
    def __init__(self, workdir: Path, forked: bool = True) -> None:
        super().__init__(workdir, forked)
        self.secrets: Set[str] = set()

    def _write(self, name: str, content: Any) -> str:
        return super()._write(name, as_pasted(content) if name == "config" else content)

    def leaked(self) -> List[str]:
        """``run i: stdout has secret 'ab…'`` for every form of a secret found in any output."""
        found = []
        for number, run in enumerate(self.runs):
            for secret in self.secrets:
                for name, text in (("stdout", run.stdout), ("stderr", run.stderr)):
                    if any(form in text for form in printed_forms(secret)):
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

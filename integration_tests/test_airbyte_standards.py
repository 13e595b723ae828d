"""The CDK's standard source tests, against the API emulator, and the ``incremental`` section of
``acceptance-test-config.yml``, which the CDK does not collect.

Scenarios come from ``acceptance-test-config.yml``. Their configs name the emulator's URL, whose
port is ephemeral, so this module starts the emulator and writes them (and the incremental
section's catalog and future state, which name every incremental stream discover lists) before
the first test reads one. Everything runs in-process; ``standard_test_selection`` skips, with
the reason, the pairs of test and scenario that test nothing and the CDK's Docker-image tests.

Each ``incremental`` entry runs a full incremental read, a read from its final state, and a read
from the entry's ``future_state`` (every cursor far in the future). The expected records of the
future-state read are those of the read from the full read's state: a cursor that names a period
not over yet is read as the latest finished period, with a warning naming the stream, so a state
from the future neither skips periods nor is written back. (A file of expected records could not
hold: the emulator's data follows today's date, as the vendors' do.)
"""

from __future__ import annotations

import json
import logging
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Dict, Iterator, List, Mapping

import pytest
import yaml
from airbyte_cdk.test.standard_tests import SourceTestSuiteBase

from emulator import Emulator, vendor_options
from integration_tests.catalog import default_catalog
from integration_tests.runner import InProcessConnector, Run
from source_usage import SourceUsage

pytest_plugins = ["airbyte_cdk.test.standard_tests.pytest_hooks", "integration_tests.standard_test_selection"]
#: One worker runs the whole module: its configs are files every test of it reads (the CDK's
#: scenarios name paths), written once for the emulator the module started.
pytestmark = [pytest.mark.xdist_group("standard_configs"), pytest.mark.reads_today]  # every config starts the day before yesterday

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = Path(__file__).parent / "standard_configs"
ACCEPTANCE_TEST_CONFIG = ROOT / "acceptance-test-config.yml"
#: What the incremental section's files hold: the incremental streams in incremental mode, and a
#: state with each of their cursors far in the future (in the cursor's own format).
INCREMENTAL_CATALOG = CONFIGS / "incremental_catalog.json"
FUTURE_STATE = CONFIGS / "future_state.json"
FUTURE = {"date": "2999-12-31", "date-time": "2999-12-31T00:00:00+00:00"}
#: The keys of an incremental entry this module reads (any other fails: it would check nothing).
INCREMENTAL_KEYS = {"config_path", "configured_catalog_path", "future_state"}


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
    catalog = default_catalog()
    INCREMENTAL_CATALOG.write_text(json.dumps(catalog.configured(catalog.incremental(), "incremental")))
    FUTURE_STATE.write_text(json.dumps(future_state()))
    yield emulator
    emulator.stop()


class TestSourceUsageStandards(SourceTestSuiteBase):
    # The checkout folder is not named source-usage, so the class is named, not derived.
    connector = SourceUsage


# --------------------------------------------------------------------------- the incremental section


def future_state() -> List[Dict[str, Any]]:
    """A state with every incremental stream's cursor far in the future, as its schema types it."""
    catalog, states = default_catalog(), []
    for name in catalog.incremental():
        (cursor,) = catalog.cursor(name)
        cursor_format = catalog.stream(name)["json_schema"]["properties"][cursor].get("format")
        assert cursor_format in FUTURE, f"{name}: cursor {cursor} has format {cursor_format!r}, for which no future value is known"
        states.append({"type": "STREAM", "stream": {"stream_descriptor": {"name": name}, "stream_state": {cursor: FUTURE[cursor_format]}}})
    return states


def incremental_entries() -> List[Mapping[str, Any]]:
    tests = yaml.safe_load(ACCEPTANCE_TEST_CONFIG.read_text())["acceptance_tests"].get("incremental", {}).get("tests", [])
    return [entry for entry in tests if isinstance(entry, dict)]


def records_by_stream(run: Run) -> Dict[str, List[str]]:
    """Each stream's records as sorted JSON lines (streams read side by side interleave freely)."""
    found: Dict[str, List[str]] = {}
    for message in run.of_type("RECORD"):
        found.setdefault(message["record"]["stream"], []).append(json.dumps(message["record"]["data"], sort_keys=True))
    return {stream: sorted(lines) for stream, lines in sorted(found.items())}


def final_states(run: Run, streams: List[str]) -> Dict[str, Any]:
    return {stream: (run.states(stream) or [None])[-1] for stream in streams}


def succeeded(run: Run) -> Run:
    assert run.returncode == 0 and not run.errors(), run.describe()
    return run


def test_the_acceptance_test_config_has_an_incremental_entry_with_a_future_state() -> None:
    config = yaml.safe_load(ACCEPTANCE_TEST_CONFIG.read_text())

    assert config["test_strictness_level"] == "high"
    assert incremental_entries(), "acceptance-test-config.yml has no incremental entry"
    for entry in incremental_entries():
        assert set(entry) <= INCREMENTAL_KEYS, f"keys this module does not read: {sorted(set(entry) - INCREMENTAL_KEYS)}"
        assert entry.get("future_state", {}).get("future_state_path"), f"{entry['config_path']}: no future_state_path"
        assert set(entry["future_state"]) == {"future_state_path"}, f"future_state keys not read: {sorted(entry['future_state'])}"


@pytest.mark.parametrize("entry", incremental_entries(), ids=lambda entry: Path(entry["config_path"]).stem)
def test_incremental_reads_resume_from_state_and_read_a_future_state_as_the_latest_finished_period(
    entry: Mapping[str, Any], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = json.loads((ROOT / entry["config_path"]).read_text())
    catalog = json.loads((ROOT / entry["configured_catalog_path"]).read_text())
    future = json.loads((ROOT / entry["future_state"]["future_state_path"]).read_text())
    streams = sorted(configured["stream"]["name"] for configured in catalog["streams"])
    connector = InProcessConnector(tmp_path, SourceUsage())

    full = succeeded(connector.read(config, catalog))
    resumed = succeeded(connector.read(config, catalog, full.last_states()))
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        from_future = succeeded(connector.read(config, catalog, future))
    # In-process, the connector's log lines reach Python's logging, not the messages of the run.
    future_warnings = [record for record in caplog.records if record.levelno == logging.WARNING]

    assert streams and sorted(records_by_stream(full)) == streams, "an incremental stream without records proves nothing"
    assert sorted(state["stream"]["stream_descriptor"]["name"] for state in future) == streams
    # The read from the full read's state re-reads its lookback only, and moves no cursor back.
    resumed_records, full_records = records_by_stream(resumed), records_by_stream(full)
    for stream, lines in resumed_records.items():
        assert set(lines) <= set(full_records[stream]), f"{stream}: the resumed read emitted records the full read did not"
    assert sum(map(len, resumed_records.values())) < sum(map(len, full_records.values()))
    assert final_states(resumed, streams) == final_states(full, streams)
    # A state from the future: the same records and final states as the read from the full read's state.
    assert records_by_stream(from_future) == resumed_records
    assert final_states(from_future, streams) == final_states(full, streams)
    warned = sorted(
        stream
        for stream in streams
        for record in future_warnings
        if f"stream '{stream}'" in record.getMessage() and "not over yet" in record.getMessage()
    )
    assert warned == streams, f"one warning per stream read from a future state: {warned}"

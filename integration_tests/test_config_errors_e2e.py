"""End to end: configs and saved states the user must fix end every command with one config error
naming each bad field, as the installed ``source-usage`` command prints it, for every vendor the
emulator serves (each vendor's section from its emulator module, no vendor named here).

Nothing here reaches an API: each run stops at validation, so the emulator's request log stays
empty, and no run prints "Something went wrong".
"""

from __future__ import annotations

import subprocess
from datetime import date, timedelta
from typing import Any, Dict, List

import pytest

from emulator import Emulator, discover_vendors
from integration_tests.catalog import default_catalog
from integration_tests.conftest import CheckedConnector, EmulatorFactory
from integration_tests.runner import SOURCE_USAGE, Run
from source_usage.vendors import all_vendors

VENDORS = sorted(discover_vendors())
RESET_STREAM = "reset the stream's state (Airbyte: Connection > Settings > Reset) or start without --state."
RESET_CONNECTION = "reset the connection's state (Airbyte: Connection > Settings > Reset) or start without --state."


@pytest.fixture
def emulated(emulator_factory: EmulatorFactory) -> Emulator:
    return emulator_factory(seed=5, rate_limits=False)


def one_vendor_config(emulator: Emulator, vendor: str, **shared: Any) -> Dict[str, Any]:
    """Two finished days (ending three days ago in UTC) of ``vendor`` alone, plus ``shared``."""
    end = date.today() - timedelta(days=3)
    dates = {"start_date": (end - timedelta(days=1)).isoformat(), "end_date": end.isoformat()}
    return {**dates, **shared, vendor: emulator.vendor(vendor).connector_section(emulator.url)}


def incremental_streams(emulator: Emulator, vendor: str) -> List[str]:
    return [name for name in default_catalog().incremental() if name in emulator.vendor(vendor).streams]


def read_catalog(emulator: Emulator, vendor: str) -> Dict[str, Any]:
    return default_catalog().configured(incremental_streams(emulator, vendor)[:1])


def the_config_error(run: Run, emulator: Emulator) -> str:
    """The run's one error: a config error, after no request and no record; its message."""
    errors = run.errors()
    assert len(errors) == 1 and errors[0]["failure_type"] == "config_error", run.describe()
    assert run.returncode != 0 and not run.records(), run.describe()
    assert "Something went wrong" not in run.stdout, run.describe()
    assert len(emulator.log) == 0, [entry.path for entry in emulator.log.entries()]
    return str(errors[0]["message"])


def failed_check(run: Run) -> str:
    status = run.connection_status()
    assert status["status"] == "FAILED", run.describe()
    return str(status["message"])


# --------------------------------------------------------------------------- row 8


@pytest.mark.parametrize("vendor", VENDORS)
def test_a_bad_date_is_checks_one_sentence_config_error_in_discover_and_read(
    connector: CheckedConnector, emulated: Emulator, vendor: str
) -> None:
    config = one_vendor_config(emulated, vendor, start_date="2026-02-30")
    sentence = "'start_date' is not a real calendar date (YYYY-MM-DD)."

    assert failed_check(connector.check(config)) == sentence
    assert the_config_error(connector.discover(config), emulated) == sentence
    assert the_config_error(connector.read(config, read_catalog(emulated, vendor)), emulated) == sentence


@pytest.mark.parametrize("vendor", VENDORS)
def test_a_lookback_that_is_not_a_number_ends_read_with_a_config_error(
    connector: CheckedConnector, emulated: Emulator, vendor: str
) -> None:
    config = one_vendor_config(emulated, vendor, lookback_days="two")

    run = connector.read(config, read_catalog(emulated, vendor))

    assert the_config_error(run, emulated) == "'lookback_days' must be an integer."


# --------------------------------------------------------------------------- row 9


@pytest.mark.parametrize("vendor", VENDORS)
def test_several_bad_fields_are_named_in_one_message(connector: CheckedConnector, emulated: Emulator, vendor: str) -> None:
    config = one_vendor_config(emulated, vendor, start_date="2026-02-30", lookback_days=-1)
    config[vendor]["base_url"] = "https://127.0.0.1:99999"
    expected = (
        "'lookback_days' must be at least 0. "
        "'start_date' is not a real calendar date (YYYY-MM-DD). "
        f"'{vendor}.base_url' must have a port from 1 to 65535."
    )

    assert failed_check(connector.check(config)) == expected
    assert the_config_error(connector.read(config, read_catalog(emulated, vendor)), emulated) == expected


# --------------------------------------------------------------------------- row 10


@pytest.mark.parametrize("vendor", VENDORS)
def test_a_misspelt_section_is_a_config_error_with_its_close_match_not_a_sync_of_nothing(
    connector: CheckedConnector, emulated: Emulator, vendor: str
) -> None:
    config = one_vendor_config(emulated, vendor)
    typo = vendor[:-1]
    config[typo] = config[vendor]

    run = connector.read(config, read_catalog(emulated, vendor))

    assert the_config_error(run, emulated) == f"'{typo}' is not a known section; did you mean '{vendor}'?"


@pytest.mark.parametrize("vendor", VENDORS)
def test_a_selected_stream_of_a_section_the_config_lacks_ends_read_with_a_config_error_not_a_sync_of_nothing(
    connector: CheckedConnector, emulated: Emulator, vendor: str
) -> None:
    other = VENDORS[(VENDORS.index(vendor) + 1) % len(VENDORS)]
    config = one_vendor_config(emulated, vendor)
    missing = incremental_streams(emulated, other)[0]
    title = {known.identity.key: known.identity.title for known in all_vendors()}[other]

    run = connector.read(config, default_catalog().configured([incremental_streams(emulated, vendor)[0], missing]))

    assert the_config_error(run, emulated) == (
        f"The configured catalog selects '{missing}', a {title} stream, "
        f"but the config has no '{other}' section: add it or deselect the stream."
    )


@pytest.mark.parametrize("vendor", VENDORS)
def test_a_misspelt_field_fails_check_with_its_close_match(connector: CheckedConnector, emulated: Emulator, vendor: str) -> None:
    config = one_vendor_config(emulated, vendor)
    config[vendor]["base_ur"] = config[vendor]["base_url"]

    assert failed_check(connector.check(config)) == f"'{vendor}.base_ur' is not a known field; did you mean 'base_url'?"
    assert len(emulated.log) == 0


# --------------------------------------------------------------------------- row 12


@pytest.mark.parametrize("vendor", VENDORS)
def test_a_port_out_of_range_fails_check_naming_the_field(connector: CheckedConnector, emulated: Emulator, vendor: str) -> None:
    config = one_vendor_config(emulated, vendor)
    config[vendor]["base_url"] = emulated.url.rsplit(":", 1)[0] + ":99999"

    assert failed_check(connector.check(config)) == f"'{vendor}.base_url' must have a port from 1 to 65535."


# --------------------------------------------------------------------------- row 14


def saved_state(stream: str, value: Any) -> List[Dict[str, Any]]:
    return [{"type": "STREAM", "stream": {"stream_descriptor": {"name": stream}, "stream_state": value}}]


@pytest.mark.parametrize("vendor", VENDORS)
@pytest.mark.parametrize("value, kind", [(["2026-06-01"], "a list"), ("2026-06-01", "a string")])
def test_a_stream_state_that_is_not_an_object_is_a_config_error_naming_the_stream(
    connector: CheckedConnector, emulated: Emulator, vendor: str, value: Any, kind: str
) -> None:
    stream = incremental_streams(emulated, vendor)[0]

    run = connector.read(one_vendor_config(emulated, vendor), read_catalog(emulated, vendor), saved_state(stream, value))

    assert the_config_error(run, emulated) == f"The saved state of stream '{stream}' is {kind}, not an object; {RESET_STREAM}"


@pytest.mark.parametrize("vendor", VENDORS)
def test_a_stream_state_without_the_cursor_is_a_config_error_naming_stream_and_cursor(
    connector: CheckedConnector, emulated: Emulator, vendor: str
) -> None:
    stream = incremental_streams(emulated, vendor)[0]
    (cursor,) = default_catalog().cursor(stream)

    run = connector.read(one_vendor_config(emulated, vendor), read_catalog(emulated, vendor), saved_state(stream, {"cursor": "2026-06-01"}))

    expected = f'The saved state of stream \'{stream}\' is not an object of the form {{"{cursor}": ...}}; {RESET_STREAM}'
    assert the_config_error(run, emulated) == expected


def test_a_state_file_that_is_not_json_is_a_config_error(connector: CheckedConnector, emulated: Emulator) -> None:
    vendor = VENDORS[0]
    args = connector.arguments("read", config=one_vendor_config(emulated, vendor), catalog=read_catalog(emulated, vendor))
    state = connector.workdir / "broken-state.json"
    state.write_text('[{"type": "STREAM", "stream": ')
    args += ["--state", str(state)]
    done = subprocess.run([str(SOURCE_USAGE), *args], capture_output=True, text=True, timeout=120)
    run = connector.keep(args, done.returncode, done.stdout, done.stderr)

    expected = f"The state file is not JSON (Expecting value at line 1, column 31); {RESET_CONNECTION}"
    assert the_config_error(run, emulated) == expected


def test_a_global_state_is_a_config_error_naming_its_streams(connector: CheckedConnector, emulated: Emulator) -> None:
    vendor = VENDORS[0]
    stream = incremental_streams(emulated, vendor)[0]
    stream_states = [{"stream_descriptor": {"name": stream}, "stream_state": {}}]
    state = [{"type": "GLOBAL", "global": {"shared_state": {}, "stream_states": stream_states}}]

    run = connector.read(one_vendor_config(emulated, vendor), read_catalog(emulated, vendor), state)

    expected = f"The saved state of streams '{stream}' is a GLOBAL state, which this connector never writes; {RESET_CONNECTION}"
    assert the_config_error(run, emulated) == expected

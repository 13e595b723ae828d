"""Config and state errors, as users meet them: one sentence per bad field, every bad field in
one message, the same in ``check``, ``discover`` and ``read``, a config error (never "Something
went wrong") for anything the user fixes in the config or the saved state.

Run on the toy vendor of the test suite; each shipped vendor's own fields are in its
``test_<vendor>_config.py``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest
from airbyte_cdk.models import AirbyteMessage, AirbyteMessageSerializer, FailureType, Type
from airbyte_cdk.test.entrypoint_wrapper import EntrypointOutput

from integration_tests.toy_vendor.connector import Toy
from source_usage import SourceUsage
from source_usage.core.vendor import Vendor, VendorIdentity
from source_usage.run import UsageEntrypoint
from source_usage.vendors import all_vendors
from unit_tests.conftest import Sleeps
from unit_tests.helpers import TOY_SECRET, TOY_STREAM, ThreeEndpointToy, run_entrypoint, toy_config, toy_source

MEMBERS = TOY_STREAM
RESET_STREAM = "reset the stream's state (Airbyte: Connection > Settings > Reset) or start without --state."
RESET_CONNECTION = "reset the connection's state (Airbyte: Connection > Settings > Reset) or start without --state."
NOT_OF_THE_FORM = f'The saved state of stream \'{MEMBERS}\' is not an object of the form {{"day": ...}}; {RESET_STREAM}'


class SecondToy(Toy):
    """The toy vendor under a second name: a config with two vendor sections."""

    identity = VendorIdentity(key="second_toy", title="Second toy", credentials_field="api_token")


class ForgetfulToy(Toy):
    """The toy vendor as one that keeps 180 days of statistics, counted in UTC+8."""

    history_days = 180
    history_timezone = "Asia/Shanghai"


class Files:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.count = 0

    def write(self, name: str, content: Any) -> str:
        self.count += 1
        path = self.folder / f"{self.count:02d}-{name}.json"
        path.write_text(content if isinstance(content, str) else json.dumps(content))
        return str(path)


@pytest.fixture
def files(tmp_path: Path) -> Files:
    return Files(tmp_path)


def check_message(config: Dict[str, Any], files: Files, source: Optional[SourceUsage] = None) -> str:
    """``check`` through the command's own entrypoint (of the toy vendor's source unless
    ``source`` is given): the FAILED status's message."""
    entrypoint = UsageEntrypoint(source or toy_source())
    args = entrypoint.parse_args(["check", "--config", files.write("config", config)])
    messages = [AirbyteMessageSerializer.load(json.loads(line)) for line in entrypoint.run(args)]
    (status,) = [m.connectionStatus for m in messages if m.type == Type.CONNECTION_STATUS and m.connectionStatus]
    assert status.status.value == "FAILED"
    return str(status.message)


def catalog(*streams: str) -> Dict[str, Any]:
    return {
        "streams": [
            {
                "stream": {"name": name, "json_schema": {}, "supported_sync_modes": ["full_refresh", "incremental"]},
                "sync_mode": "incremental",
                "destination_sync_mode": "append",
            }
            for name in streams
        ]
    }


def run(
    command: str, config: Dict[str, Any], files: Files, state: Optional[Any] = None, source: Optional[SourceUsage] = None
) -> EntrypointOutput:
    """``command`` through the CDK's entrypoint, of the toy vendor's source unless ``source`` is given."""
    args = [command, "--config", files.write("config", config)]
    if command == "read":
        args += ["--catalog", files.write("catalog", catalog(MEMBERS))]
        if state is not None:
            args += ["--state", files.write("state", state)]
    return run_entrypoint(args, source or toy_source())


def the_config_error(output: EntrypointOutput) -> str:
    """The one error trace of a run, asserted to be a config error; its message."""
    errors: List[AirbyteMessage] = output.errors
    assert len(errors) == 1, [error.trace.error.message for error in errors if error.trace and error.trace.error]
    assert errors[0].trace is not None and errors[0].trace.error is not None
    error = errors[0].trace.error
    assert error.failure_type == FailureType.config_error, error.message
    assert output.records == []
    return str(error.message)


# --- row 8: bad dates and lookback days in discover and read, as check words them ------------------

BAD_SHARED_FIELDS = [
    ({"start_date": "2026-02-30"}, "'start_date' is not a real calendar date (YYYY-MM-DD)."),
    ({"end_date": "2026-04-31"}, "'end_date' is not a real calendar date (YYYY-MM-DD)."),
    ({"end_date": "2026/06/09"}, "'end_date' must look like YYYY-MM-DD."),
    ({"lookback_days": "two"}, "'lookback_days' must be an integer."),
    ({"lookback_days": 181}, "'lookback_days' must be at most 180."),
]


@pytest.mark.parametrize("fields, sentence", BAD_SHARED_FIELDS)
def test_a_bad_date_or_lookback_ends_discover_with_checks_sentence_as_a_config_error(
    fields: Dict[str, Any], sentence: str, files: Files
) -> None:
    config = toy_config(**fields)
    assert check_message(config, files) == sentence
    assert the_config_error(run("discover", config, files)) == sentence


@pytest.mark.parametrize("fields, sentence", BAD_SHARED_FIELDS)
def test_a_bad_date_or_lookback_ends_read_with_checks_sentence_as_a_config_error(
    fields: Dict[str, Any], sentence: str, files: Files
) -> None:
    output = run("read", toy_config(**fields), files)
    assert the_config_error(output) == sentence
    assert "Something went wrong" not in str(output.errors[0].trace)


# --- row 9: every bad field in one message ----------------------------------------------------------


def test_several_bad_fields_are_all_named_in_one_message(files: Files) -> None:
    config = toy_config(
        start_date="2026-02-30",
        lookback_days=-1,
        toy={"api_token": 7, "base_url": "http://toy.example"},
        second_toy={"api_token": "a-token", "base_url": "http://second.toy.example"},
        tyo={"api_token": "a-token"},
    )
    expected = (
        "'lookback_days' must be at least 0. "
        "'toy.api_token' must be a string. "
        "'tyo' is not a known section; did you mean 'toy'? "
        "'start_date' is not a real calendar date (YYYY-MM-DD). "
        "'toy.base_url' must use https (plain http is allowed only for localhost). "
        "'second_toy.base_url' must use https (plain http is allowed only for localhost)."
    )
    two_toys = toy_source(Toy(), SecondToy())
    assert check_message(config, files, two_toys) == expected
    assert the_config_error(run("read", config, files, source=two_toys)) == expected


def test_a_field_the_schema_rejects_is_not_named_twice(files: Files) -> None:
    config = toy_config(start_date=20260601, toy={"base_url": 443})
    assert check_message(config, files) == "'start_date' must be a string. 'toy.base_url' must be a string."


# --- row 10: unknown keys, with the close match -----------------------------------------------------


@pytest.mark.parametrize(
    "config, sentence",
    [
        (
            {"tyo": {"api_token": TOY_SECRET}},
            "'tyo' is not a known section; did you mean 'toy'? The config has no vendor section: add at least one of 'toy'.",
        ),
        (toy_config(toy={"base_ur": "https://toy.example"}), "'toy.base_ur' is not a known field; did you mean 'base_url'?"),
        (toy_config(toy={"api_tokens": ["t"]}), "'toy.api_tokens' is not a known field; did you mean 'api_token'?"),
        (toy_config(start_dat="2026-06-01"), "'start_dat' is not a known field; did you mean 'start_date'?"),
        (toy_config(colour="blue"), "'colour' is not a known field."),
        (toy_config(toy={"colour": "blue"}), "'toy.colour' is not a known field."),
    ],
)
def test_an_unknown_section_or_field_is_a_config_error_naming_it_and_its_close_match(
    config: Dict[str, Any], sentence: str, files: Files
) -> None:
    assert check_message(config, files) == sentence
    assert the_config_error(run("discover", config, files)) == sentence


@pytest.mark.parametrize("vendor", all_vendors(), ids=lambda vendor: vendor.identity.key)
def test_a_misspelt_section_of_every_vendor_is_named_with_the_vendors_key(vendor: Vendor, files: Files) -> None:
    misspelt = vendor.identity.key[:-1]  # its last letter left out
    every_key = ", ".join(f"'{each.identity.key}'" for each in all_vendors())
    config = {misspelt: {vendor.identity.credentials_field: TOY_SECRET}}
    assert check_message(config, files, SourceUsage()) == (
        f"'{misspelt}' is not a known section; did you mean '{vendor.identity.key}'? "
        f"The config has no vendor section: add at least one of {every_key}."
    )


def test_the_keys_the_cdk_and_test_harnesses_add_are_not_unknown() -> None:
    config = toy_config(_limit=10, _page_size=5, __injected_declarative_manifest={}, __injected_components_py="")
    source = toy_source(ThreeEndpointToy())
    source.validate(config)
    assert len(source.streams(config)) == 3


# --- row 11: an end date older than the vendor keeps ------------------------------------------------


def test_an_end_date_older_than_the_vendors_history_is_a_config_error(clock: Sleeps, files: Files) -> None:
    # T is 2026-06-10 in UTC+8: a vendor keeping 180 days there keeps 2025-12-12 onwards.
    config = toy_config(start_date="2025-01-01", end_date="2025-12-11")
    sentence = "'end_date' (2025-12-11) is older than the 180 days Toy keeps (its oldest day is 2025-12-12)."
    assert check_message(config, files, toy_source(ForgetfulToy())) == sentence
    assert the_config_error(run("read", config, files, source=toy_source(ForgetfulToy()))) == sentence


def test_an_end_date_on_the_vendors_oldest_day_is_accepted(clock: Sleeps) -> None:
    toy_source(ForgetfulToy()).validate(toy_config(start_date="2025-01-01", end_date="2025-12-12"))


def test_a_vendor_that_keeps_all_history_accepts_an_old_end_date(clock: Sleeps) -> None:
    assert Toy.history_days is None
    toy_source().validate(toy_config(start_date="2019-01-01", end_date="2020-01-01"))


# --- row 12: values the schema types allowed but no vendor can use ---------------------------------


@pytest.mark.parametrize(
    "section, sentence",
    [
        ({"base_url": "https://toy.example:99999"}, "'toy.base_url' must have a port from 1 to 65535."),
        ({"base_url": "http://127.0.0.1:0"}, "'toy.base_url' must have a port from 1 to 65535."),
        ({"base_url": "https://toy.example:http"}, "'toy.base_url' must have a port from 1 to 65535."),
        ({"base_url": "https://toy.example/?page=2"}, "'toy.base_url' must not carry a query or fragment."),
        ({"api_token": "a\ntoken"}, "'toy.api_token' holds a line break or another control character inside it; paste the key again."),
    ],
)
def test_a_port_or_key_no_vendor_can_use_is_a_config_error_naming_the_field(
    section: Dict[str, Any], sentence: str, files: Files
) -> None:
    assert check_message(toy_config(toy=section), files) == sentence


# --- row 14: a saved state the connector cannot resume from -----------------------------------------


def stream_state(value: Any, name: str = MEMBERS) -> List[Dict[str, Any]]:
    return [{"type": "STREAM", "stream": {"stream_descriptor": {"name": name}, "stream_state": value}}]


@pytest.mark.parametrize(
    "state, sentence",
    [
        (stream_state(["2026-06-01"]), f"The saved state of stream '{MEMBERS}' is a list, not an object; {RESET_STREAM}"),
        (stream_state("2026-06-01"), f"The saved state of stream '{MEMBERS}' is a string, not an object; {RESET_STREAM}"),
        (
            "{not json",
            f"The state file is not JSON (Expecting property name enclosed in double quotes at line 1, column 2); {RESET_CONNECTION}",
        ),
        (
            [{"type": "GLOBAL", "global": {"stream_states": [{"stream_descriptor": {"name": MEMBERS}, "stream_state": {}}]}}],
            f"The saved state of streams '{MEMBERS}' is a GLOBAL state, which this connector never writes; {RESET_CONNECTION}",
        ),
        ({MEMBERS: {"date": "2026-06-01"}}, f"The state file is an object, not a list of per-stream states; {RESET_CONNECTION}"),
        (["2026-06-01"], f"Entry 1 of the state file is a string, not a state message; {RESET_CONNECTION}"),
        ([{"type": "STREAM", "stream": {"stream_state": {}}}], f"Entry 1 of the state file names no stream; {RESET_CONNECTION}"),
        (stream_state({"date": "2026-06-01"}), NOT_OF_THE_FORM),
        (stream_state({"day": 20260601}), NOT_OF_THE_FORM),
    ],
)
def test_a_malformed_state_is_a_config_error_naming_the_stream_and_how_to_reset_it(
    state: Any, sentence: str, clock: Sleeps, files: Files
) -> None:
    output = run("read", toy_config(), files, state=state)
    assert the_config_error(output) == sentence
    assert TOY_SECRET not in "\n".join(json.dumps(AirbyteMessageSerializer.dump(m)) for m in output.get_message_iterator())


@pytest.mark.parametrize("content", ["", "[]", "{}", "null"])
def test_an_empty_state_file_is_no_state(content: str, files: Files) -> None:
    assert SourceUsage.read_state(files.write("state", content)) == []


def test_a_well_formed_state_reads_as_the_cdk_reads_it(files: Files) -> None:
    (message,) = SourceUsage.read_state(files.write("state", stream_state({"day": "2026-06-01"})))
    assert message.stream is not None and message.stream.stream_descriptor.name == MEMBERS
    assert message.stream.stream_state is not None and message.stream.stream_state.__dict__ == {"day": "2026-06-01"}


@pytest.mark.parametrize("value", [{}, {"day": None}, {"day": "2026-06-01", "other": 1}])
def test_a_state_with_the_cursor_or_none_is_accepted(value: Dict[str, Any], files: Files) -> None:
    state = SourceUsage.read_state(files.write("state", stream_state(value)))
    SourceUsage.check_states(toy_source().streams(toy_config()), [MEMBERS], state)


def test_the_state_of_a_stream_not_selected_is_not_checked(files: Files) -> None:
    streams = toy_source(ThreeEndpointToy()).streams(toy_config())
    assert "toy_app_usage" in [stream.name for stream in streams]
    state = SourceUsage.read_state(files.write("state", stream_state({"date": 1}, name="toy_app_usage")))
    SourceUsage.check_states(streams, [MEMBERS], state)

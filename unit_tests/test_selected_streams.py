"""No silent empty sync: a stream of the configured catalog that the config does not provide ends
``read`` with a config error naming the stream and the missing section (or its close match), before
any request or record. Read on the toy vendor and a second toy vendor whose section the config lacks.
"""

from __future__ import annotations

from typing import List

from airbyte_cdk.test.entrypoint_wrapper import EntrypointOutput

from integration_tests.toy_vendor.connector import Toy
from source_usage.core.vendor import VendorIdentity
from unit_tests.helpers import TOY_STREAM, VerifiedHttpMocker, read_streams, toy_config, toy_source


class Gadget(Toy):
    """A second vendor of the test suite: section ``gadget``, which :func:`toy_config` has not."""

    identity = VendorIdentity(key="gadget", title="Gadget", credentials_field="api_token")


def read_selecting(streams: List[str]) -> EntrypointOutput:
    # No request is mocked: one sent would fail the mocker's verification.
    with VerifiedHttpMocker():
        return read_streams(toy_config(), streams, source=toy_source(Toy(), Gadget()), expecting_exception=True)


def the_config_error(output: EntrypointOutput) -> str:
    """The read's only error, a config error before any record, state or "Starting syncing"; its message."""
    (error,) = output.errors
    assert error.trace.error.failure_type.value == "config_error"
    assert not output.records and not output.state_messages
    assert not [line for line in output.logs if (line.log.message or "").startswith("Starting syncing")]
    return str(error.trace.error.message)


def test_a_selected_stream_of_a_section_the_config_lacks_is_a_config_error_naming_stream_and_section() -> None:
    output = read_selecting([TOY_STREAM, "gadget_daily_usage"])

    assert the_config_error(output) == (
        "The configured catalog selects 'gadget_daily_usage', a Gadget stream, but the config has no 'gadget' section: "
        "add it or deselect the stream."
    )


def test_a_misspelt_selected_stream_is_a_config_error_naming_its_close_match() -> None:
    output = read_selecting(["toy_daily_usages"])

    assert the_config_error(output) == (
        "The configured catalog selects 'toy_daily_usages', which the config does not provide; did you mean 'toy_daily_usage'?"
    )


def test_a_selected_stream_no_vendor_has_is_named_as_such() -> None:
    output = read_selecting(["toy_weekly_everything", "crm_contacts"])

    assert the_config_error(output) == (
        "The configured catalog selects 'toy_weekly_everything', which is not a stream of the 'toy' section. "
        "The configured catalog selects 'crm_contacts', which is not a stream of this connector."
    )


def test_every_stream_the_config_does_not_provide_is_named_in_one_message() -> None:
    output = read_selecting(["gadget_daily_usage", TOY_STREAM, "toy_daily_usages"])

    assert the_config_error(output) == (
        "The configured catalog selects 'gadget_daily_usage', a Gadget stream, but the config has no 'gadget' section: "
        "add it or deselect the stream. "
        "The configured catalog selects 'toy_daily_usages', which the config does not provide; did you mean 'toy_daily_usage'?"
    )

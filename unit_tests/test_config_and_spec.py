"""The spec, config validation and check, as the contract words them: on every shipped vendor's
section where a rule holds for each, otherwise on the toy vendor of the test suite."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional

import pytest
from airbyte_cdk.models import AirbyteMessage, AirbyteMessageSerializer, Type
from airbyte_cdk.test.entrypoint_wrapper import discover

from source_usage import SourceUsage
from source_usage.core.vendor import Vendor
from source_usage.run import UsageEntrypoint
from source_usage.vendors import all_vendors
from unit_tests.helpers import TOY_SECRET, run_entrypoint, toy_config, toy_source


def vendor_key(vendor: Vendor) -> str:
    return vendor.identity.key


def run_usage_entrypoint(args: List[str], source: Optional[SourceUsage] = None) -> List[AirbyteMessage]:
    """Run the ``source-usage`` command's entrypoint in-process and parse what it prints."""
    entrypoint = UsageEntrypoint(source or SourceUsage())
    return [
        AirbyteMessageSerializer.load(json.loads(line))
        for line in entrypoint.run(entrypoint.parse_args(args))
    ]


def check_with(config: Dict[str, Any], tmp_path: Path, source: Optional[SourceUsage] = None) -> AirbyteMessage:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    messages = run_usage_entrypoint(["check", "--config", str(path)], source)
    statuses = [m for m in messages if m.type == Type.CONNECTION_STATUS]
    assert len(statuses) == 1
    return statuses[0]


def walk_properties(schema: Dict[str, Any], prefix: str = "") -> Iterator[tuple[str, Dict[str, Any]]]:
    for name, field in schema.get("properties", {}).items():
        yield prefix + name, field
        yield from walk_properties(field, prefix + name + ".")


def test_spec_prints_exactly_one_spec_message() -> None:
    messages = run_usage_entrypoint(["spec"])
    assert [m.type for m in messages if m.type != Type.LOG] == [Type.SPEC]


def test_every_secret_in_the_spec_is_an_airbyte_secret() -> None:
    spec = SourceUsage().spec(None).connectionSpecification  # type: ignore[arg-type]
    secrets = {path for path, field in walk_properties(spec) if field.get("airbyte_secret")}
    assert all_vendors()
    for vendor in all_vendors():  # each vendor's credentials field is one
        assert vendor.identity.credentials_hint in secrets, vendor.identity.key
    for path, _ in walk_properties(spec):
        if path.rsplit(".", 1)[-1] in ("api_key", "api_token", "token", "password"):
            assert path in secrets, path


def test_every_vendor_section_is_optional_and_always_shown_in_airbytes_form() -> None:
    spec = SourceUsage().spec(None).connectionSpecification  # type: ignore[arg-type]
    keys = [vendor.identity.key for vendor in all_vendors()]
    assert spec["required"] == []
    assert {key: spec["properties"][key].get("always_show") for key in keys} == dict.fromkeys(keys, True)


def test_spec_fields_have_titles_descriptions_and_order_for_the_ui() -> None:
    spec = SourceUsage().spec(None).connectionSpecification  # type: ignore[arg-type]
    for path, field in walk_properties(spec):
        assert field.get("title") and field.get("description"), path
        assert isinstance(field.get("order"), int), path


@pytest.mark.parametrize(
    "config, field",
    [
        (toy_config(start_date="2026/06/01"), "'start_date'"),
        (toy_config(start_date="2026-02-30"), "'start_date'"),
        (toy_config(end_date="2026-06-01", start_date="2026-06-05"), "'end_date'"),
        (toy_config(lookback_days=-1), "'lookback_days'"),
        (toy_config(lookback_days="two"), "'lookback_days'"),
        ({"toy": {"base_url": "https://toy.example"}}, "'toy.api_token'"),
        (toy_config(toy={"api_token": "  "}), "'toy.api_token'"),
        (toy_config(toy={"base_url": "http://toy.example"}), "'toy.base_url'"),
        (toy_config(toy={"base_url": "not a url"}), "'toy.base_url'"),
    ],
)
def test_a_bad_field_fails_check_with_one_sentence_naming_it(config: Dict[str, Any], field: str, tmp_path: Path) -> None:
    status = check_with(config, tmp_path, toy_source()).connectionStatus
    assert status.status.value == "FAILED"
    assert field in status.message
    assert status.message.count(".") >= 1 and "Traceback" not in status.message
    assert TOY_SECRET not in status.message


@pytest.mark.parametrize("vendor", all_vendors(), ids=vendor_key)
def test_every_vendors_section_without_its_credentials_fails_check_naming_the_field(vendor: Vendor, tmp_path: Path) -> None:
    status = check_with({vendor.identity.key: {}}, tmp_path).connectionStatus
    assert status.status.value == "FAILED"
    assert f"'{vendor.identity.credentials_hint}' is required." in status.message


@pytest.mark.parametrize("vendor", all_vendors(), ids=vendor_key)
def test_every_vendors_base_url_must_use_https(vendor: Vendor, tmp_path: Path) -> None:
    section = {vendor.identity.credentials_field: "a-token", "base_url": "http://api.example.com"}
    status = check_with({vendor.identity.key: section}, tmp_path).connectionStatus
    assert status.status.value == "FAILED"
    assert status.message == f"'{vendor.identity.base_url_field}' must use https (plain http is allowed only for localhost)."


def test_a_config_without_any_vendor_section_says_so(tmp_path: Path) -> None:
    status = check_with({"start_date": "2026-06-01"}, tmp_path).connectionStatus
    assert status.status.value == "FAILED"
    every_key = ", ".join(f"'{vendor.identity.key}'" for vendor in all_vendors())
    assert "no vendor section" in status.message and f"add at least one of {every_key}." in status.message


def test_a_bad_config_ends_discover_with_a_config_error() -> None:
    output = discover(toy_source(), toy_config(lookback_days=-1), expecting_exception=True)
    trace = output.errors[0].trace.error
    assert trace.failure_type.value == "config_error" and "'lookback_days'" in trace.message


def test_check_against_an_unreachable_host_fails_in_one_sentence_within_30_seconds(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a loopback port that nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    started = time.monotonic()
    status = check_with(toy_config(toy={"base_url": f"http://127.0.0.1:{port}"}), tmp_path, toy_source()).connectionStatus
    assert time.monotonic() - started < 30
    assert status.status.value == "FAILED"
    assert status.message.startswith("Could not reach Toy") and "toy.base_url" in status.message
    assert "\n" not in status.message


def test_in_process_check_of_the_cdk_wrapper_agrees(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"start_date": "2026-06-01"}))
    output = run_entrypoint(["check", "--config", str(path)])  # the CDK's own entrypoint, not UsageEntrypoint
    assert output.connection_status_messages[0].connectionStatus.status.value == "FAILED"

"""The spec, config validation and check, as the contract words them."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List

import pytest
from airbyte_cdk.models import AirbyteMessage, AirbyteMessageSerializer, Type
from airbyte_cdk.test.entrypoint_wrapper import discover

from source_usage import SourceUsage
from source_usage.run import UsageEntrypoint
from unit_tests.helpers import SECRET, jiandaoyun_config, run_entrypoint


def run_usage_entrypoint(args: List[str]) -> List[AirbyteMessage]:
    """Run the ``source-usage`` command's entrypoint in-process and parse what it prints."""
    entrypoint = UsageEntrypoint(SourceUsage())
    return [
        AirbyteMessageSerializer.load(json.loads(line))
        for line in entrypoint.run(entrypoint.parse_args(args))
    ]


def check_with(config: Dict[str, Any], tmp_path: Path) -> AirbyteMessage:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    statuses = [m for m in run_usage_entrypoint(["check", "--config", str(path)]) if m.type == Type.CONNECTION_STATUS]
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
    assert "jiandaoyun.api_key" in secrets
    for path, _ in walk_properties(spec):
        if path.rsplit(".", 1)[-1] in ("api_key", "api_token", "token", "password"):
            assert path in secrets, path


def test_spec_fields_have_titles_descriptions_and_order_for_the_ui() -> None:
    spec = SourceUsage().spec(None).connectionSpecification  # type: ignore[arg-type]
    for path, field in walk_properties(spec):
        assert field.get("title") and field.get("description"), path
        assert isinstance(field.get("order"), int), path


@pytest.mark.parametrize(
    "config, field",
    [
        (jiandaoyun_config(start_date="2026/06/01"), "'start_date'"),
        (jiandaoyun_config(start_date="2026-02-30"), "'start_date'"),
        (jiandaoyun_config(end_date="2026-06-01", start_date="2026-06-05"), "'end_date'"),
        (jiandaoyun_config(lookback_days=-1), "'lookback_days'"),
        (jiandaoyun_config(lookback_days="two"), "'lookback_days'"),
        ({"jiandaoyun": {"base_url": "https://api.jiandaoyun.com"}}, "'jiandaoyun.api_key'"),
        (jiandaoyun_config(jiandaoyun={"requests_per_second": "fast"}), "'jiandaoyun.requests_per_second'"),
        (jiandaoyun_config(jiandaoyun={"requests_per_second": 0}), "'jiandaoyun.requests_per_second'"),
        (jiandaoyun_config(jiandaoyun={"member_ids": "abc"}), "'jiandaoyun.member_ids'"),
        (jiandaoyun_config(jiandaoyun={"base_url": "http://api.jiandaoyun.com"}), "'jiandaoyun.base_url'"),
        (jiandaoyun_config(jiandaoyun={"base_url": "not a url"}), "'jiandaoyun.base_url'"),
    ],
)
def test_a_bad_field_fails_check_with_one_sentence_naming_it(config: Dict[str, Any], field: str, tmp_path: Path) -> None:
    status = check_with(config, tmp_path).connectionStatus
    assert status.status.value == "FAILED"
    assert field in status.message
    assert status.message.count(".") >= 1 and "Traceback" not in status.message
    assert SECRET not in status.message


def test_a_config_without_any_vendor_section_says_so(tmp_path: Path) -> None:
    status = check_with({"start_date": "2026-06-01"}, tmp_path).connectionStatus
    assert status.status.value == "FAILED"
    assert "no vendor section" in status.message and "'jiandaoyun'" in status.message


def test_a_bad_config_ends_discover_with_a_config_error() -> None:
    output = discover(SourceUsage(), jiandaoyun_config(lookback_days=-1), expecting_exception=True)
    trace = output.errors[0].trace.error
    assert trace.failure_type.value == "config_error" and "'lookback_days'" in trace.message


def test_check_against_an_unreachable_host_fails_in_one_sentence_within_30_seconds(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a loopback port that nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    started = time.monotonic()
    status = check_with(jiandaoyun_config(jiandaoyun={"base_url": f"http://127.0.0.1:{port}"}), tmp_path).connectionStatus
    assert time.monotonic() - started < 30
    assert status.status.value == "FAILED"
    assert status.message.startswith("Could not reach Jiandaoyun") and "jiandaoyun.base_url" in status.message
    assert "\n" not in status.message


def test_in_process_check_of_the_cdk_wrapper_agrees(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"start_date": "2026-06-01"}))
    output = run_entrypoint(["check", "--config", str(path)])  # the CDK's own entrypoint, not UsageEntrypoint
    assert output.connection_status_messages[0].connectionStatus.status.value == "FAILED"

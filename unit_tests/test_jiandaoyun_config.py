"""Jiandaoyun's config section, check and read summary as users meet them: its own fields
(member and app ids, requests per second), its 180 days of history, the defaults of its section,
and its messages. The rules every vendor shares are tested on the toy vendor
(``test_config_and_spec.py``, ``test_config_errors.py``, ``test_read.py``)."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path
from typing import Any, Dict

import pytest
from airbyte_cdk.test.mock_http import HttpRequest, HttpResponse

from emulator.jiandaoyun import CONNECTOR_MAX_REQUESTS_PER_SECOND
from source_usage import SourceUsage
from source_usage.core.settings import SharedSettings
from source_usage.core.vendor import HttpOptions
from source_usage.vendors.jiandaoyun import DEFAULT_BASE_URL as JIANDAOYUN_BASE_URL
from source_usage.vendors.jiandaoyun import Jiandaoyun
from unit_tests.conftest import Sleeps
from unit_tests.helpers import VerifiedHttpMocker, read_streams
from unit_tests.jiandaoyun_helpers import BASE_URL, SECRET, jiandaoyun_config
from unit_tests.test_config_and_spec import check_with
from unit_tests.test_config_errors import Files, check_message, run, the_config_error

SOURCE = SourceUsage()


@pytest.mark.parametrize(
    "config, field",
    [
        ({"jiandaoyun": {"base_url": "https://api.jiandaoyun.com"}}, "'jiandaoyun.api_key'"),
        (jiandaoyun_config(jiandaoyun={"requests_per_second": "fast"}), "'jiandaoyun.requests_per_second'"),
        (jiandaoyun_config(jiandaoyun={"requests_per_second": 0}), "'jiandaoyun.requests_per_second'"),
        (jiandaoyun_config(jiandaoyun={"member_ids": "abc"}), "'jiandaoyun.member_ids'"),
        (jiandaoyun_config(jiandaoyun={"base_url": "http://api.jiandaoyun.com"}), "'jiandaoyun.base_url'"),
        (jiandaoyun_config(jiandaoyun={"base_url": "not a url"}), "'jiandaoyun.base_url'"),
    ],
)
def test_a_bad_jiandaoyun_field_fails_check_with_one_sentence_naming_it(config: Dict[str, Any], field: str, tmp_path: Path) -> None:
    status = check_with(config, tmp_path).connectionStatus
    assert status.status.value == "FAILED"
    assert field in status.message
    assert status.message.count(".") >= 1 and "Traceback" not in status.message
    assert SECRET not in status.message


def test_check_against_an_unreachable_jiandaoyun_host_fails_in_one_sentence_within_30_seconds(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a loopback port that nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    started = time.monotonic()
    status = check_with(jiandaoyun_config(jiandaoyun={"base_url": f"http://127.0.0.1:{port}"}), tmp_path).connectionStatus
    assert time.monotonic() - started < 30
    assert status.status.value == "FAILED"
    assert status.message.startswith("Could not reach Jiandaoyun") and "jiandaoyun.base_url" in status.message
    assert "\n" not in status.message


def test_several_bad_jiandaoyun_and_shared_fields_are_all_named_in_one_message(tmp_path: Path) -> None:
    files = Files(tmp_path)
    config = jiandaoyun_config(
        start_date="2026-02-30",
        lookback_days=-1,
        jiandaoyun={"requests_per_second": "fast", "base_url": "http://api.jiandaoyun.com"},
    )
    expected = (
        "'jiandaoyun.requests_per_second' must be an integer. "
        "'lookback_days' must be at least 0. "
        "'start_date' is not a real calendar date (YYYY-MM-DD). "
        "'jiandaoyun.base_url' must use https (plain http is allowed only for localhost)."
    )
    assert check_message(config, files, SOURCE) == expected
    assert the_config_error(run("read", config, files, source=SOURCE)) == expected


def test_a_jiandaoyun_field_the_schema_rejects_is_not_named_twice(tmp_path: Path) -> None:
    config = jiandaoyun_config(start_date=20260601, jiandaoyun={"base_url": 443})
    assert check_message(config, Files(tmp_path), SOURCE) == "'jiandaoyun.base_url' must be a string. 'start_date' must be a string."


@pytest.mark.parametrize(
    "config, sentence",
    [
        (jiandaoyun_config(jiandaoyun={"member_id": ["m1"]}), "'jiandaoyun.member_id' is not a known field; did you mean 'member_ids'?"),
        (
            jiandaoyun_config(jiandaoyun={"requests_per_secnd": 5}),
            "'jiandaoyun.requests_per_secnd' is not a known field; did you mean 'requests_per_second'?",
        ),
        (jiandaoyun_config(jiandaoyun={"colour": "blue"}), "'jiandaoyun.colour' is not a known field."),
    ],
)
def test_an_unknown_jiandaoyun_field_is_a_config_error_naming_it_and_its_close_match(
    config: Dict[str, Any], sentence: str, tmp_path: Path
) -> None:
    files = Files(tmp_path)
    assert check_message(config, files, SOURCE) == sentence
    assert the_config_error(run("discover", config, files, source=SOURCE)) == sentence


def test_an_end_date_older_than_jiandaoyuns_180_days_is_a_config_error(clock: Sleeps, tmp_path: Path) -> None:
    # T is 2026-06-10 in UTC+8: Jiandaoyun keeps 2025-12-12 onwards.
    files = Files(tmp_path)
    config = jiandaoyun_config(start_date="2025-01-01", end_date="2025-12-11")
    sentence = "'end_date' (2025-12-11) is older than the 180 days Jiandaoyun keeps (its oldest day is 2025-12-12)."
    assert check_message(config, files, SOURCE) == sentence
    assert the_config_error(run("read", config, files, source=SOURCE)) == sentence


def test_an_end_date_on_jiandaoyuns_oldest_day_is_accepted(clock: Sleeps) -> None:
    SourceUsage().validate(jiandaoyun_config(start_date="2025-01-01", end_date="2025-12-12"))


@pytest.mark.parametrize(
    "section, sentence",
    [
        ({"base_url": "https://api.jiandaoyun.com:99999"}, "'jiandaoyun.base_url' must have a port from 1 to 65535."),
        ({"base_url": "http://127.0.0.1:0"}, "'jiandaoyun.base_url' must have a port from 1 to 65535."),
        ({"base_url": "https://api.jiandaoyun.com:http"}, "'jiandaoyun.base_url' must have a port from 1 to 65535."),
        ({"member_ids": ["m1", ""]}, "'jiandaoyun.member_ids.1' must not be empty."),
        ({"app_ids": [""]}, "'jiandaoyun.app_ids.0' must not be empty."),
    ],
)
def test_a_jiandaoyun_port_or_id_it_cannot_use_is_a_config_error_naming_the_field(
    section: Dict[str, Any], sentence: str, tmp_path: Path
) -> None:
    assert check_message(jiandaoyun_config(jiandaoyun=section), Files(tmp_path), SOURCE) == sentence


def jiandaoyun_spec() -> Dict[str, Any]:
    section: Dict[str, Any] = SOURCE.spec(None).connectionSpecification["properties"]["jiandaoyun"]  # type: ignore[arg-type]
    return section


def test_the_jiandaoyun_key_is_asked_of_a_super_admin() -> None:
    assert jiandaoyun_spec()["properties"]["api_key"]["description"] == (
        "An API key from Open Platform > API Key, created by a super admin: the usage-statistics "
        "endpoints answer HTTP 403 to another admin's key."
    )


def test_requests_per_second_is_at_most_the_company_limit_which_the_budget_holds_beside_each_endpoints(tmp_path: Path) -> None:
    field = jiandaoyun_spec()["properties"]["requests_per_second"]
    config = jiandaoyun_config(jiandaoyun={"requests_per_second": 30})
    streams = Jiandaoyun().streams(Jiandaoyun().section(config) or {}, SharedSettings.from_config(config), HttpOptions())
    assert (len(streams), field["minimum"], field["maximum"], CONNECTOR_MAX_REQUESTS_PER_SECOND) == (3, 1, 50, 50)
    assert field["description"] == (
        "Requests per second to each of the 3 usage endpoints, which a sync reads side by side. Jiandaoyun documents 1 per "
        "endpoint and 50 per company; the sync keeps to both, whatever this says. Leave it at 1 unless Jiandaoyun granted "
        "your company a higher quota."
    )
    # Each endpoint's 30 a second, and the company's 50 over the three, both in the one budget.
    limits = [(limit.path_pattern, limit.calls) for limit in streams[0].connection.limits]  # type: ignore[attr-defined]
    assert limits == [
        ("/api/v1/corp_usage/member_metrics$", 30),
        ("/api/v1/corp_usage/app_metrics$", 30),
        ("/api/v1/corp_usage/overview$", 30),
        ("/api/v1/corp_usage/", 50),
    ]
    SOURCE.validate(jiandaoyun_config(jiandaoyun={"requests_per_second": 50}))
    message = check_message(jiandaoyun_config(jiandaoyun={"requests_per_second": 51}), Files(tmp_path), SOURCE)
    assert message == "'jiandaoyun.requests_per_second' must be at most 50."


def test_the_jiandaoyun_section_with_only_a_key_gets_every_default() -> None:
    assert Jiandaoyun().section({"jiandaoyun": {"api_key": "k"}}) == {
        "api_key": "k",
        "base_url": JIANDAOYUN_BASE_URL,
        "member_ids": [],
        "app_ids": [],
        "requests_per_second": 1,
    }


def test_a_jiandaoyun_read_ends_with_a_summary_counting_its_8303_wait(clock: Sleeps) -> None:
    with VerifiedHttpMocker() as http:
        for date in ["2026-06-08", "2026-06-09"]:
            http.post(HttpRequest(f"{BASE_URL}/api/v1/corp_usage/overview", body={"date": date}),
                      HttpResponse(json.dumps({"date": date, "metrics": {"app": 1}})))  # fmt: skip
        http.post(HttpRequest(f"{BASE_URL}/api/v1/corp_usage/overview", body={"date": "2026-06-07"}),
                  [HttpResponse(json.dumps({"code": 8303, "msg": "too fast"}), status_code=400),
                   HttpResponse(json.dumps({"date": "2026-06-07", "metrics": {}}))])  # fmt: skip
        output = read_streams(jiandaoyun_config(start_date="2026-06-07"), ["jiandaoyun_overview_usage"])
    assert clock.waits == [2.0]  # 8303 carries no Retry-After: 1 s, and the CDK's extra second
    summaries = [log.log.message for log in output.logs if log.log.message.startswith("Sync summary")]
    assert summaries == [
        "Sync summary: jiandaoyun_overview_usage: 4 requests, 1 retries, 1 rate-limit waits (2.0 s), 3 records."
        " Timing: wall time 2.0 s, 0.0 s of it waiting for the request budget."
    ]

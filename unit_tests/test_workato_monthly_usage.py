"""``workato_customer_monthly_usage`` against in-process HTTP mocks: each customer's monthly task
totals as Workato bills them (``GET /api/managed_users/usage``), one test per promised behaviour.

The answer's shape is not published; the connector's assumption (``{"result": [{"id", ...,
"usage": [{"month": "YYYY-MM", "task_count"}]}]}``) is what these answers follow, and each way it
can be wrong fails the stream naming the field, and only this stream.
"""

from __future__ import annotations

import json
from typing import Any, Dict, List, Optional

import pytest
import requests
from airbyte_cdk.models import FailureType, SyncMode
from airbyte_cdk.test.entrypoint_wrapper import EntrypointOutput
from airbyte_cdk.test.mock_http import HttpRequest, HttpResponse

from source_usage import SourceUsage
from source_usage.core.budget import PacingBudget
from unit_tests.conftest import Sleeps
from unit_tests.helpers import VerifiedHttpMocker, all_output_lines, read_streams
from unit_tests.test_tabnine import assert_records_match_their_schemas
from unit_tests.test_workato import BASE_URL, CUSTOMERS, MANAGED_USERS, MONTHLY, SECRET, USAGE, listing, managed_users, workato_config

MONTHLY_USAGE = BASE_URL + "/api/managed_users/usage"


def monthly_request(page: int) -> HttpRequest:
    return HttpRequest(MONTHLY_USAGE, query_params={"page": str(page), "per_page": "100"})


def customer(workspace_id: int, *months: Dict[str, Any], **fields: Any) -> Dict[str, Any]:
    return {"id": workspace_id, "external_id": f"ext-{workspace_id}", "name": f"c{workspace_id}", "usage": list(months), **fields}


def month(label: str, tasks: Any) -> Dict[str, Any]:
    return {"month": label, "task_count": tasks}


def page(*customers: Dict[str, Any], headers: Optional[Dict[str, str]] = None, **body: Any) -> HttpResponse:
    return HttpResponse(json.dumps({"result": list(customers), **body}), headers=headers or {})


def read_monthly(*pages: HttpResponse, streams: Optional[List[str]] = None, expecting_exception: bool = False) -> EntrypointOutput:
    """A full-refresh sync of ``streams`` (default: the monthly usage), its pages 1, 2, ... answered
    with ``pages``; with the customer workspaces, the listing answers one page of workspaces 1 and 2."""
    with VerifiedHttpMocker() as http:
        for number, answer in enumerate(pages, start=1):
            http.get(monthly_request(number), answer)
        if CUSTOMERS in (streams or []):
            listing(http, managed_users([1, 2]), managed_users([]))
        return read_streams(
            workato_config(), streams or [MONTHLY], sync_mode=SyncMode.full_refresh, expecting_exception=expecting_exception
        )


def records_of(output: EntrypointOutput, stream: str = MONTHLY) -> List[Dict[str, Any]]:
    return [message.record.data for message in output.records if message.record.stream == stream]


def failed_streams(output: EntrypointOutput) -> Dict[str, str]:
    failed = [error.trace.error for error in output.errors if error.trace.error.stream_descriptor]
    return {error.stream_descriptor.name: error.message for error in failed}


# --- records ---------------------------------------------------------------------------------


def test_each_customer_and_month_is_one_record_with_the_month_as_served_and_its_task_total(clock: Sleeps) -> None:
    output = read_monthly(
        page(customer(1, month("2026-05", 1200), month("2026-06", 310)), customer(2, month("2026-05", 0))),
        page(),  # no next page named: the empty page ends the listing
    )
    assert not output.errors
    first, second = ({"workspace_id": n, "external_id": f"ext-{n}", "workspace_name": f"c{n}"} for n in (1, 2))
    assert records_of(output) == [
        {"month": "2026-05-01", "task_count": 1200, "vendor_month": "2026-05", **first},
        {"month": "2026-06-01", "task_count": 310, "vendor_month": "2026-06", **first},
        {"month": "2026-05-01", "task_count": 0, "vendor_month": "2026-05", **second},
    ]
    assert_records_match_their_schemas(output)


@pytest.mark.parametrize(
    ("served", "vendor_month"),
    [
        ({"month": "2026-05-01", "task_count": 7}, None),  # the first day: nothing to keep
        ({"year": 2026, "month": 5, "task_count": 7}, "5"),  # a one-based month number beside its year, kept as text
        ({"month": " 2026-05 ", "task_count": 7}, " 2026-05 "),
    ],
    ids=["first-day", "year-and-number", "padded"],
)
def test_the_month_is_read_from_its_first_day_or_from_a_year_and_a_one_based_number(
    clock: Sleeps, served: Dict[str, Any], vendor_month: Any
) -> None:
    output = read_monthly(page(customer(1, served)), page())
    ((record,),) = [records_of(output)]
    assert (record["month"], record["task_count"], record.get("vendor_month")) == ("2026-05-01", 7, vendor_month)
    assert_records_match_their_schemas(output)


def test_a_customer_without_external_id_or_name_has_no_such_columns(clock: Sleeps) -> None:
    output = read_monthly(page({"id": 3, "usage": [month("2026-05", 4)]}), page())
    assert records_of(output) == [{"month": "2026-05-01", "task_count": 4, "vendor_month": "2026-05", "workspace_id": 3}]


def test_a_task_total_that_is_not_an_integer_is_null_and_kept_as_vendor_task_count(clock: Sleeps) -> None:
    output = read_monthly(page(customer(1, month("2026-05", "12"), month("2026-06", "n/a"), month("2026-04", 3.0))), page())
    assert [(r["month"], r.get("task_count"), r.get("vendor_task_count")) for r in records_of(output)] == [
        ("2026-05-01", 12, "12"),
        ("2026-06-01", None, "n/a"),
        ("2026-04-01", 3, None),  # 3.0 == 3: the integral number is the count
    ]
    assert_records_match_their_schemas(output)


def test_pages_follow_a_named_next_page_and_stop_where_the_answer_says_the_last_was(clock: Sleeps) -> None:
    output = read_monthly(
        page(customer(1, month("2026-05", 1)), next_page=2),
        page(customer(2, month("2026-05", 2)), headers={"X-Next-Page": "3"}),
        page(customer(3, month("2026-05", 3)), next_page=None),
    )
    assert not output.errors
    assert [r["workspace_id"] for r in records_of(output)] == [1, 2, 3]


def test_a_customer_repeated_on_the_next_page_is_emitted_once(clock: Sleeps) -> None:
    # A customer created while paging shifts customer 2 onto page 2 as well: the same months again.
    repeated = customer(2, month("2026-05", 9))
    output = read_monthly(page(customer(1, month("2026-05", 1)), repeated), page(repeated, customer(3, month("2026-05", 3))), page())
    assert not output.errors
    assert [r["workspace_id"] for r in records_of(output)] == [1, 2, 3]


def test_two_different_totals_for_one_customer_and_month_fail_naming_the_key(clock: Sleeps) -> None:
    output = read_monthly(page(customer(1, month("2026-05", 1), month("2026-05-01", 2))), expecting_exception=True)
    message = output.errors[0].trace.error.message
    assert message.startswith(
        "Workato api/managed_users/usage answered two different rows for workspace_id 1, month 2026-05-01 (the second has: "
    ), message
    assert message.endswith("neither is known to be the right one, so the sync stops: the vendor's answer may have changed shape.")


# --- a wrong guess about the answer fails this stream, naming the field, and only this stream ---


@pytest.mark.parametrize(
    ("served", "expected"),
    [
        (
            customer(1, {"period": "2026-05", "task_count": 4}),
            "Workato api/managed_users/usage answered a month of customer 1 without a readable 'month' (the month has: period, "
            "task_count; read are 'YYYY-MM', 'YYYY-MM-01', or a 'month' from 1 to 12 beside 'year'). Workato does not publish "
            "this answer's shape; rather than guess which month a total is for, the sync stops.",
        ),
        (
            customer(1, {"year": 2026, "month": 0, "task_count": 4}),  # a zero-based month
            "Workato api/managed_users/usage answered a month of customer 1 without a readable 'month' (the month has: month, "
            "task_count, year; read are 'YYYY-MM', 'YYYY-MM-01', or a 'month' from 1 to 12 beside 'year'). Workato does not "
            "publish this answer's shape; rather than guess which month a total is for, the sync stops.",
        ),
        (
            customer(1, {"month": "2026-05-15", "task_count": 4}),
            "Workato api/managed_users/usage answered a month of customer 1 without a readable 'month' (the month has: month, "
            "task_count; read are 'YYYY-MM', 'YYYY-MM-01', or a 'month' from 1 to 12 beside 'year'). Workato does not publish "
            "this answer's shape; rather than guess which month a total is for, the sync stops.",
        ),
        (
            customer(1, {"month": "2026-05", "tasks": 4}),
            "Workato api/managed_users/usage answered a month of customer 1 without 'task_count' (the month has: month, tasks). "
            "Workato does not publish this answer's shape; rather than emit the month's tasks as null, the sync stops: the "
            "connector needs the answer's new field name.",
        ),
        (
            {"id": 1, "months": [month("2026-05", 4)]},
            "Workato api/managed_users/usage answered with a malformed body: customer 0 of 'result' has no 'usage' list of "
            "months (it has: id, months).",
        ),
        (
            {"customer_id": 1, "usage": [month("2026-05", 4)]},
            "Workato api/managed_users/usage answered with a malformed body: customer 0 of 'result' has no 'id' (it has: "
            "customer_id, usage).",
        ),
    ],
    ids=["month-under-another-name", "zero-based-month", "not-a-first-day", "tasks-under-another-name", "no-months", "no-id"],
)
def test_a_wrong_guess_about_the_answer_fails_only_this_stream_naming_the_field(
    clock: Sleeps, served: Dict[str, Any], expected: str
) -> None:
    output = read_monthly(page(served), streams=[MONTHLY, CUSTOMERS], expecting_exception=True)
    assert failed_streams(output) == {MONTHLY: expected}
    assert records_of(output) == []
    assert [r["id"] for r in records_of(output, CUSTOMERS)] == [1, 2], "the customer workspaces sync whole"


def test_an_answer_without_result_is_malformed_never_silently_empty(clock: Sleeps) -> None:
    output = read_monthly(HttpResponse(json.dumps({"data": []})), expecting_exception=True)
    assert output.errors[0].trace.error.message == "Workato api/managed_users/usage answered with a malformed body: no 'result' list."


# --- full refresh, credentials, limits -------------------------------------------------------


def test_every_sync_reads_the_months_whole_whatever_state_the_last_one_left(clock: Sleeps) -> None:
    with VerifiedHttpMocker() as http:
        http.get(monthly_request(1), page(customer(1, month("2026-05", 5))))
        http.get(monthly_request(2), page())
        state = {MONTHLY: {"__ab_full_refresh_sync_complete": True}}
        output = read_streams(workato_config(), [MONTHLY], state=state, sync_mode=SyncMode.full_refresh)
    assert [r["task_count"] for r in records_of(output)] == [5]


def test_a_rejected_token_is_a_config_error_and_no_secret_reaches_any_output_line(clock: Sleeps) -> None:
    output = read_monthly(HttpResponse(json.dumps({"message": f"Unauthorized {SECRET}"}), status_code=401), expecting_exception=True)
    error = output.errors[0].trace.error
    assert error.failure_type == FailureType.config_error and "workato.api_token" in error.message
    assert SECRET not in all_output_lines(output)


def test_the_monthly_totals_count_against_both_of_workatos_limits_and_the_other_endpoints_against_their_own() -> None:
    (stream,) = [s for s in SourceUsage().streams(workato_config()) if s.name == MONTHLY]
    budget = stream.connection.budget  # type: ignore[attr-defined]  # a UsageStream's
    assert isinstance(budget, PacingBudget)

    def limits(url: str, method: str = "GET") -> List[Any]:
        policies = budget.matching_policies(requests.Request(method, url).prepare())
        return sorted((policy.limit.calls, policy.limit.seconds) for policy in policies)

    assert limits(MONTHLY_USAGE + "?page=1&per_page=100") == [(60, 60.0), (1000, 60.0)]
    assert limits(MANAGED_USERS + "?page=1&per_page=100") == [(60, 60.0)]
    assert limits(USAGE, "POST") == [(1000, 60.0)]

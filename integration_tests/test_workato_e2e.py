"""End to end: the installed ``source-usage`` command against the emulated Workato Embedded API.

Every sync is compared with the emulator's ground truth: the exact records a correct sync
produces, no more (no duplicates), no fewer (no gaps). The request log shows what the connector
asked for, so windows, id chunks, the workspace listing, lookback and resumption are checked on
the wire.

Workato counts periods in the Embed admin workspace's zone; the emulator and every config here
use America/Los_Angeles, and dates end at least two days before today there, so that a test
running across midnight still asks only for finished periods. The emulator's rate limits are off:
the connector paces itself (1,000 usage requests a minute), far above what a test sends.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from typing import Any, Dict, List, Mapping, Sequence, Tuple
from zoneinfo import ZoneInfo

import jsonschema
import pytest

from emulator import Emulator, LoggedRequest
from emulator.workato import UsageQuery
from integration_tests.assertions import assert_matches, assert_succeeded, keyed
from integration_tests.conftest import CheckedConnector, EmulatorFactory
from integration_tests.resumption import (
    assert_resumed_without_loss,
    assert_states_follow_their_records,
    checkpoint_of,
    in_flight_records,
    moment,
    overlapping,
    periods_in_flight,
)
from integration_tests.runner import SCHEMAS, configured_catalog

TOKEN = "wk-e2e-\"secret\\7d2e91c0b4"  # a quote and a backslash: characters JSON and repr escape
WRONG_TOKEN = "wk-wrong-\"secret\\3a8f17e6d2"
ZONE_NAME = "America/Los_Angeles"
ZONE = ZoneInfo(ZONE_NAME)
WORKSPACES = "workato_workspace_usage"
RECIPES = "workato_recipe_usage"
STREAMS = (WORKSPACES, RECIPES)
CUSTOMERS = "workato_customer_workspaces"
#: Issue 25's stream (its syncs: test_workato_monthly_usage_e2e.py).
MONTHLY = "workato_customer_monthly_usage"
#: The usage streams and the customer workspaces (full refresh, from the listing they share).
ALL_STREAMS = (*STREAMS, CUSTOMERS)
#: The contract's primary keys (shared/connector-contract.md), which discover must declare.
PRIMARY_KEYS = {WORKSPACES: ("period_start", "workspace_id"), RECIPES: ("period_start", "workspace_id", "recipe_id"), CUSTOMERS: ("id",)}
USAGE_PATH = "/api/v2/managed_users/statistics/usage"
LISTING_PATH = "/api/managed_users"
#: What Workato needs to count deleted recipes: a body with nothing else (one of the id lists).
PLAIN_BODY = {"from", "to", "interval"}
ID_FIELDS = ("workspace_ids", "external_ids")


@pytest.fixture
def workato(emulator_factory: EmulatorFactory) -> Emulator:
    """12 customer workspaces of 6 recipes each (about one recipe in five deleted)."""
    return emulator_factory(seed=21, rate_limits=False, workato={"api_token": TOKEN, "timezone": ZONE_NAME})


@pytest.fixture
def many_workspaces(emulator_factory: EmulatorFactory) -> Emulator:
    """150 customer workspaces: two pages of the listing and two id chunks of 100 per window."""
    return emulator_factory(seed=22, rate_limits=False, workato={"api_token": TOKEN, "timezone": ZONE_NAME, "workspaces": 150})


def today() -> date:
    return datetime.now(ZONE).date()


def dates(count: int) -> Tuple[date, date]:
    """The last ``count`` days ending two days before today in the admin workspace's zone."""
    end = today() - timedelta(days=2)
    return end - timedelta(days=count - 1), end


def config(emulator: Emulator, start: date, end: date, lookback_days: int = 1, **section: Any) -> Dict[str, Any]:
    return {
        "start_date": start.isoformat(),
        "end_date": end.isoformat(),
        "lookback_days": lookback_days,
        "workato": {"api_token": TOKEN, "base_url": emulator.url, "timezone": ZONE_NAME, "interval": "day", **section},
    }


def stream_of(entry: LoggedRequest) -> str:
    """Which stream sent a usage request: only the recipe stream groups (checked on its own in
    ``test_request_bodies_...``)."""
    return RECIPES if isinstance(entry.body, dict) and "group_by" in entry.body else WORKSPACES


def usage_requests(emulator: Emulator, stream: str, since: float = 0.0, until: float = float("inf")) -> List[LoggedRequest]:
    """The usage requests of ``stream`` answered 200 that arrived in ``[since, until)``, oldest first."""
    return [e for e in emulator.log.entries(USAGE_PATH) if e.status == 200 and stream_of(e) == stream and since <= e.time < until]


def instant(iso: str) -> datetime:
    return datetime.fromisoformat(iso)


def windows(requests: Sequence[LoggedRequest]) -> List[Tuple[str, str]]:
    """The distinct ``(from, to)`` windows asked for, in time order."""
    return sorted({(e.body["from"], e.body["to"]) for e in requests}, key=lambda window: instant(window[0]))


def local_midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=ZONE)


def ids_by_window(requests: Sequence[LoggedRequest], field: str = "workspace_ids") -> Dict[str, List[Any]]:
    """Every id sent under ``field``, per window start, in sending order (a repeat shows twice)."""
    sent: Dict[str, List[Any]] = defaultdict(list)
    for e in requests:
        sent[e.body["from"]].extend(e.body.get(field, []))
    return dict(sent)


def chunks_by_window(requests: Sequence[LoggedRequest], field: str = "workspace_ids") -> Dict[str, List[List[Any]]]:
    """The id chunk of every request, per window start, in arrival order."""
    sent: Dict[str, List[List[Any]]] = defaultdict(list)
    for e in requests:
        sent[e.body["from"]].append(list(e.body.get(field, [])))
    return dict(sent)


def nth_sunday(year: int, month: int, n: int) -> date:
    first = date(year, month, 1)
    return first + timedelta(days=(6 - first.weekday()) % 7 + 7 * (n - 1))


def last_dst_change(month: int) -> date:
    """The latest finished US DST change of ``month`` (March: second Sunday; November: first)."""
    n = 2 if month == 3 else 1
    change = nth_sunday(today().year, month, n)
    return change if change < today() - timedelta(days=3) else nth_sunday(today().year - 1, month, n)


# --------------------------------------------------------------------------- check, discover


def test_check_fails_naming_workato_with_a_bad_token(connector: CheckedConnector, workato: Emulator) -> None:
    connector.secrets.add(WRONG_TOKEN)
    start, end = dates(1)

    run = connector.check(config(workato, start, end, api_token=WRONG_TOKEN))

    status = run.connection_status()
    assert status["status"] == "FAILED"
    assert "Workato" in status["message"] and "workato.api_token" in status["message"], status
    assert [e.status for e in workato.log.entries()] == [401]


def test_read_with_a_bad_token_ends_with_a_config_error_naming_workato(connector: CheckedConnector, workato: Emulator) -> None:
    connector.secrets.add(WRONG_TOKEN)
    start, end = dates(1)

    run = connector.read(config(workato, start, end, api_token=WRONG_TOKEN), configured_catalog(STREAMS))

    assert run.returncode != 0
    assert not run.records()
    assert any(e["failure_type"] == "config_error" and "Workato" in e["message"] for e in run.errors()), run.describe()


def test_discover_with_only_a_workato_section_lists_exactly_the_four_streams(connector: CheckedConnector, workato: Emulator) -> None:
    start, end = dates(1)

    run = connector.discover(config(workato, start, end))

    (catalog,) = [m["catalog"] for m in run.of_type("CATALOG")]
    streams = {stream["name"]: stream for stream in catalog["streams"]}
    assert set(streams) == {*ALL_STREAMS, MONTHLY}
    for name, key in ((CUSTOMERS, [["id"]]), (MONTHLY, [["workspace_id"], ["month"]])):
        full_refresh = streams.pop(name)
        assert full_refresh["supported_sync_modes"] == ["full_refresh"]
        assert not full_refresh.get("default_cursor_field")
        assert full_refresh["source_defined_primary_key"] == key
        assert full_refresh.get("is_resumable") is False
    for name, stream in streams.items():
        assert set(stream["supported_sync_modes"]) == {"full_refresh", "incremental"}
        assert stream["default_cursor_field"] == ["period_start"]
        assert stream["source_defined_primary_key"] == [[field] for field in PRIMARY_KEYS[name]]
    assert not workato.log.entries(), "discover sends no request"


# --------------------------------------------------------------------------- full syncs


@pytest.mark.reads_today
def test_full_sync_of_listed_workspaces_equals_the_ground_truth(connector: CheckedConnector, many_workspaces: Emulator) -> None:
    start, end = dates(3)

    run = connector.read(config(many_workspaces, start, end), configured_catalog(STREAMS, "full_refresh"))

    assert_succeeded(run)
    for stream in STREAMS:
        records = run.records(stream)
        assert_matches(stream, records, many_workspaces.ground_truth(stream, start_date=start, end_date=end, interval="day"))
        validator = jsonschema.Draft7Validator(json.loads((SCHEMAS / f"{stream}.json").read_text()))
        assert not [error.message for record in records for error in validator.iter_errors(record)]
    # The listing: once per sync for both streams, page by page until a page comes back empty
    # (the emulator, like Workato's documents, names no next page).
    listing = many_workspaces.log.entries(LISTING_PATH)
    assert [(e.query["page"], e.query["per_page"], e.status) for e in listing] == [([str(n)], ["100"], 200) for n in (1, 2, 3)]
    everyone = [many_workspaces.vendor("workato").workspace_id(i) for i in range(150)]
    for stream in STREAMS:
        requests = usage_requests(many_workspaces, stream)
        assert len(requests) == 3 * 2, f"{stream}: two id chunks (100 + 50) per window"
        assert all(len(e.body["workspace_ids"]) <= 100 for e in requests)
        sent = ids_by_window(requests)
        assert len(sent) == 3 and all(sorted(ids) == everyone for ids in sent.values()), f"{stream}: every workspace once a window"


def test_full_sync_of_configured_ids_equals_the_ground_truth(connector: CheckedConnector, many_workspaces: Emulator) -> None:
    vendor = many_workspaces.vendor("workato")
    # 120 known ids and one unknown; the external ids name workspace 0 (not among the ids), workspace
    # 1 a second time, and no workspace at all.
    workspace_ids = [vendor.workspace_id(i) for i in range(150) if i % 5] + [999_999]
    external_ids = ["cust-00000", "cust-00001", "cust-99999"]
    start, end = dates(2)
    settings = config(many_workspaces, start, end, workspace_ids=workspace_ids, external_ids=external_ids)

    run = connector.read(settings, configured_catalog(STREAMS, "full_refresh"))

    assert_succeeded(run)
    # Every workspace once per window, by id: the configured ids, then those the listing gives the external ids.
    asked = [*workspace_ids, vendor.workspace_id(0)]
    for stream in STREAMS:
        truth = many_workspaces.ground_truth(
            stream, start_date=start, end_date=end, interval="day", workspace_ids=workspace_ids, external_ids=external_ids
        )
        assert_matches(stream, run.records(stream), truth)
        requests = usage_requests(many_workspaces, stream)
        assert len(requests) == 2 * 2, f"{stream}: per window two chunks (100 + 22) of workspace ids"
        assert not [e.body for e in requests if "external_ids" in e.body], "external ids are never sent"
        # The chunks of one window are read concurrently, so they may arrive in any order.
        chunks = chunks_by_window(requests)
        expected = sorted([asked[:100], asked[100:]])
        assert len(chunks) == 2 and all(sorted(sent) == expected for sent in chunks.values()), f"{stream}: each workspace once a window"
    assert {record["workspace_id"] for record in run.records(WORKSPACES)} == {vendor.workspace_id(i) for i in range(150) if i % 5 or i == 0}
    # One listing for both streams, to resolve the external ids; the one no workspace has is named.
    assert [e.query["page"] for e in many_workspaces.log.entries(LISTING_PATH)] == [["1"], ["2"], ["3"]]
    assert run.stdout.count("'workato.external_ids' names 'cust-99999', which no customer workspace has; no usage is read for it.") == 1


@pytest.mark.parametrize(
    ("interval", "month", "hours_on_change_day"),
    [("hour", 3, 23), ("day", 3, 23), ("hour", 11, 25)],
    ids=["hourly-spring-forward", "daily-spring-forward", "hourly-fall-back"],
)
@pytest.mark.reads_today
def test_sync_across_a_dst_change_equals_the_ground_truth_with_touching_windows(
    connector: CheckedConnector, workato: Emulator, interval: str, month: int, hours_on_change_day: int
) -> None:
    # The change day and the day after: the windows around the change and across a midnight.
    change = last_dst_change(month)
    start, end = change, change + timedelta(days=1)

    run = connector.read(config(workato, start, end, interval=interval), configured_catalog(STREAMS, "full_refresh"))

    assert_succeeded(run)
    for stream in STREAMS:
        assert_matches(stream, run.records(stream), workato.ground_truth(stream, start_date=start, end_date=end, interval=interval))
        asked = windows(usage_requests(workato, stream))
        # From the first midnight to the last, each window's end is the next one's start.
        assert instant(asked[0][0]) == local_midnight(start) and instant(asked[-1][1]) == local_midnight(end + timedelta(days=1))
        for (_, previous_to), (following_from, _) in pairwise(asked):
            assert previous_to == following_from, f"{stream}: gap or overlap between {previous_to} and {following_from}"
        for start_iso, end_iso in asked:
            for iso in (start_iso, end_iso):
                assert instant(iso).utcoffset() == instant(iso).astimezone(ZONE).utcoffset(), f"{iso} is not in the zone's offset"
            length = instant(end_iso) - instant(start_iso)
            if interval == "hour":
                assert length == timedelta(hours=1), (start_iso, end_iso)
            else:
                assert instant(start_iso).astimezone(ZONE).time() == datetime.min.time(), f"{start_iso} is not a local midnight"
        on_change_day = [w for w in asked if instant(w[0]).astimezone(ZONE).date() == change]
        expected = hours_on_change_day if interval == "hour" else 1
        assert len(on_change_day) == expected
        # In UTC: Python subtracts two datetimes of one zone on the wall clock, ignoring the change.
        day_length = local_midnight(change + timedelta(days=1)).astimezone(UTC) - local_midnight(change).astimezone(UTC)
        assert day_length == timedelta(hours=hours_on_change_day)
        assert len(asked) == (24 + hours_on_change_day if interval == "hour" else 2)


def test_request_bodies_hold_only_the_window_ids_and_interval_and_the_recipe_stream_groups_by_recipe(
    connector: CheckedConnector, workato: Emulator
) -> None:
    start, end = dates(2)
    settings = config(workato, start, end)

    # One stream per sync, so that every body in the log is known to be that stream's.
    for stream in STREAMS:
        workato.log.clear()
        run = connector.read(settings, configured_catalog([stream]))

        assert_succeeded(run)
        assert_matches(stream, run.records(stream), workato.ground_truth(stream, start_date=start, end_date=end, interval="day"))
        bodies = [e.body for e in workato.log.entries(USAGE_PATH)]
        assert len(bodies) == 2
        for body in bodies:
            if stream == WORKSPACES:
                # Anything more (a group_by, even Workato's default) and Workato leaves deleted recipes out.
                assert set(body) == PLAIN_BODY | {"workspace_ids"}, body
            else:
                assert set(body) == PLAIN_BODY | {"workspace_ids", "group_by"} and body["group_by"] == "recipe", body
            assert body["interval"] == "none", "one window, one bucket: the configured interval is the window's length"


def test_a_name_pattern_is_sent_and_leaves_deleted_recipes_out(connector: CheckedConnector, workato: Emulator) -> None:
    start, end = dates(2)

    run = connector.read(config(workato, start, end, recipe_name_pattern="[PROD]"), configured_catalog(STREAMS))

    assert_succeeded(run)
    for stream in STREAMS:
        truth = workato.ground_truth(stream, start_date=start, end_date=end, interval="day", recipe_name_pattern="[PROD]")
        assert_matches(stream, run.records(stream), truth)
    assert all(e.body["recipe_name_pattern"] == "[PROD]" for e in workato.log.entries(USAGE_PATH))
    # The pattern changes the workspace totals: the plain body's would count other and deleted recipes.
    plain = workato.ground_truth(WORKSPACES, start_date=start, end_date=end, interval="day")
    assert keyed(WORKSPACES, plain) != keyed(WORKSPACES, run.records(WORKSPACES))


# --------------------------------------------------------------------------- incremental syncs


@pytest.mark.parametrize(
    ("interval", "lookback_days", "reread"),
    [("day", 2, 2), ("week", 1, 1)],
    ids=["two-days-are-two-days", "one-day-is-one-whole-week"],
)
@pytest.mark.reads_today
def test_incremental_sync_rereads_only_the_lookback_in_whole_periods(
    connector: CheckedConnector, workato: Emulator, interval: str, lookback_days: int, reread: int
) -> None:
    if interval == "day":
        start, end = dates(5)
    else:  # four whole weeks, Monday to Sunday, the last one finished two days ago at the latest
        last_sunday = today() - timedelta(days=2 + (today() - timedelta(days=2)).isoweekday() % 7)
        start, end = last_sunday - timedelta(days=27), last_sunday
    settings = config(workato, start, end, lookback_days=lookback_days, interval=interval)
    catalog = configured_catalog(STREAMS)
    first = connector.read(settings, catalog)
    assert_succeeded(first)
    planned = {stream: windows(usage_requests(workato, stream)) for stream in STREAMS}
    for stream in STREAMS:
        assert len(planned[stream]) == (5 if interval == "day" else 4)
        assert first.states(stream)[-1] == {"period_start": planned[stream][-1][0]}
    workato.log.clear()

    second = connector.read(settings, catalog, state=first.last_states())

    assert_succeeded(second)
    for stream in STREAMS:
        expected = planned[stream][-reread:]
        requests = usage_requests(workato, stream)
        assert windows(requests) == expected
        assert len(requests) == len(expected), f"{stream}: each window asked for once"
        reread_from = instant(expected[0][0]).date()
        truth = workato.ground_truth(stream, start_date=reread_from, end_date=end, interval=interval)
        assert_matches(stream, second.records(stream), truth)
        assert second.states(stream)[-1] == {"period_start": planned[stream][-1][0]}
    assert [e.query["page"] for e in workato.log.entries(LISTING_PATH)] == [["1"], ["2"]], "the next sync lists the workspaces again, once"


def hours(start: date, end: date) -> List[str]:
    """The start of every hour from ``start``'s local midnight to the one after ``end``, in the
    zone (23 or 25 on a DST change day)."""
    first, stop = local_midnight(start).astimezone(UTC), local_midnight(end + timedelta(days=1)).astimezone(UTC)
    return [(first + timedelta(hours=n)).astimezone(ZONE).isoformat() for n in range(int((stop - first) / timedelta(hours=1)))]


def test_a_killed_sync_of_hourly_windows_resumes_without_loss(connector: CheckedConnector, emulator_factory: EmulatorFactory) -> None:
    # Every answer 50 ms away and one request per hourly window (12 workspaces, one id chunk):
    # the stream has requests of many windows in flight when the kill lands, right after its
    # third checkpoint (requests in flight start at one and grow by one per answer). The sync
    # spans a day of windows more than can be in flight, so the kill lands before its end. The
    # resumed run goes to a second emulator of the same seed (the same data), so each run's
    # requests are told apart by where they went, not by when.
    latency_ms = 50
    workato = {"api_token": TOKEN, "timezone": ZONE_NAME}
    options: Dict[str, Any] = {"seed": 23, "rate_limits": False, "latency_ms": latency_ms, "workato": workato}
    first_server, second_server = emulator_factory(**options), emulator_factory(**options)
    probe_start, probe_end = dates(1)
    flying = periods_in_flight(config(first_server, probe_start, probe_end, interval="hour"), WORKSPACES, requests_per_period=1)
    start, end = dates(-(-(flying + 24) // 24))
    planned = hours(start, end)
    catalog = configured_catalog(STREAMS)

    checkpoints: List[Mapping[str, Any]] = []

    def third_workspace_checkpoint(message: Mapping[str, Any]) -> bool:
        if message["type"] == "STATE" and message["state"]["stream"]["stream_descriptor"]["name"] == WORKSPACES:
            checkpoints.append(message)
        return len(checkpoints) == 3

    killed = connector.read_killed_when(third_workspace_checkpoint, config(first_server, start, end, 0, interval="hour"), catalog)
    assert killed.returncode == -9, killed.describe()
    resumed = connector.read(config(second_server, start, end, 0, interval="hour"), catalog, state=killed.last_states())

    assert_succeeded(resumed)
    killed_requests = usage_requests(first_server, WORKSPACES)
    assert overlapping(killed_requests), "requests were in flight together when the kill landed"
    for stream in STREAMS:
        truth = first_server.ground_truth(stream, start_date=start, end_date=end, interval="hour")
        assert truth == second_server.ground_truth(stream, start_date=start, end_date=end, interval="hour"), "one seed, one data"
        checkpoint = checkpoint_of(killed, stream)
        if stream == WORKSPACES:
            assert checkpoint is not None, killed.describe()
            done = [moment(hour) for hour in planned].index(moment(checkpoint)) + 1
            assert done + flying < len(planned), "the kill must land before the last windows that can be in flight"
        unfinished = [hour for hour in planned if checkpoint is None or moment(hour) > moment(checkpoint)]
        # The resumed run asks for each unfinished window once, in one request, and for no finished one.
        asked = [moment(e.body["from"]) for e in usage_requests(second_server, stream)]
        assert sorted(asked) == [moment(hour) for hour in unfinished], f"{stream}: each unfinished window once, no finished one"
        assert all(moment(record["period_start"]) >= moment(unfinished[0]) for record in resumed.records(stream))
        assert_states_follow_their_records(killed, stream, truth, "period_start")
        assert_states_follow_their_records(resumed, stream, truth, "period_start", resumed_from=checkpoint)
        # Nothing missing between the two runs; only records of the windows in flight twice.
        assert_resumed_without_loss(stream, killed, resumed, truth, in_flight_records(truth, "period_start", planned, checkpoint, flying))


# --------------------------------------------------------------------------- faults and secrets


def test_a_listing_page_with_invalid_json_is_asked_again_and_a_sync_through_faults_equals_the_ground_truth(
    connector: CheckedConnector, many_workspaces: Emulator
) -> None:
    # One of each fault; every retry costs at least a second of CDK backoff, so few of them, on
    # different requests so that the two streams' waits overlap.
    faults = [
        many_workspaces.faults.add("invalid_json", every=2, times=1, path=LISTING_PATH),
        many_workspaces.faults.add("http_500", every=2, times=1, path=USAGE_PATH),
        many_workspaces.faults.add("http_429", every=5, times=1, path=USAGE_PATH, retry_after=1),
        many_workspaces.faults.add("drop", every=7, times=1, path=USAGE_PATH),
    ]
    start, end = dates(2)

    run = connector.read(config(many_workspaces, start, end), configured_catalog(STREAMS))

    assert_succeeded(run)
    assert [fault.fired for fault in faults] == [1] * len(faults)
    fired = Counter(e.fault for e in many_workspaces.log.entries() if e.fault)
    assert fired == {"http_500": 1, "drop": 1, "http_429": 1, "invalid_json": 1}
    for stream in STREAMS:
        assert_matches(stream, run.records(stream), many_workspaces.ground_truth(stream, start_date=start, end_date=end, interval="day"))
    answered = [e.query["page"] for e in many_workspaces.log.entries(LISTING_PATH) if e.status == 200 and not e.fault]
    assert answered == [["1"], ["2"], ["3"]], "the listing's page with invalid JSON is asked for again, nothing more"


# --------------------------------------------------------------------------- a pager that does not end


def test_a_listing_that_ignores_page_ends_the_read_with_an_error_naming_the_endpoint(
    connector: CheckedConnector, many_workspaces: Emulator
) -> None:
    # 150 workspaces and page ignored: every page is the first one, full (100 rows), so a client
    # that stops at the first short page would list for ever (60 requests a minute).
    many_workspaces.vendor("workato").options.paging_fault = "repeat"
    start, end = dates(2)

    run = connector.run("read", timeout=10, config=config(many_workspaces, start, end), catalog=configured_catalog(STREAMS))

    assert run.returncode != 0, run.describe()
    messages = [e["message"] for e in run.errors()]
    assert any("Workato" in m and LISTING_PATH.lstrip("/") in m and "pag" in m.lower() for m in messages), run.describe()
    # Without the workspace list there is no usage to ask for, no record and no checkpoint.
    assert not run.records() and all(run.states(stream) == [] for stream in STREAMS)
    assert not many_workspaces.log.entries(USAGE_PATH)
    listing = many_workspaces.log.entries(LISTING_PATH)
    assert [e.query["page"] for e in listing[:2]] == [["1"], ["2"]], "page 2 is asked for, and answers page 1 again"
    assert 2 <= len(listing) <= 5, [e.query["page"] for e in listing]


# --------------------------------------------------------------------------- hostile answers


def test_rows_without_workspace_id_fail_the_stream_naming_the_field_and_no_record_is_emitted(
    connector: CheckedConnector, workato: Emulator
) -> None:
    workato.vendor("workato").options.item_fault = "no_key"
    start, end = dates(1)

    run = connector.run("read", timeout=30, config=config(workato, start, end), catalog=configured_catalog([WORKSPACES]))

    assert run.returncode != 0, run.describe()
    assert run.records(WORKSPACES) == []
    message = run.errors()[0]["message"]
    assert message.startswith(
        "Workato api/v2/managed_users/statistics/usage answered an item without 'workspace_id', a field of the stream's primary key"
    ), message
    # The row's own fields, not the columns the connector adds.
    fields = message.split("(the item has: ")[1].split("). ")[0].split(", ")
    assert fields == ["external_id", "failed_job_count", "recipe_count", "successful_job_count", "task_count", "workspace_name"], message


def test_workspace_ids_named_twice_are_read_once_with_a_warning(connector: CheckedConnector, workato: Emulator) -> None:
    vendor = workato.vendor("workato")
    ids = [vendor.workspace_id(index) for index in (1, 2, 1)]
    start, end = dates(1)

    run = connector.read(config(workato, start, end, workspace_ids=ids), configured_catalog([WORKSPACES]))

    assert_succeeded(run)
    assert [e.body["workspace_ids"] for e in workato.log.entries(USAGE_PATH)] == [ids[:2]]
    assert_matches(WORKSPACES, run.records(WORKSPACES), workato.ground_truth(WORKSPACES, start_date=start, end_date=end, workspace_ids=ids))
    assert "'workato.workspace_ids' names 1 ids more than once; each is read once." in run.stdout


# --------------------------------------------------------------------------- where Workato's documents are silent


@pytest.mark.reads_today
def test_windows_in_a_zone_other_than_the_admin_workspaces_give_the_exact_numbers(
    connector: CheckedConnector, emulator_factory: EmulatorFactory
) -> None:
    # The connector configured with Kolkata (+05:30), the admin workspace counting in Los Angeles:
    # each of the connector's days straddles two of Workato's days. Asked for with the day as the
    # interval, every workspace would come back twice a window; with none, once, and exact.
    options = {"api_token": TOKEN, "timezone": ZONE_NAME, "configured_timezone": "Asia/Kolkata"}
    split = emulator_factory(seed=24, rate_limits=False, workato=options)
    section = split.vendor("workato").connector_section(split.url)
    assert section["timezone"] == "Asia/Kolkata"
    start, end = dates(2)
    settings = {**config(split, start, end), "workato": {**config(split, start, end)["workato"], "timezone": "Asia/Kolkata"}}

    run = connector.read(settings, configured_catalog(STREAMS, "full_refresh"))

    assert_succeeded(run)
    for stream in STREAMS:
        truth = split.ground_truth(stream, start_date=start, end_date=end, interval="day", timezone="Asia/Kolkata")
        assert_matches(stream, run.records(stream), truth)
        assert len(truth) > 0 and all(record["period_start"].endswith("T00:00:00+05:30") for record in truth)
        assert {e.body["interval"] for e in usage_requests(split, stream)} == {"none"}
    assert "already read" not in run.stdout, "no row was left out"
    # What a day bucket would have answered for the first window: two rows a workspace, which add up to the record.
    first = min(run.records(WORKSPACES), key=lambda record: (record["period_start"], record["workspace_id"]))
    body = {"from": first["period_start"], "to": first["period_end"], "workspace_ids": [first["workspace_id"]], "interval": "day"}
    buckets = split.vendor("workato")._rows(UsageQuery.parse(split.vendor("workato"), body))
    assert len(buckets) == 2 and sum(row["task_count"] for row in buckets) == first["task_count"]


def test_job_counts_named_as_other_workato_endpoints_name_them_give_the_exact_numbers(
    connector: CheckedConnector, emulator_factory: EmulatorFactory
) -> None:
    renamed = emulator_factory(seed=25, rate_limits=False, workato={"api_token": TOKEN, "timezone": ZONE_NAME, "row_names": "job_counts"})
    start, end = dates(2)

    run = connector.read(config(renamed, start, end), configured_catalog(STREAMS, "full_refresh"))

    assert_succeeded(run)
    for stream in STREAMS:
        records = run.records(stream)
        assert_matches(stream, records, renamed.ground_truth(stream, start_date=start, end_date=end, interval="day"))
        assert all(record["successful_job_count"] == record["job_succeeded_count"] for record in records)
        assert all(record["failed_job_count"] == record["job_failed_count"] for record in records)
        assert sum(record["successful_job_count"] for record in records) > 0


def test_rows_whose_workspace_id_is_named_differently_fail_the_stream_naming_the_field(
    connector: CheckedConnector, emulator_factory: EmulatorFactory
) -> None:
    options = {"api_token": TOKEN, "timezone": ZONE_NAME, "row_names": "workspace_key"}
    renamed = emulator_factory(seed=25, rate_limits=False, workato=options)
    start, end = dates(1)

    run = connector.run("read", timeout=30, config=config(renamed, start, end), catalog=configured_catalog(STREAMS))

    assert run.returncode != 0, run.describe()
    assert run.records() == [] and all(run.states(stream) == [] for stream in STREAMS)
    prefix = "Workato api/v2/managed_users/statistics/usage answered an item without 'workspace_id', a field of the stream's primary key"
    messages = [e["message"] for e in run.errors() if e["message"].startswith(prefix)]
    assert len(messages) == 2, run.describe()  # each stream fails on its first row
    for message in messages:
        assert "managed_user_id" in message.split("(the item has: ")[1].split("). ")[0].split(", "), message


def test_full_sync_with_the_customer_workspaces_equals_the_ground_truth_from_one_listing(
    connector: CheckedConnector, many_workspaces: Emulator
) -> None:
    start, end = dates(2)

    run = connector.read(config(many_workspaces, start, end), configured_catalog(ALL_STREAMS, "full_refresh"))

    assert_succeeded(run)
    for stream in ALL_STREAMS:
        records = run.records(stream)
        assert_matches(stream, records, many_workspaces.ground_truth(stream, start_date=start, end_date=end, interval="day"))
        validator = jsonschema.Draft7Validator(json.loads((SCHEMAS / f"{stream}.json").read_text()))
        assert not [error.message for record in records for error in validator.iter_errors(record)]
    customers = run.records(CUSTOMERS)
    assert len(customers) == 150 and all(isinstance(record["task_limit"], int) for record in customers)
    # One listing for the three streams: pages 1, 2 and the empty 3, each once.
    assert [e.query["page"] for e in many_workspaces.log.entries(LISTING_PATH)] == [["1"], ["2"], ["3"]]
    for stream in STREAMS:
        assert len(usage_requests(many_workspaces, stream)) == 2 * 2, f"{stream}: two id chunks per window"


def test_the_customer_workspaces_alone_list_once_and_ask_for_no_usage(connector: CheckedConnector, workato: Emulator) -> None:
    start, end = dates(1)

    run = connector.read(config(workato, start, end), configured_catalog([CUSTOMERS]))

    assert_succeeded(run)
    assert_matches(CUSTOMERS, run.records(CUSTOMERS), workato.ground_truth(CUSTOMERS))
    assert len(run.records(CUSTOMERS)) == 12
    assert [e.query["page"] for e in workato.log.entries(LISTING_PATH)] == [["1"], ["2"]]
    assert not workato.log.entries(USAGE_PATH)


@pytest.mark.parametrize(
    ("listing", "pages"),
    [({"listing_page_cap": 40}, 5), ({"listing_next_page": "body"}, 2), ({"listing_next_page": "header"}, 3)],
    ids=["short-pages-that-are-not-the-last", "next-page-in-the-body", "x-next-page-header"],
)
def test_the_listing_reads_every_workspace_whatever_its_paging_signal(
    connector: CheckedConnector, emulator_factory: EmulatorFactory, listing: Dict[str, Any], pages: int
) -> None:
    # 150 workspaces. Capped at 40 a page, every page is short: four of them, then an empty one.
    # With next_page, null on page 2 ends it; with X-Next-Page, page 2 has none: an empty page 3 ends it.
    options = {"api_token": TOKEN, "timezone": ZONE_NAME, "workspaces": 150, **listing}
    served = emulator_factory(seed=26, rate_limits=False, workato=options)
    start, end = dates(1)

    run = connector.read(config(served, start, end), configured_catalog(STREAMS))

    assert_succeeded(run)
    assert [e.query["page"] for e in served.log.entries(LISTING_PATH)] == [[str(n)] for n in range(1, pages + 1)]
    assert served.vendor("workato").listing_requests() == pages
    everyone = [served.vendor("workato").workspace_id(i) for i in range(150)]
    for stream in STREAMS:
        assert_matches(stream, run.records(stream), served.ground_truth(stream, start_date=start, end_date=end, interval="day"))
        assert all(ids == everyone for ids in ids_by_window(usage_requests(served, stream)).values()), f"{stream}: every workspace once"

"""End to end: the installed ``source-usage`` command against the emulated Jiandaoyun API.

Every sync is compared with the emulator's ground truth: the exact records a correct sync
produces, no more (no duplicates), no fewer (no gaps). The request log shows what the
connector asked for, so paging, id chunks, lookback and resumption are checked on the wire.

Dates are chosen from the vendor's real "today" (the connector reads the real clock), ending at
T-2 so that a test running across midnight in UTC+8 still asks for valid dates.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import date, timedelta
from typing import Any, Dict, List, Mapping, Tuple

import jsonschema
import pytest

from emulator import Emulator
from emulator.jiandaoyun import CONNECTOR_MAX_REQUESTS_PER_SECOND
from integration_tests.assertions import assert_matches, assert_succeeded, with_period_note
from integration_tests.conftest import CheckedConnector, EmulatorFactory
from integration_tests.resumption import (
    assert_resumed_without_loss,
    assert_states_follow_their_records,
    checkpoint_of,
    in_flight_records,
    overlapping,
    periods_in_flight,
)
from integration_tests.runner import SCHEMAS, configured_catalog

KEY = "jdy-e2e-\"secret\\4f1c9b7a2d"  # a quote and a backslash: characters JSON and repr escape
WRONG_KEY = "jdy-wrong-\"secret\\8e3a6c1f55"
MEMBERS = "jiandaoyun_member_usage"
APPS = "jiandaoyun_app_usage"
OVERVIEW = "jiandaoyun_overview_usage"
STREAMS = (MEMBERS, APPS, OVERVIEW)
#: The contract's primary keys (shared/connector-contract.md), which discover must declare.
PRIMARY_KEYS = {MEMBERS: ("date", "member_id"), APPS: ("date", "app_id"), OVERVIEW: ("date",)}
MEMBER_PATH = "/api/v1/corp_usage/member_metrics"


@pytest.fixture
def jdy(emulator_factory: EmulatorFactory) -> Emulator:
    """250 members (3 pages of 100 per date), 130 apps (2 pages); the emulator's rate limit off,
    so tests never wait for real one-second windows (the connector still paces itself)."""
    return emulator_factory(seed=11, jiandaoyun={"api_key": KEY, "members": 250, "apps": 130, "requests_per_second": None})


def dates(emulator: Emulator, count: int) -> Tuple[date, date]:
    """The last ``count`` days ending at T-2."""
    end = emulator.vendor("jiandaoyun").today() - timedelta(days=2)
    return end - timedelta(days=count - 1), end


def config(emulator: Emulator, start: date, end: date, lookback_days: int = 1, **section: Any) -> Dict[str, Any]:
    return {
        "start_date": start.isoformat(),
        "end_date": end.isoformat(),
        "lookback_days": lookback_days,
        # The connector's own pace: the highest its spec allows, so that tests run fast.
        "jiandaoyun": {"api_key": KEY, "base_url": emulator.url, "requests_per_second": CONNECTOR_MAX_REQUESTS_PER_SECOND, **section},
    }


def member_pages(emulator: Emulator, since: float = 0.0, until: float = float("inf")) -> List[Tuple[str, int]]:
    """(date, skip) of every member request answered 200 that arrived in ``[since, until)``, in order."""
    return [(e.body["date"], e.body["skip"]) for e in emulator.log.entries(MEMBER_PATH) if e.status == 200 and since <= e.time < until]


# --------------------------------------------------------------------------- spec, check, discover


def test_spec_declares_the_jiandaoyun_section_with_a_secret_key(connector: CheckedConnector) -> None:
    run = connector.spec()

    (spec,) = [m["spec"] for m in run.of_type("SPEC")]
    section = spec["connectionSpecification"]["properties"]["jiandaoyun"]
    assert section["required"] == ["api_key"]
    assert section["properties"]["api_key"]["airbyte_secret"] is True


def test_check_succeeds_with_the_right_key(connector: CheckedConnector, jdy: Emulator) -> None:
    start, end = dates(jdy, 1)

    run = connector.check(config(jdy, start, end))

    assert run.connection_status() == {"status": "SUCCEEDED"}, run.describe()
    assert [e.status for e in jdy.log.entries()] == [200]


def test_check_fails_naming_jiandaoyun_with_a_wrong_key(connector: CheckedConnector, jdy: Emulator) -> None:
    connector.secrets.add(WRONG_KEY)
    start, end = dates(jdy, 1)
    bad = config(jdy, start, end)
    bad["jiandaoyun"]["api_key"] = WRONG_KEY

    run = connector.check(bad)

    status = run.connection_status()
    assert status["status"] == "FAILED"
    assert "Jiandaoyun" in status["message"] and "api_key" in status["message"], status
    assert [e.status for e in jdy.log.entries()] == [400]  # the vendor's code 8301, asked once


def test_read_with_a_wrong_key_ends_with_a_config_error_naming_jiandaoyun(connector: CheckedConnector, jdy: Emulator) -> None:
    connector.secrets.add(WRONG_KEY)
    start, end = dates(jdy, 1)
    bad = config(jdy, start, end)
    bad["jiandaoyun"]["api_key"] = WRONG_KEY

    run = connector.read(bad, configured_catalog([OVERVIEW]))

    assert run.returncode != 0
    assert not run.records()
    assert any(e["failure_type"] == "config_error" and "Jiandaoyun" in e["message"] for e in run.errors()), run.describe()


def test_discover_lists_the_three_jiandaoyun_streams(connector: CheckedConnector, jdy: Emulator) -> None:
    start, end = dates(jdy, 1)

    run = connector.discover(config(jdy, start, end))

    (catalog,) = [m["catalog"] for m in run.of_type("CATALOG")]
    streams = {stream["name"]: stream for stream in catalog["streams"]}
    assert set(streams) == set(STREAMS)
    for name, stream in streams.items():
        assert set(stream["supported_sync_modes"]) == {"full_refresh", "incremental"}
        assert stream["default_cursor_field"] == ["date"]
        assert stream["source_defined_primary_key"] == [[field] for field in PRIMARY_KEYS[name]]


# --------------------------------------------------------------------------- syncs


@pytest.mark.reads_today
def test_full_refresh_sync_equals_the_ground_truth(connector: CheckedConnector, jdy: Emulator) -> None:
    start, end = dates(jdy, 3)

    run = connector.read(config(jdy, start, end), configured_catalog(STREAMS, "full_refresh"))

    assert_succeeded(run)
    for stream in STREAMS:
        records = run.records(stream)
        assert_matches(stream, records, jdy.ground_truth(stream, start_date=start, end_date=end))
        validator = jsonschema.Draft7Validator(json.loads((SCHEMAS / f"{stream}.json").read_text()))
        assert not [error.message for record in records for error in validator.iter_errors(record)]
    # Every page once, 100 members a page: 250 members are 3 pages per date.
    days = [(start + timedelta(days=n)).isoformat() for n in range(3)]
    assert sorted(member_pages(jdy)) == [(day, skip) for day in days for skip in (0, 100, 200)]
    assert {e.body["limit"] for e in jdy.log.entries(MEMBER_PATH)} == {100}


def test_member_ids_are_sent_ten_per_request(connector: CheckedConnector, jdy: Emulator) -> None:
    vendor = jdy.vendor("jiandaoyun")
    member_ids = [vendor.member_id(i) for i in range(0, 240, 10)] + ["65f000000000000000000fff"]  # 24 known + 1 unknown
    start, end = dates(jdy, 2)

    run = connector.read(config(jdy, start, end, member_ids=member_ids), configured_catalog([MEMBERS]))

    assert_succeeded(run)
    truth = jdy.ground_truth(MEMBERS, start_date=start, end_date=end, member_ids=member_ids)
    assert len(truth) == 48
    assert_matches(MEMBERS, run.records(MEMBERS), truth)
    requests = jdy.log.entries(MEMBER_PATH)
    assert all(len(e.body["member_ids"]) <= 10 for e in requests)
    for day in (start.isoformat(), end.isoformat()):
        sent = [member for e in requests if e.body["date"] == day for member in e.body["member_ids"]]
        assert sorted(sent) == sorted(member_ids), f"{day}: every id exactly once"
    assert len(requests) == 6  # 25 ids: 3 requests per date


@pytest.mark.reads_today
def test_incremental_sync_rereads_only_the_lookback(connector: CheckedConnector, jdy: Emulator) -> None:
    start, end = dates(jdy, 5)
    settings = config(jdy, start, end, lookback_days=2)
    catalog = configured_catalog(STREAMS)
    first = connector.read(settings, catalog)
    assert_succeeded(first)
    for stream in STREAMS:
        assert first.states(stream)[-1] == {"date": end.isoformat()}
    jdy.vendor("jiandaoyun").correct(end.isoformat())  # a late correction of the last date
    jdy.log.clear()

    second = connector.read(settings, catalog, state=first.last_states())

    assert_succeeded(second)
    reread = {(end - timedelta(days=1)).isoformat(), end.isoformat()}
    assert {e.body["date"] for e in jdy.log.entries()} == reread
    for stream in STREAMS:
        truth = jdy.ground_truth(stream, start_date=end - timedelta(days=1), end_date=end)
        assert_matches(stream, second.records(stream), truth)
        assert second.states(stream)[-1] == {"date": end.isoformat()}


def test_a_killed_sync_of_paged_member_dates_resumes_without_loss(connector: CheckedConnector, emulator_factory: EmulatorFactory) -> None:
    # Every answer 50 ms away, one page a date (10 members, 10 apps): at the connector's pace
    # the stream has several dates in flight when the kill lands, right after its first
    # checkpoint. The sync spans 60 dates more than can be in flight, so the kill lands before
    # them. The resumed run goes to a second emulator of the same seed (the same data), so each
    # run's requests are told apart by where they went, not by when. The company-wide limit is
    # off too: the three streams at the connector's pace would exceed it, and the waits it costs
    # are another test's subject (test_sync_stays_within_the_per_endpoint_rate_limit).
    latency_ms = 50
    vendor = {"api_key": KEY, "members": 10, "apps": 10, "requests_per_second": None, "company_requests_per_second": None}
    options: Dict[str, Any] = {"seed": 13, "latency_ms": latency_ms, "jiandaoyun": vendor}
    first_server, second_server = emulator_factory(**options), emulator_factory(**options)
    flying = periods_in_flight(config(first_server, *dates(first_server, 1)), MEMBERS, requests_per_period=1)
    start, end = dates(first_server, flying + 60)
    planned = [(start + timedelta(days=n)).isoformat() for n in range((end - start).days + 1)]
    catalog = configured_catalog(STREAMS)

    def eighth_member_checkpoint(message: Mapping[str, Any]) -> bool:
        # Past the first few dates: the vendor's requests in flight start at one and grow with
        # each answer (core.pool), so by then several are on the wire together.
        if message["type"] != "STATE" or message["state"]["stream"]["stream_descriptor"]["name"] != MEMBERS:
            return False
        return str(message["state"]["stream"]["stream_state"].get("date", "")) >= planned[7]

    killed = connector.read_killed_when(eighth_member_checkpoint, config(first_server, start, end, lookback_days=0), catalog)
    assert killed.returncode == -9, killed.describe()
    resumed = connector.read(config(second_server, start, end, lookback_days=0), catalog, state=killed.last_states())

    assert_succeeded(resumed)
    assert overlapping(first_server.log.entries(MEMBER_PATH)), "requests were in flight together when the kill landed"
    checkpoint = checkpoint_of(killed, MEMBERS)
    assert checkpoint is not None, killed.describe()
    assert planned.index(checkpoint) + 1 + flying < len(planned), "the kill must land before the last dates that can be in flight"
    # The first unfinished date, then every later one once, one page each; no finished date again.
    assert sorted(member_pages(second_server)) == [(day, 0) for day in planned if day > checkpoint]
    for stream in STREAMS:
        truth = first_server.ground_truth(stream, start_date=start, end_date=end)
        assert truth == second_server.ground_truth(stream, start_date=start, end_date=end), "one seed, one data"
        from_state = checkpoint_of(killed, stream)
        assert all(from_state is None or record["date"] > from_state for record in resumed.records(stream))
        assert_states_follow_their_records(killed, stream, truth, "date")
        assert_states_follow_their_records(resumed, stream, truth, "date", resumed_from=from_state)
        # Nothing missing between the two runs; only records of the dates in flight twice.
        assert_resumed_without_loss(stream, killed, resumed, truth, in_flight_records(truth, "date", planned, from_state, flying))


@pytest.mark.reads_today
def test_start_older_than_180_days_is_moved_up_with_a_warning(connector: CheckedConnector, jdy: Emulator) -> None:
    today = jdy.vendor("jiandaoyun").today()
    start, end = today - timedelta(days=200), today - timedelta(days=178)

    run = connector.read(config(jdy, start, end), configured_catalog([OVERVIEW]))

    assert_succeeded(run)
    oldest = (today - timedelta(days=180)).isoformat()
    assert sorted(record["date"] for record in run.records(OVERVIEW)) == [
        oldest, (today - timedelta(days=179)).isoformat(), end.isoformat()
    ]  # fmt: skip
    warnings = [m["log"]["message"] for m in run.of_type("LOG") if m["log"]["level"] == "WARN"]
    assert any(oldest in message for message in warnings), warnings
    assert all(e.status == 200 for e in jdy.log.entries())


@pytest.mark.reads_today
def test_future_end_date_is_clamped_to_yesterday(connector: CheckedConnector, jdy: Emulator) -> None:
    today = jdy.vendor("jiandaoyun").today()
    start = today - timedelta(days=2)

    run = connector.read(config(jdy, start, today + timedelta(days=5)), configured_catalog([OVERVIEW]))

    assert_succeeded(run)
    assert_matches(OVERVIEW, run.records(OVERVIEW), jdy.ground_truth(OVERVIEW, start_date=start))
    assert max(e.body["date"] for e in jdy.log.entries()) == (today - timedelta(days=1)).isoformat()


def test_a_sync_of_every_stream_with_a_fault_on_each_endpoint_and_a_throttle_code_equals_the_ground_truth(
    connector: CheckedConnector, jdy: Emulator
) -> None:
    # One of each fault; every retry costs at least a second of CDK backoff, so few of them, on
    # different streams so that the waits overlap.
    faults = [
        jdy.faults.add("http_500", every=2, times=1, path=MEMBER_PATH),
        jdy.faults.add("drop", every=4, times=1, path=MEMBER_PATH),
        jdy.faults.add("http_429", every=6, times=1, path=MEMBER_PATH, retry_after=1),
        jdy.faults.add("throttle", every=2, times=1, path="app_metrics"),
        jdy.faults.add("invalid_json", every=2, times=1, path="overview"),
    ]
    start, end = dates(jdy, 3)

    run = connector.read(config(jdy, start, end), configured_catalog(STREAMS))

    assert_succeeded(run)
    assert [fault.fired for fault in faults] == [1] * len(faults)
    assert Counter(e.fault for e in jdy.log.entries() if e.fault) == {
        "http_500": 1, "drop": 1, "http_429": 1, "throttle": 1, "invalid_json": 1,
    }  # fmt: skip
    for stream in STREAMS:
        assert_matches(stream, run.records(stream), jdy.ground_truth(stream, start_date=start, end_date=end))


#: Rate-limit answers a sync paced to the vendor's limit may still meet: none on an idle machine
#: (the bench: 0 in every scenario at constant latency); a machine so loaded that a request paced
#: to go out is held back longer than the window's guard may meet a few, which the budget learns
#: from (it widens its windows) and the sync retries, every record still read once.
A_FEW_RATE_LIMIT_ANSWERS = 3


def test_sync_stays_within_the_per_endpoint_rate_limit(connector: CheckedConnector, emulator_factory: EmulatorFactory) -> None:
    limited = emulator_factory(seed=12, jiandaoyun={"api_key": KEY, "members": 250, "apps": 130, "requests_per_second": 4})
    start, end = dates(limited, 2)
    settings = config(limited, start, end)
    settings["jiandaoyun"]["requests_per_second"] = 4

    run = connector.read(settings, configured_catalog(STREAMS))

    assert_succeeded(run)
    answers = limited.log.entries()
    # Member pages, app pages, overview dates; a loaded machine may time a request out and send it again.
    assert len({(e.path, json.dumps(e.body, sort_keys=True)) for e in answers}) == 6 + 4 + 2
    assert len([e for e in answers if e.status != 200]) <= A_FEW_RATE_LIMIT_ANSWERS, "the connector sent too fast"
    for stream in STREAMS:
        assert_matches(stream, run.records(stream), limited.ground_truth(stream, start_date=start, end_date=end))


def test_a_sync_under_each_endpoints_and_the_companys_limit_at_once_equals_the_ground_truth(
    connector: CheckedConnector, emulator_factory: EmulatorFactory
) -> None:
    # 30 a second per endpoint, three endpoints side by side: 90 a second unless the company's 50
    # holds too.
    options = {"api_key": KEY, "members": 2000, "apps": 2000, "requests_per_second": 30, "company_requests_per_second": 50}
    limited = emulator_factory(seed=13, jiandaoyun=options)
    start, end = dates(limited, 5)
    settings = config(limited, start, end)
    settings["jiandaoyun"]["requests_per_second"] = 30

    run = connector.read(settings, configured_catalog(STREAMS))

    assert_succeeded(run)
    answers = limited.log.entries()
    # Member pages, app pages, overview per date; a loaded machine may time a request out and send it again.
    distinct = len({(e.path, json.dumps(e.body, sort_keys=True)) for e in answers})
    assert distinct == 5 * (20 + 20 + 1)
    # Idle: 0 rate-limit answers; a loaded machine that holds paced requests back meets a few (4
    # measured in CI), which the budget learns from and the sync retries. (That every limit a
    # request matches holds is proven in unit_tests/test_budget.py: without the company's, 7
    # rate-limit answers here, also within this bound, as the budget and the requests in flight
    # back off.)
    assert len([e for e in answers if e.status != 200]) <= distinct // 10, "the connector sent too fast"
    for stream in STREAMS:
        assert_matches(stream, run.records(stream), limited.ground_truth(stream, start_date=start, end_date=end))


# --------------------------------------------------------------------------- a pager that does not end


@pytest.mark.parametrize(
    "paging_fault",
    ["endless", "repeat"],
    ids=["empty-pages-past-the-end-say-has-next", "skip-ignored-the-first-page-for-ever"],
)
def test_has_next_for_ever_ends_the_stream_with_an_error_naming_the_endpoint(
    connector: CheckedConnector, jdy: Emulator, paging_fault: str
) -> None:
    # has_next true for ever: today's loop would read for ever (1,163 requests a minute, no STATE).
    jdy.vendor("jiandaoyun").options.paging_fault = paging_fault
    start, end = dates(jdy, 3)

    run = connector.run("read", timeout=10, config=config(jdy, start, end), catalog=configured_catalog([MEMBERS]))

    assert run.returncode != 0, run.describe()
    messages = [e["message"] for e in run.errors()]
    assert any("Jiandaoyun" in m and MEMBER_PATH.lstrip("/") in m and "pag" in m.lower() for m in messages), run.describe()
    # The stream ends at the first date: nothing of it or after it is checkpointed. Later dates
    # may have been read ahead meanwhile (all three fit in the read-ahead's window); each date's
    # loop is caught within a few pages, the first date's too.
    assert [s for s in run.states(MEMBERS) if s.get("date", "") >= start.isoformat()] == []
    requests = jdy.log.entries(MEMBER_PATH)
    by_date = Counter(e.body["date"] for e in requests)
    assert start.isoformat() in by_date and set(by_date) <= {(start + timedelta(days=n)).isoformat() for n in range(3)}
    assert by_date[start.isoformat()] >= 2 and max(by_date.values()) <= 5, by_date


# --------------------------------------------------------------------------- hostile answers and state


@pytest.mark.parametrize(
    ("stream", "missing"),
    [(MEMBERS, "member_id"), (APPS, "app_id")],
)
def test_items_without_their_id_fail_the_stream_naming_the_field_and_no_record_is_emitted(
    connector: CheckedConnector, jdy: Emulator, stream: str, missing: str
) -> None:
    jdy.vendor("jiandaoyun").options.item_fault = "no_key"
    start, end = dates(jdy, 1)

    run = connector.run("read", timeout=30, config=config(jdy, start, end), catalog=configured_catalog([stream]))

    assert run.returncode != 0, run.describe()
    assert run.records(stream) == []
    message = run.errors()[0]["message"]
    endpoint = "member_metrics" if stream == MEMBERS else "app_metrics"
    assert message.startswith(
        f"Jiandaoyun api/v1/corp_usage/{endpoint} answered an item without '{missing}', a field of the stream's primary key (the item has: "
    )
    fields = message.split("(the item has: ")[1].split("). ")[0].split(", ")
    assert "metrics" in fields and f"{missing}: null" in fields and (stream != MEMBERS or "member: null" in fields), message


def test_items_that_are_not_objects_are_a_malformed_body_naming_the_endpoint(connector: CheckedConnector, jdy: Emulator) -> None:
    jdy.vendor("jiandaoyun").options.item_fault = "not_object"
    start, end = dates(jdy, 1)

    run = connector.run("read", timeout=30, config=config(jdy, start, end), catalog=configured_catalog([MEMBERS]))

    assert run.returncode != 0, run.describe()
    assert with_period_note(
        "Jiandaoyun api/v1/corp_usage/member_metrics answered with a malformed body: item 0 of 'items' is not an object.",
        MEMBERS, f"{start.isoformat()}T00:00:00+08:00", f"{(start + timedelta(days=1)).isoformat()}T00:00:00+08:00",
    ) in [e["message"] for e in run.errors()], run.describe()  # fmt: skip


def test_a_record_repeated_across_pages_is_emitted_once(connector: CheckedConnector, jdy: Emulator) -> None:
    jdy.vendor("jiandaoyun").options.item_fault = "repeat_item"
    start, end = dates(jdy, 2)

    run = connector.read(config(jdy, start, end), configured_catalog([MEMBERS]))

    assert_succeeded(run)
    assert_matches(MEMBERS, run.records(MEMBERS), jdy.ground_truth(MEMBERS, start_date=start, end_date=end))
    # Each date's second page starts one member early: the last member of its first page comes twice.
    warnings = [message["log"]["message"] for message in run.of_type("LOG") if "whose key was already read" in message["log"]["message"]]
    assert warnings == [
        f"Jiandaoyun api/v1/corp_usage/member_metrics: left out 1 item whose key was already read in the period from {day}T00:00:00+08:00; "
        "each key is emitted once."
        for day in (start.isoformat(), end.isoformat())
    ]


def test_member_ids_named_twice_are_read_once_with_a_warning(connector: CheckedConnector, jdy: Emulator) -> None:
    ids = [jdy.vendor("jiandaoyun").member_id(index) for index in (3, 5, 3, 7, 5)]
    start, end = dates(jdy, 1)

    run = connector.read(config(jdy, start, end, member_ids=ids), configured_catalog([MEMBERS]))

    assert_succeeded(run)
    assert sorted(e.body["member_ids"] for e in jdy.log.entries(MEMBER_PATH)) == [ids[:2] + ids[3:4]]
    assert_matches(MEMBERS, run.records(MEMBERS), jdy.ground_truth(MEMBERS, start_date=start, end_date=end, member_ids=ids))
    assert "'jiandaoyun.member_ids' names 2 ids more than once; each is read once." in run.stdout


@pytest.mark.reads_today
def test_a_saved_cursor_in_the_future_is_clamped_to_the_latest_finished_date_with_a_warning(
    connector: CheckedConnector, jdy: Emulator
) -> None:
    latest = jdy.vendor("jiandaoyun").today() - timedelta(days=1)
    settings = {**config(jdy, latest - timedelta(days=5), latest, lookback_days=1)}
    settings.pop("end_date")
    future = [{"type": "STREAM", "stream": {"stream_descriptor": {"name": OVERVIEW}, "stream_state": {"date": "2030-01-01"}}}]

    run = connector.read(settings, configured_catalog([OVERVIEW]), state=future)

    assert_succeeded(run)
    assert [record["date"] for record in run.records(OVERVIEW)] == [latest.isoformat()]  # the lookback re-reads it
    assert run.states(OVERVIEW)[-1] == {"date": latest.isoformat()}
    assert (
        f"The saved state of stream '{OVERVIEW}' holds date '2030-01-01', a period that is not over yet; "
        f"reading as if it held '{latest.isoformat()}', the latest finished period."
    ) in run.stdout


def test_a_401_with_an_unknown_body_code_is_a_credentials_error(connector: CheckedConnector, jdy: Emulator) -> None:
    jdy.faults.add("reply", path=MEMBER_PATH, status=401, body={"code": 9999, "msg": "unknown"})
    start, end = dates(jdy, 1)

    run = connector.run("read", timeout=30, config=config(jdy, start, end), catalog=configured_catalog([MEMBERS]))

    assert run.returncode != 0
    errors = run.errors()
    expected = "Jiandaoyun rejected the credentials (HTTP 401: unknown). Check jiandaoyun.api_key."
    assert expected in {e["message"] for e in errors}, run.describe()
    assert {e["failure_type"] for e in errors} == {"config_error"}


@pytest.mark.parametrize("noise", ["\n", "\r\n", "   ", " \t\r\n "])
def test_a_key_pasted_with_trailing_whitespace_is_trimmed_and_never_printed(connector: CheckedConnector, jdy: Emulator, noise: str) -> None:
    start, end = dates(jdy, 1)
    pasted = config(jdy, start, end)
    pasted["jiandaoyun"]["api_key"] = KEY + noise

    checked = connector.check(pasted)
    read = connector.read(pasted, configured_catalog([OVERVIEW]))

    assert checked.connection_status() == {"status": "SUCCEEDED"}, checked.describe()
    assert_succeeded(read)
    # The emulator accepts exactly ``Bearer <key>``: every request carried the trimmed key.
    assert {e.status for e in jdy.log.entries()} == {200}
    # The connector fixture also fails the test if any form of the key reached the output.


def test_a_key_with_a_line_break_inside_is_a_config_error_naming_the_field(connector: CheckedConnector, jdy: Emulator) -> None:
    broken = KEY[:8] + "\n" + KEY[8:]
    connector.secrets.add(broken)
    start, end = dates(jdy, 1)
    settings = config(jdy, start, end)
    settings["jiandaoyun"]["api_key"] = broken

    checked = connector.check(settings)
    read = connector.run("read", timeout=30, config=settings, catalog=configured_catalog([OVERVIEW]))

    expected = "'jiandaoyun.api_key' holds a line break or another control character inside it; paste the key again."
    assert checked.connection_status() == {"status": "FAILED", "message": expected}
    assert [(e["failure_type"], e["message"]) for e in read.errors()] == [("config_error", expected)]
    assert jdy.log.entries() == []


# --------------------------------------------------------------------------- the HTTP status decides first (issue 13, point 7)

APP_PATH = "/api/v1/corp_usage/app_metrics"
OVERVIEW_PATH = "/api/v1/corp_usage/overview"


@pytest.mark.parametrize("code", [17018, 8301], ids=["invalid-key-code", "key-verification-code"])
def test_a_429_with_a_credentials_body_code_is_retried_and_the_sync_equals_the_ground_truth(
    connector: CheckedConnector, jdy: Emulator, code: int
) -> None:
    # HTTP 429 is Jiandaoyun's concurrency limit; a body code of a rejected key must not turn
    # it into a config error (read body first, it would).
    fault = jdy.faults.add("reply", path=MEMBER_PATH, every=2, times=1, status=429, body={"code": code, "msg": "busy"})
    start, end = dates(jdy, 2)

    run = connector.read(config(jdy, start, end), configured_catalog(STREAMS))

    assert_succeeded(run)
    assert fault.fired == 1
    assert [e.status for e in jdy.log.entries(MEMBER_PATH)].count(429) == 1
    for stream in STREAMS:
        assert_matches(stream, run.records(stream), jdy.ground_truth(stream, start_date=start, end_date=end))
    assert "Sync summary: jiandaoyun_member_usage: 7 requests, 1 retries, 1 rate-limit waits (2.0 s), 500 records." in run.stdout


@pytest.mark.parametrize("code", [8301, 8303], ids=["credentials-code", "rate-limit-code"])
def test_a_502_gateway_error_with_a_body_code_is_retried_with_backoff_and_the_sync_equals_the_ground_truth(
    connector: CheckedConnector, jdy: Emulator, code: int
) -> None:
    fault = jdy.faults.add("reply", path=APP_PATH, times=1, status=502, body={"code": code, "msg": "Bad Gateway"})
    start, end = dates(jdy, 2)

    run = connector.read(config(jdy, start, end), configured_catalog(STREAMS))

    assert_succeeded(run)
    assert fault.fired == 1
    for stream in STREAMS:
        assert_matches(stream, run.records(stream), jdy.ground_truth(stream, start_date=start, end_date=end))
    # A retry with backoff, not a rate-limit wait, whatever the body's code says.
    assert "Sync summary: jiandaoyun_app_usage: 5 requests, 1 retries, 0 rate-limit waits (0.0 s), 260 records." in run.stdout


def refused(endpoint: str) -> str:
    """What a 403 of ``endpoint`` says (the platform's answer to a key that is not a super admin's,
    or a company without the usage-statistics feature)."""
    return (
        f"Jiandaoyun {endpoint} refused the key (HTTP 403: No API permission: the usage statistics feature is not purchased "
        "(未购买用量统计功能)). The key must be a super admin's, and the usage-statistics feature purchased and enabled "
        "(Admin Console > Management Tools > Usage Statistics). Check jiandaoyun.api_key."
    )


def test_check_without_the_purchased_feature_fails_saying_the_key_must_be_a_super_admins_and_the_feature_purchased(
    connector: CheckedConnector, jdy: Emulator
) -> None:
    jdy.vendor("jiandaoyun").options.feature_purchased = False
    start, end = dates(jdy, 1)

    run = connector.check(config(jdy, start, end))

    assert run.connection_status() == {"status": "FAILED", "message": refused("api/v1/corp_usage/overview")}
    assert [e.status for e in jdy.log.entries()] == [403]  # asked once: a 403 is never retried


def test_read_without_the_purchased_feature_ends_with_a_config_error_and_no_record(connector: CheckedConnector, jdy: Emulator) -> None:
    jdy.vendor("jiandaoyun").options.feature_purchased = False
    start, end = dates(jdy, 1)

    run = connector.run("read", timeout=30, config=config(jdy, start, end), catalog=configured_catalog([MEMBERS]))

    assert run.returncode != 0 and run.records() == []
    errors = run.errors()
    assert refused("api/v1/corp_usage/member_metrics") in {e["message"] for e in errors}, run.describe()
    assert {e["failure_type"] for e in errors} == {"config_error"}
    assert [e.status for e in jdy.log.entries()] == [403]


# --------------------------------------------------------------------------- the "v2" metrics (point 8)

V2_METRICS = ("daily_automation_exec", "daily_attachment_upload")


def test_v2_metrics_are_typed_columns_on_app_and_overview_records_and_not_on_member_records(
    connector: CheckedConnector, jdy: Emulator
) -> None:
    start, end = dates(jdy, 1)

    run = connector.read(config(jdy, start, end), configured_catalog(STREAMS))

    assert_succeeded(run)
    for stream in STREAMS:
        assert_matches(stream, run.records(stream), jdy.ground_truth(stream, start_date=start, end_date=end))
    for record in run.records(APPS) + run.records(OVERVIEW):
        assert all(isinstance(record[name], int) and record[name] == record["metrics"][name] for name in V2_METRICS), record
    members = run.records(MEMBERS)
    assert all(name not in record for record in members for name in V2_METRICS)
    # The member endpoint stays v1: the metric some member items carry stays in the raw metrics only.
    carried = [record for record in members if "daily_automation_exec" in record["metrics"]]
    assert 0 < len(carried) < len(members)
    schemas = {stream: json.loads((SCHEMAS / f"{stream}.json").read_text())["properties"] for stream in STREAMS}
    typed = [schemas[stream][name]["type"] for stream in (APPS, OVERVIEW) for name in V2_METRICS]
    assert typed == [["null", "integer"]] * 4
    assert not set(V2_METRICS) & set(schemas[MEMBERS])


def test_a_server_without_the_v2_metrics_leaves_their_columns_null(connector: CheckedConnector, jdy: Emulator) -> None:
    jdy.vendor("jiandaoyun").options.usage_v2 = False
    start, end = dates(jdy, 1)

    run = connector.read(config(jdy, start, end), configured_catalog([APPS, OVERVIEW]))

    assert_succeeded(run)
    for stream in (APPS, OVERVIEW):
        assert_matches(stream, run.records(stream), jdy.ground_truth(stream, start_date=start, end_date=end))
    # Null on the wire is a left-out field; where a v1 item carries the metric anyway it is typed.
    app_records = run.records(APPS)
    assert all("daily_attachment_upload" not in record for record in app_records + run.records(OVERVIEW))
    assert all(record.get("daily_automation_exec") == record["metrics"].get("daily_automation_exec") for record in app_records)


# --------------------------------------------------------------------------- every metric 0 (point 9)


def statistics_warnings(run: Any) -> List[str]:
    return [m["log"]["message"] for m in run.of_type("LOG") if m["log"]["level"] == "WARN" and "may not be enabled" in m["log"]["message"]]


ENABLE_THEM = (
    "Usage statistics may not be enabled: without them Jiandaoyun answers 0, not an error. Enable them in "
    "Admin Console > Management Tools > Usage Statistics."
)


def test_dates_whose_every_metric_is_0_warn_once_per_date_and_stream_and_the_records_are_emitted(
    connector: CheckedConnector, jdy: Emulator
) -> None:
    jdy.vendor("jiandaoyun").options.statistics_enabled = False
    start, end = dates(jdy, 2)

    run = connector.read(config(jdy, start, end), configured_catalog(STREAMS))

    assert_succeeded(run)
    for stream in STREAMS:
        assert_matches(stream, run.records(stream), jdy.ground_truth(stream, start_date=start, end_date=end))
    days = (start.isoformat(), end.isoformat())
    # 250 members on 3 pages and 130 apps on 2 pages a date: still one warning per date and stream.
    assert sorted(statistics_warnings(run)) == sorted(
        [f"Jiandaoyun api/v1/corp_usage/{endpoint}: every metric of every item of {day} is 0. {ENABLE_THEM}"
         for endpoint in ("member_metrics", "app_metrics") for day in days]
        + [f"Jiandaoyun api/v1/corp_usage/overview: every metric of {day} is 0. {ENABLE_THEM}" for day in days]
    )  # fmt: skip


def test_a_sync_with_usage_logs_no_statistics_warning(connector: CheckedConnector, jdy: Emulator) -> None:
    start, end = dates(jdy, 1)

    run = connector.read(config(jdy, start, end), configured_catalog(STREAMS))

    assert_succeeded(run)
    assert statistics_warnings(run) == []


@pytest.mark.reads_today
def test_check_with_every_metric_0_succeeds_and_logs_that_statistics_may_not_be_enabled(
    connector: CheckedConnector, jdy: Emulator
) -> None:
    jdy.vendor("jiandaoyun").options.statistics_enabled = False
    start, end = dates(jdy, 1)

    run = connector.check(config(jdy, start, end))

    assert run.connection_status() == {"status": "SUCCEEDED"}, run.describe()
    # check reads the overview of the config's last date (end_date here).
    assert statistics_warnings(run) == [f"Jiandaoyun api/v1/corp_usage/overview: every metric of {end.isoformat()} is 0. {ENABLE_THEM}"]
    assert [e.status for e in jdy.log.entries()] == [200]


def test_a_2xx_body_with_a_rate_limit_code_is_waited_out_and_the_sync_equals_the_ground_truth(
    connector: CheckedConnector, jdy: Emulator
) -> None:
    fault = jdy.faults.add("reply", path=OVERVIEW_PATH, times=1, status=200, body={"code": 8303, "msg": "frequency limit"})
    start, end = dates(jdy, 2)

    run = connector.read(config(jdy, start, end), configured_catalog([OVERVIEW]))

    assert_succeeded(run)
    assert fault.fired == 1
    assert_matches(OVERVIEW, run.records(OVERVIEW), jdy.ground_truth(OVERVIEW, start_date=start, end_date=end))
    assert "Sync summary: jiandaoyun_overview_usage: 3 requests, 1 retries, 1 rate-limit waits (2.0 s), 2 records." in run.stdout


def test_a_page_of_every_member_at_once_is_read_item_by_item_and_equals_the_ground_truth(
    connector: CheckedConnector, emulator_factory: EmulatorFactory
) -> None:
    # A server that ignores ``limit``: 30,000 members (some 7 MB) in one page, past the size from
    # which the connector reads a page's items one at a time (its memory: bench/run.py,
    # jiandaoyun_one_page_*).
    jdy = emulator_factory(seed=12, jiandaoyun={"api_key": KEY, "members": 30_000, "page_size": 30_000, "requests_per_second": None})
    start, end = dates(jdy, 1)

    run = connector.read(config(jdy, start, end), configured_catalog([MEMBERS]))

    assert_succeeded(run)
    assert_matches(MEMBERS, run.records(MEMBERS), jdy.ground_truth(MEMBERS, start_date=start, end_date=end))
    assert [e.body["skip"] for e in jdy.log.entries(MEMBER_PATH)] == [0]

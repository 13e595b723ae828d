"""End to end: the installed ``source-usage`` command against the emulated Tabnine API.

Every sync is compared with the emulator's ground truth: the exact records a correct sync
produces, no more (no duplicates), no fewer (no gaps). The request log shows what the connector
asked for, so paging, the usage windows, the v1 fallback, lookback and resumption are checked on
the wire.

Tabnine counts in UTC; usage dates end two days before today there, so that a test running across
midnight still asks only for finished days. Tabnine publishes no rate limit and the emulator
enforces none by default, so no test waits for a window.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from typing import Any, Dict, List, Mapping, Sequence, Tuple

import jsonschema
import pytest

from emulator import Emulator, LoggedRequest
from integration_tests.assertions import assert_matches, assert_succeeded
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

TOKEN = 'tn-e2e-"secret\\5b0c6e29fa'  # a quote and a backslash: characters JSON and repr escape
WRONG_TOKEN = 'tn-wrong-"secret\\c41d8a7e30'
ORGANIZATION = "tabnine_organization"
TEAMS = "tabnine_teams"
USERS = "tabnine_users"
UTILIZATIONS = "tabnine_account_utilizations"
USAGE = "tabnine_organization_usage"
LICENSE = "tabnine_license"
STREAMS = (ORGANIZATION, TEAMS, USERS, LICENSE, UTILIZATIONS, USAGE)
#: Issue 15's streams (their syncs: test_tabnine_seats_e2e.py).
SEATS_STREAMS = ("tabnine_permissions", "tabnine_agent_usage", "tabnine_user_usage", "tabnine_team_usage")
#: Issue 25's streams (their syncs: test_tabnine_people_agent_and_invitations_e2e.py).
FINOPS_STREAMS = ("tabnine_user_agent_usage", "tabnine_team_agent_usage", "tabnine_invitations")
#: The contract's primary keys (shared/connector-contract.md), which discover must declare.
PRIMARY_KEYS = {
    ORGANIZATION: ("id",),
    TEAMS: ("id",),
    USERS: ("id",),
    LICENSE: ("iat",),
    UTILIZATIONS: ("month_start",),
    USAGE: ("period_start", "granularity"),
    "tabnine_permissions": ("role", "username"),
    "tabnine_agent_usage": ("period_start", "granularity"),
    "tabnine_user_usage": ("period_start", "granularity", "userId"),
    "tabnine_team_usage": ("period_start", "granularity", "teamId"),
    "tabnine_user_agent_usage": ("period_start", "granularity", "userId"),
    "tabnine_team_agent_usage": ("period_start", "granularity", "teamId"),
    "tabnine_invitations": ("id",),
}
CURSORS = {
    UTILIZATIONS: "month_start",
    USAGE: "period_start",
    **{name: "period_start" for name in ("tabnine_agent_usage", "tabnine_user_usage", "tabnine_team_usage")},
    **{name: "period_start" for name in ("tabnine_user_agent_usage", "tabnine_team_agent_usage")},
}
ORGANIZATION_PATH = "/api/v1/organization"
TEAMS_PATH = "/api/v1/organization/teams"
USERS_PATH = "/api/v1/organization/users"
UTILIZATIONS_PATH = "/api/v1/organization/account-utilizations"
USAGE_V2_PATH = "/api/v2/organization/usage"
USAGE_V1_PATH = "/api/v1/organization/usage"
LICENSE_PATH = "/api/v1/license"
#: The four listings of users, in the order the connector reads them (teamMember, active).
LISTINGS = [("true", "true"), ("true", "false"), ("false", "true"), ("false", "false")]


@pytest.fixture
def tabnine(emulator_factory: EmulatorFactory) -> Emulator:
    """230 teams (3 pages of 100) and 350 users (4 pages), active and deactivated."""
    return emulator_factory(seed=31, tabnine={"api_token": TOKEN, "teams": 230, "users": 350})


def today() -> date:
    return datetime.now(UTC).date()


def dates(count: int) -> Tuple[date, date]:
    """The last ``count`` days ending two days before today in UTC."""
    end = today() - timedelta(days=2)
    return end - timedelta(days=count - 1), end


def config(emulator: Emulator, start: date, end: date | None, lookback_days: int = 1, **section: Any) -> Dict[str, Any]:
    settings: Dict[str, Any] = {
        "start_date": start.isoformat(),
        "lookback_days": lookback_days,
        "tabnine": {"api_token": TOKEN, "base_url": emulator.url, "granularity": "daily", **section},
    }
    if end is not None:
        settings["end_date"] = end.isoformat()
    return settings


def answered(emulator: Emulator, path: str, since: float = 0.0, until: float = float("inf")) -> List[LoggedRequest]:
    """The requests to exactly ``path`` answered 200 (without an injected fault) in ``[since, until)``."""
    return [e for e in emulator.log.entries(path) if e.path == path and e.status == 200 and not e.fault and since <= e.time < until]


def usage_days(requests: Sequence[LoggedRequest]) -> List[str]:
    """The UTC day of each usage request's ``from``, in the order they arrived."""
    return [e.query["from"][0][:10] for e in requests]


def day_range(first: date, last: date) -> List[str]:
    return [(first + timedelta(days=n)).isoformat() for n in range((last - first).days + 1)]


def month_start(day: date) -> str:
    return day.replace(day=1).isoformat()


def listing_pages(emulator: Emulator) -> List[Tuple[str, str, str]]:
    """``(teamMember, active, offset)`` of every page of the four listings of users, in order."""
    vendor = emulator.vendor("tabnine")
    pages = []
    for team_member, active in LISTINGS:
        count = len(vendor.selected_users(team_member == "true", active == "true"))
        pages += [(team_member, active, str(offset)) for offset in range(0, max(1, count), 100)]
    return pages


def listed(requests: Sequence[LoggedRequest]) -> List[Tuple[str, str, str]]:
    return [(e.query["teamMember"][0], e.query["active"][0], e.query["offset"][0]) for e in requests]


def weeks(count: int) -> Tuple[date, date]:
    """``count`` whole UTC weeks (Monday to Sunday), the last one ended at least two days ago."""
    last_sunday = today() - timedelta(days=2 + (today() - timedelta(days=2)).isoweekday() % 7)
    return last_sunday - timedelta(days=7 * count - 1), last_sunday


# --------------------------------------------------------------------------- check, discover


def test_check_fails_naming_tabnine_with_a_bad_token(connector: CheckedConnector, tabnine: Emulator) -> None:
    connector.secrets.add(WRONG_TOKEN)
    start, end = dates(1)

    run = connector.check(config(tabnine, start, end, api_token=WRONG_TOKEN))

    status = run.connection_status()
    assert status["status"] == "FAILED"
    assert "Tabnine" in status["message"] and "tabnine.api_token" in status["message"], status
    assert [e.status for e in tabnine.log.entries()] == [401]


def test_read_with_a_bad_token_ends_with_a_config_error_naming_tabnine(connector: CheckedConnector, tabnine: Emulator) -> None:
    connector.secrets.add(WRONG_TOKEN)
    start, end = dates(1)

    run = connector.read(config(tabnine, start, end, api_token=WRONG_TOKEN), configured_catalog([USAGE]))

    assert run.returncode != 0
    assert not run.records()
    assert any(e["failure_type"] == "config_error" and "Tabnine" in e["message"] for e in run.errors()), run.describe()


def test_discover_with_only_a_tabnine_section_lists_exactly_the_thirteen_streams(connector: CheckedConnector, tabnine: Emulator) -> None:
    start, end = dates(1)

    run = connector.discover(config(tabnine, start, end))

    (catalog,) = [m["catalog"] for m in run.of_type("CATALOG")]
    streams = {stream["name"]: stream for stream in catalog["streams"]}
    assert set(streams) == {*STREAMS, *SEATS_STREAMS, *FINOPS_STREAMS}
    for name, stream in streams.items():
        assert stream["source_defined_primary_key"] == [[field] for field in PRIMARY_KEYS[name]]
        if name in CURSORS:
            assert set(stream["supported_sync_modes"]) == {"full_refresh", "incremental"}
            assert stream["default_cursor_field"] == [CURSORS[name]]
        else:
            assert stream["supported_sync_modes"] == ["full_refresh"]
    assert not tabnine.log.entries(), "discover sends no request"


# --------------------------------------------------------------------------- syncs


@pytest.mark.reads_today
def test_full_sync_of_the_six_streams_equals_the_ground_truth(connector: CheckedConnector, tabnine: Emulator) -> None:
    start, end = dates(10)

    run = connector.read(config(tabnine, start, end), configured_catalog(STREAMS, "full_refresh"))

    assert_succeeded(run)
    for stream in STREAMS:
        records = run.records(stream)
        assert_matches(stream, records, tabnine.ground_truth(stream, start_date=start, end_date=end, granularity="daily"))
        validator = jsonschema.Draft7Validator(json.loads((SCHEMAS / f"{stream}.json").read_text()))
        assert not [error.message for record in records for error in validator.iter_errors(record)]
    assert len(run.records(TEAMS)) == 230 and len(run.records(USERS)) == 350
    assert any(not user["active"] for user in run.records(USERS)), "deactivated users too"
    # Every page once, following meta.next; users through the four listings (273, 27, 45 and 5
    # users: 3 + 1 + 1 + 1 pages), each with the organisation's id.
    assert [(e.query["offset"], e.query["limit"]) for e in answered(tabnine, TEAMS_PATH)] == [([str(o)], ["100"]) for o in (0, 100, 200)]
    users = answered(tabnine, USERS_PATH)
    assert listed(users) == listing_pages(tabnine) == [
        ("true", "true", "0"), ("true", "true", "100"), ("true", "true", "200"),
        ("true", "false", "0"), ("false", "true", "0"), ("false", "false", "0"),
    ]  # fmt: skip
    assert all(e.query["organizationId"] == [tabnine.vendor("tabnine").organization_id()] for e in users)
    # One usage request per UTC day, [from, to) touching, as one bucket (granularity=all); the
    # organisation id read once for it and the users.
    usage = answered(tabnine, USAGE_V2_PATH)
    assert sorted(usage_days(usage)) == day_range(start, end), "each day once (read concurrently: in any order)"
    for e in usage:
        day = date.fromisoformat(e.query["from"][0][:10])
        assert e.query["from"] == [f"{day}T00:00:00Z"] and e.query["to"] == [f"{day + timedelta(days=1)}T00:00:00Z"], e.query
        assert e.query["granularity"] == ["all"]
    assert not tabnine.log.entries(USAGE_V1_PATH)
    assert [e.status for e in tabnine.log.entries(ORGANIZATION_PATH) if e.path == ORGANIZATION_PATH] == [200]
    assert [e.query["startDate"] for e in answered(tabnine, UTILIZATIONS_PATH)] == [[start.strftime("%Y-%m")]]
    assert len(answered(tabnine, LICENSE_PATH)) == 1


def test_the_license_is_one_record_with_its_epoch_seconds_as_utc_timestamps(connector: CheckedConnector, tabnine: Emulator) -> None:
    start, end = dates(1)

    run = connector.read(config(tabnine, start, end), configured_catalog([LICENSE]))

    assert_succeeded(run)
    (record,) = run.records(LICENSE)
    assert_matches(LICENSE, [record], tabnine.ground_truth(LICENSE))
    served = tabnine.vendor("tabnine").license()["license"]
    assert (record["seats"], record["seatsCap"]) == (350, 360) == (served["seats"], served["seatsCap"])
    assert record["issued_at"] == datetime.fromtimestamp(served["iat"], UTC).isoformat()
    assert record["expires_at"] == datetime.fromtimestamp(served["exp"], UTC).isoformat()
    assert [e.path for e in tabnine.log.entries()] == [LICENSE_PATH], "one request, nothing else"
    assert run.states(LICENSE) == [] or all("period_start" not in state for state in run.states(LICENSE))


def test_v1_fallback_on_an_old_server_equals_the_ground_truth(connector: CheckedConnector, emulator_factory: EmulatorFactory) -> None:
    old = emulator_factory(seed=32, tabnine={"api_token": TOKEN, "v2_available": False})
    start, end = dates(5)

    run = connector.read(config(old, start, end), configured_catalog([USAGE]))

    assert_succeeded(run)
    truth = old.ground_truth(USAGE, start_date=start, end_date=end, granularity="daily")
    assert truth and all("agent" not in bucket for bucket in truth), "the old server's buckets (v1)"
    assert_matches(USAGE, run.records(USAGE), truth)
    # v2 asked once; its 404 switches the whole sync to v1, the window that got it included.
    assert [e.status for e in old.log.entries(USAGE_V2_PATH)] == [404]
    assert sorted(usage_days(answered(old, USAGE_V1_PATH))) == day_range(start, end)
    logs = [m["log"]["message"] for m in run.of_type("LOG")] + run.stderr.splitlines()
    assert any("falling back" in line and USAGE_V1_PATH in line for line in logs), "the fallback is logged"


@pytest.mark.parametrize("lookback_days", [0, 2])
@pytest.mark.reads_today
def test_incremental_sync_rereads_the_lookback_and_the_current_month(
    connector: CheckedConnector, tabnine: Emulator, lookback_days: int
) -> None:
    # From the last day of last month: the account utilizations cover a finished month (the state)
    # and the current one; no end date, so the current month is served and usage runs to yesterday.
    this_month = today().replace(day=1)
    start = this_month - timedelta(days=1)
    yesterday = today() - timedelta(days=1)
    settings = config(tabnine, start, None, lookback_days=lookback_days)
    catalog = configured_catalog([UTILIZATIONS, USAGE])
    first = connector.read(settings, catalog)
    assert_succeeded(first)
    last_month = month_start(start)
    assert first.states(UTILIZATIONS)[-1] == {"month_start": last_month}, "the current month is not over: state stays before it"
    assert [r["month_start"] for r in first.records(UTILIZATIONS)] == [last_month, this_month.isoformat()]
    assert datetime.fromisoformat(first.states(USAGE)[-1]["period_start"]).date() == yesterday
    tabnine.log.clear()

    second = connector.read(settings, catalog, state=first.last_states())

    assert_succeeded(second)
    # Lookback in whole periods: any lookback is one month of utilizations; the current month always.
    reread_month = last_month if lookback_days else this_month.isoformat()
    assert [e.query["startDate"] for e in answered(tabnine, UTILIZATIONS_PATH)] == [[reread_month[:7]]]
    assert_matches(UTILIZATIONS, second.records(UTILIZATIONS), tabnine.ground_truth(UTILIZATIONS, start_date=reread_month))
    assert second.states(UTILIZATIONS)[-1] == {"month_start": last_month}
    reread_days = day_range(max(start, yesterday - timedelta(days=lookback_days - 1)), yesterday) if lookback_days else []
    assert sorted(usage_days(answered(tabnine, USAGE_V2_PATH))) == reread_days  # read concurrently
    truth = tabnine.ground_truth(USAGE, start_date=reread_days[0], granularity="daily") if reread_days else []
    assert_matches(USAGE, second.records(USAGE), truth)
    if second.states(USAGE):
        assert datetime.fromisoformat(second.states(USAGE)[-1]["period_start"]).date() == yesterday


def test_killed_concurrent_usage_sync_resumes_without_loss(connector: CheckedConnector, emulator_factory: EmulatorFactory) -> None:
    # Every answer 50 ms away: the stream has many days in flight when the kill lands, after its
    # eighth checkpoint. The sync spans five times the days that can be in flight, so the kill
    # lands well before its end. The resumed run goes to a second emulator of the same seed (the
    # same data), so each run's requests are told apart by where they went, not by when.
    latency_ms = 50
    options: Dict[str, Any] = {"seed": 33, "latency_ms": latency_ms, "tabnine": {"api_token": TOKEN}}
    first_server, second_server = emulator_factory(**options), emulator_factory(**options)
    flying = periods_in_flight(config(first_server, *dates(1)), USAGE, requests_per_period=1)
    start, end = dates(5 * flying)
    planned = [f"{day}T00:00:00+00:00" for day in day_range(start, end)]
    catalog = configured_catalog([USAGE])

    def eighth_checkpoint(message: Mapping[str, Any]) -> bool:
        # Past the first few days: the vendor's requests in flight start at one and grow with
        # each answer (core.pool), so by then several are on the wire together.
        if message["type"] != "STATE" or message["state"]["stream"]["stream_descriptor"]["name"] != USAGE:
            return False
        return moment(str(message["state"]["stream"]["stream_state"].get("period_start"))) >= moment(planned[7])

    killed = connector.read_killed_when(eighth_checkpoint, config(first_server, start, end, lookback_days=0), catalog)
    assert killed.returncode == -9, killed.describe()
    resumed = connector.read(config(second_server, start, end, lookback_days=0), catalog, state=killed.last_states())

    assert_succeeded(resumed)
    assert overlapping(answered(first_server, USAGE_V2_PATH)), "requests were in flight together when the kill landed"
    truth = first_server.ground_truth(USAGE, start_date=start, end_date=end, granularity="daily")
    assert truth == second_server.ground_truth(USAGE, start_date=start, end_date=end, granularity="daily"), "one seed, one data"
    checkpoint = checkpoint_of(killed, USAGE)
    assert checkpoint is not None, killed.describe()
    done = [moment(day) for day in planned].index(moment(checkpoint)) + 1
    assert done + flying < len(planned), "the kill must land before the last days that can be in flight"
    # The first unfinished day, then every later one once; no finished day again.
    first_unfinished = datetime.fromisoformat(checkpoint).date() + timedelta(days=1)
    assert sorted(usage_days(answered(second_server, USAGE_V2_PATH))) == day_range(first_unfinished, end)
    assert all(datetime.fromisoformat(r["period_start"]).date() >= first_unfinished for r in resumed.records(USAGE))
    assert_states_follow_their_records(killed, USAGE, truth, "period_start")
    assert_states_follow_their_records(resumed, USAGE, truth, "period_start", resumed_from=checkpoint)
    # Nothing missing between the two runs; only records of the days in flight twice.
    assert_resumed_without_loss(USAGE, killed, resumed, truth, in_flight_records(truth, "period_start", planned, checkpoint, flying))


# --------------------------------------------------------------------------- faults and secrets


def test_a_sync_of_every_stream_with_faults_on_teams_users_usage_and_utilizations_equals_the_ground_truth(
    connector: CheckedConnector, tabnine: Emulator
) -> None:
    # One of each fault, on different streams so that their CDK backoffs (a second or more) overlap.
    faults = [
        tabnine.faults.add("http_500", every=2, times=1, path=TEAMS_PATH),
        tabnine.faults.add("http_429", every=3, times=1, path=USERS_PATH, retry_after=1),
        tabnine.faults.add("invalid_json", every=3, times=1, path=USAGE_V2_PATH),
        tabnine.faults.add("drop", times=1, path=UTILIZATIONS_PATH),
    ]
    start, end = dates(5)

    run = connector.read(config(tabnine, start, end), configured_catalog(STREAMS))

    assert_succeeded(run)
    assert [fault.fired for fault in faults] == [1] * len(faults)
    fired = Counter(e.fault for e in tabnine.log.entries() if e.fault)
    assert fired == {"http_500": 1, "http_429": 1, "invalid_json": 1, "drop": 1}
    for stream in STREAMS:
        assert_matches(stream, run.records(stream), tabnine.ground_truth(stream, start_date=start, end_date=end, granularity="daily"))


# --------------------------------------------------------------------------- a pager that does not end


@pytest.mark.parametrize(
    "paging_fault",
    ["endless", "stuck"],
    ids=["empty-pages-past-the-end-with-a-moving-next", "the-last-page-points-at-itself"],
)
def test_meta_next_for_ever_ends_the_user_listing_with_an_error_naming_the_endpoint(
    connector: CheckedConnector, tabnine: Emulator, paging_fault: str
) -> None:
    # meta.next never null: today's loop would read for ever (1,329 requests a minute).
    tabnine.vendor("tabnine").options.paging_fault = paging_fault
    start, end = dates(1)

    run = connector.run("read", timeout=10, config=config(tabnine, start, end), catalog=configured_catalog([USERS]))

    assert run.returncode != 0, run.describe()
    messages = [e["message"] for e in run.errors()]
    assert any("Tabnine" in m and USERS_PATH.lstrip("/") in m and "pag" in m.lower() for m in messages), run.describe()
    assert run.states(USERS) == [], "a stream that did not end is not checkpointed"
    # The first listing's 273 users are 3 pages; past them, a page or two at most before the error.
    requests = [e for e in tabnine.log.entries(USERS_PATH) if e.path == USERS_PATH]
    assert listed(requests[:3]) == [("true", "true", str(o)) for o in (0, 100, 200)]
    assert 3 <= len(requests) <= 4 and listed(requests)[-1][:2] == ("true", "true"), listed(requests)


# --------------------------------------------------------------------------- hostile answers


def test_users_without_their_id_fail_the_stream_naming_the_field_and_no_record_is_emitted(
    connector: CheckedConnector, tabnine: Emulator
) -> None:
    tabnine.vendor("tabnine").options.item_fault = "no_key"
    start, end = dates(1)

    run = connector.run("read", timeout=30, config=config(tabnine, start, end), catalog=configured_catalog([USERS], "full_refresh"))

    assert run.returncode != 0, run.describe()
    assert run.records(USERS) == []
    message = run.errors()[0]["message"]
    assert message.startswith(
        "Tabnine api/v1/organization/users answered an item without 'id', a field of the stream's primary key (the item has: "
    ), message
    fields = message.split("(the item has: ")[1].split("). ")[0].split(", ")
    assert "email" in fields and "id" not in fields, message


def test_teams_that_are_not_objects_are_a_malformed_body_naming_the_endpoint(connector: CheckedConnector, tabnine: Emulator) -> None:
    tabnine.vendor("tabnine").options.item_fault = "not_object"
    start, end = dates(1)

    run = connector.run("read", timeout=30, config=config(tabnine, start, end), catalog=configured_catalog([TEAMS], "full_refresh"))

    assert run.returncode != 0, run.describe()
    expected = "Tabnine api/v1/organization/teams answered with a malformed body: item 0 of 'data' is not an object."
    assert expected in {e["message"] for e in run.errors()}, run.describe()


def test_a_user_repeated_across_pages_is_emitted_once(connector: CheckedConnector, tabnine: Emulator) -> None:
    tabnine.vendor("tabnine").options.item_fault = "repeat_item"
    start, end = dates(1)

    run = connector.read(config(tabnine, start, end), configured_catalog([USERS], "full_refresh"))

    assert_succeeded(run)
    assert_matches(USERS, run.records(USERS), tabnine.ground_truth(USERS))
    # The second page of the first listing starts one user early, so the last user of its first
    # page comes twice (the other listings are one page each).
    assert "Tabnine api/v1/organization/users: left out 1 item whose key was already read; each key is emitted once." in run.stdout


# --------------------------------------------------------------------------- usage as one bucket per window


@pytest.mark.reads_today
def test_usage_asks_each_window_once_with_granularity_all_and_keeps_its_per_model_breakdowns(
    connector: CheckedConnector, tabnine: Emulator
) -> None:
    start, end = weeks(3)

    run = connector.read(config(tabnine, start, end, granularity="weekly"), configured_catalog([USAGE]))

    assert_succeeded(run)
    records = run.records(USAGE)
    assert_matches(USAGE, records, tabnine.ground_truth(USAGE, start_date=start, end_date=end, granularity="weekly"))
    mondays = [start + timedelta(days=7 * n) for n in range(3)]
    assert [r["period_start"] for r in records] == [f"{monday}T00:00:00+00:00" for monday in mondays]
    assert {r["granularity"] for r in records} == {"weekly"}
    assert all(len(r["chat"]["models"]) == len(r["agent"]["models"]) == 3 for r in records), "models[] kept whole"
    usage = answered(tabnine, USAGE_V2_PATH)
    # Windows are read concurrently: each asked once, in whatever order they arrived.
    assert sorted((e.query["from"], e.query["to"], e.query["granularity"]) for e in usage) == [
        ([f"{monday}T00:00:00Z"], [f"{monday + timedelta(days=7)}T00:00:00Z"], ["all"]) for monday in mondays
    ]


@pytest.mark.parametrize("v2_available", [True, False], ids=["v2", "v1-fallback"])
def test_several_buckets_answering_one_window_are_each_emitted_with_their_own_period_never_two_under_one_key(
    connector: CheckedConnector, emulator_factory: EmulatorFactory, v2_available: bool
) -> None:
    # The server cuts each week asked with granularity=all into its days: 7 buckets per request.
    server = emulator_factory(seed=33, tabnine={"api_token": TOKEN, "multi_bucket": True, "v2_available": v2_available})
    start, end = weeks(2)

    run = connector.read(config(server, start, end, granularity="weekly"), configured_catalog([USAGE]))

    assert_succeeded(run)
    truth = server.ground_truth(USAGE, start_date=start, end_date=end, granularity="weekly")
    assert len(truth) == 14 and {r["granularity"] for r in truth} == {"weekly"}
    assert_matches(USAGE, run.records(USAGE), truth)
    assert [r["period_start"][:10] for r in run.records(USAGE)] == day_range(start, end)
    path = USAGE_V2_PATH if v2_available else USAGE_V1_PATH
    assert sorted(usage_days(answered(server, path))) == [start.isoformat(), (start + timedelta(days=7)).isoformat()]
    assert run.states(USAGE)[-1] == {"period_start": f"{start + timedelta(days=7)}T00:00:00+00:00"}


# --------------------------------------------------------------------------- users, whatever the server requires


@pytest.mark.parametrize(
    "variant",
    [
        {},
        {"users_flags_required": True},
        {"users_organization_required": True},
        {"user_shape": "newer"},
        {"users_flags_required": True, "users_organization_required": True, "user_shape": "newer"},
    ],
    ids=["flags-optional", "flags-required", "organization-id-required", "newer-user-shape", "all-three"],
)
def test_every_user_is_read_once_with_active_and_team_membership_as_the_server_states_them(
    connector: CheckedConnector, emulator_factory: EmulatorFactory, variant: Dict[str, Any]
) -> None:
    server = emulator_factory(seed=34, tabnine={"api_token": TOKEN, "teams": 4, "users": 230, **variant})
    start, end = dates(1)

    run = connector.read(config(server, start, end), configured_catalog([USERS], "full_refresh"))

    assert_succeeded(run)
    records = run.records(USERS)
    assert_matches(USERS, records, server.ground_truth(USERS))
    vendor = server.vendor("tabnine")
    # Active and deactivated, in a team or not: the four kinds, and each user's own state.
    assert Counter((r["teamMember"], r["active"]) for r in records) == {
        (team_member, active): len(vendor.selected_users(team_member, active)) for team_member in (True, False) for active in (True, False)
    }
    assert all(("team" in r) == r["teamMember"] for r in records)
    assert listed(answered(server, USERS_PATH)) == listing_pages(server)
    assert [e.status for e in server.log.entries(USERS_PATH)] == [200] * len(listing_pages(server)), "no request refused"
    validator = jsonschema.Draft7Validator(json.loads((SCHEMAS / f"{USERS}.json").read_text()))
    assert not [error.message for record in records for error in validator.iter_errors(record)]


def test_a_server_that_ignores_the_user_filters_fails_the_users_stream_naming_the_user_and_both_listings(
    connector: CheckedConnector, emulator_factory: EmulatorFactory
) -> None:
    # Every listing serves every user: the active and team membership taken from a listing would be a guess.
    server = emulator_factory(seed=35, tabnine={"api_token": TOKEN, "teams": 2, "users": 30, "users_filters_ignored": True})
    start, end = dates(1)

    run = connector.run("read", timeout=30, config=config(server, start, end), catalog=configured_catalog([USERS], "full_refresh"))

    assert run.returncode != 0, run.describe()
    first = server.vendor("tabnine").user(0)["id"]
    expected = (
        f"Tabnine api/v1/organization/users listed user '{first}' under teamMember=true&active=true and again under "
        "teamMember=true&active=false: the server does not filter users by teamMember and active as documented"
    )
    assert any(e["message"].startswith(expected) for e in run.errors()), run.describe()
    assert run.records(USERS) == [], "the listing is read whole (once a sync, shared with tabnine_user_usage) before any record"
    assert run.states(USERS) == []

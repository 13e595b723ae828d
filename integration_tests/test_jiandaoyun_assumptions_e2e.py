"""End to end: Jiandaoyun servers whose answers differ from what the connector assumes (issue 22).

Each test plays one difference on an emulator variant and holds the rule: a guess about a value
that turns out wrong fails the streams whose values depend on it, naming the field; everything
else syncs exactly; what the user must fix is a config error saying what to change.
"""

from __future__ import annotations

import json
import os
import re
from datetime import date, datetime, timedelta, timezone
from typing import Any, Dict, Iterator

import pytest
import time_machine

from emulator import Emulator
from integration_tests.assertions import assert_matches, assert_succeeded, with_period_note
from integration_tests.clock import CLOCK_VARIABLE, STARTUP, real_time
from integration_tests.conftest import CheckedConnector, EmulatorFactory
from integration_tests.runner import configured_catalog

KEY = "jdy-assumptions-secret-7c2e"
MEMBERS, APPS, OVERVIEW = "jiandaoyun_member_usage", "jiandaoyun_app_usage", "jiandaoyun_overview_usage"
STREAMS = (MEMBERS, APPS, OVERVIEW)
MEMBER_PATH = "/api/v1/corp_usage/member_metrics"
UTC8 = timezone(timedelta(hours=8))

pytestmark = pytest.mark.process  # the connector's command


def jiandaoyun(emulator_factory: EmulatorFactory, **options: Any) -> Emulator:
    return emulator_factory(seed=17, jiandaoyun={"api_key": KEY, "members": 30, "apps": 8, "requests_per_second": None, **options})


def dates(emulator: Emulator, count: int) -> tuple[date, date]:
    end = emulator.vendor("jiandaoyun").today() - timedelta(days=2)
    return end - timedelta(days=count - 1), end


def beijing_day(day: date) -> tuple[str, str]:
    """The period of ``day`` as the streams name it: Beijing time, midnight to midnight."""
    return f"{day.isoformat()}T00:00:00+08:00", f"{(day + timedelta(days=1)).isoformat()}T00:00:00+08:00"


def config(emulator: Emulator, start: date, end: date | None, **shared: Any) -> Dict[str, Any]:
    settings: Dict[str, Any] = {
        "start_date": start.isoformat(),
        "lookback_days": 0,
        "jiandaoyun": {"api_key": KEY, "base_url": emulator.url, "requests_per_second": 16},
        **shared,
    }
    if end is not None:
        settings["end_date"] = end.isoformat()
    return settings


# --------------------------------------------------------------------------- paging


def test_a_full_page_without_has_next_fails_the_stream_naming_the_field(
    connector: CheckedConnector, emulator_factory: EmulatorFactory
) -> None:
    # The field renamed as the sibling audit-log API names it: 250 members, a first page of 100.
    emulator = jiandaoyun(emulator_factory, members=250, more_field="has_more")
    start, end = dates(emulator, 1)

    run = connector.run("read", timeout=60, config=config(emulator, start, end), catalog=configured_catalog([MEMBERS]))

    assert run.returncode != 0
    assert [s for s in run.states(MEMBERS) if s] == []  # the date is not checkpointed: the next sync reads it again
    assert [e["message"] for e in run.errors()][0] == with_period_note(
        "Jiandaoyun api/v1/corp_usage/member_metrics answered a full page (100 items) without 'has_next', so whether more "
        "pages follow is unknown; rather than keep this page only, the sync stops (the vendor may have renamed 'has_next').",
        MEMBERS, *beijing_day(start),
    )
    assert [e.body["skip"] for e in emulator.log.entries(MEMBER_PATH)] == [0]


def test_a_short_page_without_has_next_is_the_last_and_the_sync_equals_the_ground_truth(
    connector: CheckedConnector, emulator_factory: EmulatorFactory
) -> None:
    emulator = jiandaoyun(emulator_factory, more_field="has_more")  # 30 members, 8 apps: one short page each
    start, end = dates(emulator, 2)

    run = connector.read(config(emulator, start, end), configured_catalog(STREAMS))

    assert_succeeded(run)
    for stream in STREAMS:
        assert_matches(stream, run.records(stream), emulator.ground_truth(stream, start_date=start, end_date=end))


# --------------------------------------------------------------------------- codes the user resolves


@pytest.mark.parametrize(
    ("code", "what_to_change"),
    [
        (17052, "the IP address this sync calls from is not on the key's IP whitelist: add it to the key's whitelist"),
        (17053, "the key may not read every app asked for (an app outside the key's authorized apps): authorize the key"),
        (17054, "the usage-statistics API is outside the key's authorized APIs: authorize it for the key"),
        (7103, "the company's usage is over its plan's limit: raise the plan's limit or wait until it resets"),
        (7206, "the company's Jiandaoyun system is disabled: the company's super admin must restore it"),
    ],
)
def test_a_code_the_user_resolves_is_a_config_error_saying_what_to_change(
    connector: CheckedConnector, emulator_factory: EmulatorFactory, code: int, what_to_change: str
) -> None:
    emulator = jiandaoyun(emulator_factory)
    emulator.faults.add("reply", path=MEMBER_PATH, status=400, body={"code": code, "msg": "refused"})
    start, end = dates(emulator, 1)

    run = connector.run("read", timeout=60, config=config(emulator, start, end), catalog=configured_catalog([MEMBERS]))

    assert run.returncode != 0 and run.records(MEMBERS) == []
    (error, *_) = run.errors()
    assert error["failure_type"] == "config_error", error
    assert error["message"].startswith(f"Jiandaoyun api/v1/corp_usage/member_metrics answered code {code} (refused): {what_to_change}")
    assert len(emulator.log.entries(MEMBER_PATH)) == 1  # not retried: only the user can fix it


# --------------------------------------------------------------------------- the day's turn in UTC+8


@pytest.fixture
def at_the_day_turn_in_utc8(monkeypatch: pytest.MonkeyPatch) -> Iterator[datetime]:
    """This process and the connector's command (started after this) at a minute past midnight in
    UTC+8, the clock running on; the command gets it as ``tools/test.py --at`` gives it."""
    now = datetime.now(timezone.utc)
    turn = datetime.combine(now.astimezone(UTC8).date(), datetime.min.time(), UTC8) + timedelta(seconds=60)
    monkeypatch.setenv(CLOCK_VARIABLE, f"{turn.isoformat()}@{real_time():.6f}")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(STARTUP.parent), os.environ.get("PYTHONPATH")])))
    with time_machine.travel(turn, tick=True):
        yield turn


@pytest.mark.reads_today
def test_the_newest_date_refused_just_after_the_day_turned_is_left_for_the_next_sync(
    tmp_path: Any, emulator_factory: EmulatorFactory, at_the_day_turn_in_utc8: datetime
) -> None:
    # Jiandaoyun's clock two minutes behind this machine's: its day has not turned yet, and it
    # refuses the newest date as out of range (a code the connector does not know).
    emulator = jiandaoyun(emulator_factory)
    emulator.world.clock_offset = timedelta(minutes=-2)
    newest = at_the_day_turn_in_utc8.date() - timedelta(days=1)
    start = newest - timedelta(days=2)
    connector = CheckedConnector(tmp_path, forked=False)  # the command itself, on the moved clock

    run = connector.read(config(emulator, start, None), configured_catalog([OVERVIEW]))

    assert_succeeded(run)
    assert sorted(r["date"] for r in run.records(OVERVIEW)) == [start.isoformat(), (start + timedelta(days=1)).isoformat()]
    assert run.states(OVERVIEW)[-1] == {"date": (newest - timedelta(days=1)).isoformat()}
    warnings = [m["log"]["message"] for m in run.of_type("LOG") if m["log"]["level"] == "WARN"]
    (refused,) = [w for w in warnings if "refused" in w]
    assert re.fullmatch(
        re.escape(f"Jiandaoyun api/v1/corp_usage/overview refused {newest.isoformat()}, the latest finished date in UTC+8, ")
        + r"\d+ min after midnight there "
        + re.escape(
            f"(code 17017: invalid parameter: date must be between {(newest - timedelta(days=180)).isoformat()} and "
            f"{(newest - timedelta(days=1)).isoformat()} (UTC+8)): its day has not turned yet. It and any later period are left "
            "for the next sync: the state stays before them."
        ),
        refused,
    ), refused


@pytest.mark.reads_today
def test_an_older_date_refused_at_the_day_turn_still_fails_the_stream(
    tmp_path: Any, emulator_factory: EmulatorFactory, at_the_day_turn_in_utc8: datetime
) -> None:
    emulator = jiandaoyun(emulator_factory)
    emulator.faults.add("reply", path="/api/v1/corp_usage/overview", status=400, body={"code": 17017, "msg": "invalid parameter"})
    newest = at_the_day_turn_in_utc8.date() - timedelta(days=1)
    connector = CheckedConnector(tmp_path, forked=False)

    settings = config(emulator, newest - timedelta(days=2), None)
    run = connector.run("read", timeout=60, config=settings, catalog=configured_catalog([OVERVIEW]))

    assert run.returncode != 0 and run.records(OVERVIEW) == []
    assert any("answered code 17017: invalid parameter" in e["message"] for e in run.errors()), run.describe()


# --------------------------------------------------------------------------- answers


def test_an_answer_for_another_date_than_the_one_asked_fails_naming_both_dates(
    connector: CheckedConnector, emulator_factory: EmulatorFactory
) -> None:
    # A cache keyed on the URL (the same for every date) serves one date's answer for all.
    emulator = jiandaoyun(emulator_factory)
    start, end = dates(emulator, 3)
    emulator.vendor("jiandaoyun").options.cached_date = start.isoformat()

    run = connector.run("read", timeout=60, config=config(emulator, start, end), catalog=configured_catalog([OVERVIEW]))

    assert run.returncode != 0
    assert sorted(r["date"] for r in run.records(OVERVIEW)) == [start.isoformat()]  # the first date is the cache's: right
    assert run.states(OVERVIEW)[-1] == {"date": start.isoformat()}
    second = (start + timedelta(days=1)).isoformat()
    assert with_period_note(
        f"Jiandaoyun api/v1/corp_usage/overview answered for date {start.isoformat()} when asked for {second}: a "
        "cache or proxy between this sync and Jiandaoyun may serve one answer for every date (the date is in the request "
        "body, not the URL); bypass it for the API host.",
        OVERVIEW, *beijing_day(start + timedelta(days=1)),
    ) in [e["message"] for e in run.errors()], run.describe()


def test_a_member_name_holding_a_lone_surrogate_is_kept_escaped_and_the_sync_equals_the_ground_truth(
    connector: CheckedConnector, emulator_factory: EmulatorFactory
) -> None:
    emulator = jiandaoyun(emulator_factory, truncated_emoji_names=True)
    start, end = dates(emulator, 1)

    run = connector.read(config(emulator, start, end), configured_catalog([MEMBERS]))

    assert_succeeded(run)
    assert_matches(MEMBERS, run.records(MEMBERS), emulator.ground_truth(MEMBERS, start_date=start, end_date=end))
    names = [record["member"]["name"] for record in run.records(MEMBERS)]
    assert sum(name.endswith("\ud83d") for name in names) == 10  # every third of 30: kept as sent
    assert '\\ud83d"' in run.stdout  # printed as its JSON escape


def test_a_metric_beyond_64_bits_fails_the_stream_naming_the_column(connector: CheckedConnector, emulator_factory: EmulatorFactory) -> None:
    emulator = jiandaoyun(emulator_factory, member_data=2**64 + 1)
    start, end = dates(emulator, 1)

    run = connector.run("read", timeout=60, config=config(emulator, start, end), catalog=configured_catalog([MEMBERS, APPS]))

    assert run.returncode != 0 and run.records(MEMBERS) == []
    assert with_period_note(
        "Jiandaoyun api/v1/corp_usage/member_metrics answered 18446744073709551617 for 'data', beyond the 64-bit integer a "
        "warehouse column of jiandaoyun_member_usage holds; rather than round it, the sync stops (the vendor's count is likely "
        "wrong: report it).",
        MEMBERS, *beijing_day(start),
    ) in [e["message"] for e in run.errors()], run.describe()
    assert_matches(APPS, run.records(APPS), emulator.ground_truth(APPS, start_date=start, end_date=end))  # another stream: exact


def test_a_future_cursor_with_no_lookback_is_read_as_the_latest_finished_date_and_never_written_back(
    connector: CheckedConnector, emulator_factory: EmulatorFactory
) -> None:
    emulator = jiandaoyun(emulator_factory)
    latest = emulator.vendor("jiandaoyun").today() - timedelta(days=1)
    future = [{"type": "STREAM", "stream": {"stream_descriptor": {"name": OVERVIEW}, "stream_state": {"date": "2030-01-01"}}}]

    run = connector.read(config(emulator, latest - timedelta(days=5), None), configured_catalog([OVERVIEW]), state=future)

    assert_succeeded(run)
    assert run.records(OVERVIEW) == []  # no lookback: nothing after the latest finished date to read
    assert run.states(OVERVIEW) == [{"date": latest.isoformat()}]
    assert json.dumps({"date": "2030-01-01"}) not in json.dumps(run.states(OVERVIEW))


def test_a_metric_beyond_64_bits_on_a_page_read_item_by_item_fails_naming_the_column(
    connector: CheckedConnector, emulator_factory: EmulatorFactory
) -> None:
    # A server that ignores ``limit``: one page past the size read item by item (``core.bodies``),
    # whose reader cannot hold the number; the page is then read whole, and the number named.
    emulator = jiandaoyun(emulator_factory, members=30_000, page_size=30_000, member_data=2**64 + 1)
    start, end = dates(emulator, 1)

    run = connector.run("read", timeout=120, config=config(emulator, start, end), catalog=configured_catalog([MEMBERS]))

    assert run.returncode != 0 and run.records(MEMBERS) == []
    messages = [e["message"] for e in run.errors()]
    assert any("answered 18446744073709551617 for 'data', beyond the 64-bit integer" in m for m in messages), run.describe()
    assert not any("Something went wrong" in m for m in messages), messages

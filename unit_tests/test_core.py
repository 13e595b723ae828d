"""The shared core, piece by piece: pagers, period plans, shared settings, the spec's vendor
sections, reading side by side. One test per promised behaviour, exact values."""

from __future__ import annotations

import logging
import pkgutil
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence

import orjson
import pendulum
import pytest
import requests
from airbyte_cdk.models import FailureType
from airbyte_cdk.sources.streams import Stream
from airbyte_cdk.utils.traced_exception import AirbyteTracedException
from pendulum import DateTime

import source_usage.vendors as vendors_package
from source_usage import SourceUsage
from source_usage.core.bodies import LARGE_BODY, StreamedItems, large_page
from source_usage.core.errors import json_body, list_problem
from source_usage.core.paging import (
    NextOffsetNumberPager,
    NextOffsetPager,
    PageNumberPager,
    Pager,
    PagingLoop,
    SinglePage,
    SkipLimitPager,
)
from source_usage.core.periods import Granularity, Period, PeriodPlan
from source_usage.core.reading import SideBySide
from source_usage.core.settings import SharedSettings
from source_usage.core.vendor import HttpOptions, Vendor, VendorIdentity
from source_usage.spec import SHARED_PROPERTIES, connection_specification
from source_usage.vendors import all_vendors

#: Where a pager is, as messages name it: ``<vendor> <endpoint>``.
MEMBERS = "Toy api/members"
TEAMS = "Toy api/teams"
MANAGED_USERS = "Toy api/users"
INCONSISTENT = "The vendor's answers are inconsistent; retry later or report it to the vendor."


def items(*ids: int) -> List[Dict[str, int]]:
    return [{"id": i} for i in ids]


def loop_message(pager: Pager, body: Any, page: Sequence[Any]) -> str:
    with pytest.raises(PagingLoop) as raised:
        pager.advance(body, page)
    assert raised.value.failure_type == FailureType.system_error
    assert raised.value.internal_message == raised.value.message
    return str(raised.value.message)


# --- pagers: positions page by page ------------------------------------------------------------


def test_skip_limit_pager_skips_the_items_received_until_the_more_field_is_false() -> None:
    pager = SkipLimitPager(MEMBERS, size=2, more_field="has_next")
    assert pager.position == {"skip": 0, "limit": 2}
    assert pager.advance({"has_next": True}, items(1, 2)) == {"skip": 2, "limit": 2}
    assert pager.position == {"skip": 2, "limit": 2}
    assert pager.advance({"has_next": True}, items(3)) == {"skip": 3, "limit": 2}  # a short page still says more
    assert pager.advance({"has_next": False}, items(4, 5)) is None
    assert pager.position == {"skip": 3, "limit": 2}  # the last page answered stays the position


def test_skip_limit_pager_ends_at_a_short_page_without_the_more_field() -> None:
    pager = SkipLimitPager(MEMBERS, size=2, more_field="has_next")
    assert pager.advance({}, items(1)) is None


def test_skip_limit_pager_fails_at_a_full_page_without_the_more_field_naming_it() -> None:
    pager = SkipLimitPager(MEMBERS, size=2, more_field="has_next")
    with pytest.raises(AirbyteTracedException) as failure:
        pager.advance({"has_more": True}, items(1, 2))
    assert failure.value.message == (
        f"{MEMBERS} answered a full page (2 items) without 'has_next', so whether more pages follow is unknown; "
        "rather than keep this page only, the sync stops (the vendor may have renamed 'has_next')."
    )


def test_next_offset_pager_follows_meta_next_and_its_limit_until_next_is_null() -> None:
    pager = NextOffsetPager(TEAMS, size=100)
    assert pager.position == {"offset": 0, "limit": 100}
    assert pager.advance({"meta": {"next": {"offset": 100, "limit": 50}}}, items(1)) == {"offset": 100, "limit": 50}
    assert pager.advance({"meta": {"next": {"offset": 150}}}, items(2)) == {"offset": 150, "limit": 100}  # no limit: ours
    assert pager.advance({"meta": {"next": {"offset": 200, "limit": 0}}}, items(3)) == {"offset": 200, "limit": 100}
    assert pager.advance({"meta": {"next": None}}, items(4)) is None
    assert pager.position == {"offset": 200, "limit": 100}


def test_next_offset_pager_ends_on_a_body_without_meta() -> None:
    assert NextOffsetPager(TEAMS, size=100).advance({"data": []}, []) is None


def test_page_number_pager_counts_pages_from_1_and_ends_on_the_first_short_page() -> None:
    pager = PageNumberPager(MANAGED_USERS, size=2)
    assert pager.position == {"page": 1, "per_page": 2}
    assert pager.advance({}, items(1, 2)) == {"page": 2, "per_page": 2}
    assert pager.advance({}, items(3, 4)) == {"page": 3, "per_page": 2}
    assert pager.advance({}, items(5)) is None
    assert pager.position == {"page": 3, "per_page": 2}


def test_page_number_pager_ends_on_an_empty_first_page() -> None:
    assert PageNumberPager(MANAGED_USERS, size=2).advance({}, []) is None


def test_a_single_page_sends_no_position_and_has_no_next() -> None:
    pager = SinglePage("Toy api/overview")
    assert pager.position == {}
    assert pager.advance({"has_next": True, "meta": {"next": {"offset": 5}}}, items(1)) is None


# --- pagers: every loop ends with an error naming vendor and endpoint ---------------------------


def test_an_empty_page_that_says_has_next_is_a_paging_loop() -> None:
    pager = SkipLimitPager(MEMBERS, size=100, more_field="has_next")
    assert loop_message(pager, {"has_next": True}, []) == (
        f"{MEMBERS}: paging does not end: an empty page says there is more "
        f"(has_next) (page at skip 0, limit 100). {INCONSISTENT}"
    )


def test_an_empty_page_with_a_meta_next_is_a_paging_loop() -> None:
    pager = NextOffsetPager(TEAMS, size=100)
    assert pager.advance({"meta": {"next": {"offset": 100}}}, items(1)) == {"offset": 100, "limit": 100}
    assert loop_message(pager, {"meta": {"next": {"offset": 200}}}, []) == (
        f"{TEAMS}: paging does not end: an empty page says there is more "
        f"(meta.next) (page at offset 100, limit 100). {INCONSISTENT}"
    )


def test_a_page_that_repeats_the_previous_one_is_a_paging_loop() -> None:
    # A server that ignores ``page`` answers page 1 again for page 2.
    pager = PageNumberPager(MANAGED_USERS, size=2)
    pager.advance({}, items(1, 2))
    assert loop_message(pager, {}, items(1, 2)) == (
        f"{MANAGED_USERS}: paging does not end: the page repeats the previous page (page at page 2, per_page 2). {INCONSISTENT}"
    )


def test_a_repeated_page_is_recognised_whatever_the_order_of_its_keys() -> None:
    pager = SkipLimitPager(MEMBERS, size=1, more_field="has_next")
    pager.advance({"has_next": True}, [{"a": 1, "b": 2}])
    assert "the page repeats the previous page (page at skip 1, limit 1)" in loop_message(
        pager, {"has_next": True}, [{"b": 2, "a": 1}]
    )


def test_the_same_items_on_a_last_page_end_the_read_without_an_error() -> None:
    pager = SkipLimitPager(MEMBERS, size=1, more_field="has_next")
    pager.advance({"has_next": True}, items(1))
    assert pager.advance({"has_next": False}, items(1)) is None


def test_a_meta_next_that_stays_on_the_same_offset_is_a_paging_loop() -> None:
    pager = NextOffsetPager(TEAMS, size=100)
    assert loop_message(pager, {"meta": {"next": {"offset": 0, "limit": 100}}}, items(1)) == (
        f"{TEAMS}: paging does not end: meta.next does not move forward (offset 0) "
        f"(page at offset 0, limit 100). {INCONSISTENT}"
    )


def test_a_meta_next_that_goes_backwards_is_a_paging_loop() -> None:
    pager = NextOffsetPager(TEAMS, size=100)
    pager.advance({"meta": {"next": {"offset": 100}}}, items(1))
    assert loop_message(pager, {"meta": {"next": {"offset": 50}}}, items(2)) == (
        f"{TEAMS}: paging does not end: meta.next does not move forward (offset 50) "
        f"(page at offset 100, limit 100). {INCONSISTENT}"
    )


INVITATIONS = "Toy api/invitations"
NOT_AN_OFFSET = "'meta.next' is neither null nor an integer offset"


def test_next_offset_number_pager_follows_meta_next_as_the_offset_itself_with_its_own_limit_until_it_is_null() -> None:
    pager = NextOffsetNumberPager(INVITATIONS, size=100)
    assert pager.position == {"offset": 0, "limit": 100}
    assert pager.advance({"meta": {"count": 100, "total": 230, "next": 100}}, items(1)) == {"offset": 100, "limit": 100}
    assert pager.advance({"meta": {"next": 200}}, items(2)) == {"offset": 200, "limit": 100}
    assert pager.advance({"meta": {"count": 30, "total": 230, "next": None}}, items(3)) is None
    assert pager.position == {"offset": 200, "limit": 100}


def test_a_meta_next_offset_that_does_not_move_forward_is_a_paging_loop() -> None:
    pager = NextOffsetNumberPager(INVITATIONS, size=100)
    pager.advance({"meta": {"next": 100}}, items(1))
    assert loop_message(pager, {"meta": {"next": 100}}, items(2)) == (
        f"{INVITATIONS}: paging does not end: meta.next does not move forward (offset 100) "
        f"(page at offset 100, limit 100). {INCONSISTENT}"
    )


@pytest.mark.parametrize(
    ("pager", "body", "problem"),
    [
        (NextOffsetNumberPager(INVITATIONS, 100), {"meta": {"next": {"limit": 100, "offset": 100}}},
         f"{NOT_AN_OFFSET} (it is {{'limit': 100, 'offset': 100}})"),
        (NextOffsetNumberPager(INVITATIONS, 100), {"meta": {"next": "100"}}, f"{NOT_AN_OFFSET} (it is '100')"),
        (NextOffsetNumberPager(INVITATIONS, 100), {"meta": {"next": True}}, f"{NOT_AN_OFFSET} (it is True)"),
        (NextOffsetNumberPager(INVITATIONS, 100), {"meta": []}, "'meta' is not an object"),
        (NextOffsetNumberPager(INVITATIONS, 100), {"meta": {"next": 100}}, None),
        (NextOffsetNumberPager(INVITATIONS, 100), {"data": []}, None),
        (NextOffsetPager(TEAMS, 100), {"meta": {"next": 100}}, "'meta.next' is neither null nor {limit, offset}"),
        (NextOffsetPager(TEAMS, 100), {"meta": {"next": {"offset": 100}}}, None),
        (SinglePage(TEAMS), {"meta": "anything"}, None),
    ],
    ids=["object", "text", "boolean", "meta-not-object", "integer", "no-meta", "teams-integer", "teams-object", "single-page"],
)  # fmt: skip
def test_a_pager_says_what_makes_an_answers_paging_signal_unreadable(pager: Pager, body: Dict[str, Any], problem: Optional[str]) -> None:
    assert pager.problem(body) == problem


class StuckPager(Pager):
    """A scheme whose "next" is the page just read: only the base class can end it."""

    def first_position(self) -> Dict[str, Any]:
        return {"cursor": "abc"}

    def following(self, body: Any, items: Sequence[Any]) -> Optional[Dict[str, Any]]:
        return {"cursor": body["next_cursor"]}


def test_a_next_position_equal_to_the_current_one_is_a_paging_loop_whatever_the_scheme() -> None:
    pager = StuckPager("Toy api/things", size=10)
    assert loop_message(pager, {"next_cursor": "abc"}, items(1)) == (
        f"Toy api/things: paging does not end: the next page is the same page (page at cursor abc). {INCONSISTENT}"
    )


# --- period plans -------------------------------------------------------------------------------


def utc(*args: int) -> DateTime:
    return pendulum.datetime(*args, tz="UTC")


def starts(periods: Sequence[Period]) -> List[str]:
    return [period.start.isoformat() for period in periods]


#: 06-01 .. 06-05, five whole days.
DAYS = PeriodPlan(Granularity.DAY, first=utc(2026, 6, 1), stop=utc(2026, 6, 6))


def days(*numbers: int) -> List[str]:
    return [f"2026-06-{n:02d}T00:00:00+00:00" for n in numbers]


def test_a_plan_without_cursor_is_every_whole_period_from_first_to_stop() -> None:
    periods = DAYS.periods()
    assert starts(periods) == days(1, 2, 3, 4, 5)
    assert periods[-1] == Period(utc(2026, 6, 5), utc(2026, 6, 6))


def test_a_plan_with_a_cursor_resumes_at_the_period_after_it() -> None:
    assert starts(DAYS.periods(utc(2026, 6, 2))) == days(3, 4, 5)
    assert DAYS.periods(utc(2026, 6, 5)) == []  # everything read


def test_a_cursor_inside_a_period_counts_as_the_start_of_that_period() -> None:
    assert starts(DAYS.periods(utc(2026, 6, 2, 15, 30))) == days(3, 4, 5)


@pytest.mark.parametrize(("lookback", "cursor", "expected"), [(1, 3, [3, 4, 5]), (2, 3, [2, 3, 4, 5]), (2, 5, [4, 5])])
def test_lookback_periods_re_read_that_many_periods_up_to_the_cursor(lookback: int, cursor: int, expected: List[int]) -> None:
    plan = PeriodPlan(Granularity.DAY, first=utc(2026, 6, 1), stop=utc(2026, 6, 6), lookback_periods=lookback)
    assert starts(plan.periods(utc(2026, 6, cursor))) == days(*expected)


def test_lookback_never_reaches_before_first() -> None:
    plan = PeriodPlan(Granularity.DAY, first=utc(2026, 6, 1), stop=utc(2026, 6, 6), lookback_periods=30)
    assert starts(plan.periods(utc(2026, 6, 3))) == days(1, 2, 3, 4, 5)


def test_a_first_inside_a_period_leaves_that_partial_period_out() -> None:
    plan = PeriodPlan(Granularity.DAY, first=utc(2026, 6, 1, 12), stop=utc(2026, 6, 4))
    assert starts(plan.periods()) == days(2, 3)


def test_a_period_that_ends_after_stop_is_not_in_the_plan() -> None:
    plan = PeriodPlan(Granularity.WEEK, first=utc(2026, 6, 1), stop=utc(2026, 6, 10))
    assert plan.periods() == [Period(utc(2026, 6, 1), utc(2026, 6, 8))]


def test_monthly_lookback_counts_calendar_months() -> None:
    plan = PeriodPlan(Granularity.MONTH, first=utc(2026, 1, 1), stop=utc(2026, 6, 1), lookback_periods=2)
    assert starts(plan.periods(utc(2026, 4, 1))) == ["2026-03-01T00:00:00+00:00", "2026-04-01T00:00:00+00:00", "2026-05-01T00:00:00+00:00"]


def test_without_finished_by_every_period_of_the_plan_is_finished() -> None:
    assert all(DAYS.is_finished(period) for period in DAYS.periods())


def test_a_period_ending_after_finished_by_is_served_but_not_finished() -> None:
    plan = PeriodPlan(Granularity.DAY, first=utc(2026, 6, 1), stop=utc(2026, 6, 4), finished_by=utc(2026, 6, 3))
    assert [(period.day, plan.is_finished(period)) for period in plan.periods()] == [
        ("2026-06-01", True),
        ("2026-06-02", True),
        ("2026-06-03", False),
    ]


def test_a_plan_counts_in_the_zone_of_its_first_period() -> None:
    first, stop = pendulum.datetime(2026, 6, 1, tz="Asia/Shanghai"), pendulum.datetime(2026, 6, 2, tz="Asia/Shanghai")
    plan = PeriodPlan(Granularity.DAY, first=first, stop=stop)
    assert plan.timezone == "Asia/Shanghai"
    assert [(period.start_iso, period.end_iso) for period in plan.periods()] == [("2026-06-01T00:00:00+08:00", "2026-06-02T00:00:00+08:00")]


@pytest.mark.parametrize(
    ("granularity", "lookback_days", "periods"),
    [
        (Granularity.DAY, 0, 0),
        (Granularity.DAY, 3, 3),
        (Granularity.HOUR, 1, 24),
        (Granularity.WEEK, 1, 1),
        (Granularity.WEEK, 8, 2),
        (Granularity.MONTH, 1, 1),
        (Granularity.MONTH, 28, 1),
        (Granularity.MONTH, 40, 2),
    ],
)
def test_lookback_days_become_whole_periods_rounded_up(granularity: Granularity, lookback_days: int, periods: int) -> None:
    assert granularity.periods_in_days(lookback_days) == periods


# --- shared settings: the plan a vendor may be asked for -------------------------------------------

NOW = utc(2026, 6, 10, 12)  # June is the current month


def settings(start: Optional[str], end: Optional[str] = None, lookback_days: int = 0) -> SharedSettings:
    config = {"start_date": start, "end_date": end, "lookback_days": lookback_days}
    parsed = SharedSettings.from_config({key: value for key, value in config.items() if value is not None})
    return SharedSettings(parsed.start_date, parsed.end_date, parsed.lookback_days, now=lambda: NOW)


def months(plan: PeriodPlan) -> List[tuple[str, bool]]:
    return [(period.day, plan.is_finished(period)) for period in plan.periods()]


def test_with_current_the_running_month_is_served_but_not_finished() -> None:
    plan = settings("2026-04-01").plan("Toy", "UTC", Granularity.MONTH, with_current=True)
    assert months(plan) == [("2026-04-01", True), ("2026-05-01", True), ("2026-06-01", False)]
    assert plan.stop == utc(2026, 7, 1) and plan.finished_by == utc(2026, 6, 1)


def test_without_current_the_plan_ends_with_the_last_finished_month() -> None:
    plan = settings("2026-04-01").plan("Toy", "UTC", Granularity.MONTH)
    assert months(plan) == [("2026-04-01", True), ("2026-05-01", True)]


def test_with_current_an_end_date_inside_a_month_serves_that_whole_month() -> None:
    plan = settings("2026-03-10", "2026-04-15").plan("Toy", "UTC", Granularity.MONTH, with_current=True)
    assert months(plan) == [("2026-03-01", True), ("2026-04-01", True)]


def test_with_current_an_end_date_inside_the_current_month_serves_it_unfinished() -> None:
    plan = settings("2026-05-01", "2026-06-05").plan("Toy", "UTC", Granularity.MONTH, with_current=True)
    assert months(plan) == [("2026-05-01", True), ("2026-06-01", False)]


def test_without_current_an_end_date_inside_a_month_leaves_that_month_out() -> None:
    plan = settings("2026-03-10", "2026-04-15").plan("Toy", "UTC", Granularity.MONTH)
    assert months(plan) == [("2026-03-01", True)]


def test_a_future_end_date_with_current_is_clamped_to_the_running_month() -> None:
    plan = settings("2026-05-01", "2026-12-31").plan("Toy", "UTC", Granularity.MONTH, with_current=True)
    assert months(plan) == [("2026-05-01", True), ("2026-06-01", False)]


def test_the_plan_carries_the_lookback_in_whole_periods_of_its_granularity() -> None:
    assert settings("2026-01-01", lookback_days=40).plan("Toy", "UTC", Granularity.MONTH).lookback_periods == 2
    assert settings("2026-01-01", lookback_days=8).plan("Toy", "UTC", Granularity.WEEK).lookback_periods == 2
    assert settings("2026-01-01", lookback_days=2).plan("Toy", "Asia/Shanghai", Granularity.DAY).lookback_periods == 2


def test_days_end_with_yesterday_in_the_vendors_zone() -> None:
    # 12:00 UTC is 20:00 in UTC+8 and 05:00 in Los Angeles.
    shanghai = settings("2026-06-08").plan("Toy", "Asia/Shanghai", Granularity.DAY)
    assert [period.start_iso for period in shanghai.periods()] == ["2026-06-08T00:00:00+08:00", "2026-06-09T00:00:00+08:00"]
    assert shanghai.finished_by == pendulum.datetime(2026, 6, 10, tz="Asia/Shanghai")
    la = settings("2026-06-08").plan("Toy", "America/Los_Angeles", Granularity.DAY)
    assert [period.start_iso for period in la.periods()] == ["2026-06-08T00:00:00-07:00", "2026-06-09T00:00:00-07:00"]


def test_a_start_older_than_the_vendors_history_is_moved_up_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="airbyte"):
        plan = settings("2025-01-01", "2026-06-09").plan("Toy", "Asia/Shanghai", Granularity.DAY, history_days=180)
    assert plan.first == pendulum.datetime(2025, 12, 12, tz="Asia/Shanghai")
    assert caplog.messages == ["Toy keeps 180 days of statistics: start_date 2025-01-01 is moved up to 2025-12-12."]


def test_without_start_date_the_plan_starts_30_days_before_the_latest_finished_day() -> None:
    plan = settings(None).plan("Toy", "UTC", Granularity.DAY)
    assert plan.first == utc(2026, 5, 10) and plan.stop == utc(2026, 6, 10)
    assert len(plan.periods()) == 31


# --- vendors in the spec ---------------------------------------------------------------------------


class ToyVendor(Vendor):
    """A vendor with a section and no streams, enough for the spec and the section defaults."""

    def __init__(self, key: str, declared_order: Optional[int] = None) -> None:
        self.identity = VendorIdentity(key=key, title=key.title(), credentials_field="token")  # type: ignore[misc]
        self.declared_order = declared_order

    def spec(self) -> Mapping[str, Any]:
        section: Dict[str, Any] = {
            "type": "object",
            "title": self.identity.title,
            "required": ["token"],
            "properties": {
                "token": {"type": "string", "airbyte_secret": True, "order": 0},
                "base_url": {"type": "string", "default": f"https://{self.identity.key}.test", "order": 1},
                "page_size": {"type": "integer", "default": 100, "order": 2},
                "tags": {"type": "array", "default": [], "order": 3},
            },
        }
        if self.declared_order is not None:
            section["order"] = self.declared_order
        return section

    def streams(self, section: Mapping[str, Any], settings: SharedSettings, http: HttpOptions) -> List[Stream]:
        return []

    def check_stream(self, section: Mapping[str, Any], settings: SharedSettings, http: HttpOptions) -> Stream:
        raise NotImplementedError


def section_orders(spec: Mapping[str, Any]) -> Dict[str, int]:
    return {name: field["order"] for name, field in spec["properties"].items()}


def test_a_vendor_sections_order_is_its_position_after_the_shared_fields() -> None:
    first, second = ToyVendor("alpha"), ToyVendor("beta")
    shared = {name: field["order"] for name, field in SHARED_PROPERTIES.items()}
    assert shared == {"start_date": 0, "end_date": 1, "lookback_days": 2}
    assert section_orders(connection_specification([first, second])) == {**shared, "alpha": 3, "beta": 4}
    assert section_orders(connection_specification([second, first])) == {**shared, "beta": 3, "alpha": 4}


def test_a_vendors_own_order_is_replaced_by_its_position() -> None:
    assert section_orders(connection_specification([ToyVendor("alpha", declared_order=99)]))["alpha"] == 3


def test_the_shipped_vendors_are_in_module_name_order_in_the_spec() -> None:
    modules = sorted(info.name for info in pkgutil.iter_modules(vendors_package.__path__))
    assert modules and [vendor.identity.key for vendor in all_vendors()] == modules  # each vendor keyed by its module
    spec = SourceUsage().spec(logging.getLogger("test")).connectionSpecification
    shared = {"start_date": 0, "end_date": 1, "lookback_days": 2}
    assert section_orders(spec) == {**shared, **{module: position for position, module in enumerate(modules, start=3)}}


def test_a_vendor_section_gets_the_specs_defaults_and_keeps_what_is_set() -> None:
    vendor = ToyVendor("alpha")
    section = vendor.section({"alpha": {"token": "t", "page_size": 10}, "beta": {"token": "other"}})
    assert section == {"token": "t", "base_url": "https://alpha.test", "page_size": 10, "tags": []}


def test_a_field_set_to_null_in_a_section_gets_its_default() -> None:
    vendor = ToyVendor("alpha")
    assert vendor.section({"alpha": {"token": "t", "base_url": None, "tags": None}}) == {
        "token": "t",
        "base_url": "https://alpha.test",
        "page_size": 100,
        "tags": [],
    }


def test_a_config_without_the_vendors_section_has_no_section() -> None:
    assert ToyVendor("alpha").section({"beta": {"token": "t"}}) is None


def test_every_vendor_section_with_only_its_credentials_gets_every_default_of_its_spec() -> None:
    for vendor in all_vendors():
        fields = vendor.spec()["properties"]
        defaults = {name: field["default"] for name, field in fields.items() if "default" in field}
        assert "base_url" in defaults, vendor.identity.key
        key = vendor.identity.credentials_field
        assert vendor.section({vendor.identity.key: {key: "k"}}) == {key: "k", **defaults}


def test_a_vendor_connection_holds_its_identity_base_url_and_a_bearer_token() -> None:
    vendor = ToyVendor("alpha")
    section = vendor.section({"alpha": {"token": "t0k3n"}})
    assert section is not None
    connection = vendor.connection(section, HttpOptions())
    assert connection.identity is vendor.identity and connection.base_url == "https://alpha.test"
    assert connection.authenticator is not None and connection.authenticator.get_auth_header() == {"Authorization": "Bearer t0k3n"}  # type: ignore[attr-defined]
    assert connection.http == HttpOptions(max_retries=5, timeout=(10.0, 60.0)) and connection.budget is None


def test_a_vendor_identity_names_the_fields_to_fix() -> None:
    identity = VendorIdentity(key="toy", title="Toy", credentials_field="api_token")
    assert identity.credentials_hint == "toy.api_token"
    assert identity.base_url_field == "toy.base_url"


# --- reading side by side ----------------------------------------------------------------------


def test_side_by_side_yields_every_message_of_every_stream_each_in_its_own_order() -> None:
    produced = {"a": ["a1", "a2", "a3"], "b": ["b1", "b2"], "c": []}
    messages = list(SideBySide(lambda name: iter(produced[name]), list(produced)))
    assert sorted(messages) == ["a1", "a2", "a3", "b1", "b2"]
    for name, expected in produced.items():
        assert [message for message in messages if message.startswith(name)] == expected


def failing(error: BaseException, before: Sequence[str] = ()) -> Iterator[str]:
    yield from before
    raise error


def test_a_failing_stream_does_not_stop_the_others_and_ends_the_read_naming_it() -> None:
    def read(name: str) -> Iterator[str]:
        return failing(RuntimeError("boom"), ["b1"]) if name == "b" else iter([f"{name}1"])

    reading = SideBySide(read, ["a", "b", "c"])
    seen: List[str] = []
    with pytest.raises(AirbyteTracedException) as raised:
        for message in reading:
            seen.append(message)
    assert sorted(seen) == ["a1", "b1", "c1"]
    assert raised.value.message == "During the sync, the following streams did not sync successfully: b."
    assert raised.value.failure_type == FailureType.system_error
    assert list(reading.failed) == ["b"]


def test_the_read_fails_as_a_config_error_only_when_every_failed_stream_did() -> None:
    config = AirbyteTracedException(message="bad key", failure_type=FailureType.config_error)
    only_config = SideBySide(lambda name: failing(config), ["b", "a"])
    with pytest.raises(AirbyteTracedException) as raised:
        list(only_config)
    assert raised.value.message == "During the sync, the following streams did not sync successfully: a, b."
    assert raised.value.failure_type == FailureType.config_error

    def mixed_read(name: str) -> Iterator[str]:
        return failing(config if name == "a" else RuntimeError("boom"))

    with pytest.raises(AirbyteTracedException) as mixed:
        list(SideBySide(mixed_read, ["a", "b"]))
    assert mixed.value.failure_type == FailureType.system_error


# --------------------------------------------------------------------------- large pages (core.bodies)


def large_body(items: List[Any], **envelope: Any) -> bytes:
    """A body of ``items`` under ``items`` with an envelope, padded past ``LARGE_BODY``."""
    padding = "x" * (LARGE_BODY // max(1, len(items)) + 1)
    return orjson.dumps({**envelope, "items": [item if not isinstance(item, dict) else {**item, "pad": padding} for item in items]})


def test_a_large_page_is_read_item_by_item_beside_its_envelope() -> None:
    items = [{"id": index, "n": index * 1.5} for index in range(50)]
    content = large_body(items, date="2026-06-01", has_next=True, meta={"next": {"offset": 50}})

    body = large_page(content, "items")

    assert body is not None
    envelope = {key: value for key, value in body.items() if key != "items"}
    assert envelope == {"date": "2026-06-01", "has_next": True, "meta": {"next": {"offset": 50}}}
    streamed = body["items"]
    assert isinstance(streamed, StreamedItems)
    assert [(item["id"], item["n"]) for item in streamed] == [(item["id"], item["n"]) for item in items]
    assert [(item["id"], item["n"]) for item in streamed] == [(item["id"], item["n"]) for item in items]  # read again
    assert len(streamed) == 50 and streamed.first_not_object() is None
    assert streamed.fingerprint() == Pager.fingerprint(orjson.loads(content)["items"])


def test_a_large_page_whose_items_are_not_all_objects_says_which_is_first() -> None:
    content = large_body([{"id": 1}, "two", {"id": 3}, 4])

    assert list_problem(large_page(content, "items"), "items") == "item 1 of 'items' is not an object"


def test_a_large_body_that_is_not_a_page_is_left_to_the_whole_parse() -> None:
    assert large_page(orjson.dumps([{"id": 1}] * 10), "items") is None
    assert large_page(orjson.dumps({"items": {"id": 1}, "pad": "x" * LARGE_BODY}), "items") is None


def test_json_body_reads_a_large_page_item_by_item_and_a_small_one_whole() -> None:
    small, large = requests.Response(), requests.Response()
    small._content = orjson.dumps({"items": [{"id": 1}]})
    large._content = large_body([{"id": 1}, {"id": 2}])

    assert json_body(small, "items") == {"items": [{"id": 1}]}
    assert isinstance(json_body(large, "items")["items"], StreamedItems)
    assert json_body(large) is json_body(large, "items")  # the first reading is kept

"""Jiandaoyun's bench scenarios: every stream and the member stream alone, paced and with limits
off, beside the Builder manifest's run and the CDK floor; member syncs of a small and large record
count (peak memory alike); one huge page; issue 14's network baseline; slow destinations."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Type

from bench.scenarios import BenchEndpoint, BenchPlan, BenchScenario, paged_requests, records_label
from emulator.core import Window
from emulator.jiandaoyun import CONNECTOR_MAX_REQUESTS_PER_SECOND, MAX_LIMIT, Jiandaoyun

#: The endpoint each stream reads.
STREAM_PATHS = {
    "jiandaoyun_member_usage": "/api/v1/corp_usage/member_metrics",
    "jiandaoyun_app_usage": "/api/v1/corp_usage/app_metrics",
    "jiandaoyun_overview_usage": "/api/v1/corp_usage/overview",
}
MEMBER = ("jiandaoyun_member_usage",)


def scenarios(vendor: Type[Jiandaoyun], quick: bool, rps: int) -> List[BenchScenario]:
    # Every stream and the member stream alone, at ``rps`` per endpoint on both sides (the
    # company limit as documented) and with limits off; the member stream also as the peer
    # reads it (bench/peer/'s Builder manifest) and as the CDK floor yields it; and member
    # syncs of a small and two large record counts, whose peak memory must not differ.
    days, members, apps, large = (3, 500, 100, 2000) if quick else (10, 2000, 500, 10_000)
    small, middle, memory_days = 100, 6000, 10
    one_page = 20_000 if quick else 100_000

    def ours(
        name: str, streams: Sequence[str], span: int, sizes: Tuple[int, int], limit: Optional[int] = None, **judged: Any
    ) -> BenchScenario:
        # ``span`` days of ``sizes`` (members, apps); ``limit``: requests/second per endpoint on both sides.
        paced: Dict[str, Any] = {"rate_limits": True, "paced": True, "rps": limit} if limit else {}
        plan = _bench_plan(streams, span, limit)
        return BenchScenario(name, _bench_options(*sizes, limit), plan, days=span, **paced, **judged)

    def peer(of: BenchScenario) -> BenchScenario:
        return BenchScenario(
            f"peer_{of.name}", of.options, of.plan, connector="peer", manifest="jiandaoyun_member_manifest.yaml",
            days=of.days, rate_limits=of.rate_limits, paced=of.paced, rps=of.rps,
        )  # fmt: skip

    def floor(name: str, records: int) -> BenchScenario:
        # The emulator is not asked: the floor sends no request.
        return BenchScenario(name, _bench_options(1, 1, None), _floor_plan(MEMBER, records), connector="cdk_floor")

    def member_sync(size: int, **judged: Any) -> BenchScenario:
        return ours(f"jiandaoyun_member_{records_label(size * memory_days)}", MEMBER, memory_days, (size, 1), **judged)

    def slow_destination(members_: int, apps_: int) -> BenchScenario:
        # Every stream of 10 days, limits off, into a destination reading 200 lines a second
        # for 90 s (issue 23: its peak memory stays under 150 MB).
        name = f"jiandaoyun_slow_destination_{members_}x{apps_}"
        return ours(name, vendor.streams, 10, (members_, apps_), destination_lines_per_s=200, seconds=90, rss_target_mb=150)

    small_run = member_sync(small)
    member_limited = ours("jiandaoyun_member_limited", MEMBER, days, (members, apps), rps, peer="peer_jiandaoyun_member_limited")
    member_off = ours(
        "jiandaoyun_member_limits_off", MEMBER, days, (members, apps),
        peer="peer_jiandaoyun_member_limits_off", ceiling="cdk_floor_member_limits_off", speed_target=3,
    )  # fmt: skip
    large_name = f"jiandaoyun_member_{records_label(large * memory_days)}"
    large_run = member_sync(large, peer=f"peer_{large_name}", ceiling=f"cdk_floor_{large_name}", speed_target=3, memory_like=small_run.name)
    return [
        ours("jiandaoyun_all_limited", vendor.streams, days, (members, apps), rps, wall_target=1.05),
        ours("jiandaoyun_all_limits_off", vendor.streams, days, (members, apps)),
        member_limited,
        peer(member_limited),
        member_off,
        peer(member_off),
        floor("cdk_floor_member_limits_off", members * days),
        small_run,
        # Issue 23's pair: 60,000 records peak within 10% of 1,000.
        member_sync(middle, memory_like=small_run.name),
        large_run,
        peer(large_run),
        floor(f"cdk_floor_{large_name}", large * memory_days),
        # A server that ignores ``limit`` and answers every member in one page: its items are
        # read one at a time, so its peak memory stays near the small sync's.
        BenchScenario(
            f"jiandaoyun_one_page_{records_label(one_page)}",
            {**_bench_options(one_page, 1, None), "page_size": one_page},
            _one_page_plan(one_page),
            days=1,
        ),
        # Issue 14's network baseline, at fixed rates whatever ``rps``: the member stream of 5
        # days x 2,000 at a granted 10 req/s (100 requests), every stream of 2 days at the
        # documented 1 req/s per endpoint.
        ours("jiandaoyun_member_10rps", MEMBER, 5, (2000, apps), 10, over_network=True),
        ours("jiandaoyun_all_1rps", vendor.streams, 2, (2000, apps), 1, over_network=True),
        slow_destination(5000, 3000),
        slow_destination(20_000, 20_000),
    ]


def _bench_options(members: int, apps: int, rps: Optional[int]) -> Dict[str, Any]:
    return {"members": members, "apps": apps, "requests_per_second": rps}


def _bench_plan(streams: Sequence[str], days: int, rps: Optional[int]) -> Callable[[Jiandaoyun], BenchPlan]:
    """``days`` dates up to T-1, each stream paged at the API's maximum ``limit`` (the
    connector's and the peer's page size); the overview is one request and record a date. No
    request needs another's answer (pages follow one another, but the dates of a stream and the
    streams run side by side, and the rate floor spreads them): one round trip."""

    def plan(vendor: Jiandaoyun) -> BenchPlan:
        last = vendor.valid_dates()[1]
        first = last - timedelta(days=days - 1)
        dates = len(vendor.sync_dates(first, last))
        sizes = {"jiandaoyun_member_usage": vendor.options.members, "jiandaoyun_app_usage": vendor.options.apps}
        endpoints, expected = [], {}
        for stream in streams:
            count = sizes.get(stream)
            path, limit = STREAM_PATHS[stream], Window(rps, 1.0) if rps else None
            per_date = 1 if count is None else paged_requests(count, MAX_LIMIT)
            endpoints.append(BenchEndpoint(path, per_date * dates, group=path if limit else None, limit=limit))
            expected[stream] = dates * (1 if count is None else count)
        # "Limits off" on the connector's side is its largest allowed budget.
        section = {"requests_per_second": rps or CONNECTOR_MAX_REQUESTS_PER_SECOND}
        return BenchPlan(tuple(streams), expected, tuple(endpoints), first, last, section, round_trips=1)

    return plan


def _one_page_plan(members: int) -> Callable[[Jiandaoyun], BenchPlan]:
    """The member stream of one date, every member in the one page the server answers."""

    def plan(vendor: Jiandaoyun) -> BenchPlan:
        last = vendor.valid_dates()[1]
        endpoints = (BenchEndpoint(STREAM_PATHS["jiandaoyun_member_usage"], 1),)
        section = {"requests_per_second": CONNECTOR_MAX_REQUESTS_PER_SECOND}
        return BenchPlan(MEMBER, {MEMBER[0]: members}, endpoints, last, last, section)

    return plan


def _floor_plan(streams: Sequence[str], records: int) -> Callable[[Jiandaoyun], BenchPlan]:
    return lambda vendor: BenchPlan(tuple(streams), {streams[0]: records})

"""Workato's bench scenarios: both streams hourly at Workato's documented limits, issue 14's
network baseline, and slow destinations."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, Callable, List, Mapping, Type

from bench.scenarios import BenchEndpoint, BenchPlan, BenchScenario, paged_requests
from emulator.core import planned_periods
from emulator.workato import MAX_IDS, Workato


def scenarios(vendor: Type[Workato], quick: bool, rps: int) -> List[BenchScenario]:
    # Both streams hourly over whole days, at Workato's documented limits as they are (1,000
    # usage and 60 listing requests a minute; ``rps`` is no Workato limit).
    workspaces, days = (50, 1) if quick else (200, 3)
    options = {"workspaces": workspaces, "recipes": 6, "timezone": "America/Los_Angeles"}
    # And issue 14's network baseline: a week of hours of 7 workspaces (340 requests).
    small = {**options, "workspaces": 7}

    def slow_destination(workspaces_: int, recipes: int) -> BenchScenario:
        # A week of hours, limits off, into a destination reading 200 lines a second for 90 s
        # (issue 23: its peak memory stays under 150 MB).
        sizes: Mapping[str, Any] = {**options, "workspaces": workspaces_, "recipes": recipes}
        name = f"workato_slow_destination_{workspaces_}x{recipes}"
        return BenchScenario(name, sizes, _bench_plan(7), days=7, destination_lines_per_s=200, seconds=90, rss_target_mb=150)

    return [
        BenchScenario("workato_hourly", options, _bench_plan(days), days=days, rate_limits=True, paced=True),
        BenchScenario(
            "workato_hourly_7x7",
            small,
            _bench_plan(7),
            days=7,
            rate_limits=True,
            paced=True,
            over_network=True,
            cpu_ms_per_request_target=3,
        ),
        slow_destination(100, 50),
        slow_destination(100, 100),
    ]


def _bench_plan(days: int) -> Callable[[Workato], BenchPlan]:
    """``days`` local days up to yesterday in hours; the connector lists the workspaces and asks
    for their usage with as many ids a request, and lists as many a page, as the API allows.
    The listing's pages follow one another, and the usage needs the listed ids: its round trips
    are the listing's requests and one."""

    def plan(vendor: Workato) -> BenchPlan:
        zone = vendor.zone
        last = datetime.now(zone).date() - timedelta(days=1)
        first = last - timedelta(days=days - 1)
        periods = len(planned_periods("hour", zone, datetime.now(timezone.utc), first, last))
        workspaces, recipes = vendor.options.workspaces, vendor.options.recipes
        live_recipes = sum(not vendor.recipe(ws, index)["deleted"] for ws in range(workspaces) for index in range(recipes))
        usage = 2 * periods * paged_requests(workspaces, MAX_IDS)  # both streams share the one budget of usage requests
        listing = vendor.listing_requests()
        endpoints = (
            BenchEndpoint("/api/managed_users", listing, "listing", vendor.rate_limit("managed_users")),
            BenchEndpoint("/api/v2/managed_users/statistics/usage", usage, "usage", vendor.rate_limit("usage")),
        )
        expected = {"workato_workspace_usage": periods * workspaces, "workato_recipe_usage": periods * live_recipes}
        return BenchPlan(tuple(expected), expected, endpoints, first, last, {"interval": "hour"}, round_trips=listing + 1)

    return plan

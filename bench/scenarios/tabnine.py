"""Tabnine's bench scenarios: every stream it measured before issue 15, and issue 14's network
baseline (the daily organisation usage of 90 days)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Callable, List, Optional, Sequence, Type

from bench.scenarios import BenchEndpoint, BenchPlan, BenchScenario, paged_requests
from emulator.core import planned_periods
from emulator.tabnine import MAX_PAGE, Tabnine

#: What ``tabnine_all`` syncs: the streams it measured before issue 15 (the baselines stay
#: comparable). Per-user and per-team usage cost a request per user (team) per window, 450,000
#: for 5,000 users over 90 days: no bench scenario runs them.
ALL_STREAMS = (
    "tabnine_organization",
    "tabnine_teams",
    "tabnine_users",
    "tabnine_license",
    "tabnine_account_utilizations",
    "tabnine_organization_usage",
)
ORGANIZATION = "/api/v1/organization"
#: The endpoints each stream calls: the usage needs the organisation's id (its one request
#: stays whatever is synced).
STREAM_PATHS = {
    "tabnine_organization": (ORGANIZATION,),
    "tabnine_teams": ("/api/v1/organization/teams",),
    "tabnine_users": ("/api/v1/organization/users",),
    "tabnine_license": ("/api/v1/license",),
    "tabnine_account_utilizations": ("/api/v1/organization/account-utilizations",),
    "tabnine_organization_usage": (ORGANIZATION, "/api/v2/organization/usage"),
}


def scenarios(vendor: Type[Tabnine], quick: bool, rps: int) -> List[BenchScenario]:
    # Every stream, daily usage (Tabnine publishes no limit; ``rps`` is none of its).
    users, teams, days = (500, 20, 14) if quick else (5000, 200, 90)
    # And issue 14's network baseline: the daily organisation usage of 90 days alone (91 requests).
    usage, sizes = ("tabnine_organization_usage",), {"users": users, "teams": teams}
    return [
        BenchScenario("tabnine_all", sizes, _bench_plan(days), days=days, rate_limits=True),
        BenchScenario("tabnine_daily_usage_90d", sizes, _bench_plan(90, usage), days=90, rate_limits=True, over_network=True),
    ]


def _bench_plan(days: int, streams: Optional[Sequence[str]] = None) -> Callable[[Tabnine], BenchPlan]:
    """``days`` UTC days up to yesterday of ``streams`` (default: :data:`ALL_STREAMS`); lists
    paged at the API's maximum ``limit``. Round trips in sequence: the organisation, then its
    usage; each listing's pages (the teams, and each of the four user listings)."""

    def plan(vendor: Tabnine) -> BenchPlan:
        chosen = tuple(streams or ALL_STREAMS)
        last = datetime.now(timezone.utc).date() - timedelta(days=1)
        first = last - timedelta(days=days - 1)
        options = vendor.options
        expected = {
            "tabnine_organization": 1,
            "tabnine_teams": options.teams,
            "tabnine_users": options.users,
            "tabnine_license": 1,
            "tabnine_account_utilizations": len(vendor.ground_truth("tabnine_account_utilizations", first, last)),
            "tabnine_organization_usage": len(vendor.ground_truth("tabnine_organization_usage", first, last)),
        }
        # Four listings (teamMember x active), each paged on its own.
        user_pages = [paged_requests(len(vendor.selected_users(t, a)), MAX_PAGE) for t in (True, False) for a in (True, False)]
        team_pages = paged_requests(options.teams, MAX_PAGE)
        usage_requests = len(planned_periods("day", timezone.utc, datetime.now(timezone.utc), first, last))
        endpoints = (
            BenchEndpoint(ORGANIZATION, 1),
            BenchEndpoint("/api/v1/organization/teams", team_pages),
            BenchEndpoint("/api/v1/organization/users", sum(user_pages)),
            BenchEndpoint("/api/v1/license", 1),
            BenchEndpoint("/api/v1/organization/account-utilizations", 1),
            BenchEndpoint("/api/v2/organization/usage", usage_requests),
        )
        chains = {"tabnine_teams": team_pages, "tabnine_users": max(user_pages), "tabnine_organization_usage": 2}
        paths = {path for stream in chosen for path in STREAM_PATHS[stream]}
        return BenchPlan(
            chosen,
            {stream: expected[stream] for stream in chosen},
            tuple(endpoint for endpoint in endpoints if endpoint.path in paths),
            first,
            last,
            {"granularity": "daily"},
            round_trips=max(chains.get(stream, 1) for stream in chosen),
        )

    return plan

"""Tabnine (Enterprise SaaS and private installations): organisation, teams, users, seats, usage.

Every endpoint is a GET on the console host (``https://console.tabnine.com`` or a private
installation's own host) with ``Authorization: Bearer <token>``. The streams, by family:

- ``account``: the organisation (whose id every usage request names) and the license;
- ``directory``: teams and users (paged with ``offset``/``limit``, ``meta.next`` ``{limit,
  offset}``, null on the last page; each listed once a sync), pending invitations (``meta.next``
  the next offset itself), and the holders of each role, one request per role;
- ``utilizations``: seat counts per month, with a zero-based ``month``;
- ``usage``: usage buckets in UTC windows, one request per window: the organisation's (since
  server 6.2 on ``/api/v2/organization/usage``, v1 then keeping only the older history; an older
  server answers 404 there and the stream falls back to v1), agent tokens and cost, and both of
  them per user and per team, one request per listed id per window (each a request slice of the
  window).

Tabnine publishes no rate limit: no client-side budget, and a 429 is waited out (``Retry-After``).
This module wires the streams of a config section together: which ones share the organisation
lookup and the listings, and which windows each reads.
"""

from __future__ import annotations

from typing import Any, List, Mapping

from airbyte_cdk.sources.streams import Stream

from source_usage.core.periods import Granularity
from source_usage.core.settings import SharedSettings
from source_usage.core.vendor import HttpOptions, Vendor
from source_usage.vendors.tabnine.account import TabnineLicense, TabnineOrganization
from source_usage.vendors.tabnine.common import (
    AGENT_USAGE_PATH,
    DEFAULT_BASE_URL,
    IDENTITY,
    TEAM_AGENT_USAGE_PATH,
    TEAM_USAGE_PATH,
    TIMEZONE,
    USAGE_V2_PATH,
    USER_AGENT_USAGE_PATH,
    USER_USAGE_PATH,
)
from source_usage.vendors.tabnine.directory import INVITATIONS, TEAMS, TabnineListing, TabninePermissions, TabnineUsers
from source_usage.vendors.tabnine.usage import TEAM, USER, UsageEndpoint, UsagePathFallback, WindowUsage
from source_usage.vendors.tabnine.utilizations import TabnineAccountUtilizations

DEFAULT_USER_USAGE_GRANULARITY = "monthly"
#: The config's granularity names (also what the usage API takes) and their periods.
GRANULARITIES: Mapping[str, Granularity] = {
    "daily": Granularity.DAY,
    "weekly": Granularity.WEEK,
    "monthly": Granularity.MONTH,
}
DEFAULT_GRANULARITY = "daily"

#: The usage streams, as configured instances of one class (``usage.WindowUsage``).
ORGANIZATION_USAGE = UsageEndpoint("tabnine_organization_usage", USAGE_V2_PATH)
AGENT_USAGE = UsageEndpoint("tabnine_agent_usage", AGENT_USAGE_PATH, licensed=True)
USER_USAGE = UsageEndpoint("tabnine_user_usage", USER_USAGE_PATH, per=USER)
TEAM_USAGE = UsageEndpoint("tabnine_team_usage", TEAM_USAGE_PATH, per=TEAM)
#: The totals of an agent data point a cost report sums (the spec marks them required): a data
#: point of the per-user or per-team agent usage without one as a number fails the stream,
#: naming it, rather than count as no cost.
AGENT_TOTALS = ("totalCost", "totalTokensConsumed", "totalInputTokens", "totalOutputTokens")
USER_AGENT_USAGE = UsageEndpoint("tabnine_user_agent_usage", USER_AGENT_USAGE_PATH, per=USER, licensed=True, demanded=AGENT_TOTALS)
TEAM_AGENT_USAGE = UsageEndpoint("tabnine_team_agent_usage", TEAM_AGENT_USAGE_PATH, per=TEAM, licensed=True, demanded=AGENT_TOTALS)

#: The config section's schema.
SPEC: Mapping[str, Any] = {
    "type": "object",
    "title": "Tabnine",
    "description": (
        "Organisation, teams, users, pending invitations, the license (seats bought), who holds the Admin, Manager and "
        "TeamLead roles, monthly seat utilisation, organisation and agent usage (tokens and cost), and both per user and "
        "per team (UTC) from Tabnine Enterprise SaaS or a private installation."
    ),
    "required": ["api_token"],
    "properties": {
        "api_token": {
            "type": "string",
            "title": "API token",
            "description": (
                "A personal access token from Admin > Settings > Access Tokens. Any Tabnine user can create one, with the "
                "scopes chosen when creating it: create it as a user with the Admin role (the usage API is for admins) and "
                "give it the scopes of what this reads: the organisation, teams, users, invitations, license, roles and usage. A token "
                "without them gets HTTP 403 (insufficient permissions)."
            ),
            "airbyte_secret": True,
            "order": 0,
        },
        "base_url": {
            "type": "string",
            "title": "Console host",
            "description": "Enterprise SaaS: https://console.tabnine.com; a private installation: its own console host.",
            "default": DEFAULT_BASE_URL,
            "examples": [DEFAULT_BASE_URL, "https://tabnine.example.com"],
            "order": 1,
        },
        "granularity": {
            "type": "string",
            "title": "Usage granularity",
            "description": "The length of one organisation-usage window, each read as one bucket, in UTC (weeks start on Monday).",
            "enum": list(GRANULARITIES),
            "default": DEFAULT_GRANULARITY,
            "order": 2,
        },
        "user_usage_granularity": {
            "type": "string",
            "title": "Per-user and per-team usage granularity",
            "description": (
                "The length of one window of tabnine_user_usage, tabnine_team_usage, tabnine_user_agent_usage and "
                "tabnine_team_agent_usage, in UTC (weeks start on Monday). They cost one request per user (and one per team) "
                "per window, each stream: 500 users over 90 days are 1,500 requests monthly, about 6,500 weekly and 45,000 daily."
            ),
            "enum": list(GRANULARITIES),
            "default": DEFAULT_USER_USAGE_GRANULARITY,
            "order": 3,
        },
    },
}


class Tabnine(Vendor):
    identity = IDENTITY
    #: No published rate limit: about twice what Workato's 1,000 a minute allow at 1 s an
    #: answer, a load an API for per-user usage is built for (measured at 300 ms answers: 91
    #: requests in 3.2 s, 5.6 s with 16; 96 in flight measured 1.48 x ideal against 1.70 for 32
    #: in the run before, no cap reaching 1.25: the connector's CPU is the rest).
    requests_in_flight = 32

    def spec(self) -> Mapping[str, Any]:
        return SPEC

    def streams(self, section: Mapping[str, Any], settings: SharedSettings, http: HttpOptions) -> List[Stream]:
        connection = self.connection(section, http)
        granularity_name = section["granularity"]
        per_entity = section["user_usage_granularity"]
        organization = TabnineOrganization(connection)
        lookup = organization.lookup
        teams, users = TabnineListing(connection, TEAMS), TabnineUsers(connection, lookup)
        # Pages of pending invitations; they hold seats the users listing does not show yet.
        invitations = TabnineListing(connection, INVITATIONS)
        title = self.identity.title
        windows = settings.plan(title, TIMEZONE, GRANULARITIES[granularity_name])
        entity_windows = settings.plan(title, TIMEZONE, GRANULARITIES[per_entity])
        return [
            organization,
            teams,
            users,
            TabnineLicense(connection),
            TabninePermissions(connection),
            # Months from the one holding the start up to the current one (unfinished, but served).
            TabnineAccountUtilizations(connection, settings.plan(title, TIMEZONE, Granularity.MONTH, with_current=True)),
            WindowUsage(connection, windows, ORGANIZATION_USAGE, granularity_name, lookup, fallback=UsagePathFallback()),
            WindowUsage(connection, windows, AGENT_USAGE, granularity_name, lookup),
            # The ids of the users and teams listed once a sync, shared with tabnine_users and tabnine_teams;
            # per-user sums compared with the organisation's usage of the same windows.
            WindowUsage(
                connection,
                entity_windows,
                USER_USAGE,
                per_entity,
                lookup,
                listing=users.listing,
                totals=WindowUsage(connection, entity_windows, ORGANIZATION_USAGE, per_entity, lookup, fallback=UsagePathFallback()),
            ),
            WindowUsage(connection, entity_windows, TEAM_USAGE, per_entity, lookup, listing=teams.listing),
            WindowUsage(connection, entity_windows, USER_AGENT_USAGE, per_entity, lookup, listing=users.listing),
            WindowUsage(connection, entity_windows, TEAM_AGENT_USAGE, per_entity, lookup, listing=teams.listing),
            invitations,
        ]

    def check_stream(self, section: Mapping[str, Any], settings: SharedSettings, http: HttpOptions) -> Stream:
        """The organisation: one request."""
        return TabnineOrganization(self.connection(section, http))


VENDOR = Tabnine()

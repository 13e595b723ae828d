"""Tabnine Enterprise: organisation, teams, users, license, account utilisation and usage.

Usage is generated per UTC day; a bucket sums its days (``activeUsers``: the busiest day's,
a lower bound of the distinct users) and a day belongs to a window when its midnight lies in
``[from, to)``. Buckets are calendar days, ISO weeks (from Monday) and months, clipped to the
window; ``all`` is the window itself.

``v2_available=False`` plays a server older than 6.2: ``/api/v2/organization/usage`` answers
404 and v1 serves the whole history, without the ``agent`` object. On a newer server v1 serves
only the days before ``upgraded_on``, as the vendor documents.

Per-user usage (``/api/v2/user/usage``) is the 6.2/6.3 spec's v2 bucket per user and UTC day
(``ides`` and ``languages`` on the days the user was active); every fifth user holds a seat and
never uses it, and a deactivated user uses nothing. A team's usage sums its members' days.
Agent usage (``/api/v1/organization/agent-usage``) has per-model tokens and cost and an IDE/CLI
breakdown per day; per user (``/api/v1/user/agent-usage``) it is generated per user, day, agent
type and model (on most of a user's active days), and a team's sums its members'.
``deleted_users``/``deleted_teams`` play ids deleted between the listing and their usage (listed,
then 404); ``agent_usage`` a license without Agent (403 ``FEATURE_NOT_AVAILABLE``) or a token
without the permission (another 403). Pending invitations (``/api/invitation/v1``) are each
team's ``pendingInvitationsCount``, paged with ``meta.next`` the next offset itself; a server
older than 6.2 (``v2_available=False``) has no such endpoint (404).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from emulator.core import (
    ApiError,
    LoggedRequest,
    Reply,
    Request,
    Route,
    VendorEmulator,
    Window,
    days,
    planned_periods,
    stable_int,
)

GRANULARITIES = ("all", "daily", "weekly", "monthly")
PERIOD_UNITS = {"daily": "day", "weekly": "week", "monthly": "month"}
MAX_PAGE = 100
#: The values of ``Options.paging_fault``.
PAGING_FAULTS = ("endless", "stuck")
#: The values of ``Options.item_fault``.
ITEM_FAULTS = ("no_key", "not_object", "repeat_item")
#: The values of ``Options.user_shape``.
USER_SHAPES = ("v1", "newer")
#: The license's timestamps a sync adds, from its epoch seconds.
LICENSE_TIMES = (("issued_at", "iat"), ("expires_at", "exp"))
#: ``Options.license_time_unit``: how many of each unit a second holds.
LICENSE_TIME_UNITS = {"seconds": 1, "milliseconds": 1000, "microseconds": 1_000_000}
#: The newer spec's roles (``Role``).
ROLES = ("Member", "TeamLead", "Manager", "Admin")
#: The roles ``/api/v1/instance/permissions`` lists the holders of (a connector asks for each).
PERMISSION_ROLES = ("Admin", "Manager", "TeamLead")
#: The values of ``Options.agent_usage``.
AGENT_USAGE = ("licensed", "not_licensed", "forbidden")
#: What per-user usage names in ``ides`` and ``languages`` (comma-separated subsets).
IDES = ("vscode", "intellij", "visualstudio", "eclipse")
LANGUAGES = ("python", "typescript", "java", "go", "rust")
#: Agent models (as agent usage names them) and their price per million input/output tokens.
AGENT_MODELS = (("claude-sonnet-4", 3.0, 15.0), ("gpt-4.1", 2.0, 8.0), ("tabnine-protected", 0.5, 1.5))
AGENT_TYPES = ("ide", "cli")
#: The values of ``Options.invitation_next``: how the invitations' ``meta.next`` names the next page.
INVITATION_NEXT = ("offset", "object")
#: The roles an invitation gives (the newer spec's, but Admin).
INVITED_ROLES = ("Member", "TeamLead", "Manager")


@dataclass
class Options:
    api_token: str = "tabnine-emulator-token"
    teams: int = 5
    users: int = 60
    v2_available: bool = True
    #: The server's upgrade to 6.2 (v1 has no later history); default 90 days before today.
    upgraded_on: Optional[str] = None
    #: Tabnine documents no limit; off unless a test wants one (429 with Retry-After).
    requests_per_minute: Optional[int] = None
    #: A broken pager on teams and users (``None``: none): ``meta.next`` is never null. ``endless``:
    #: the last page and every one past it point on, ``{limit, offset + limit}``, so pages past
    #: the end come back with empty ``data``; ``stuck``: the last page points at itself,
    #: ``{limit, offset}``, the same offset again and again.
    paging_fault: Optional[str] = None
    #: Broken items on teams and users (``None``: none). ``no_key``: no item has its ``id``;
    #: ``not_object``: the items are strings; ``repeat_item``: every page after the first starts
    #: one item early, so the last item of the page before comes again.
    item_fault: Optional[str] = None
    #: Users: ``teamMember`` and ``active`` required, as seed 003 marks them (400 "Validation
    #: Error" without them); by default both are optional filters, as in the newer spec.
    users_flags_required: bool = False
    #: Users: ``organizationId`` required (400 "Validation Error" without it, 404 for another
    #: organisation), as a Tabnine engineer's notes report of the live API.
    users_organization_required: bool = False
    #: Users: ``teamMember`` and ``active`` accepted but not applied, every listing serves everyone.
    users_filters_ignored: bool = False
    #: The User object: ``v1`` (with ``active``, ``role`` admin|member, ``allowedTeams`` as ids) or
    #: ``newer`` (no ``active``; ``role`` one of ``ROLES``; ``team`` and ``allowedTeams`` as teams).
    user_shape: str = "v1"
    #: Organisation usage asked with ``granularity=all``: one bucket spanning the window (default),
    #: or, switched on, one bucket per UTC day in it (a server that cuts at its own boundaries).
    multi_bucket: bool = False
    #: Agent usage: ``licensed``; ``not_licensed``, a license without Agent (403
    #: ``FEATURE_NOT_AVAILABLE``, and no ``agent`` among the license's features); ``forbidden``, a
    #: token without the permission (403 ``Forbidden``).
    agent_usage: str = "licensed"
    #: The last this many users (teams) are listed but deleted before their usage is read: their
    #: usage answers 404 "not found".
    deleted_users: int = 0
    deleted_teams: int = 0
    #: This many more users were deleted before any listing: not listed, but their usage is in the
    #: organisation's totals (so the listed users' usage no longer adds up to them).
    unlisted_users: int = 0
    #: The unit of the license's ``iat`` and ``exp``: ``seconds`` (as documented), ``milliseconds``,
    #: or ``microseconds`` (neither the connector reads).
    license_time_unit: str = "seconds"
    #: A server of 6.2 or newer whose ``/api/v2/organization/usage`` a proxy hides (404): v1 then
    #: answers, with its history up to ``upgraded_on`` only.
    v2_usage_hidden: bool = False
    #: The name per-user and per-team agent usage give the data point's cost total (``totalCost``
    #: in the spec): a server that names it otherwise.
    people_agent_cost_field: str = "totalCost"
    #: Pending invitations per team (``None``: 0 to 3, each team's own ``pendingInvitationsCount``).
    invitations_per_team: Optional[int] = None
    #: How ``/api/invitation/v1`` names the next page in ``meta.next``: ``offset``, the next offset
    #: itself (the spec), or ``object``, ``{limit, offset}`` as teams and users do.
    invitation_next: str = "offset"

    def __post_init__(self) -> None:
        if self.paging_fault not in (None, *PAGING_FAULTS):
            raise ValueError(f"unknown paging_fault {self.paging_fault!r}; one of {', '.join(PAGING_FAULTS)}")
        if self.item_fault not in (None, *ITEM_FAULTS):
            raise ValueError(f"unknown item_fault {self.item_fault!r}; one of {', '.join(ITEM_FAULTS)}")
        if self.user_shape not in USER_SHAPES:
            raise ValueError(f"unknown user_shape {self.user_shape!r}; one of {', '.join(USER_SHAPES)}")
        if self.agent_usage not in AGENT_USAGE:
            raise ValueError(f"unknown agent_usage {self.agent_usage!r}; one of {', '.join(AGENT_USAGE)}")
        if self.invitation_next not in INVITATION_NEXT:
            raise ValueError(f"unknown invitation_next {self.invitation_next!r}; one of {', '.join(INVITATION_NEXT)}")
        if self.license_time_unit not in LICENSE_TIME_UNITS:
            raise ValueError(f"unknown license_time_unit {self.license_time_unit!r}; one of {', '.join(LICENSE_TIME_UNITS)}")

    @property
    def api_key(self) -> str:
        return self.api_token


#: The counts of a per-user (and per-team) bucket, summed; the organisation's v2 bucket carries
#: them too, over every user (``chat.messages`` included: the users' messages are the organisation's).
PEOPLE_FIELDS: Dict[str, Tuple[str, ...]] = {
    "codeCompletions": ("completions", "charsCompleted", "keystrokes", "lines"),
    "chat": ("messages", "linesAdded"),
    "agent": ("messages", "linesAdded", "linesAddedAccepted", "linesRemoved", "linesRemovedAccepted"),
}


def _error(status: int, error: str, message: str) -> ApiError:
    return ApiError(Reply(status, {"error": error, "message": message, "status": status}))


def _validation_error(*errors: str) -> ApiError:
    """The live API's 400 for a missing query parameter, as reported (an ``error`` object)."""
    return ApiError(Reply(400, {"error": {"message": "Validation Error", "errors": list(errors), "status": 400}}))


def _z(moment: datetime) -> str:
    """ISO-8601 in UTC as a JavaScript server writes it: ``2026-06-01T00:00:00.000Z``."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=timezone.utc)


def _month_after(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


# -- the demo's reports (tools/demo.py): the FinOps questions, from the synced DuckDB tables

#: "The last 30 days" of the seat reports: the 30 days up to the end of the last synced per-user
#: window (the demo syncs 30 days of daily per-user usage). A user is active in a window when its
#: bucket's ``activeUsers`` is above 0; a seat is held by a listed user that is ``active``.
_RECENT_USAGE = """
    recent AS (
        SELECT DISTINCT usage.userid
        FROM {tabnine_user_usage} AS usage,
             (SELECT MAX(period_end) AS until FROM {tabnine_user_usage}) AS synced
        WHERE usage.activeusers > 0 AND usage.period_start >= synced.until - INTERVAL 30 DAY
    )"""
#: What the seat reports count on. ``activeUsers`` of a per-user bucket is the field a seat's use
#: is told by; a bucket without it would make its user look idle. ``active`` is the user's, or
#: the listing's that served the user (the newer User object has none); without it a seat holder
#: would not count as one.
_SEAT_FIELDS = (
    ("tabnine_users", "id"),
    ("tabnine_users", "active"),
    ("tabnine_user_usage", "userId"),
    ("tabnine_user_usage", "activeUsers"),
    ("tabnine_user_usage", "period_start"),
    ("tabnine_user_usage", "period_end"),
)


class Tabnine(VendorEmulator):
    name = "tabnine"
    Options = Options
    streams = (
        "tabnine_organization",
        "tabnine_teams",
        "tabnine_users",
        "tabnine_license",
        "tabnine_account_utilizations",
        "tabnine_organization_usage",
        "tabnine_permissions",
        "tabnine_agent_usage",
        "tabnine_user_usage",
        "tabnine_team_usage",
        "tabnine_user_agent_usage",
        "tabnine_team_agent_usage",
        "tabnine_invitations",
    )

    # -- what shared tests and tools read (see VendorEmulator)

    usage_stream = "tabnine_organization_usage"
    usage_path = "/api/v2/organization/usage"
    usage_day_pattern = "from={day}T"

    key_option = "api_token"
    e2e_options = {"teams": 3, "users": 20}
    #: 2 pages of 100 users.
    paged_options = {"teams": 5, "users": 150}
    #: The current month is re-read until it is over, so its cursor stays behind it.
    cursor_may_not_move = ("tabnine_account_utilizations",)

    def connector_section(self, url: str) -> Dict[str, Any]:
        # Daily per-user windows: a sync of a few days has per-user records (a month may not be over).
        return {"api_token": self.options.api_token, "base_url": url, "granularity": "daily", "user_usage_granularity": "daily"}

    def requested_day(self, request: LoggedRequest) -> Optional[str]:
        # Organisation usage (v2, or v1 on an old server), agent usage and per-user and per-team
        # usage (daily in connector_section) ask for one UTC bucket from ``from``.
        dated = ("/organization/usage", "/organization/agent-usage", "/user/usage", "/team/usage", "/user/agent-usage", "/team/agent-usage")
        start = request.query.get("from") if request.path.endswith(dated) else None
        return start[0][:10] if start else None

    def routes(self) -> List[Route]:
        limits = ("api",)
        return [
            Route("GET", "/api/v1/organization", lambda r: Reply(200, self.organization()), limits),
            Route("GET", "/api/v1/organization/teams", self._teams, limits),
            Route("GET", "/api/v1/organization/users", self._users, limits),
            Route("GET", "/api/v1/organization/account-utilizations", self._utilizations, limits),
            Route("GET", "/api/v1/license", lambda r: Reply(200, self.license()), limits),
            Route("GET", "/api/v1/organization/usage", lambda r: self._usage(r, version=1), limits),
            Route("GET", "/api/v2/organization/usage", lambda r: self._usage(r, version=2), limits),
            Route("GET", "/api/v2/team/usage", lambda r: self._usage(r, version=2, scope="team"), limits),
            Route("GET", "/api/v2/user/usage", lambda r: self._usage(r, version=2, scope="user"), limits),
            Route("GET", "/api/v1/instance/permissions", self._permissions, limits),
            Route("GET", "/api/v1/organization/agent-usage", self._agent_usage, limits),
            Route("GET", "/api/v1/user/agent-usage", lambda r: self._people_agent_usage(r, scope="user"), limits),
            Route("GET", "/api/v1/team/agent-usage", lambda r: self._people_agent_usage(r, scope="team"), limits),
            Route("GET", "/api/invitation/v1", self._invitations, limits),
        ]

    def unauthorized(self) -> Reply:
        return Reply(401, {"error": "Unauthorized", "message": "Invalid or missing access token", "status": 401})

    def throttled(self, retry_after: float) -> Reply:
        headers = {"Retry-After": str(max(1, round(retry_after)))}
        return Reply(429, {"error": "Too Many Requests", "message": "Rate limit exceeded", "status": 429}, headers)

    def rate_limit(self, name: str) -> Optional[Window]:
        calls = self.options.requests_per_minute
        return Window(int(calls), 60.0) if calls else None

    def today(self) -> date:
        return self.world.now().astimezone(timezone.utc).date()

    def upgraded_on(self) -> date:
        if self.options.upgraded_on:
            return date.fromisoformat(self.options.upgraded_on)
        return self.today() - timedelta(days=90)

    # -- generated data

    def organization_id(self) -> str:
        return f"org-{stable_int(self.seed, 'org') % 16**12:012x}"

    def organization(self) -> Dict[str, Any]:
        return {
            "id": self.organization_id(),
            "name": f"Emulated Org {self.seed}",
            "domains": ["example.com", "example.org"],
            "planType": "enterprise",
            "samlEnabled": True,
            "smtpConfigured": False,
            "usernamePasswordEnabled": True,
            "publicKey": "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEemulator\n-----END PUBLIC KEY-----",
        }

    def license(self) -> Dict[str, Any]:
        return {
            "license": {
                "exp": 1893456000 * LICENSE_TIME_UNITS[self.options.license_time_unit],
                "iat": 1735689600 * LICENSE_TIME_UNITS[self.options.license_time_unit],
                "seats": self.options.users,
                "seatsCap": self.options.users + 10,
                "audience": self.organization_id(),
                "features": ["chat", "completions"] if self.options.agent_usage == "not_licensed" else ["chat", "agent", "completions"],
                "settings": {},
            }
        }

    def team_id(self, index: int) -> str:
        return f"team-{stable_int(self.seed, 'team') % 16**8:08x}-{index:04d}"

    def _user_team(self, index: int) -> Optional[int]:
        if not self.options.teams or index % 7 == 3:  # some users belong to no team
            return None
        return index % self.options.teams

    def _user_active(self, index: int) -> bool:
        return index % 11 != 5

    def team(self, index: int) -> Dict[str, Any]:
        team: Dict[str, Any] = {
            "id": self.team_id(index),
            "name": "Default" if index == 0 else f"Team {index}",
            "organizationId": self.organization_id(),
            "usersCount": sum(1 for u in range(self.options.users) if self._user_team(u) == index),
            "isDefaultTeam": index == 0,
            # Since 6.3; a team without a cap has none.
            "seatCap": None if index % 4 == 1 else 10 + stable_int(self.seed, "seat-cap", index) % 50,
            "pendingInvitationsCount": self.pending_invitations(index),
        }
        if index % 3 == 2:
            team["syncedGroupId"] = f"okta-group-{index}"
        return team

    def user(self, index: int) -> Dict[str, Any]:
        """One user, in ``Options.user_shape``."""
        return self._v1_user(index) if self.options.user_shape == "v1" else self._newer_user(index)

    def _newer_user(self, index: int) -> Dict[str, Any]:
        """The newer spec's User: no ``active``; ``team`` and ``allowedTeams`` are Team objects."""
        user = {key: value for key, value in self._v1_user(index).items() if key != "active"}
        user["role"] = self.role(index)
        team = self._user_team(index)
        if team is not None:
            whole = {k: v for k, v in self.team(team).items() if k in ("id", "name", "organizationId", "isDefaultTeam")}
            user["team"], user["allowedTeams"] = whole, [whole]
        return user

    def role(self, index: int) -> str:
        """The user's role (the newer spec's): user 0 is the Admin, the others Member, TeamLead or Manager."""
        return "Admin" if index == 0 else ROLES[stable_int(self.seed, "role", index) % 3]

    def permission_holders(self, role: str) -> List[Dict[str, Any]]:
        """What ``/api/v1/instance/permissions?role=`` lists: the active users holding ``role``."""
        return [
            {"username": self._v1_user(u)["username"], "organizationId": self.organization_id()}
            for u in range(self.options.users)
            if self._user_active(u) and self.role(u) == role
        ]

    def listed_user(self, index: int) -> Dict[str, Any]:
        """A user as a correct connector records it: the object as served, with ``teamMember`` and
        ``active`` from the listing that serves it where the object has neither."""
        listing = {"teamMember": self._user_team(index) is not None, "active": self._user_active(index)}
        return {**listing, **self.user(index)}

    def _v1_user(self, index: int) -> Dict[str, Any]:
        team = self._user_team(index)
        active = self._user_active(index)
        user: Dict[str, Any] = {
            "id": self.user_id(index),
            "username": f"dev{index}",
            "email": f"dev{index}@example.com",
            "role": "admin" if index == 0 else "member",
            "verified": index % 13 != 7,
            "active": active,
            "allowedTeams": [self.team_id(team)] if team is not None else [],
            "updatedAt": _z(datetime(2026, 1, 1, tzinfo=timezone.utc) + timedelta(minutes=index * 17)),
        }
        if team is not None:
            user["team"] = {"id": self.team_id(team), "name": "Default" if team == 0 else f"Team {team}"}
        if not active:
            user["deactivatedAt"] = _z(datetime(2025, 12, 1, tzinfo=timezone.utc) + timedelta(hours=index))
        return user

    def user_id(self, index: int) -> str:
        return f"user-{stable_int(self.seed, 'user') % 16**8:08x}-{index:06d}"

    def deleted_user(self, index: int) -> bool:
        """Listed, but deleted before its usage is read (``Options.deleted_users``)."""
        return index >= self.options.users - self.options.deleted_users

    def deleted_team(self, index: int) -> bool:
        return index >= self.options.teams - self.options.deleted_teams

    def utilization(self, year: int, month: int) -> Dict[str, Any]:
        """One month (``month`` 1-based here; answered zero-based, as Tabnine does)."""
        roll = stable_int(self.seed, "utilization", year, month)
        registered = self.options.users - roll % 5
        return {
            "year": year,
            "month": month - 1,
            "registered": registered,
            "deactivated": roll // 5 % 4,
            "active": registered - roll // 20 % max(1, registered // 3 or 1),
            "pending": roll // 100 % 6,
        }

    def _day_usage(self, day: date, scope: str) -> Dict[str, Any]:
        roll = stable_int(self.seed, "usage", scope, day)
        weekend = day.weekday() >= 5
        active = (roll % (self.options.users + 1)) // (4 if weekend else 1)
        suggestions = active * (50 + roll // 7 % 200)
        return {
            "activeUsers": active,
            "codeCompletions": {
                "suggestions": suggestions,
                "accepted": suggestions * (roll // 11 % 40) // 100,
                "acceptedLines": suggestions * (roll // 13 % 60) // 100,
            },
            "chat": {"conversations": active * (roll // 17 % 6), "messages": active * (roll // 19 % 25)},
            "agent": {"sessions": active * (roll // 23 % 3), "toolCalls": active * (roll // 29 % 40)},
            # v1 only (pre-6.2 history): instruct, and agent chat and agentic mode apart.
            "instruct": {"acceptedCount": active * (roll // 31 % 5)},
            "agentChat": {"interactions": active * (roll // 37 % 7)},
            "agentAgent": {"interactions": active * (roll // 41 % 4)},
        }

    def _user_day(self, index: int, day: date) -> Optional[Dict[str, Any]]:
        """What user ``index`` did on ``day``, or ``None`` (every fifth user never uses the seat; a
        deactivated user uses nothing; the others about two days in three)."""
        roll = stable_int(self.seed, "user-day", index, day)
        if index % 5 == 4 or not self._user_active(index) or roll % 3 == 0:
            return None
        completions = 5 + roll // 3 % 120
        return {
            "codeCompletions": {
                "completions": completions,
                "charsCompleted": completions * (20 + roll // 7 % 30),
                "keystrokes": completions * (60 + roll // 11 % 90),
                "lines": completions * (1 + roll // 13 % 3),
            },
            "chat": {"messages": roll // 17 % 9, "linesAdded": roll // 19 % 80},
            "agent": {
                "messages": roll // 23 % 6,
                "linesAdded": roll // 29 % 200,
                "linesAddedAccepted": roll // 29 % 200 // 2,
                "linesRemoved": roll // 31 % 60,
                "linesRemovedAccepted": roll // 31 % 60 // 3,
            },
            "ides": {IDES[roll // 37 % len(IDES)], IDES[roll // 41 % 2]},
            "languages": {LANGUAGES[roll // 43 % len(LANGUAGES)], LANGUAGES[roll // 47 % len(LANGUAGES)]},
        }

    def people_bucket(self, members: Sequence[int], start: datetime, end: datetime, dimensions: bool) -> Dict[str, Any]:
        """The v2 bucket ``[start, end)`` of the users ``members`` (one user, or a team's): sums;
        each ``activeUsers`` the busiest day's count; with ``dimensions`` (a user), ``ides`` and
        ``languages`` as comma-separated strings, left out when the user did nothing."""
        included = [d for d in days(start.date(), (end - timedelta(microseconds=1)).date()) if start <= _midnight(d) < end]
        per_day = [[usage for u in members if (usage := self._user_day(u, d)) is not None] for d in included]
        bucket: Dict[str, Any] = {"from": _z(start), "to": _z(end), "activeUsers": max((len(day) for day in per_day), default=0)}
        for group, names in PEOPLE_FIELDS.items():
            lead = names[0]
            busiest = max((sum(1 for usage in day if usage[group][lead]) for day in per_day), default=0)
            bucket[group] = {
                "activeUsers": busiest,
                **{name: sum(usage[group][name] for day in per_day for usage in day) for name in names},
            }
        if dimensions and any(per_day):
            for name in ("ides", "languages"):
                bucket[name] = ",".join(sorted(set().union(*(usage[name] for day in per_day for usage in day))))
        return bucket

    def team_members(self, team: int) -> List[int]:
        return [u for u in range(self.options.users) if self._user_team(u) == team]

    def _agent_day(self, day: date) -> List[Dict[str, Any]]:
        """Agent use on ``day``: per agent type and model, its active users and counts."""
        rows = []
        for kind in AGENT_TYPES:
            for model, _, _ in AGENT_MODELS:
                roll = stable_int(self.seed, "agent-day", kind, model, day)
                users = roll % (self.options.users // (2 if kind == "ide" else 5) + 1)
                rows.append(
                    {
                        "agentType": kind,
                        "model": model,
                        "activeUsers": users,
                        "interactions": users * (1 + roll // 7 % 6),
                        "linesAdded": users * (roll // 11 % 90),
                        "linesAddedAccepted": users * (roll // 11 % 90) // 2,
                        "linesRemoved": users * (roll // 13 % 30),
                        "linesRemovedAccepted": users * (roll // 13 % 30) // 3,
                        "inputTokens": users * (4000 + roll // 17 % 30000),
                        "outputTokens": users * (800 + roll // 19 % 6000),
                        "userInitiatedMessages": users * (1 + roll // 23 % 4),
                    }
                )
        return rows

    def agent_bucket(self, start: datetime, end: datetime) -> Dict[str, Any]:
        """The agent-usage data point ``[start, end)``: counts and tokens summed, each cost from its
        model's price per million tokens (rounded to 6 decimals), ``activeUsers`` the busiest
        day's (on a day, the busiest model's: a lower bound of the distinct users)."""
        per_day = [self._agent_day(d) for d in _days_in(start, end)]

        def busiest(kinds: Sequence[str]) -> int:
            return max((max((r["activeUsers"] for r in day if r["agentType"] in kinds), default=0) for day in per_day), default=0)

        return _agent_point(start, end, per_day, busiest)

    def _user_agent_day(self, index: int, day: date) -> List[Dict[str, Any]]:
        """What user ``index`` did with the agent on ``day``: one row per agent type and model used
        (each model a third of the days in the IDE, a seventh in the CLI), none on a day the user
        did not use Tabnine at all."""
        if self._user_day(index, day) is None:
            return []
        rows = []
        for kind in AGENT_TYPES:
            for model, _, _ in AGENT_MODELS:
                roll = stable_int(self.seed, "user-agent-day", index, kind, model, day)
                if roll % (3 if kind == "ide" else 7) != 0:
                    continue
                rows.append(
                    {
                        "user": index,
                        "agentType": kind,
                        "model": model,
                        "interactions": 1 + roll // 7 % 6,
                        "linesAdded": roll // 11 % 90,
                        "linesAddedAccepted": roll // 11 % 90 // 2,
                        "linesRemoved": roll // 13 % 30,
                        "linesRemovedAccepted": roll // 13 % 30 // 3,
                        "inputTokens": 4000 + roll // 17 % 30000,
                        "outputTokens": 800 + roll // 19 % 6000,
                        "userInitiatedMessages": 1 + roll // 23 % 4,
                    }
                )
        return rows

    def people_agent_bucket(self, members: Sequence[int], start: datetime, end: datetime) -> Dict[str, Any]:
        """The agent data point ``[start, end)`` of the users ``members`` (one user, or a team's): as
        :meth:`agent_bucket`, ``activeUsers`` the most members active on one day; the cost total
        under ``Options.people_agent_cost_field``."""
        per_day = [[row for u in members for row in self._user_agent_day(u, d)] for d in _days_in(start, end)]

        def busiest(kinds: Sequence[str]) -> int:
            return max((len({r["user"] for r in day if r["agentType"] in kinds}) for day in per_day), default=0)

        point = _agent_point(start, end, per_day, busiest)
        named = self.options.people_agent_cost_field
        return point if named == "totalCost" else {(named if key == "totalCost" else key): value for key, value in point.items()}

    def people_agent_buckets(
        self, scope: str, index: int, start: datetime, end: datetime, granularity: str
    ) -> List[Tuple[datetime, datetime, Dict[str, Any]]]:
        """The data points of one user's (team's) agent-usage request for ``[start, end)``, with their bounds."""
        cut = "daily" if granularity == "all" and self.options.multi_bucket else granularity
        members = [index] if scope == "user" else self.team_members(index)
        return [(a, b, self.people_agent_bucket(members, a, b)) for a, b in _windows(start, end, cut)]

    def model_id(self, index: int) -> str:
        """A model's uuid (Tabnine sends uuids and publishes no mapping to names)."""
        digits = f"{stable_int(self.seed, 'model', index):016x}{stable_int(self.seed, 'model', index, 2):016x}"
        return f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"

    def _models(self, included: List[date], scope: str, group: str) -> List[Dict[str, Any]]:
        """The per-model breakdown of ``group`` (chat or agent) over the days ``included``:
        sums, and ``uniqueUsers`` the busiest day's (a lower bound, as ``activeUsers``)."""
        models = []
        for index in range(3):
            rolls = [stable_int(self.seed, "model-usage", scope, group, index, d) for d in included]
            users = [roll % (self.options.users // (index + 2) + 1) for roll in rolls]
            messages = [u * (1 + roll // 7 % 9) for u, roll in zip(users, rolls, strict=True)]
            models.append(
                {
                    "model": self.model_id(index),
                    "messages": sum(messages),
                    "uniqueUsers": max(users),
                    "inputTokens": sum(m * (900 + roll // 11 % 400) for m, roll in zip(messages, rolls, strict=True)),
                    "outputTokens": sum(m * (200 + roll // 13 % 300) for m, roll in zip(messages, rolls, strict=True)),
                }
            )
        return models

    def bucket(
        self, start: datetime, end: datetime, version: int, scope: str = "org", with_models: bool = False
    ) -> Optional[Dict[str, Any]]:
        """The bucket ``[start, end)``, or ``None`` when the server has no history in it. v2's chat
        and agent carry ``models[]`` ``with_models`` (the 6.3 spec: with ``granularity=all`` only);
        v1 has no agent object, and ``productivityFactor``, ``instruct``, ``agentChat``, ``agentAgent``."""
        included = [d for d in days(start.date(), (end - timedelta(microseconds=1)).date()) if start <= _midnight(d) < end]
        if version == 1 and self.options.v2_available:
            included = [d for d in included if d < self.upgraded_on()]
        if not included:
            return None
        per_day = [self._day_usage(d, scope) for d in included]
        bucket: Dict[str, Any] = {"from": _z(start), "to": _z(end), "activeUsers": max(u["activeUsers"] for u in per_day)}
        v1_groups = ("codeCompletions", "chat", "instruct", "agentChat", "agentAgent")
        groups = v1_groups if version == 1 else ("codeCompletions", "chat", "agent")
        for group in groups:
            bucket[group] = {key: sum(u[group][key] for u in per_day) for key in per_day[0][group]}
        if version == 2 and scope == "org":
            # What every user did, listed or not: the organisation's totals of the per-user fields.
            everyone = self.people_bucket(range(self.options.users + self.options.unlisted_users), start, end, dimensions=False)
            for group in PEOPLE_FIELDS:
                bucket[group].update({name: everyone[group][name] for name in PEOPLE_FIELDS[group]})
        if version == 1:
            completions = bucket["codeCompletions"]
            bucket["productivityFactor"] = round(completions["accepted"] / max(1, completions["suggestions"]), 4)
        elif with_models:
            for group in ("chat", "agent"):
                bucket[group]["models"] = self._models(included, scope, group)
        return bucket

    def answer_buckets(
        self, start: datetime, end: datetime, granularity: str, version: int, series: str = "org"
    ) -> List[Tuple[datetime, datetime, Dict[str, Any]]]:
        """The buckets one usage request for ``[start, end)`` is answered, with their bounds."""
        cut = "daily" if granularity == "all" and self.options.multi_bucket else granularity
        buckets = [(a, b, self.bucket(a, b, version, series, with_models=granularity == "all")) for a, b in _windows(start, end, cut)]
        return [(a, b, bucket) for a, b, bucket in buckets if bucket is not None]

    # -- routes

    def _page(self, request: Request, total: int) -> Tuple[range, Dict[str, Any]]:
        try:
            offset = int(request.param("offset") or 0)
            limit = int(request.param("limit") or 0)
        except ValueError:
            raise _error(400, "Bad Request", "offset and limit must be integers") from None
        if offset < 0 or limit < 0:
            raise _error(400, "Bad Request", "offset and limit must be >= 0")
        limit = min(limit or MAX_PAGE, MAX_PAGE)  # 0 (the documented default) means "a full page"
        start = offset - 1 if self.options.item_fault == "repeat_item" and offset > 0 else offset
        page = range(start, min(start + limit, total))
        following = {"limit": limit, "offset": offset + limit} if start + limit < total else None
        if following is None and self.options.paging_fault == "endless":
            following = {"limit": limit, "offset": offset + limit}
        elif following is None and self.options.paging_fault == "stuck":
            following = {"limit": limit, "offset": offset}
        return page, {"count": len(page), "total": total, "next": following}

    def _teams(self, request: Request) -> Reply:
        page, meta = self._page(request, self.options.teams)
        return Reply(200, {"data": self._broken([self.team(i) for i in page]), "meta": meta})

    def selected_users(self, team_member: Optional[bool] = None, active: Optional[bool] = None) -> List[int]:
        return [
            u
            for u in range(self.options.users)
            if (team_member is None or (self._user_team(u) is not None) == team_member)
            and (active is None or self._user_active(u) == active)
        ]

    def _users(self, request: Request) -> Reply:
        self._check_user_listing(request)
        flags = []
        for name in ("teamMember", "active"):
            value = request.param(name)
            if value not in (None, "true", "false"):
                raise _error(400, "Bad Request", f"{name} must be true or false")
            flags.append(None if value is None or self.options.users_filters_ignored else value == "true")
        selected = self.selected_users(*flags)
        page, meta = self._page(request, len(selected))
        return Reply(200, {"data": self._broken([self.user(selected[i]) for i in page]), "meta": meta})

    def _check_user_listing(self, request: Request) -> None:
        """The parameters ``Options.users_flags_required`` and ``users_organization_required`` ask for."""
        missing = [name for name in ("teamMember", "active") if self.options.users_flags_required and request.param(name) is None]
        if self.options.users_organization_required and not request.param("organizationId"):
            missing.append("organizationId")
        if missing:
            raise _validation_error(*(f"{name}: Required" for name in missing))
        owner = request.param("organizationId")
        if owner and self.options.users_organization_required and owner != self.organization_id():
            raise _error(404, "Not Found", "Organization not found")

    def _broken(self, items: List[Dict[str, Any]]) -> List[Any]:
        """A page's items as ``Options.item_fault`` breaks them."""
        if self.options.item_fault == "no_key":
            return [{name: value for name, value in item.items() if name != "id"} for item in items]
        if self.options.item_fault == "not_object":
            return [f"item {index}" for index in range(len(items))]
        return items

    def _utilizations(self, request: Request) -> Reply:
        today = self.today()
        value = request.param("startDate")
        if value is None:
            month = date(today.year - (today.month <= 11), (today.month - 12) % 12 + 1, 1)  # 12 months with this one
        else:
            try:
                if len(value) != 7:
                    raise ValueError(value)
                month = datetime.strptime(value, "%Y-%m").date()
            except ValueError:
                raise _error(400, "Bad Request", "startDate must match ^\\d{4}-\\d{2}$") from None
        rows = []
        while month <= today:
            rows.append(self.utilization(month.year, month.month))
            month = _month_after(month)
        return Reply(200, rows)

    def _usage(self, request: Request, version: int, scope: str = "org") -> Reply:
        if version == 2 and (not self.options.v2_available or (scope == "org" and self.options.v2_usage_hidden)):
            return Reply(404, {"error": "Not Found", "message": f"Cannot GET {request.path}", "status": 404})
        id_param = {"org": "organizationId", "team": "teamId", "user": "userId"}[scope]
        owner = request.param(id_param)
        if not owner:
            raise _error(400, "Bad Request", f"{id_param} is required")
        if scope != "org":
            self._check_organization(request)
        if scope == "org" and owner != self.organization_id():
            raise _error(404, "Not Found", "Organization not found")
        member = self._usage_owner(scope, owner)
        start, end = (_instant(request.param(name), name) for name in ("from", "to"))
        if start >= end:
            raise _error(400, "Bad Request", "'from' must be before 'to'")
        granularity = request.param("granularity")
        if granularity not in GRANULARITIES:
            raise _error(400, "Bad Request", f"granularity must be one of {', '.join(GRANULARITIES)}")
        if member is None:
            data = [bucket for _, _, bucket in self.answer_buckets(start, end, granularity, version)]
            body: Dict[str, Any] = {id_param: owner}
        else:
            data = [bucket for _, _, bucket in self.people_buckets(scope, member, start, end, granularity)]
            body = {"organizationId": self.organization_id(), id_param: owner}
        usage = {"granularity": granularity, "data": data}
        return Reply(200, {**body, "from": _z(start), "to": _z(end), "usage": usage})

    def _check_organization(self, request: Request) -> None:
        owner = request.param("organizationId")
        if not owner:
            raise _validation_error("organizationId: Required")
        if owner != self.organization_id():
            raise _error(404, "Not Found", "Organization not found")

    def _usage_owner(self, scope: str, owner: str) -> Optional[int]:
        """The index of the user or team ``owner`` names (``None`` for the organisation); an
        unknown or deleted one is a 404."""
        if scope == "org":
            return None
        count, make_id, deleted = (
            (self.options.users, self.user_id, self.deleted_user)
            if scope == "user"
            else (self.options.teams, self.team_id, self.deleted_team)
        )
        index = next((i for i in range(count) if make_id(i) == owner), None)
        if index is None or deleted(index):
            raise _error(404, "Not Found", f"{scope.capitalize()} not found")
        return index

    def people_buckets(
        self, scope: str, index: int, start: datetime, end: datetime, granularity: str
    ) -> List[Tuple[datetime, datetime, Dict[str, Any]]]:
        """The buckets of one user's (team's) usage request for ``[start, end)``, with their bounds."""
        cut = "daily" if granularity == "all" and self.options.multi_bucket else granularity
        members = [index] if scope == "user" else self.team_members(index)
        return [(a, b, self.people_bucket(members, a, b, dimensions=scope == "user")) for a, b in _windows(start, end, cut)]

    def _permissions(self, request: Request) -> Reply:
        role = request.param("role")
        if role not in ROLES:
            raise _validation_error(f"role: Expected one of {', '.join(ROLES)}")
        return Reply(200, self.permission_holders(role))

    def _agent_usage(self, request: Request) -> Reply:
        """As a Tabnine engineer's notes report the live endpoint: ``organizationId`` required
        (401 without), ``from``/``to`` without milliseconds, ``startDate``/``endDate`` a 500."""
        start, end, granularity = self._agent_request(request, granularity_required=False)
        usage = {"granularity": granularity, "data": [bucket for _, _, bucket in self.agent_buckets(start, end, granularity)]}
        return Reply(200, {"organizationId": self.organization_id(), "from": _z(start), "to": _z(end), "usage": usage})

    def _people_agent_usage(self, request: Request, scope: str) -> Reply:
        """Per-user (per-team) agent usage, as the organisation's, and, as the newest spec has it,
        ``granularity`` and the ``userId`` (``teamId``) required; an unknown or deleted id a 404."""
        start, end, granularity = self._agent_request(request, granularity_required=True)
        id_param = "userId" if scope == "user" else "teamId"
        owner = request.param(id_param)
        if not owner:
            raise _validation_error(f"{id_param}: Required")
        index = self._usage_owner(scope, owner)
        assert index is not None
        data = [bucket for _, _, bucket in self.people_agent_buckets(scope, index, start, end, granularity)]
        body = {"organizationId": self.organization_id(), id_param: owner, "from": _z(start), "to": _z(end)}
        return Reply(200, {**body, "usage": {"granularity": granularity, "data": data}})

    def _agent_request(self, request: Request, granularity_required: bool) -> Tuple[datetime, datetime, str]:
        """The window and granularity an agent-usage request asks for, checked as the endpoints do."""
        owner = request.param("organizationId")
        if owner != self.organization_id():
            raise _error(401, "Unauthorized", "Unauthorized: Invalid organization.")
        if self.options.agent_usage == "not_licensed":
            raise _error(403, "FEATURE_NOT_AVAILABLE", "The Agent feature is not included in your account's license.")
        if self.options.agent_usage == "forbidden":
            raise _error(403, "Forbidden", "Insufficient permissions")
        if request.param("startDate") is not None or request.param("endDate") is not None:
            raise _error(500, "Internal Server Error", "Error trying to get organization agent usage")
        for name in ("from", "to"):
            if "." in (request.param(name) or ""):
                raise _validation_error(f"{name}: Invalid datetime (no milliseconds)")
        start, end = (_instant(request.param(name), name) for name in ("from", "to"))
        if start >= end:
            raise _error(400, "Bad Request", "'from' must be before 'to'")
        granularity = request.param("granularity")
        if granularity is None and granularity_required:
            raise _validation_error("granularity: Required")
        granularity = granularity or "all"
        if granularity not in GRANULARITIES:
            raise _error(400, "Bad Request", f"granularity must be one of {', '.join(GRANULARITIES)}")
        return start, end, granularity

    def pending_invitations(self, team: int) -> int:
        """How many invitations to team ``team`` are pending (its ``pendingInvitationsCount``)."""
        fixed = self.options.invitations_per_team
        return fixed if fixed is not None else stable_int(self.seed, "invitations", team) % 4

    def invitation(self, team: int, number: int) -> Dict[str, Any]:
        """The ``number``-th pending invitation to team ``team``: sent in the last 20 days, expiring
        30 days later (every fourth never expires)."""
        roll = stable_int(self.seed, "invitation", team, number)
        halves = (stable_int(self.seed, "invitation-id", team, number, half) for half in (1, 2))
        digits = "".join(f"{half:016x}" for half in halves)
        sent = _midnight(self.today()) - timedelta(days=1 + roll % 20, minutes=roll // 20 % 1440)
        return {
            "id": f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}",
            "email": f"invitee{team}-{number}@example.com",
            "teamId": self.team_id(team),
            "role": INVITED_ROLES[roll // 7 % len(INVITED_ROLES)],
            "createdAt": _z(sent),
            "expiresAt": None if number % 4 == 3 else _z(sent + timedelta(days=30)),
            "revokedAt": None,
        }

    def invitations(self, team: Optional[int] = None) -> List[Dict[str, Any]]:
        """Every pending invitation (to ``team`` only, when given), team by team."""
        teams = range(self.options.teams) if team is None else [team]
        return [self.invitation(t, n) for t in teams for n in range(self.pending_invitations(t))]

    def _invitations(self, request: Request) -> Reply:
        """``GET /api/invitation/v1``: ``offset`` and ``limit`` required, an optional ``teamId``;
        ``meta.next`` the next offset (or ``{limit, offset}``, ``Options.invitation_next``)."""
        if not self.options.v2_available:
            return Reply(404, {"error": "Not Found", "message": f"Cannot GET {request.path}", "status": 404})
        missing = [name for name in ("offset", "limit") if request.param(name) is None]
        if missing:
            raise _validation_error(*(f"{name}: Expected number, received nan" for name in missing))
        try:
            offset, limit = int(request.param("offset") or 0), int(request.param("limit") or 0)
        except ValueError:
            raise _validation_error("offset and limit must be integers") from None
        if offset < 0 or limit < 1:
            raise _validation_error("offset must be >= 0 and limit >= 1")
        team_param = request.param("teamId")
        team = None
        if team_param is not None:
            team = next((i for i in range(self.options.teams) if self.team_id(i) == team_param), None)
            if team is None:
                raise _error(404, "Not Found", "Team not found")
        invitations = self.invitations(team)
        limit = min(limit, MAX_PAGE)
        page = invitations[offset : offset + limit]
        following: Any = offset + limit if offset + limit < len(invitations) else None
        if following is not None and self.options.invitation_next == "object":
            following = {"limit": limit, "offset": following}
        return Reply(200, {"data": page, "meta": {"count": len(page), "total": len(invitations), "next": following}})

    def agent_buckets(self, start: datetime, end: datetime, granularity: str) -> List[Tuple[datetime, datetime, Dict[str, Any]]]:
        cut = "daily" if granularity == "all" and self.options.multi_bucket else granularity
        return [(a, b, self.agent_bucket(a, b)) for a, b in _windows(start, end, cut)]

    # -- ground truth

    def ground_truth(
        self,
        stream: str,
        start_date: Any = None,
        end_date: Any = None,
        granularity: str = "daily",
        user_usage_granularity: str = "monthly",
        **unused: Any,
    ) -> List[Dict[str, Any]]:
        """Full-refresh streams: the objects as served. ``tabnine_account_utilizations``: every
        month from the one holding ``start_date`` (default: 31 days ago) to the one holding
        ``end_date`` or today, each with ``month_start``. ``tabnine_organization_usage``: the
        bucket answering each finished ``granularity`` period asked with ``granularity=all``, with
        ``organizationId``, ``period_start``, ``period_end`` (the window's; with
        ``Options.multi_bucket``, each bucket's own when a window has several) and ``granularity``,
        from v2 (v1 on an old server). ``tabnine_users``: each user once, as
        :meth:`listed_user`. ``tabnine_license``: the license object with ``issued_at`` and
        ``expires_at``, its ``iat`` and ``exp`` in UTC. ``tabnine_permissions``: the holders of each
        of Admin, Manager, TeamLead with ``role``. ``tabnine_agent_usage``: the data point of each
        ``granularity`` window (none without Agent). ``tabnine_user_usage`` and
        ``tabnine_team_usage``: the v2 bucket of each listed user (team) not deleted, per
        ``user_usage_granularity`` window, with ``userId`` (``teamId``); ``tabnine_user_agent_usage``
        and ``tabnine_team_agent_usage`` the agent data point the same way (none without Agent).
        ``tabnine_invitations``: every pending invitation as served."""
        if stream == "tabnine_organization":
            return [self.organization()]
        if stream == "tabnine_invitations":
            return self.invitations()
        if stream == "tabnine_teams":
            return [self.team(i) for i in range(self.options.teams)]
        if stream == "tabnine_users":
            return [self.listed_user(u) for u in range(self.options.users)]
        if stream == "tabnine_license":
            served = self.license()["license"]
            per_second = LICENSE_TIME_UNITS[self.options.license_time_unit]
            moments = {name: datetime.fromtimestamp(served[field] / per_second, timezone.utc).isoformat() for name, field in LICENSE_TIMES}
            return [{**served, **moments}]
        records: List[Dict[str, Any]] = []
        now = self.world.now()
        if stream == "tabnine_account_utilizations":
            # Unlike usage, the month still running is read too (its counts so far), and so is
            # the month holding end_date: months are not cut to whole periods.
            today = self.today()
            last = min(today, date.fromisoformat(str(end_date))) if end_date else today
            month = (date.fromisoformat(str(start_date)) if start_date else today - timedelta(days=31)).replace(day=1)
            while month <= last:
                records.append({**self.utilization(month.year, month.month), "month_start": month.isoformat()})
                month = _month_after(month)
            return records
        if stream == "tabnine_permissions":
            return [{**holder, "role": role} for role in PERMISSION_ROLES for holder in self.permission_holders(role)]
        if stream == "tabnine_agent_usage":
            if self.options.agent_usage != "licensed":
                return []
            for start, end in planned_periods(PERIOD_UNITS[granularity], timezone.utc, now, start_date, end_date):
                for a, b, bucket in (agent := self.agent_buckets(start, end, "all")):
                    bounds = (a, b) if len(agent) > 1 else (start, end)
                    period = {"period_start": bounds[0].isoformat(), "period_end": bounds[1].isoformat()}
                    records.append({"organizationId": self.organization_id(), **bucket, **period, "granularity": granularity})
            return records
        people = {  # scope, id field, agent usage
            "tabnine_user_usage": ("user", "userId", False),
            "tabnine_team_usage": ("team", "teamId", False),
            "tabnine_user_agent_usage": ("user", "userId", True),
            "tabnine_team_agent_usage": ("team", "teamId", True),
        }
        if stream in people:
            scope, id_field, agent = people[stream]
            if agent and self.options.agent_usage != "licensed":
                return []
            buckets_of = self.people_agent_buckets if agent else self.people_buckets
            count, make_id, deleted = (
                (self.options.users, self.user_id, self.deleted_user)
                if scope == "user"
                else (self.options.teams, self.team_id, self.deleted_team)
            )
            unit = PERIOD_UNITS[user_usage_granularity]
            for start, end in planned_periods(unit, timezone.utc, now, start_date, end_date):
                for index in (i for i in range(count) if not deleted(i)):
                    buckets = buckets_of(scope, index, start, end, "all")
                    for a, b, bucket in buckets:
                        bounds = (a, b) if len(buckets) > 1 else (start, end)
                        period = {"period_start": bounds[0].isoformat(), "period_end": bounds[1].isoformat()}
                        owner = {"organizationId": self.organization_id(), id_field: make_id(index)}
                        records.append({**owner, **bucket, **period, "granularity": user_usage_granularity})
            return records
        if stream == "tabnine_organization_usage":
            version = 2 if self.options.v2_available else 1
            for start, end in planned_periods(PERIOD_UNITS[granularity], timezone.utc, now, start_date, end_date):
                buckets = self.answer_buckets(start, end, "all", version)
                for a, b, bucket in buckets:
                    bounds = (a, b) if len(buckets) > 1 else (start, end)
                    period = {"period_start": bounds[0].isoformat(), "period_end": bounds[1].isoformat()}
                    records.append({"organizationId": self.organization_id(), **bucket, **period, "granularity": granularity})
            return records
        raise KeyError(stream)


def _days_in(start: datetime, end: datetime) -> List[date]:
    """The UTC days whose midnight lies in ``[start, end)``."""
    return [d for d in days(start.date(), (end - timedelta(microseconds=1)).date()) if start <= _midnight(d) < end]


def _agent_point(
    start: datetime, end: datetime, per_day: List[List[Dict[str, Any]]], busiest: Callable[[Sequence[str]], int]
) -> Dict[str, Any]:
    """An agent-usage data point ``[start, end)`` from its rows (one per agent type and model, per
    day): counts and tokens summed, each cost from its model's price per million tokens (rounded to
    6 decimals); ``busiest(kinds)``: its active users of those agent types."""
    rows = [row for day in per_day for row in day]

    def models(selected: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
        breakdown = []
        for model, price_in, price_out in AGENT_MODELS:
            used = [row for row in selected if row["model"] == model]
            tokens_in, tokens_out = sum(r["inputTokens"] for r in used), sum(r["outputTokens"] for r in used)
            cost = round((tokens_in * price_in + tokens_out * price_out) / 1e6, 6)
            breakdown.append(
                {
                    "model": model,
                    "tokensConsumed": tokens_in + tokens_out,
                    "inputTokens": tokens_in,
                    "outputTokens": tokens_out,
                    "cost": cost,
                }
            )
        return breakdown

    def totals(breakdown: List[Dict[str, Any]]) -> Tuple[int, int, int, float]:
        return (
            sum(m["tokensConsumed"] for m in breakdown),
            sum(m["inputTokens"] for m in breakdown),
            sum(m["outputTokens"] for m in breakdown),
            round(sum(m["cost"] for m in breakdown), 6),
        )

    by_type = []
    for kind in AGENT_TYPES:
        selected = [row for row in rows if row["agentType"] == kind]
        breakdown = models(selected)
        consumed, tokens_in, tokens_out, cost = totals(breakdown)
        counts = {
            name: sum(row[name] for row in selected)
            for name in ("interactions", "linesAdded", "linesAddedAccepted", "linesRemoved", "linesRemovedAccepted")
        }
        by_type.append(
            {
                "agentType": kind,
                "activeUsers": busiest((kind,)),
                **counts,
                "tokensConsumed": consumed,
                "inputTokens": tokens_in,
                "outputTokens": tokens_out,
                "cost": cost,
                "userInitiatedMessages": sum(row["userInitiatedMessages"] for row in selected),
                "modelBreakdown": breakdown,
            }
        )
    overall = models(rows)
    consumed, tokens_in, tokens_out, cost = totals(overall)
    return {
        "from": _z(start),
        "to": _z(end),
        "activeUsers": busiest(AGENT_TYPES),
        "totalTokensConsumed": consumed,
        "totalInputTokens": tokens_in,
        "totalOutputTokens": tokens_out,
        "totalCost": cost,
        "modelBreakdown": overall,
        "agentTypeBreakdown": by_type,
    }


def _instant(value: Optional[str], name: str) -> datetime:
    if not value:
        raise _error(400, "Bad Request", f"'{name}' is required (ISO 8601)")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise _error(400, "Bad Request", f"'{name}' is not an ISO 8601 date-time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _windows(start: datetime, end: datetime, granularity: str) -> List[Tuple[datetime, datetime]]:
    """``[start, end)`` cut at UTC day, ISO-week or month boundaries (``all``: not cut)."""
    if granularity == "all":
        return [(start, end)]
    cuts: List[Tuple[datetime, datetime]] = []
    current = start
    while current < end:
        day = current.astimezone(timezone.utc).date()
        if granularity == "daily":
            boundary = day + timedelta(days=1)
        elif granularity == "weekly":
            boundary = day + timedelta(days=7 - day.weekday())
        else:
            boundary = _month_after(day)
        following = min(_midnight(boundary), end)
        cuts.append((current, following))
        current = following
    return cuts


VENDOR = Tabnine

"""Workato Embedded: ``POST /api/v2/managed_users/statistics/usage``, ``GET /api/managed_users``
and ``GET /api/managed_users/usage``.

Row fields and JSON-body parameters are the assumptions of shared/vendor-apis.md. Times are
read and bucketed in the Embed admin workspace's zone (``Options.timezone``); a naive ``from``
or ``to`` is taken in that zone. The window is ``[from, to)``: an hour counts when its start
lies in it. With an interval, each row carries its bucket's start as ``period``.

Usage is generated per recipe and local calendar day; hours split a day's counts by fixed
weights, so the hours of a day always add up to the day. About one recipe in five is deleted:
its usage reaches the workspace rows only when the body holds nothing but ``from``, ``to``, the
ids and ``interval``, as Workato documents.

The monthly totals (``GET /api/managed_users/usage``, shape assumed as the connector assumes it)
are the last 12 calendar months in the admin workspace's zone, the current one last, each the
tasks of every recipe of the customer (deleted ones included) up to the end of yesterday; they
page as the listing does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from functools import lru_cache
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple
from zoneinfo import ZoneInfo

from emulator.core import (
    ApiError,
    LoggedRequest,
    Reply,
    Request,
    Route,
    VendorEmulator,
    Window,
    floor_period,
    next_period,
    planned_periods,
    stable_choice,
    stable_int,
)

INTERVALS = ("none", "year", "month", "week", "day", "hour")
PLAIN_FIELDS = frozenset({"from", "to", "workspace_ids", "external_ids", "interval"})
MAX_IDS = 100
MAX_PER_PAGE = 100
#: The values of ``Options.paging_fault``.
PAGING_FAULTS = ("repeat",)
#: The values of ``Options.item_fault``.
ITEM_FAULTS = ("no_key",)
#: The values of ``Options.row_names``: usage row fields under names other than the assumed ones.
#: ``job_counts``: the job counts as other Workato endpoints (recipes, jobs) name them;
#: ``workspace_key``: ``workspace_id`` named ``managed_user_id``.
ROW_NAMES: Dict[str, Dict[str, str]] = {
    "job_counts": {"successful_job_count": "job_succeeded_count", "failed_job_count": "job_failed_count"},
    "workspace_key": {"workspace_id": "managed_user_id"},
}
#: The values of ``Options.monthly_shape``: months of ``GET /api/managed_users/usage`` shaped
#: otherwise than assumed. ``year_month``: ``year`` and a one-based ``month`` number;
#: ``period_field``: the month under ``period``; ``tasks_field``: the total under ``tasks``.
MONTHLY_SHAPES = ("year_month", "period_field", "tasks_field")
#: How many months ``GET /api/managed_users/usage`` answers (Workato: "the last 12 months").
BILLED_MONTHS = 12
#: The values of ``Options.listing_next_page``: where ``GET /api/managed_users`` names its next page.
LISTING_SIGNALS = ("body", "header")
METRICS = ("task_count", "successful_job_count", "failed_job_count")
#: The counts of a row under the assumed names: the connector's typed columns.
COUNT_COLUMNS = ("task_count", "recipe_count", "successful_job_count", "failed_job_count")
COMPANIES = ("Acme", "Globex", "Initech", "Umbrella", "Hooli", "Stark", "Wayne", "Tyrell")
RECIPE_PREFIXES = ("[PROD]", "[TEST]", "[DEV]")
RECIPE_VERBS = ("Sync orders", "Create invoice", "Update contacts", "Notify Slack", "Export report")
FOLDERS = ("[PROD] Integrations", "[TEST] Sandbox", "Shared recipes")

Counts = Tuple[int, int, int]  # tasks, successful jobs, failed jobs


@dataclass
class Options:
    api_token: str = "workato-emulator-token"
    workspaces: int = 12
    recipes: int = 6  # per workspace
    timezone: str = "America/Los_Angeles"  # the Embed admin workspace's zone
    usage_per_minute: Optional[int] = 1000
    managed_users_per_minute: Optional[int] = 60
    #: A broken pager on ``GET /api/managed_users`` (``None``: none). ``repeat``: ``page`` is
    #: ignored, page 1 comes back every time; with more workspaces than ``per_page`` every page
    #: is full, so a client that stops at the first short page lists for ever.
    paging_fault: Optional[str] = None
    #: Broken usage rows (``None``: none). ``no_key``: no row has its ``workspace_id``.
    item_fault: Optional[str] = None
    #: Usage row fields named otherwise than assumed (``None``: as assumed); see ``ROW_NAMES``.
    row_names: Optional[str] = None
    #: The zone the connector is configured with (``connector_section``), when it is not the
    #: admin workspace's ``timezone`` (``None``: the same). Its windows then straddle the admin
    #: zone's buckets: an ``interval`` other than ``none`` answers a workspace once per bucket.
    configured_timezone: Optional[str] = None
    #: ``GET /api/managed_users`` serves at most this many rows a page whatever ``per_page`` asks
    #: (``None``: ``per_page``): short pages that are not the last.
    listing_page_cap: Optional[int] = None
    #: How ``GET /api/managed_users`` names the next page (``None``: it does not): ``body``, a
    #: ``next_page`` field (null on the last page); ``header``, an ``X-Next-Page`` header
    #: (absent on the last page).
    listing_next_page: Optional[str] = None
    #: Recipe-grouped rows carry ``recipe_count`` (False: not, as a row that is one recipe may not).
    recipe_rows_count_recipes: bool = True
    #: The months of ``GET /api/managed_users/usage`` (``None``: as assumed); see ``MONTHLY_SHAPES``.
    monthly_shape: Optional[str] = None

    def __post_init__(self) -> None:
        if self.paging_fault not in (None, *PAGING_FAULTS):
            raise ValueError(f"unknown paging_fault {self.paging_fault!r}; one of {', '.join(PAGING_FAULTS)}")
        if self.item_fault not in (None, *ITEM_FAULTS):
            raise ValueError(f"unknown item_fault {self.item_fault!r}; one of {', '.join(ITEM_FAULTS)}")
        if self.row_names not in (None, *ROW_NAMES):
            raise ValueError(f"unknown row_names {self.row_names!r}; one of {', '.join(ROW_NAMES)}")
        if self.monthly_shape not in (None, *MONTHLY_SHAPES):
            raise ValueError(f"unknown monthly_shape {self.monthly_shape!r}; one of {', '.join(MONTHLY_SHAPES)}")
        if self.listing_next_page not in (None, *LISTING_SIGNALS):
            raise ValueError(f"unknown listing_next_page {self.listing_next_page!r}; one of {', '.join(LISTING_SIGNALS)}")
        if self.listing_page_cap is not None and self.listing_page_cap < 1:
            raise ValueError("listing_page_cap must be at least 1")
        ZoneInfo(self.configured_timezone or self.timezone)  # an unknown zone fails here, not mid-request

    @property
    def api_key(self) -> str:
        return self.api_token


def _bad_request(message: str) -> ApiError:
    return ApiError(Reply(400, {"message": message}))


class Workato(VendorEmulator):
    name = "workato"
    Options = Options
    streams = ("workato_workspace_usage", "workato_recipe_usage", "workato_customer_workspaces", "workato_customer_monthly_usage")

    # -- what shared tests and tools read (see VendorEmulator)

    usage_stream = "workato_workspace_usage"
    usage_path = "/api/v2/managed_users/statistics/usage"
    usage_day_pattern = r'"from":\s*"{day}T'

    @property
    def usage_zone(self) -> str:
        return self.configured_zone.key

    key_option = "api_token"
    #: A few recipes in a few workspaces: a sync of a few days has records in both streams.
    e2e_options = {"workspaces": 3, "recipes": 4}
    #: The defaults: ids go 100 to a request and the listing pages by 100, so no page boundary
    #: is crossed below 101 workspaces, which would make every test of a destination slow.
    paged_options = {"workspaces": 12, "recipes": 6}
    #: The share of each customer's task limit its current billing period has used, in percent
    #: rounded half up to a tenth (integer arithmetic, so exact); over 100 is over quota.

    def connector_section(self, url: str) -> Dict[str, Any]:
        # Workato counts periods in the Embed admin workspace's zone: the connector should use the
        # same, and with ``configured_timezone`` does not.
        return {"api_token": self.options.api_token, "base_url": url, "timezone": self.configured_zone.key}

    def requested_day(self, request: LoggedRequest) -> Optional[str]:
        # The window's start, sent with the admin zone's offset: its date is the local day.
        body = request.body if request.path == "/api/v2/managed_users/statistics/usage" else None
        start = body.get("from") if isinstance(body, dict) else None
        return start[:10] if isinstance(start, str) else None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Hours are asked for again and again by neighbouring buckets of one request.
        self._hourly_cached = lru_cache(maxsize=4096)(self._hourly_uncached)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.options.timezone)

    @property
    def configured_zone(self) -> ZoneInfo:
        """The zone the connector is configured with (``connector_section``)."""
        return ZoneInfo(self.options.configured_timezone or self.options.timezone)

    def routes(self) -> List[Route]:
        return [
            Route("POST", "/api/v2/managed_users/statistics/usage", self._usage, ("usage",)),
            Route("GET", "/api/managed_users", self._managed_users, ("managed_users",)),
            # Which of Workato's limits the monthly totals count against is not documented: both.
            Route("GET", "/api/managed_users/usage", self._monthly_usage, ("usage", "managed_users")),
        ]

    def unauthorized(self) -> Reply:
        return Reply(401, {"message": "Unauthorized"})

    def throttled(self, retry_after: float) -> Reply:
        return Reply(429, {"message": "Too many requests"}, {"Retry-After": str(max(1, math.ceil(retry_after)))})

    def rate_limit(self, name: str) -> Optional[Window]:
        calls = self.options.usage_per_minute if name == "usage" else self.options.managed_users_per_minute
        return Window(int(calls), 60.0) if calls else None

    # -- generated data

    def workspace_id(self, index: int) -> int:
        return 100_000 + index

    def workspace(self, index: int) -> Dict[str, Any]:
        return {
            "id": self.workspace_id(index),
            "external_id": f"cust-{index:05d}",
            "name": f"{stable_choice(COMPANIES, self.seed, 'company', index)} {index}",
        }

    def listed_workspace(self, index: int) -> Dict[str, Any]:
        """A row of ``GET /api/managed_users``: the fields the Singer tap for Workato reads (the
        customer's quota and billing period among them)."""
        task_limit = 10_000 * (1 + stable_int(self.seed, "task_limit", index) % 5)
        return {
            **self.workspace(index),
            "notification_email": f"admin{index}@customer.example",
            "plan_id": "oem_plan",
            "task_limit": task_limit,
            "task_count": stable_int(self.seed, "task_count", index) % (task_limit + 2_000),
            "task_limit_adjustment": 0 if index % 3 else 500,
            "current_billing_period_start": "2026-01-01T00:00:00.000-08:00",
            "current_billing_period_end": "2027-01-01T00:00:00.000-08:00",
            "active_connection_limit": 50,
            "active_connection_count": stable_int(self.seed, "connections", index) % 51,
            "active_recipe_count": stable_int(self.seed, "recipes", index) % 20,
            "created_at": "2024-03-01T10:00:00.000-08:00",
            "updated_at": "2026-01-15T09:30:00.000-08:00",
        }

    def billed_months(self) -> List[date]:
        """The first days of the months ``GET /api/managed_users/usage`` answers: the last
        :data:`BILLED_MONTHS` in the admin workspace's zone, the current one last."""
        today = self.world.now().astimezone(self.zone).date()
        months = [date(today.year, today.month, 1)]
        while len(months) < BILLED_MONTHS:
            previous = months[0] - timedelta(days=1)
            months.insert(0, date(previous.year, previous.month, 1))
        return months

    def month_tasks(self, workspace: int, first: date) -> int:
        """The tasks of every recipe of ``workspace`` (deleted ones included) in the month starting
        ``first``, in the admin workspace's zone; for the current month, up to the end of yesterday."""
        today = self.world.now().astimezone(self.zone).date()
        following = date(first.year + first.month // 12, first.month % 12 + 1, 1)
        last = min(following, today)
        start = datetime(first.year, first.month, first.day, tzinfo=self.zone)
        end = datetime(last.year, last.month, last.day, tzinfo=self.zone)
        if end <= start:
            return 0
        return sum(self._recipe_counts(workspace, recipe, start, end)[0] for recipe in range(self.options.recipes))

    def monthly_usage(self, index: int) -> Dict[str, Any]:
        """A customer of ``GET /api/managed_users/usage``: its id, external id and name, and its
        months under ``usage``, shaped as ``Options.monthly_shape`` says."""
        months = []
        for first in self.billed_months():
            label, tasks = f"{first.year:04d}-{first.month:02d}", self.month_tasks(index, first)
            shape = self.options.monthly_shape
            if shape == "year_month":
                months.append({"year": first.year, "month": first.month, "task_count": tasks})
            elif shape == "period_field":
                months.append({"period": label, "task_count": tasks})
            elif shape == "tasks_field":
                months.append({"month": label, "tasks": tasks})
            else:
                months.append({"month": label, "task_count": tasks})
        return {**self.workspace(index), "usage": months}

    def _workspace_index(self, value: Any, external: bool) -> Optional[int]:
        try:
            index = int(str(value).removeprefix("cust-")) if external else int(value) - 100_000
        except ValueError:
            return None
        if external and not str(value).startswith("cust-"):
            return None
        return index if 0 <= index < self.options.workspaces else None

    def recipe(self, workspace: int, index: int) -> Dict[str, Any]:
        return {
            "id": 10_000_000 + workspace * 1000 + index,
            "name": f"{stable_choice(RECIPE_PREFIXES, self.seed, 'rp', workspace, index)} "
            f"{stable_choice(RECIPE_VERBS, self.seed, 'rv', workspace, index)} {index}",
            "folder": stable_choice(FOLDERS, self.seed, "folder", workspace, index),
            "deleted": stable_int(self.seed, "deleted", workspace, index) % 5 == 0,
        }

    def _daily(self, workspace: int, recipe: int, day: date) -> Counts:
        roll = stable_int(self.seed, "jobs", workspace, recipe, day)
        jobs = 0 if roll % 4 == 0 else roll % 37
        failed = jobs * (roll // 37 % 20) // 100
        tasks = jobs * (1 + roll // 740 % 6)
        return tasks, jobs - failed, failed

    def _hourly(self, workspace: int, recipe: int, day: date) -> Tuple[Tuple[datetime, Counts], ...]:
        return self._hourly_cached(workspace, recipe, day, self.options.timezone)

    def _hourly_uncached(self, workspace: int, recipe: int, day: date, zone: str) -> Tuple[Tuple[datetime, Counts], ...]:
        """The day's counts split over its hours (UTC starts) by fixed weights, largest remainder."""
        start = datetime(day.year, day.month, day.day, tzinfo=self.zone).astimezone(timezone.utc)
        end = datetime.combine(day + timedelta(days=1), datetime.min.time(), self.zone).astimezone(timezone.utc)
        hours = [start + timedelta(hours=h) for h in range(round((end - start).total_seconds() / 3600))]
        weights = [1 + stable_int(self.seed, "hour", workspace, recipe, day, h) % 9 for h in range(len(hours))]
        split = [_apportion(total, weights) for total in self._daily(workspace, recipe, day)]
        return tuple((hour, (split[0][h], split[1][h], split[2][h])) for h, hour in enumerate(hours))

    def _recipe_counts(self, workspace: int, recipe: int, start: datetime, end: datetime) -> Counts:
        """Usage of one recipe in ``[start, end)``: whole local days from the daily numbers,
        partial ones hour by hour."""
        tasks = ok = failed = 0
        local_start, local_end = start.astimezone(self.zone), end.astimezone(self.zone)
        day = local_start.date()
        while True:
            day_start = datetime(day.year, day.month, day.day, tzinfo=self.zone)
            if day_start >= local_end:
                break
            next_start = datetime.combine(day + timedelta(days=1), datetime.min.time(), self.zone)
            if day_start >= local_start and next_start <= local_end:
                counts = self._daily(workspace, recipe, day)
            else:
                parts = [c for hour, c in self._hourly(workspace, recipe, day) if start <= hour < end]
                counts = tuple(map(sum, zip(*parts, strict=True))) if parts else (0, 0, 0)  # type: ignore[assignment]
            tasks, ok, failed = tasks + counts[0], ok + counts[1], failed + counts[2]
            day += timedelta(days=1)
        return tasks, ok, failed

    def _rows(self, query: UsageQuery) -> List[Dict[str, Any]]:
        rows: List[Dict[str, Any]] = []
        for bucket_start, bucket_end, period in _buckets(query.start, query.end, query.interval, self.zone):
            for ws in query.workspaces:
                info = self.workspace(ws)
                head = {"workspace_id": info["id"], "external_id": info["external_id"], "workspace_name": info["name"]}
                totals, active = [0, 0, 0], 0
                for index in range(self.options.recipes):
                    recipe = self.recipe(ws, index)
                    if not query.counts(recipe):
                        continue
                    counts = self._recipe_counts(ws, index, bucket_start, bucket_end)
                    if query.group_by == "recipe":
                        recipe_head = {**head, "recipe_id": recipe["id"], "recipe_name": recipe["name"]}
                        row = _row(recipe_head, period, counts, int(counts[1] + counts[2] > 0))
                        if not self.options.recipe_rows_count_recipes:
                            del row["recipe_count"]
                        rows.append(row)
                    totals = [a + b for a, b in zip(totals, counts, strict=True)]
                    active += counts[1] + counts[2] > 0
                if query.group_by == "workspace":
                    rows.append(_row(head, period, tuple(totals), active))  # type: ignore[arg-type]
        return rows

    # -- routes

    def _usage(self, request: Request) -> Reply:
        try:
            body = request.json()
        except ValueError:
            raise _bad_request("The request body is not valid JSON") from None
        if not isinstance(body, dict):
            raise _bad_request("The request body must be a JSON object")
        rows = self._rows(UsageQuery.parse(self, body))
        if self.options.item_fault == "no_key":
            rows = [{name: value for name, value in row.items() if name != "workspace_id"} for row in rows]
        renamed = ROW_NAMES.get(self.options.row_names or "", {})
        rows = [{renamed.get(name, name): value for name, value in row.items()} for row in rows]
        return Reply(200, {"data": rows or None})

    def _managed_users(self, request: Request) -> Reply:
        page, indices, more = self._paged(request)
        return self._listing_page([self.listed_workspace(i) for i in indices], page, more)

    def _monthly_usage(self, request: Request) -> Reply:
        page, indices, more = self._paged(request)
        return self._listing_page([self.monthly_usage(i) for i in indices], page, more)

    def _paged(self, request: Request) -> Tuple[int, range, bool]:
        """The page asked for (``page``/``per_page``, as ``paging_fault`` and ``listing_page_cap``
        serve it): its number, the workspaces on it, and whether more follow."""
        try:
            page = int(request.param("page") or 1)
            per_page = int(request.param("per_page") or MAX_PER_PAGE)
        except ValueError:
            raise _bad_request("page and per_page must be integers") from None
        if page < 1 or not 1 <= per_page <= MAX_PER_PAGE:
            raise _bad_request(f"page must be >= 1 and per_page from 1 to {MAX_PER_PAGE}")
        if self.options.paging_fault == "repeat":
            page = 1  # a server that ignores page
        per_page = min(per_page, self.options.listing_page_cap or per_page)  # pages of the served size
        first = (page - 1) * per_page
        return page, range(first, min(first + per_page, self.options.workspaces)), first + per_page < self.options.workspaces

    def listing_requests(self, per_page: int = MAX_PER_PAGE) -> int:
        """The requests a correct connector lists every workspace with: it follows a named next
        page, and without one pages until a page comes back empty (a short page need not be last)."""
        served = min(per_page, self.options.listing_page_cap or per_page)
        pages = math.ceil(self.options.workspaces / served)
        if self.options.listing_next_page == "body":
            return max(1, pages)  # the last page's null next_page ends the listing
        return pages + 1  # nothing on the last page says so: an empty page after it ends the listing

    def _listing_page(self, result: List[Dict[str, Any]], page: int, more: bool) -> Reply:
        """A page of the listing, naming the next page where ``listing_next_page`` says."""
        following = page + 1 if more else None
        if self.options.listing_next_page == "body":
            return Reply(200, {"result": result, "next_page": following})
        if self.options.listing_next_page == "header" and following is not None:
            return Reply(200, {"result": result}, {"X-Next-Page": str(following)})
        return Reply(200, {"result": result})

    # -- ground truth

    def ground_truth(
        self,
        stream: str,
        start_date: Any = None,
        end_date: Any = None,
        interval: str = "day",
        workspace_ids: Sequence[Any] = (),
        external_ids: Sequence[str] = (),
        recipe_name_pattern: Optional[str] = None,
        folder_name_pattern: Optional[str] = None,
        timezone: Optional[str] = None,
        **unused: Any,
    ) -> List[Dict[str, Any]]:
        """One record per period and workspace (or recipe): the row whole, plus ``period_start``,
        ``period_end`` (the period asked for), ``interval`` and the typed counts. Periods are
        planned in ``timezone``, the connector's (default: ``configured_zone``), and each is
        asked for with ``interval: none``, as a correct connector does: exact counts of that
        window, whatever the admin zone. The workspace stream counts deleted recipes unless a
        name pattern is set (a correct connector sends a plain body for it).
        ``workato_customer_workspaces``: every listed row, as served (its typed columns are the
        values it already holds)."""
        if stream not in self.streams:
            raise KeyError(stream)
        if stream == "workato_customer_workspaces":
            return [_with_utc(self.listed_workspace(i), BILLING_PERIOD) for i in range(self.options.workspaces)]
        if stream == "workato_customer_monthly_usage":
            return [record for i in range(self.options.workspaces) for record in self._monthly_records(i)]
        body: Dict[str, Any] = {"interval": "none"}
        if workspace_ids or external_ids:
            body.update(workspace_ids=list(workspace_ids), external_ids=list(external_ids))
        else:
            body["workspace_ids"] = [self.workspace_id(i) for i in range(self.options.workspaces)]
        for name, value in (("recipe_name_pattern", recipe_name_pattern), ("folder_name_pattern", folder_name_pattern)):
            if value:
                body[name] = value
        if stream == "workato_recipe_usage":
            body["group_by"] = "recipe"
        records = []
        zone = ZoneInfo(timezone) if timezone else self.configured_zone
        renamed = ROW_NAMES.get(self.options.row_names or "", {})
        for start, end in planned_periods(interval, zone, self.world.now(), start_date, end_date):
            query = UsageQuery.parse(self, {**body, "from": start.isoformat(), "to": end.isoformat()}, max_ids=None)
            for row in self._rows(query):
                period = {"period_start": start.isoformat(), "period_end": end.isoformat(), "interval": interval}
                period = _with_utc(period, ("period_start", "period_end"))
                counts = {name: row.get(name) for name in COUNT_COLUMNS}  # the typed columns, whatever the row's names
                records.append({**{renamed.get(name, name): value for name, value in row.items()}, **counts, **period})
        return records

    def _monthly_records(self, index: int) -> List[Dict[str, Any]]:
        """A customer's months as a correct connector records them: each month as served, with
        ``workspace_id``, ``external_id``, ``workspace_name``, ``month`` (``YYYY-MM-01``) and
        ``task_count``, the served month kept as ``vendor_month`` (as text)."""
        customer = self.monthly_usage(index)
        head = {"workspace_id": customer["id"], "external_id": customer["external_id"], "workspace_name": customer["name"]}
        records = []
        for item, first in zip(customer["usage"], self.billed_months(), strict=True):
            month = first.isoformat()
            served = {"vendor_month": str(item["month"])} if item.get("month", month) != month else {}
            records.append({**item, **served, **head, "month": month, "task_count": item.get("task_count")})
        return records


BILLING_PERIOD = ("current_billing_period_start", "current_billing_period_end")


def _with_utc(record: Dict[str, Any], names: Sequence[str]) -> Dict[str, Any]:
    """The record plus ``<name>_utc``, each named date-time's instant in UTC."""
    return {**record, **{f"{name}_utc": datetime.fromisoformat(record[name]).astimezone(timezone.utc).isoformat() for name in names}}


@dataclass
class UsageQuery:
    start: datetime
    end: datetime
    interval: str
    workspaces: List[int]
    group_by: str
    include_deleted: bool
    recipe_name_pattern: Optional[str]
    folder_name_pattern: Optional[str]

    def counts(self, recipe: Dict[str, Any]) -> bool:
        """Whether a recipe's usage is in the answer."""
        if recipe["deleted"] and not self.include_deleted:
            return False
        if self.recipe_name_pattern and self.recipe_name_pattern not in recipe["name"]:
            return False
        return not (self.folder_name_pattern and self.folder_name_pattern not in recipe["folder"])

    @classmethod
    def parse(cls, vendor: Workato, body: Dict[str, Any], max_ids: Optional[int] = MAX_IDS) -> UsageQuery:
        start, end = (_moment(body.get(name), name, vendor.zone) for name in ("from", "to"))
        if start >= end:
            raise _bad_request("'from' must be before 'to'")
        interval = body.get("interval") or "none"
        if interval not in INTERVALS:
            raise _bad_request(f"interval must be one of {', '.join(INTERVALS)}")
        group_by = body.get("group_by") or "workspace"
        if group_by not in ("workspace", "recipe"):
            raise _bad_request("group_by must be workspace or recipe")
        patterns = {}
        for name in ("recipe_name_pattern", "folder_name_pattern"):
            value = body.get(name)
            if value is not None and (not isinstance(value, str) or len(value) < 3):
                raise _bad_request(f"{name} must have at least 3 characters")
            patterns[name] = value or None
        # Both id lists may be given: the union is served (Workato does not say otherwise).
        requested: List[Tuple[Any, bool]] = []
        for name, external in (("workspace_ids", False), ("external_ids", True)):
            values = body.get(name)
            if values is None:
                continue
            if not isinstance(values, list):
                raise _bad_request(f"{name} must be a JSON array")
            requested.extend((value, external) for value in values)
        if not requested:
            raise _bad_request("workspace_ids or external_ids is required")
        if max_ids is not None and len(requested) > max_ids:
            raise _bad_request(f"At most {max_ids} workspace_ids or external_ids per request")
        found = (vendor._workspace_index(value, external) for value, external in requested)
        workspaces = sorted({index for index in found if index is not None})
        return cls(
            start=start,
            end=end,
            interval=interval,
            workspaces=workspaces,
            group_by=group_by,
            include_deleted=set(body) <= PLAIN_FIELDS,
            **patterns,
        )


def _moment(value: Any, name: str, zone: ZoneInfo) -> datetime:
    if not isinstance(value, str) or not value:
        raise _bad_request(f"'{name}' is required (ISO 8601)")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise _bad_request(f"'{name}' is not an ISO 8601 date-time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=zone)


def _buckets(start: datetime, end: datetime, interval: str, zone: ZoneInfo) -> Iterator[Tuple[datetime, datetime, Optional[str]]]:
    """The interval buckets overlapping ``[start, end)``, each clipped to it, with the bucket's
    own start in the admin zone (``None`` when the interval is ``none``)."""
    if interval == "none":
        yield start, end, None
        return
    bucket = floor_period(start.astimezone(zone), interval)
    while bucket < end:
        following = next_period(bucket, interval)
        yield max(bucket, start), min(following, end), bucket.isoformat()
        bucket = following


def _row(head: Dict[str, Any], period: Optional[str], counts: Tuple[int, int, int], recipe_count: int) -> Dict[str, Any]:
    row = dict(head)
    if period is not None:
        row["period"] = period
    tasks, ok, failed = counts
    row.update(task_count=tasks, recipe_count=recipe_count, successful_job_count=ok, failed_job_count=failed)
    return row


def _apportion(total: int, weights: Sequence[int]) -> List[int]:
    """``total`` split in proportion to ``weights``, integers that add up to ``total``."""
    whole = sum(weights)
    shares = [total * w // whole for w in weights]
    remainders = sorted(range(len(weights)), key=lambda i: -(total * weights[i] % whole))
    for i in remainders[: total - sum(shares)]:
        shares[i] += 1
    return shares


VENDOR = Workato

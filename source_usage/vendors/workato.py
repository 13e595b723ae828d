"""Workato Embedded: task, recipe and job counts per customer workspace and per recipe, the
customer workspaces, and each customer's monthly task totals as billed.

The usage endpoint, ``POST /api/v2/managed_users/statistics/usage``, is read twice: grouped by
workspace and grouped by recipe. Its times are in the Embed admin workspace's time zone (a config value),
so the connector asks for one window per configured interval, aligned to that interval's
calendar boundaries in that zone, with ``interval: none``: each row of an answer is then one
workspace (or recipe) in exactly that window, and the window is the record's period. (With the
window's length as ``interval``, Workato would cut the window into its own buckets, counted in the
admin workspace's zone: a configured zone that is not exactly that one makes every window
straddle two buckets, and a workspace comes back twice.)

All usage endpoints together allow 1,000 requests/minute per Embed admin workspace; listing the
customer workspaces (``GET /api/managed_users``) is a customer-management endpoint with its own
60 requests/minute. Errors are 400/404 with ``{"message"}`` and 401 for a bad token. Whether
``GET /api/managed_users/usage`` (monthly task totals) counts as a usage or a
customer-management endpoint is not said: its few requests a sync are held to both limits.

Deleted recipes are counted only when the body has nothing but ``from``, ``to``, the ids and
``interval``. The workspace stream sends exactly that unless a name pattern is configured; the
recipe stream must send ``group_by: recipe`` and therefore never sees deleted recipes.

Assumed where Workato's documents are silent (see the project's vendor notes), each so that a
wrong guess fails the stream instead of changing a number: the body is JSON with id lists as JSON
arrays; at most ``IDS_PER_REQUEST`` ids per request; ``to`` is the exclusive end of the window;
rows carry ``workspace_id`` and ``recipe_id`` (a row without one fails, naming it and the row's
fields) and the counts of their grouping under the names in ``COUNT_NAMES`` (a workspace row all
four, a recipe row its task and job counts: a demanded count under none of its names fails the
same way, never a silent null; ``recipe_count`` on a recipe row is read when there); one row per
workspace (or recipe) and window (a second one fails). A workspace asked for and absent from an
answer has no record for that window (Workato's way of saying no usage, as ``data: null`` is).
``GET /api/managed_users`` pages with ``page``/``per_page`` and answers
``{"result": [{"id", "external_id", ...}]}``. What ends its paging is not published: the only
public client that reads a ``next_page`` field or an ``X-Next-Page`` header (a Singer SDK
template) never runs its header branch, so neither is evidence. Either is followed when present;
what protects is the fallback: without either signal, pages are read until one comes back empty
(a short page is not taken for the last: a server may cap pages below ``per_page``).

``GET /api/managed_users/usage`` ("task usage of all customers by month", the last 12 months)
publishes no shape. Assumed, each failing the stream naming the field when wrong: it pages as the
listing does, and answers ``{"result": [customer]}``, a customer being ``{"id", ...,
"usage": [month]}`` and a month ``{"month": "YYYY-MM", "task_count"}`` (``month`` may also be a
first day ``YYYY-MM-01``, or a one-based number beside ``year``); a customer and month answered
twice with other values fails too.
"""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass
from typing import Any, ClassVar, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

import requests
from airbyte_cdk.models import SyncMode
from airbyte_cdk.sources.streams import Stream
from airbyte_cdk.sources.streams.core import StreamData
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_usage.core.budget import EndpointLimit, request_budget
from source_usage.core.errors import answer_error, json_body, list_problem
from source_usage.core.keys import KeyGuard
from source_usage.core.once import FetchedOnce
from source_usage.core.paging import NextPageNumberPager, Pager
from source_usage.core.periods import Granularity, Period, PeriodPlan
from source_usage.core.schemas import load_schema
from source_usage.core.settings import SharedSettings
from source_usage.core.streams import PeriodStream, UsageStream, chunked
from source_usage.core.validation import timezone_problem as iana_timezone_problem
from source_usage.core.values import as_count, as_date_time, as_text, in_utc
from source_usage.core.vendor import Connection, HttpOptions, Vendor, VendorIdentity

logger = logging.getLogger("airbyte")

IDENTITY = VendorIdentity(key="workato", title="Workato", credentials_field="api_token")

#: Workato's data centers (``title``: where the Embed admin workspace lives).
DATA_CENTERS: Tuple[Tuple[str, str], ...] = (
    ("US", "https://www.workato.com"),
    ("EU", "https://app.eu.workato.com"),
    ("JP", "https://app.jp.workato.com"),
    ("SG", "https://app.sg.workato.com"),
    ("AU", "https://app.au.workato.com"),
    ("IL", "https://app.il.workato.com"),
    ("CN", "https://app.workatoapp.cn"),
)
DEFAULT_BASE_URL = DATA_CENTERS[0][1]
DEFAULT_TIMEZONE = "UTC"
DEFAULT_INTERVAL = Granularity.DAY

USAGE_ENDPOINT = "api/v2/managed_users/statistics/usage"
MANAGED_USERS_ENDPOINT = "api/managed_users"
MONTHLY_USAGE_ENDPOINT = "api/managed_users/usage"
#: Where a customer of ``GET /api/managed_users/usage`` holds its months (assumed).
MONTHS_FIELD = "usage"
#: What a month of it calls its task total (assumed: the name the listing gives the current
#: billing period's total).
MONTHLY_TASKS_FIELD = "task_count"
#: Assumed: Workato documents no limit on the ids of one usage request; 100 keeps bodies small
#: and matches the largest page of ``GET /api/managed_users``.
IDS_PER_REQUEST = 100
#: Assumed largest ``per_page`` of ``GET /api/managed_users``.
WORKSPACES_PER_PAGE = 100
#: Requests per minute: every usage endpoint together, and the customer-management endpoints.
USAGE_REQUESTS_PER_MINUTE = 1000
MANAGED_USERS_REQUESTS_PER_MINUTE = 60
#: Workato ignores name patterns shorter than this.
PATTERN_MIN_LENGTH = 3

#: The counts of a row (assumed names), also typed as top-level integer columns.
COUNTS = ("task_count", "recipe_count", "successful_job_count", "failed_job_count")
#: The names a usage row may give each count, first the assumed one. Workato publishes none; its
#: other endpoints (recipes, jobs) name job counts ``job_succeeded_count``/``job_failed_count``,
#: so a row may well use those. A count under none of its names fails the stream.
COUNT_NAMES: Mapping[str, Tuple[str, ...]] = {
    "task_count": ("task_count",),
    "recipe_count": ("recipe_count",),
    "successful_job_count": ("successful_job_count", "job_succeeded_count"),
    "failed_job_count": ("failed_job_count", "job_failed_count"),
}
#: The ``interval`` of every usage request. Workato documents ``none`` among its values; sent
#: rather than left out because the default of an omitted ``interval`` is not documented, and it
#: keeps the body within "``from``, ``to``, the ids and ``interval``" (deleted recipes count).
WINDOW_INTERVAL = "none"
#: Where ``GET /api/managed_users`` may name its next page: followed when present, though no
#: public client shows either (see the module's docstring); an empty page ends the listing.
NEXT_PAGE_FIELD = "next_page"
NEXT_PAGE_HEADER = "X-Next-Page"

def with_columns(row: Mapping[str, Any], columns: Mapping[str, Any]) -> Dict[str, Any]:
    """The row whole, plus the connector's top-level columns.

    A column takes its key; where the row already held a different value under that key (a
    count sent as a string, a bucket label named ``interval``), the vendor's value is kept as
    ``vendor_<key>``, so nothing the API sent is lost.
    """
    record = dict(row)
    for key, value in columns.items():
        if key in row and row[key] != value:
            record[f"vendor_{key}"] = row[key]
        record[key] = value
    return record


def row_fields(row: Mapping[str, Any]) -> str:
    """The fields a vendor row has, for a message (as the core's key guard lists them)."""
    return ", ".join(sorted(name if value is not None else f"{name}: null" for name, value in row.items())) or "none"


def timezone_problem(field: str, value: Optional[str]) -> Optional[str]:
    """Anything but an IANA name, including names the host's zoneinfo folder alone knows
    (``localtime``): the zone Workato counts in is the workspace's, never the host's."""
    return iana_timezone_problem(field, value)


class ResultPages(UsageStream):
    """A GET of Workato's customer management answering ``{"result": [row]}``, page by page with
    ``page``/``per_page``: a next page named in the body or a header is followed, else pages are
    read until one comes back empty (see the module's docstring). Every row is an object with an
    ``id``, or the answer is malformed (naming what the row has)."""

    items_field = "result"
    #: What a row is, in messages.
    noun: ClassVar[str] = "workspace"

    def __init__(self, connection: Connection, per_page: int = WORKSPACES_PER_PAGE) -> None:
        self.per_page = per_page
        super().__init__(connection)

    def new_pager(self) -> Pager:
        return NextPageNumberPager(self.where, self.per_page, next_field=NEXT_PAGE_FIELD, next_header=NEXT_PAGE_HEADER)

    def next_page_token(self, response: requests.Response) -> Optional[Mapping[str, Any]]:
        # The core hands the pager the body only; the X-Next-Page signal is a header.
        if isinstance(self.pager, NextPageNumberPager):
            self.pager.answered(response.headers)
        return super().next_page_token(response)

    def malformed(self, body: Any) -> Optional[str]:
        problem = list_problem(body, "result")
        if problem:
            return problem
        for index, row in enumerate(body["result"]):
            if not isinstance(row, dict):
                return f"{self.noun} {index} of 'result' is not an object"
            if row.get("id") is None:
                return f"{self.noun} {index} of 'result' has no 'id' (it has: {row_fields(row)})"
        return None


class ManagedUsers(ResultPages):
    """``GET /api/managed_users``: the customer workspaces, page by page.

    Used inside the connector only (to know every workspace id when none is configured, and as
    the cheap request of ``check``); it is not a stream of the catalog.
    """

    name = "workato_managed_users"
    primary_key = "id"
    endpoint = MANAGED_USERS_ENDPOINT

    def get_json_schema(self) -> Mapping[str, Any]:  # type: ignore[override]  # the CDK's is an lru_cache
        return {"type": "object", "additionalProperties": True}  # internal: there is no schema file

    def parse_response(self, response: requests.Response, **kwargs: Any) -> Iterable[Mapping[str, Any]]:
        yield from json_body(response)["result"]


class CustomerWorkspaces:
    """The customer workspaces (the listed rows whole), listed at most once per sync and shared by
    both usage streams and ``workato_customer_workspaces``: every workspace id when none is
    configured, the ids behind configured external ids (so that each workspace is asked for once,
    by id), and the rows themselves.

    Every stream of the three needs the list, and they may be read in parallel threads: the
    listing is fetched once (``core.once.FetchedOnce``), and a failed listing fails every stream
    that needs it at once, instead of spending the same retries on the 60 requests/minute limit.
    """

    def __init__(self, listing: ManagedUsers) -> None:
        self._listing = listing
        self._rows = FetchedOnce(self._list)
        self._lock = threading.Lock()
        self._resolved: Dict[Tuple[str, ...], List[Union[int, str]]] = {}

    def ids(self) -> List[Union[int, str]]:
        """Every customer workspace's id, each once, in listing order."""
        return [row["id"] for row in self.rows()]

    def resolve(self, external_ids: Sequence[str]) -> List[Union[int, str]]:
        """The ids of the workspaces with these external ids, worked out (and warned about) once."""
        wanted = tuple(external_ids)
        rows = self.rows()
        with self._lock:
            if wanted not in self._resolved:
                self._resolved[wanted] = self._resolve(rows, wanted)
            return self._resolved[wanted]

    def rows(self) -> List[Mapping[str, Any]]:
        return self._rows.get()

    def _list(self) -> List[Mapping[str, Any]]:
        # malformed() checked that every ``result`` row is an object with an id. A workspace
        # created while paging can shift another onto the next page too: the listing's key guard
        # (UsageStream.read_records) already emits each id once.
        rows = [row for row in self._listing.read_records(SyncMode.full_refresh, stream_slice={}) if isinstance(row, Mapping)]
        if rows:
            logger.info(f"Workato: {len(rows)} customer workspaces listed.")
        else:
            logger.warning("Workato: the Embed admin workspace has no customer workspaces; there is no usage to read.")
        return rows

    def _resolve(self, rows: Sequence[Mapping[str, Any]], wanted: Tuple[str, ...]) -> List[Union[int, str]]:
        if rows and not any("external_id" in row for row in rows):
            # Every configured external id would look unknown: a renamed field, not missing customers.
            message = (
                f"{self._listing.where} answered workspaces without 'external_id', which 'workato.external_ids' "
                f"is matched against (a workspace has: {row_fields(rows[0])}); the vendor's answer may have changed shape."
            )
            raise answer_error(message)
        by_external: Dict[str, List[Union[int, str]]] = {}
        for row in rows:
            if isinstance(row.get("external_id"), (str, int)) and not isinstance(row.get("external_id"), bool):
                by_external.setdefault(str(row["external_id"]), []).append(row["id"])
        unknown = [external for external in wanted if external not in by_external]
        if unknown:
            # A warning, neither a silent drop (a typo would go unnoticed) nor a failure: a customer
            # offboarded since the config was written must not stop every other customer's sync,
            # and Workato itself answers an unknown workspace id with no row, not an error.
            names = ", ".join(f"'{external}'" for external in unknown)
            logger.warning(f"Workato: 'workato.external_ids' names {names}, which no customer workspace has; no usage is read for it.")
        return list(dict.fromkeys(id_ for external in wanted for id_ in by_external.get(external, [])))


#: The typed columns of ``workato_customer_workspaces``: integer counts and quotas, and the
#: billing period's bounds as date-times (Singer tap for Workato's field names).
WORKSPACE_COUNT_COLUMNS = (
    "task_limit",
    "task_count",
    "task_limit_adjustment",
    "active_connection_limit",
    "active_connection_count",
    "active_recipe_count",
)
WORKSPACE_TEXT_COLUMNS = ("external_id", "name", "plan_id")
WORKSPACE_TIME_COLUMNS = ("current_billing_period_start", "current_billing_period_end")


def workspace_columns(row: Mapping[str, Any]) -> Dict[str, Any]:
    """The typed columns of one listed customer workspace (only those the row has)."""
    columns: Dict[str, Any] = {"id": row["id"]}
    for name in WORKSPACE_TEXT_COLUMNS:
        if name in row:
            columns[name] = as_text(row[name])
    for name in WORKSPACE_COUNT_COLUMNS:
        if name in row:
            columns[name] = as_count(row[name])
    for name in WORKSPACE_TIME_COLUMNS:
        if name in row:
            columns[name] = as_date_time(row[name])
            columns[f"{name}_utc"] = in_utc(columns[name])
    return columns


class WorkatoCustomerWorkspaces(Stream):
    """``workato_customer_workspaces``: one record per customer workspace, the listed row whole
    plus its typed columns (a value not of its column's type is null there, kept as
    ``vendor_<column>``).

    The rows are those :class:`CustomerWorkspaces` lists for the usage streams: one listing per
    sync, whichever streams are selected. Full refresh, and not resumable, for the reason
    :class:`source_usage.vendors.tabnine.common.TabnineEndpoint` gives: a resumable full refresh
    handed its final state back gets no records at all.
    """

    name = "workato_customer_workspaces"
    primary_key = "id"

    def __init__(self, workspaces: CustomerWorkspaces) -> None:
        self.workspaces = workspaces
        super().__init__()

    @property
    def is_resumable(self) -> bool:
        return False

    def get_json_schema(self) -> Mapping[str, Any]:  # type: ignore[override]  # the CDK's is an lru_cache
        return load_schema(self.name)

    def read_records(
        self,
        sync_mode: SyncMode,
        cursor_field: Optional[List[str]] = None,
        stream_slice: Optional[Mapping[str, Any]] = None,
        stream_state: Optional[Mapping[str, Any]] = None,
    ) -> Iterable[StreamData]:
        # Each workspace once: the listing's key guard already left out a row repeated across pages.
        for row in self.workspaces.rows():
            yield with_columns(row, workspace_columns(row))


class OneRowPerKey(KeyGuard):
    """A period's keys, where a second row of one key fails the stream instead of being left out.

    Each workspace is asked for once per window with ``interval: none``, so Workato has no reason
    to answer a key twice: a second row would be a second bucket or a changed answer, and leaving
    it out (or adding it up) would change the numbers without anyone seeing it.
    """

    def admit(self, record: Mapping[str, Any]) -> bool:
        if super().admit(record):
            return True
        key = ", ".join(f"{field} {record.get(field)}" for field in self.key_fields)
        within = f" in {self.period}" if self.period else ""
        message = (
            f"{self.where} answered a second row for {key}{within}, although each workspace is asked for once per "
            f"window (the second record has: {row_fields(record)}). Neither row is known to be the right one; the vendor's "
            "answer may have changed shape."
        )
        raise answer_error(message)


@dataclass(frozen=True)
class UsageQuery:
    """What the config says about every usage request."""

    interval: Granularity
    workspace_ids: Tuple[int, ...] = ()
    external_ids: Tuple[str, ...] = ()
    recipe_name_pattern: Optional[str] = None
    folder_name_pattern: Optional[str] = None

    @property
    def patterns(self) -> Dict[str, str]:
        patterns = {"recipe_name_pattern": self.recipe_name_pattern, "folder_name_pattern": self.folder_name_pattern}
        return {field: value for field, value in patterns.items() if value}


class WorkatoUsageStream(PeriodStream):
    """One window of one interval per slice; the ids split into as few requests as allowed."""

    endpoint = USAGE_ENDPOINT
    http_method = "POST"
    cursor_field = "period_start"
    data_fields = ("data",)
    #: ``group_by`` of the body; ``None`` leaves Workato's default (``workspace``).
    group_by: ClassVar[Optional[str]] = None
    #: The row fields of the primary key (besides ``period_start``, the window's).
    row_keys: ClassVar[Tuple[str, ...]] = ()
    #: The counts a row of this grouping must carry; any other count is read when the row has it
    #: and null when it has not (a row that is one recipe has no reason to count recipes).
    demanded_counts: ClassVar[Tuple[str, ...]] = COUNTS

    def __init__(self, connection: Connection, plan: PeriodPlan, query: UsageQuery, workspaces: CustomerWorkspaces) -> None:
        self.query = query
        self.workspaces = workspaces
        super().__init__(connection, plan)

    def cursor_value(self, period: Period) -> str:
        return period.start_iso

    def workspace_ids(self) -> List[Union[int, str]]:
        """The workspaces to ask for, each once, by id: the configured ids and those of the
        configured external ids (resolved through the listing), else every customer workspace.

        External ids are never sent: a workspace named both ways would be answered twice, and a
        second row of one key must fail the period (:class:`OneRowPerKey`), not be dropped.
        """
        query = self.query
        if not query.workspace_ids and not query.external_ids:
            return self.workspaces.ids()
        resolved = self.workspaces.resolve(query.external_ids) if query.external_ids else []
        return list(dict.fromkeys([*query.workspace_ids, *resolved]))

    def requests_for_period(self, period_slice: Mapping[str, Any]) -> Iterable[Mapping[str, Any]]:
        for chunk in chunked(self.workspace_ids(), IDS_PER_REQUEST):
            yield {**period_slice, "ids": chunk}

    def key_guard(self, period: str = "") -> KeyGuard:
        return OneRowPerKey(self.where, self.key_fields, period)

    def request_body_json(
        self,
        stream_state: Optional[Mapping[str, Any]],
        stream_slice: Optional[Mapping[str, Any]] = None,
        next_page_token: Optional[Mapping[str, Any]] = None,
    ) -> Optional[Mapping[str, Any]]:
        assert stream_slice is not None
        body: Dict[str, Any] = {
            "from": stream_slice["period_start"],
            "to": stream_slice["period_end"],
            "workspace_ids": stream_slice["ids"],
            # One row per workspace for exactly this window; see WINDOW_INTERVAL.
            "interval": WINDOW_INTERVAL,
        }
        # Any further field makes Workato leave out deleted recipes, so only what the config asks for.
        body.update(self.query.patterns)
        if self.group_by is not None:
            body["group_by"] = self.group_by
        return body

    def malformed(self, body: Any) -> Optional[str]:
        if not isinstance(body, dict) or "data" not in body:
            return "no 'data' key"
        rows = body["data"]
        if rows is None:  # Workato's way of saying "no usage in this window"
            return None
        if not isinstance(rows, list):
            return "'data' is neither a list nor null"
        if not all(isinstance(row, dict) for row in rows):
            return "a 'data' row is not an object"
        return None

    def records(self, response: requests.Response, stream_slice: Mapping[str, Any]) -> Iterable[Mapping[str, Any]]:
        for row in json_body(response)["data"] or []:
            columns: Dict[str, Any] = {
                "period_start": stream_slice["period_start"],
                "period_end": stream_slice["period_end"],
                "period_start_utc": in_utc(stream_slice["period_start"]),
                "period_end_utc": in_utc(stream_slice["period_end"]),
                "interval": self.query.interval.value,
                **self.key_columns(row),
                **self.counts(row),
            }
            yield with_columns(row, columns)

    def key_columns(self, row: Mapping[str, Any]) -> Dict[str, Any]:
        """The row's key fields; a row without one fails, listing the row's own fields (not the
        columns the connector adds), since Workato does not publish the row's field names."""
        for field in self.row_keys:
            if row.get(field) is None:
                raise self.key_guard().missing(row, field)
        return {field: row[field] for field in self.row_keys}

    def counts(self, row: Mapping[str, Any]) -> Dict[str, Optional[int]]:
        """The four counts as integers, each from the first of its names the row has.

        A count this grouping demands (:attr:`demanded_counts`) under none of its names fails the
        stream: a null column would read as "no usage" where Workato may just have named it
        differently; one it does not demand is null when absent. A value that is there but not
        an integer stays null, its raw value kept (``with_columns``).
        """
        counts: Dict[str, Optional[int]] = {}
        for column, names in COUNT_NAMES.items():
            present = [name for name in names if name in row]
            if not present and column not in self.demanded_counts:
                counts[column] = None
                continue
            if not present:
                raise self.unknown_count(row, column, names)
            if len({repr(row[name]) for name in present}) > 1:
                raise self.unknown_count(row, column, names, conflicting=present)
            counts[column] = as_count(row[present[0]])
        return counts

    def unknown_count(
        self, row: Mapping[str, Any], column: str, names: Sequence[str], conflicting: Sequence[str] = ()
    ) -> AirbyteTracedException:
        named = " or ".join(f"'{name}'" for name in names)
        what = f"different values under {named}" if conflicting else f"no {named}"
        message = (
            f"{self.where} answered a row with {what}, the '{column}' count (the row has: {row_fields(row)}). "
            "Workato does not publish the fields of a usage row; rather than emit the count as null, the sync stops: "
            "the connector needs the row's new field names."
        )
        return answer_error(message)


class WorkatoWorkspaceUsage(WorkatoUsageStream):
    """``workato_workspace_usage``: one customer workspace in one interval, deleted recipes included
    unless a name pattern is configured."""

    name = "workato_workspace_usage"
    primary_key = ["period_start", "workspace_id"]
    row_keys = ("workspace_id",)


class WorkatoRecipeUsage(WorkatoUsageStream):
    """``workato_recipe_usage``: one recipe in one interval (never a deleted recipe: ``group_by``
    is a field beyond the minimal body)."""

    name = "workato_recipe_usage"
    primary_key = ["period_start", "workspace_id", "recipe_id"]
    group_by = "recipe"
    row_keys = ("workspace_id", "recipe_id")
    demanded_counts = ("task_count", "successful_job_count", "failed_job_count")


#: A month as text: ``YYYY-MM``, or its first day ``YYYY-MM-01``.
MONTH_TEXT = re.compile(r"(?P<year>[0-9]{4})-(?P<month>[0-9]{2})(-01)?")


def month_of(item: Mapping[str, Any]) -> Optional[str]:
    """``YYYY-MM-01`` of a month of ``GET /api/managed_users/usage``: ``month`` as ``YYYY-MM`` or
    ``YYYY-MM-01`` text, or a one-based ``month`` number (1-12) beside an integer ``year``;
    ``None`` for anything else (a zero-based month, a date that is not a first, another name)."""
    given, given_year = item.get("month"), item.get("year")
    if isinstance(given, str) and (match := MONTH_TEXT.fullmatch(given.strip())):
        year, month = int(match["year"]), int(match["month"])
    elif type(given) is int and type(given_year) is int:
        year, month = given_year, given
    else:
        return None
    return f"{year:04d}-{month:02d}-01" if 1970 <= year <= 9999 and 1 <= month <= 12 else None


class SameRowOnce(KeyGuard):
    """Each key once, where a second row of one key fails unless it repeats the first exactly.

    A customer created while the pages are read shifts another onto the next page, whose months
    then come twice, the same: left out, as any listing's repeat. A second total for one customer
    and month that differs would make one of them wrong, and neither is known to be the right one.
    """

    def __init__(self, where: str, key_fields: List[str]) -> None:
        super().__init__(where, key_fields)
        self._first: Dict[Tuple[Any, ...], Mapping[str, Any]] = {}

    def admit(self, record: Mapping[str, Any]) -> bool:
        key = tuple(record.get(field) for field in self.key_fields)
        first = self._first.setdefault(key, record)
        if super().admit(record):
            return True
        if first == record:
            return False
        named = ", ".join(f"{field} {record.get(field)}" for field in self.key_fields)
        raise answer_error(
            f"{self.where} answered two different rows for {named} (the second has: {row_fields(record)}); neither is "
            "known to be the right one, so the sync stops: the vendor's answer may have changed shape."
        )


class WorkatoCustomerMonthlyUsage(ResultPages):
    """``workato_customer_monthly_usage``: one record per customer workspace and month, its task
    total as Workato bills it (``GET /api/managed_users/usage``: the last 12 months, the current one
    so far), whatever ``start_date``, and for every customer whatever ids are configured, as
    ``workato_customer_workspaces``. Full refresh, and not resumable (see that stream).

    A record is the month as sent, plus ``workspace_id`` (the customer's ``id``), the customer's
    ``external_id`` and ``name`` (as ``workspace_name``) when the customer has them, ``month``
    (``YYYY-MM-01``) and ``task_count`` as an integer. The shape is assumed (the module's
    docstring): a customer without its months, a month that cannot be read, or a month without
    ``task_count`` fails the stream naming the field; a count that is not an integer is null, its
    value kept as ``vendor_task_count``.
    """

    name = "workato_customer_monthly_usage"
    primary_key = ["workspace_id", "month"]
    endpoint = MONTHLY_USAGE_ENDPOINT
    noun = "customer"

    @property
    def is_resumable(self) -> bool:
        return False

    def key_guard(self, period: str = "") -> KeyGuard:
        return SameRowOnce(self.where, self.key_fields)

    def malformed(self, body: Any) -> Optional[str]:
        problem = super().malformed(body)
        if problem:
            return problem
        for index, row in enumerate(body["result"]):
            months = row.get(MONTHS_FIELD)
            if not isinstance(months, list) or not all(isinstance(month, dict) for month in months):
                return f"customer {index} of 'result' has no '{MONTHS_FIELD}' list of months (it has: {row_fields(row)})"
        return None

    def parse_response(self, response: requests.Response, **kwargs: Any) -> Iterable[Mapping[str, Any]]:
        for row in json_body(response)["result"]:
            customer: Dict[str, Any] = {"workspace_id": row["id"]}
            for field, column in (("external_id", "external_id"), ("name", "workspace_name")):
                if field in row:
                    customer[column] = as_text(row[field])
            for item in row[MONTHS_FIELD]:
                record = with_columns(item, {**customer, "month": self.month(row, item), "task_count": self.tasks(row, item)})
                if "vendor_month" in record:
                    # One column type: a month number (6 beside year) and a label ("2026-06") alike.
                    record["vendor_month"] = str(record["vendor_month"])
                yield record

    def month(self, row: Mapping[str, Any], item: Mapping[str, Any]) -> str:
        month = month_of(item)
        if month is None:
            raise answer_error(
                f"{self.where} answered a month of customer {row['id']} without a readable 'month' (the month has: "
                f"{row_fields(item)}; read are 'YYYY-MM', 'YYYY-MM-01', or a 'month' from 1 to 12 beside 'year'). Workato "
                "does not publish this answer's shape; rather than guess which month a total is for, the sync stops."
            )
        return month

    def tasks(self, row: Mapping[str, Any], item: Mapping[str, Any]) -> Optional[int]:
        if MONTHLY_TASKS_FIELD not in item:
            raise answer_error(
                f"{self.where} answered a month of customer {row['id']} without '{MONTHLY_TASKS_FIELD}' (the month has: "
                f"{row_fields(item)}). Workato does not publish this answer's shape; rather than emit the month's tasks as "
                "null, the sync stops: the connector needs the answer's new field name."
            )
        return as_count(item[MONTHLY_TASKS_FIELD])


#: A name pattern of the config; Workato ignores shorter ones.
_PATTERN_FIELD: Mapping[str, Any] = {"type": ["null", "string"], "minLength": PATTERN_MIN_LENGTH}

#: The config section's schema.
SPEC: Mapping[str, Any] = {
    "type": "object",
    "title": "Workato Embedded",
    "description": (
        "Task, recipe and job counts per customer workspace and per recipe, from the Embed "
        "admin workspace. Deleted recipes are counted in the workspace stream only, and only "
        "when no name pattern is set."
    ),
    "required": ["api_token"],
    "properties": {
        "api_token": {
            "type": "string",
            "title": "API token",
            "description": "The token of an API client in the Embed admin workspace (sent as Bearer).",
            "airbyte_secret": True,
            "order": 0,
        },
        "base_url": {
            "type": "string",
            "title": "Data center",
            # A plain string with examples, not an anyOf of titled consts: Airbyte's form UI does
            # not render anyOf (airbytehq/airbyte#20063), and a private host must stay possible.
            "description": (
                "The data center of the Embed admin workspace: "
                + ", ".join(f"{name} {url}" for name, url in DATA_CENTERS)
                + "; or any https URL."
            ),
            "default": DEFAULT_BASE_URL,
            "examples": [url for _, url in DATA_CENTERS],
            "order": 1,
        },
        "workspace_ids": {
            "type": "array",
            "items": {"type": "integer", "minimum": 1},
            "title": "Workspace IDs",
            "description": (
                f"Only these customer workspaces (any number; sent {IDS_PER_REQUEST} per request). "
                "Empty, with no external IDs either: every customer workspace."
            ),
            "default": [],
            "order": 2,
        },
        "external_ids": {
            "type": "array",
            "items": {"type": "string", "minLength": 1},
            "title": "External IDs",
            "description": f"Only the customer workspaces with these external IDs (sent {IDS_PER_REQUEST} per request).",
            "default": [],
            "order": 3,
        },
        "interval": {
            "type": "string",
            "title": "Interval",
            "description": "The length of one period; weeks start on Monday, in the configured time zone.",
            "enum": [granularity.value for granularity in Granularity],
            "default": DEFAULT_INTERVAL.value,
            "order": 4,
        },
        "timezone": {
            "type": "string",
            "title": "Time zone",
            "description": ("The IANA time zone of the Embed admin workspace (Workato counts periods in it), e.g. America/Los_Angeles."),
            "default": DEFAULT_TIMEZONE,
            "examples": ["UTC", "America/Los_Angeles", "Europe/Berlin"],
            "order": 5,
        },
        "recipe_name_pattern": {
            **_PATTERN_FIELD,
            "title": "Recipe name pattern",
            "description": (
                "Only recipes whose name contains this text (case-sensitive, at least 3 characters). Setting it leaves deleted recipes out."
            ),
            "order": 6,
        },
        "folder_name_pattern": {
            **_PATTERN_FIELD,
            "title": "Folder name pattern",
            "description": (
                "Only recipes in folders whose name contains this text (case-sensitive, at least "
                "3 characters). Setting it leaves deleted recipes out."
            ),
            "order": 7,
        },
    },
}


class Workato(Vendor):
    identity = IDENTITY
    #: 1,000 usage requests a minute are 17 a second: 20 in flight reach it at 1 s an answer;
    #: 40 let a short sync use the minute's allowance at once (measured at 300 ms answers: 338
    #: requests in 5.4 s, 9.2 s with 20; the budget still holds the minute). More buys little here:
    #: 340 took 5.6 s against 7.2 s for 40 in the run before (a slower hour), the rest is CPU.
    requests_in_flight = 40

    def spec(self) -> Mapping[str, Any]:
        return SPEC

    def problems(self, section: Mapping[str, Any]) -> List[str]:
        problem = timezone_problem("workato.timezone", section.get("timezone"))
        return [problem] if problem else []

    def query(self, section: Mapping[str, Any]) -> UsageQuery:
        return UsageQuery(
            interval=Granularity(section["interval"]),
            workspace_ids=tuple(section["workspace_ids"]),
            external_ids=tuple(section["external_ids"]),
            recipe_name_pattern=section.get("recipe_name_pattern") or None,
            folder_name_pattern=section.get("folder_name_pattern") or None,
        )

    def streams(self, section: Mapping[str, Any], settings: SharedSettings, http: HttpOptions) -> List[Stream]:
        # One budget for both streams and the listing: the usage limit spans every usage request.
        # The monthly totals are held to both limits: Workato does not say which group they are in.
        limits = [
            EndpointLimit(f"/({USAGE_ENDPOINT}|{MONTHLY_USAGE_ENDPOINT})$", USAGE_REQUESTS_PER_MINUTE, 60.0),
            EndpointLimit(f"/({MANAGED_USERS_ENDPOINT}|{MONTHLY_USAGE_ENDPOINT})$", MANAGED_USERS_REQUESTS_PER_MINUTE, 60.0),
        ]
        connection = self.connection(section, http, request_budget(section["base_url"], limits))
        query = self.query(section)
        plan = settings.plan(self.identity.title, section["timezone"], query.interval)
        workspaces = CustomerWorkspaces(ManagedUsers(connection))
        return [
            WorkatoWorkspaceUsage(connection, plan, query, workspaces),
            WorkatoRecipeUsage(connection, plan, query, workspaces),
            WorkatoCustomerWorkspaces(workspaces),
            WorkatoCustomerMonthlyUsage(connection),
        ]

    def check_stream(self, section: Mapping[str, Any], settings: SharedSettings, http: HttpOptions) -> Stream:
        """A one-row page of the customer list: its first row proves host and token."""
        return ManagedUsers(self.connection(section, http), per_page=1)


VENDOR = Workato()

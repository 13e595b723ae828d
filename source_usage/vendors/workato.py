"""Workato Embedded: task, recipe and job counts per customer workspace and per recipe.

One endpoint, ``POST /api/v2/managed_users/statistics/usage``, read twice: grouped by workspace
and grouped by recipe. Its times are in the Embed admin workspace's time zone (a config value),
so the connector asks for one window per configured interval, aligned to that interval's
calendar boundaries in that zone, with ``interval`` equal to the window's length: each row of an
answer is then one workspace (or recipe) in that window, and the window is the record's period.

All usage endpoints together allow 1,000 requests/minute per Embed admin workspace; listing the
customer workspaces (``GET /api/managed_users``) is a customer-management endpoint with its own
60 requests/minute. Errors are 400/404 with ``{"message"}`` and 401 for a bad token.

Deleted recipes are counted only when the body has nothing but ``from``, ``to``, the ids and
``interval``. The workspace stream sends exactly that unless a name pattern is configured; the
recipe stream must send ``group_by: recipe`` and therefore never sees deleted recipes.

Assumed where Workato's documents are silent (see the project's vendor notes): the body is
JSON with id lists as JSON arrays; at most ``IDS_PER_REQUEST`` ids per request; ``to`` is the
exclusive end of the window; rows carry ``workspace_id``, ``recipe_id`` and the four counts
under the names in ``COUNTS``; ``GET /api/managed_users`` pages with ``page``/``per_page`` and
answers ``{"result": [{"id", ...}]}``, its last page being the first one with fewer rows than
asked for.
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
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_usage.core.budget import EndpointLimit, request_budget
from source_usage.core.errors import json_body, list_problem
from source_usage.core.paging import PageNumberPager, Pager
from source_usage.core.periods import Granularity, Period, PeriodPlan
from source_usage.core.settings import SharedSettings
from source_usage.core.streams import PeriodStream, UsageStream, chunked
from source_usage.core.validation import timezone_problem as iana_timezone_problem
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

INTEGER_TEXT = re.compile(r"-?[0-9]+")


def as_count(value: Any) -> Optional[int]:
    """A count as an integer: integral numbers and digit strings; anything else is null."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    if isinstance(value, str) and INTEGER_TEXT.fullmatch(value.strip()):
        return int(value)
    return None


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


def timezone_problem(field: str, value: Optional[str]) -> Optional[str]:
    """Anything but an IANA name, including names the host's zoneinfo folder alone knows
    (``localtime``): the zone Workato counts in is the workspace's, never the host's."""
    return iana_timezone_problem(field, value)


class ManagedUsers(UsageStream):
    """``GET /api/managed_users``: the customer workspaces, page by page.

    Used inside the connector only (to know every workspace id when none is configured, and as
    the cheap request of ``check``); it is not a stream of the catalog.
    """

    name = "workato_managed_users"
    primary_key = "id"
    endpoint = MANAGED_USERS_ENDPOINT

    def __init__(self, connection: Connection, per_page: int = WORKSPACES_PER_PAGE) -> None:
        self.per_page = per_page
        super().__init__(connection)

    def new_pager(self) -> Pager:
        return PageNumberPager(self.where, size=self.per_page)

    def page_items(self, body: Any) -> Sequence[Any]:
        return body["result"]

    def get_json_schema(self) -> Mapping[str, Any]:  # type: ignore[override]  # the CDK's is an lru_cache
        return {"type": "object", "additionalProperties": True}  # internal: there is no schema file

    def malformed(self, body: Any) -> Optional[str]:
        problem = list_problem(body, "result")
        if problem:
            return problem
        for index, row in enumerate(body["result"]):
            if row.get("id") is None:
                return f"workspace {index} of 'result' has no 'id'"
        return None

    def parse_response(self, response: requests.Response, **kwargs: Any) -> Iterable[Mapping[str, Any]]:
        yield from json_body(response)["result"]


class CustomerWorkspaces:
    """Every customer workspace id, listed at most once per sync and shared by both streams.

    Both usage streams need the list when no ids are configured, and they may be read in
    parallel threads; the lock makes the second wait for the first's listing instead of
    listing again. A failed listing is remembered too, so the second stream fails at once
    with the same error instead of spending the same retries on the 60 requests/minute limit.
    """

    def __init__(self, listing: ManagedUsers) -> None:
        self._listing = listing
        self._lock = threading.Lock()
        self._ids: Optional[List[Union[int, str]]] = None
        self._error: Optional[AirbyteTracedException] = None

    def ids(self) -> List[Union[int, str]]:
        with self._lock:
            if self._ids is None and self._error is None:
                try:
                    self._ids = self._list()
                except AirbyteTracedException as error:
                    self._error = error
            if self._error is not None:
                raise self._error
            assert self._ids is not None
            return self._ids

    def _list(self) -> List[Union[int, str]]:
        rows = self._listing.read_records(SyncMode.full_refresh, stream_slice={})
        # parse_response yields the ``result`` rows as they are, which malformed() checked carry an id.
        # A workspace created while paging can shift another onto the next page too: asked for twice,
        # it would give duplicate rows, so each id is kept once, in listing order.
        ids = list(dict.fromkeys(row["id"] for row in rows if isinstance(row, Mapping)))
        if ids:
            logger.info(f"Workato: reading usage of all {len(ids)} customer workspaces.")
        else:
            logger.warning("Workato: the Embed admin workspace has no customer workspaces; there is no usage to read.")
        return ids


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
    #: ``group_by`` of the body; ``None`` leaves Workato's default (``workspace``).
    group_by: ClassVar[Optional[str]] = None

    def __init__(self, connection: Connection, plan: PeriodPlan, query: UsageQuery, workspaces: CustomerWorkspaces) -> None:
        self.query = query
        self.workspaces = workspaces
        super().__init__(connection, plan)

    def cursor_value(self, period: Period) -> str:
        return period.start_iso

    def id_lists(self) -> List[Tuple[str, Sequence[Union[int, str]]]]:
        """The body field and ids to ask for: the configured ones, else every customer workspace.

        Workspace ids and external ids go in separate requests, because the API takes one or the
        other (and the deleted-recipe rule allows only one of them).
        """
        configured: List[Tuple[str, Sequence[Union[int, str]]]] = [
            ("workspace_ids", self.query.workspace_ids),
            ("external_ids", self.query.external_ids),
        ]
        present = [(field, ids) for field, ids in configured if ids]
        return present or [("workspace_ids", self.workspaces.ids())]

    def requests_for_period(self, period_slice: Mapping[str, Any]) -> Iterable[Mapping[str, Any]]:
        # A workspace named both by id and by external id is answered twice in a window; the
        # period's key guard (core.keys) emits its record once.
        for field, ids in self.id_lists():
            for chunk in chunked(ids, IDS_PER_REQUEST):
                yield {**period_slice, "id_field": field, "ids": chunk}

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
            stream_slice["id_field"]: stream_slice["ids"],
            "interval": self.query.interval.value,
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
                "interval": self.query.interval.value,
                **self.key_columns(row),
                **{name: as_count(row.get(name)) for name in COUNTS},
            }
            yield with_columns(row, columns)

    def key_columns(self, row: Mapping[str, Any]) -> Dict[str, Any]:
        return {"workspace_id": row.get("workspace_id")}


class WorkatoWorkspaceUsage(WorkatoUsageStream):
    """``workato_workspace_usage``: one customer workspace in one interval, deleted recipes included
    unless a name pattern is configured."""

    name = "workato_workspace_usage"
    primary_key = ["period_start", "workspace_id"]


class WorkatoRecipeUsage(WorkatoUsageStream):
    """``workato_recipe_usage``: one recipe in one interval (never a deleted recipe: ``group_by``
    is a field beyond the minimal body)."""

    name = "workato_recipe_usage"
    primary_key = ["period_start", "workspace_id", "recipe_id"]
    group_by = "recipe"

    def key_columns(self, row: Mapping[str, Any]) -> Dict[str, Any]:
        return {"workspace_id": row.get("workspace_id"), "recipe_id": row.get("recipe_id")}


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
            "description": (
                "The IANA time zone of the Embed admin workspace (Workato counts periods in it), e.g. America/Los_Angeles."
            ),
            "default": DEFAULT_TIMEZONE,
            "examples": ["UTC", "America/Los_Angeles", "Europe/Berlin"],
            "order": 5,
        },
        "recipe_name_pattern": {
            **_PATTERN_FIELD,
            "title": "Recipe name pattern",
            "description": (
                "Only recipes whose name contains this text (case-sensitive, at least 3 characters). "
                "Setting it leaves deleted recipes out."
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
        limits = [
            EndpointLimit(f"/{USAGE_ENDPOINT}$", USAGE_REQUESTS_PER_MINUTE, 60.0),
            EndpointLimit(f"/{MANAGED_USERS_ENDPOINT}$", MANAGED_USERS_REQUESTS_PER_MINUTE, 60.0),
        ]
        connection = self.connection(section, http, request_budget(section["base_url"], limits))
        query = self.query(section)
        plan = settings.plan(self.identity.title, section["timezone"], query.interval)
        workspaces = CustomerWorkspaces(ManagedUsers(connection))
        return [
            WorkatoWorkspaceUsage(connection, plan, query, workspaces),
            WorkatoRecipeUsage(connection, plan, query, workspaces),
        ]

    def check_stream(self, section: Mapping[str, Any], settings: SharedSettings, http: HttpOptions) -> Stream:
        """A one-row page of the customer list: its first row proves host and token."""
        return ManagedUsers(self.connection(section, http), per_page=1)


VENDOR = Workato()

"""Tabnine (Enterprise SaaS and private installations): organisation, teams, users, seats, usage.

Every endpoint is a GET on the console host (``https://console.tabnine.com`` or a private
installation's own host) with ``Authorization: Bearer <token>``. Teams and users are paged with
``offset``/``limit`` and answer ``meta.next`` (``{limit, offset}``, null on the last page). Account
utilizations are monthly, with a zero-based ``month``. Organisation usage is counted in UTC
buckets; since server 6.2 it is served by ``/api/v2/organization/usage`` (v1 then keeps only the
older history), and an older server answers 404 there, so the stream falls back to v1. Tabnine
publishes no rate limit: no client-side budget, and a 429 is waited out (``Retry-After``).
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Callable, Dict, Iterable, List, Mapping, MutableMapping, Optional
from urllib.parse import parse_qs, urlsplit

import pendulum
import requests
from airbyte_cdk.models import FailureType, SyncMode
from airbyte_cdk.sources.streams import Stream
from airbyte_cdk.sources.streams.core import StreamData
from airbyte_cdk.sources.streams.http.error_handlers import ErrorHandler
from airbyte_cdk.sources.streams.http.error_handlers.response_models import ErrorResolution, ResponseAction
from airbyte_cdk.sources.streams.http.requests_native_auth import TokenAuthenticator
from airbyte_cdk.utils.traced_exception import AirbyteTracedException
from pendulum import DateTime

from source_usage.core.errors import UsageErrorHandler, fail, json_body
from source_usage.core.periods import Granularity, Period, PeriodPlan, day_start
from source_usage.core.settings import SharedSettings
from source_usage.core.streams import CursorState, PeriodStream, UsageStream
from source_usage.core.validation import base_url_problem
from source_usage.core.vendor import Vendor

TITLE = "Tabnine"
CREDENTIALS_HINT = "tabnine.api_token"
TIMEZONE = "UTC"  # usage buckets and months are counted in UTC
DEFAULT_BASE_URL = "https://console.tabnine.com"
PAGE_SIZE = 100

ORGANIZATION_PATH = "api/v1/organization"
TEAMS_PATH = "api/v1/organization/teams"
USERS_PATH = "api/v1/organization/users"
ACCOUNT_UTILIZATIONS_PATH = "api/v1/organization/account-utilizations"
USAGE_V2_PATH = "api/v2/organization/usage"
USAGE_V1_PATH = "api/v1/organization/usage"

#: The config's granularity names (also what the usage API takes) and their periods.
GRANULARITIES: Mapping[str, Granularity] = {
    "daily": Granularity.DAY,
    "weekly": Granularity.WEEK,
    "monthly": Granularity.MONTH,
}
DEFAULT_GRANULARITY = "daily"

#: How a private installation with the wrong host (or a path Tabnine does not serve) looks.
WRONG_HOST_HINT = "the host in tabnine.base_url may be wrong (a private installation serves the console on its own host)"


def utc_z(iso: str) -> str:
    """An ISO-8601 instant as UTC with ``Z``, e.g. ``2026-06-01T00:00:00Z``.

    ``Z`` keeps ``+`` out of the query string: a ``+00:00`` that reaches a server unescaped (a
    proxy that re-decodes, a hand-built URL) reads as a space.
    """
    moment = pendulum.parse(iso)
    assert isinstance(moment, DateTime)
    return moment.in_timezone("UTC").strftime("%Y-%m-%dT%H:%M:%SZ")


def month_start_of(item: Mapping[str, Any]) -> str:
    """``YYYY-MM-01`` from Tabnine's ``year`` and zero-based ``month`` (0 = January)."""
    return f"{int(item['year']):04d}-{int(item['month']) + 1:02d}-01"


class TabnineErrorHandler(UsageErrorHandler):
    """Tabnine's 404s, before the shared HTTP-status mapping.

    A 404 from the v2 usage endpoint means a server older than 6.2: it is IGNOREd so that the
    response reaches the usage stream, which falls back to v1. Any other 404 means the host is not
    a Tabnine console (every path used here exists on every supported server).
    """

    def vendor_resolution(self, response: requests.Response) -> Optional[ErrorResolution]:
        if response.status_code != 404:
            return None
        if self.endpoint == USAGE_V2_PATH:
            return ErrorResolution(
                ResponseAction.IGNORE,
                error_message=f"Tabnine answered 404 for {USAGE_V2_PATH}: the server predates the v2 usage API.",
            )
        return fail(f"Tabnine answered 404 for {self.endpoint}: {WRONG_HOST_HINT}.", FailureType.config_error)


class TabnineStream(UsageStream):
    """One Tabnine endpoint: its errors name Tabnine and ``tabnine.api_token``."""

    vendor = TITLE
    credentials_hint = CREDENTIALS_HINT
    error_handler_class = TabnineErrorHandler


class FullRefreshTabnineStream(TabnineStream):
    """A full-refresh Tabnine endpoint; records are the vendor's objects, kept whole.

    Deliberately not resumable (``is_resumable`` is what the catalog tells the platform, and what
    picks the CDK's checkpoint reader). A resumable full refresh ends with the state
    ``{"__ab_full_refresh_sync_complete": true}``, and a caller that hands that state to the next
    sync (PyAirbyte does) then gets no records at all, so seats and teams would silently go stale.
    These endpoints are a few pages: every sync reads them whole.
    """

    @property
    def is_resumable(self) -> bool:
        return False

class TabnineOrganization(FullRefreshTabnineStream):
    """``tabnine_organization``: the organisation and its high-level settings, one record.

    The usage stream needs the organisation's id too; both read the one answer that
    :class:`OrganizationLookup` fetches through this stream, so a sync asks once.
    """

    name = "tabnine_organization"
    primary_key = "id"
    endpoint = ORGANIZATION_PATH

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.lookup = OrganizationLookup(self.fetch)

    def malformed(self, body: Any) -> Optional[str]:
        if not isinstance(body, dict) or not body.get("id"):
            return "no organisation 'id'"
        return None

    def next_page_token(self, response: requests.Response) -> Optional[Mapping[str, Any]]:
        return None

    def parse_response(self, response: requests.Response, **kwargs: Any) -> Iterable[Mapping[str, Any]]:
        yield json_body(response)

    def fetch(self) -> Mapping[str, Any]:
        """The organisation object, read over HTTP (this stream's retries, errors and timeouts)."""
        for record in super().read_records(SyncMode.full_refresh, stream_slice={}):
            if isinstance(record, Mapping):
                return record
        raise AirbyteTracedException(
            message=f"Tabnine {ORGANIZATION_PATH} answered without an organisation.",
            failure_type=FailureType.system_error,
        )

    def read_records(
        self,
        sync_mode: SyncMode,
        cursor_field: Optional[List[str]] = None,
        stream_slice: Optional[Mapping[str, Any]] = None,
        stream_state: Optional[Mapping[str, Any]] = None,
    ) -> Iterable[StreamData]:
        yield self.lookup.get()


class OrganizationLookup:
    """The organisation, fetched on first use and then shared by every stream that needs it.

    Streams are read in parallel threads; the lock makes the first caller fetch and the others wait
    for its answer instead of sending the same request. A failed fetch is not kept: the next caller
    tries again (and meets the same error, reported by its own stream).
    """

    def __init__(self, fetch: Callable[[], Mapping[str, Any]]) -> None:
        self._fetch = fetch
        self._lock = threading.Lock()
        self._value: Optional[Mapping[str, Any]] = None

    def get(self) -> Mapping[str, Any]:
        with self._lock:
            if self._value is None:
                self._value = self._fetch()
            return self._value

    def organization_id(self) -> str:
        return str(self.get()["id"])


class PagedTabnineStream(FullRefreshTabnineStream):
    """``offset``/``limit`` pages, following ``meta.next`` until it is null."""

    def request_params(
        self,
        stream_state: Optional[Mapping[str, Any]],
        stream_slice: Optional[Mapping[str, Any]] = None,
        next_page_token: Optional[Mapping[str, Any]] = None,
    ) -> MutableMapping[str, Any]:
        token = next_page_token or {}
        return {"offset": token.get("offset", 0), "limit": token.get("limit", PAGE_SIZE)}

    def malformed(self, body: Any) -> Optional[str]:
        if not isinstance(body, dict) or not isinstance(body.get("data"), list):
            return "no 'data' list"
        meta = body.get("meta")
        if meta is not None and not isinstance(meta, dict):
            return "'meta' is not an object"
        following = (meta or {}).get("next")
        if following is not None and not (isinstance(following, dict) and isinstance(following.get("offset"), int)):
            return "'meta.next' is neither null nor {limit, offset}"
        return None

    def next_page_token(self, response: requests.Response) -> Optional[Mapping[str, Any]]:
        following = (json_body(response).get("meta") or {}).get("next")
        if following is None:
            return None
        offset = int(following["offset"])
        limit = following.get("limit")
        sent = parse_qs(urlsplit(response.request.url or "").query)
        sent_offset = int(sent.get("offset", ["0"])[0])
        if offset <= sent_offset:
            # A next page that does not move forward would be asked for for ever.
            raise AirbyteTracedException(
                message=f"Tabnine {self.endpoint} answered meta.next offset {offset} for the page at offset {sent_offset}.",
                failure_type=FailureType.system_error,
            )
        return {"offset": offset, "limit": int(limit) if isinstance(limit, int) and limit > 0 else PAGE_SIZE}

    def parse_response(self, response: requests.Response, **kwargs: Any) -> Iterable[Mapping[str, Any]]:
        yield from json_body(response)["data"]


class TabnineTeams(PagedTabnineStream):
    """``tabnine_teams``: one record per team."""

    name = "tabnine_teams"
    primary_key = "id"
    endpoint = TEAMS_PATH


class TabnineUsers(PagedTabnineStream):
    """``tabnine_users``: one record per user, active and deactivated (no ``active`` filter sent)."""

    name = "tabnine_users"
    primary_key = "id"
    endpoint = USERS_PATH


class TabnineAccountUtilizations(TabnineStream, CursorState):
    """``tabnine_account_utilizations``: seat counts per month, one request per sync.

    The endpoint answers every month from ``startDate`` on, the current one included. State is the
    latest ``month_start`` whose month has finished, so the current month, whose counts still
    change, is read again by every sync until it is over.
    """

    name = "tabnine_account_utilizations"
    primary_key = "month_start"
    cursor_field = "month_start"
    endpoint = ACCOUNT_UTILIZATIONS_PATH

    def __init__(self, months: PeriodPlan, lookback_months: int, current_month: DateTime, **kwargs: Any) -> None:
        self.months = months
        self.lookback_months = lookback_months
        self.current_month = current_month
        self._state: MutableMapping[str, Any] = {}
        self._finished_months_read: List[str] = []
        super().__init__(**kwargs)

    cursor_timezone = TIMEZONE

    def stream_slices(
        self,
        *,
        sync_mode: SyncMode,
        cursor_field: Optional[List[str]] = None,
        stream_state: Optional[Mapping[str, Any]] = None,
    ) -> Iterable[Optional[Mapping[str, Any]]]:
        cursor = self.saved_cursor(stream_state) if sync_mode == SyncMode.incremental else None
        months = self.months.periods(cursor, self.lookback_months)
        if not months:
            return
        yield {
            "startDate": months[0].start.format("YYYY-MM"),
            "first_month": months[0].day,
            "last_month": months[-1].day,
        }

    def request_params(
        self,
        stream_state: Optional[Mapping[str, Any]],
        stream_slice: Optional[Mapping[str, Any]] = None,
        next_page_token: Optional[Mapping[str, Any]] = None,
    ) -> MutableMapping[str, Any]:
        assert stream_slice is not None
        return {"startDate": stream_slice["startDate"]}

    def malformed(self, body: Any) -> Optional[str]:
        items = body.get("data") if isinstance(body, dict) else body
        if not isinstance(items, list):
            return "not a list of months"
        for index, item in enumerate(items):
            if not isinstance(item, dict):
                return f"item {index} is not an object"
            year, month = item.get("year"), item.get("month")
            if not isinstance(year, int) or isinstance(year, bool) or year < 1970:
                return f"item {index} has no 'year'"
            # Zero-based: anything outside 0-11 would shift every month_start, so it is refused.
            if not isinstance(month, int) or isinstance(month, bool) or not 0 <= month <= 11:
                return f"item {index} has no zero-based 'month' (0-11)"
        return None

    def next_page_token(self, response: requests.Response) -> Optional[Mapping[str, Any]]:
        return None

    def parse_response(
        self,
        response: requests.Response,
        *,
        stream_state: Mapping[str, Any],
        stream_slice: Optional[Mapping[str, Any]] = None,
        next_page_token: Optional[Mapping[str, Any]] = None,
    ) -> Iterable[Mapping[str, Any]]:
        assert stream_slice is not None
        body = json_body(response)
        # Documented as a bare list; an enveloped {"data": [...]} is read the same way.
        items: List[Mapping[str, Any]] = body["data"] if isinstance(body, dict) else body
        current = self.current_month.to_date_string()
        for item in sorted(items, key=lambda entry: (entry["year"], entry["month"])):
            month_start = month_start_of(item)
            if not stream_slice["first_month"] <= month_start <= stream_slice["last_month"]:
                continue
            yield {**item, "month_start": month_start}
            if month_start < current:
                self._finished_months_read.append(month_start)

    def read_records(
        self,
        sync_mode: SyncMode,
        cursor_field: Optional[List[str]] = None,
        stream_slice: Optional[Mapping[str, Any]] = None,
        stream_state: Optional[Mapping[str, Any]] = None,
    ) -> Iterable[StreamData]:
        self._finished_months_read = []
        yield from super().read_records(sync_mode, cursor_field, stream_slice, stream_state)
        # Only once the whole answer was handed on, and never backwards (a lookback re-read).
        if self._finished_months_read:
            self.advance_cursor(max(self._finished_months_read))


class TabnineOrganizationUsage(PeriodStream):
    """``tabnine_organization_usage``: one record per usage bucket, one request per window.

    A window is one period of the configured granularity in UTC, asked for as ``from`` (inclusive)
    and ``to`` (exclusive). The first 404 from v2 switches this sync to v1 for good, including the
    window that got it.
    """

    name = "tabnine_organization_usage"
    primary_key = ["period_start", "granularity"]
    cursor_field = "period_start"
    endpoint = USAGE_V2_PATH
    vendor = TITLE
    credentials_hint = CREDENTIALS_HINT
    error_handler_class = TabnineErrorHandler

    def __init__(self, granularity_name: str, organization: OrganizationLookup, **kwargs: Any) -> None:
        self.granularity_name = granularity_name
        self.organization = organization
        self._usage_path = USAGE_V2_PATH
        self._v2_missing = False
        super().__init__(**kwargs)

    def get_error_handler(self) -> Optional[ErrorHandler]:
        handler = super().get_error_handler()
        assert isinstance(handler, TabnineErrorHandler)
        # Kept so that, after the fallback, the handler's messages (and its 404 reading) are v1's.
        self._usage_error_handler = handler
        return handler

    def cursor_value(self, period: Period) -> str:
        return period.start_iso

    def requests_for_period(self, period_slice: Mapping[str, Any]) -> Iterable[Mapping[str, Any]]:
        if self._usage_path == USAGE_V2_PATH:
            self._v2_missing = False
            yield {**period_slice, "api_path": USAGE_V2_PATH}
            # Resumed only after that request's records were handed on: the 404 is known by now.
            if not self._v2_missing:
                return
            self._fall_back_to_v1()
        yield {**period_slice, "api_path": USAGE_V1_PATH}

    def _fall_back_to_v1(self) -> None:
        self.logger.warning(
            f"Tabnine server has no /{USAGE_V2_PATH} (HTTP 404: a server older than 6.2); falling back to "
            f"/{USAGE_V1_PATH} for the rest of this sync."
        )
        self._usage_path = USAGE_V1_PATH
        self._usage_error_handler.endpoint = USAGE_V1_PATH

    def path(self, **kwargs: Any) -> str:
        return str(kwargs["stream_slice"]["api_path"])

    def request_params(
        self,
        stream_state: Optional[Mapping[str, Any]],
        stream_slice: Optional[Mapping[str, Any]] = None,
        next_page_token: Optional[Mapping[str, Any]] = None,
    ) -> MutableMapping[str, Any]:
        assert stream_slice is not None
        return {
            "organizationId": self.organization.organization_id(),
            "from": utc_z(stream_slice["period_start"]),
            "to": utc_z(stream_slice["period_end"]),
            "granularity": self.granularity_name,
        }

    def malformed(self, body: Any) -> Optional[str]:
        usage = body.get("usage") if isinstance(body, dict) else None
        if not isinstance(usage, dict) or not isinstance(usage.get("data"), list):
            return "no 'usage.data' list"
        if not all(isinstance(bucket, dict) for bucket in usage["data"]):
            return "a 'usage.data' bucket is not an object"
        return None

    def next_page_token(self, response: requests.Response) -> Optional[Mapping[str, Any]]:
        return None

    def records(self, response: requests.Response, stream_slice: Mapping[str, Any]) -> Iterable[Mapping[str, Any]]:
        if not response.ok:
            # Only v2's 404 gets here (the handler ignores it): the signal to fall back.
            self._v2_missing = response.status_code == 404
            return
        body = json_body(response)
        organization_id = body.get("organizationId") or self.organization.organization_id()
        for bucket in body["usage"]["data"]:
            yield {
                "organizationId": organization_id,
                **bucket,
                "period_start": stream_slice["period_start"],
                "period_end": stream_slice["period_end"],
                "granularity": self.granularity_name,
            }


class Tabnine(Vendor):
    key = "tabnine"
    title = TITLE
    order = 5

    def spec(self) -> Mapping[str, Any]:
        return {
            "type": "object",
            "title": "Tabnine",
            "description": (
                "Organisation, teams, users, monthly seat utilisation and organisation usage (UTC) from "
                "Tabnine Enterprise SaaS or a private installation."
            ),
            "required": ["api_token"],
            "properties": {
                "api_token": {
                    "type": "string",
                    "title": "API token",
                    "description": "An admin's access token from Admin > Settings > Access Tokens.",
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
                    "description": "The length of one organisation-usage bucket, in UTC (weeks start on Monday).",
                    "enum": list(GRANULARITIES),
                    "default": DEFAULT_GRANULARITY,
                    "order": 2,
                },
            },
        }

    def problems(self, section: Mapping[str, Any]) -> List[str]:
        problem = base_url_problem("tabnine.base_url", section.get("base_url"))
        return [problem] if problem else []

    def month_plan(self, settings: SharedSettings) -> PeriodPlan:
        """Months from the one holding the start up to the current one (unfinished, but served)."""
        now = settings.now().in_timezone(TIMEZONE)
        first = settings.plan(self.title, TIMEZONE, Granularity.MONTH).first
        stop = Granularity.MONTH.step(Granularity.MONTH.floor(now), 1)
        if settings.end_date is not None:
            end_month = Granularity.MONTH.floor(day_start(settings.end_date, TIMEZONE))
            stop = min(stop, Granularity.MONTH.step(end_month, 1))
        return PeriodPlan(Granularity.MONTH, first=first, stop=stop)

    def streams(self, section: Mapping[str, Any], settings: SharedSettings) -> List[Stream]:
        base_url = section.get("base_url") or DEFAULT_BASE_URL
        granularity_name = section.get("granularity") or DEFAULT_GRANULARITY
        granularity = GRANULARITIES[granularity_name]
        common: Dict[str, Any] = dict(base_url=base_url, authenticator=TokenAuthenticator(token=section["api_token"]))
        organization = TabnineOrganization(**common)
        return [
            organization,
            TabnineTeams(**common),
            TabnineUsers(**common),
            TabnineAccountUtilizations(
                months=self.month_plan(settings),
                lookback_months=Granularity.MONTH.periods_in_days(settings.lookback_days),
                current_month=Granularity.MONTH.floor(settings.now().in_timezone(TIMEZONE)),
                **common,
            ),
            TabnineOrganizationUsage(
                granularity_name=granularity_name,
                organization=organization.lookup,
                plan=settings.plan(self.title, TIMEZONE, granularity),
                lookback_periods=granularity.periods_in_days(settings.lookback_days),
                **common,
            ),
        ]

    def check(self, section: Mapping[str, Any], settings: SharedSettings, logger: logging.Logger) -> None:
        """The organisation, with one retry and short timeouts (check must answer fast)."""
        TabnineOrganization(
            base_url=section.get("base_url") or DEFAULT_BASE_URL,
            authenticator=TokenAuthenticator(token=section["api_token"]),
            max_retries=1,
            timeout=(5.0, 15.0),
        ).fetch()


VENDOR = Tabnine()

"""Jiandaoyun (China) / Jodoo (international): member, app and organisation usage per day.

Three POST endpoints under ``/api/v1/corp_usage/``, each limited to 1 request/second. A
statistics date is a calendar day in UTC+8, from T-180 to T-1 (T = today in UTC+8). Paged
endpoints take ``skip``/``limit`` (limit <= 100) and answer ``has_next``; id filters take at most
10 ids per request. Errors are HTTP 400 with ``{"code", "msg"}``: 8303/8304 mean "too fast",
8301/8302/17018 a rejected key. The HTTP status decides before any body code (429 and 5xx are
retried whatever the body says; 403 is a key that is not a super admin's or a feature not
purchased). The doc-only "v2" adds two metrics to the app and overview endpoints, and a company
without usage statistics enabled gets 0 for every metric: the streams warn once per such date.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

import requests
from airbyte_cdk.models import FailureType, SyncMode
from airbyte_cdk.sources.streams import Stream
from airbyte_cdk.sources.streams.core import StreamData
from airbyte_cdk.sources.streams.http.error_handlers.response_models import ErrorResolution

from source_usage.core.budget import EndpointLimit, request_budget
from source_usage.core.errors import (
    PeriodNotServedYet,
    UsageErrorHandler,
    fail,
    json_body,
    list_problem,
    rate_limited,
    vendor_error_text,
)
from source_usage.core.paging import Pager, SkipLimitPager
from source_usage.core.periods import Granularity, Period, PeriodPlan
from source_usage.core.settings import SharedSettings
from source_usage.core.streams import PeriodStream, chunked
from source_usage.core.values import in_utc
from source_usage.core.vendor import Connection, HttpOptions, Vendor, VendorIdentity

logger = logging.getLogger("airbyte")

IDENTITY = VendorIdentity(key="jiandaoyun", title="Jiandaoyun", credentials_field="api_key")
DEFAULT_BASE_URL = "https://api.jiandaoyun.com"
JODOO_BASE_URL = "https://api.jodoo.com"
TIMEZONE = "Asia/Shanghai"  # UTC+8, the zone of every statistics date
UTC8 = timezone(timedelta(hours=8))
HISTORY_DAYS = 180
PAGE_SIZE = 100
IDS_PER_REQUEST = 10

#: The metrics every endpoint documents (v1), also typed as top-level integer columns;
#: ``metrics`` keeps any other.
METRICS = (
    "app", "form_coop", "form_workflow", "dash", "etl", "aggregate",
    "public_link", "data_trigger", "automation", "bpa", "data",
)  # fmt: skip
#: What the doc-only "v2" (2026-06-29, same routes) adds to the app and overview endpoints:
#: automation runs, and attachment bytes uploaded, that day. The member endpoint stays v1, so
#: member records get no such columns (a member item that carries one keeps it in ``metrics``).
V2_METRICS = ("daily_automation_exec", "daily_attachment_upload")
#: The typed columns of the app and overview streams.
APP_METRICS = METRICS + V2_METRICS
_NO_METRICS: Dict[str, Any] = {}
RATE_LIMIT_CODES = frozenset({8303, 8304})
CREDENTIAL_CODES = frozenset({8301, 8302, 17018})
#: Codes the user resolves outside the connector (a compile of the platform's error codes;
#: ``shared/vendor-apis.md``), and what to change.
CONFIG_CODES: Mapping[int, str] = {
    17052: "the IP address this sync calls from is not on the key's IP whitelist: add it to the key's whitelist "
    "(Open Platform > API Key), or remove the whitelist",
    17053: "the key may not read every app asked for (an app outside the key's authorized apps): authorize the key for "
    "every app (Open Platform > API Key), or set jiandaoyun.app_ids to apps it may read",
    17054: "the usage-statistics API is outside the key's authorized APIs: authorize it for the key (Open Platform > API Key)",
    7103: "the company's usage is over its plan's limit: raise the plan's limit or wait until it resets",
    7206: "the company's Jiandaoyun system is disabled: the company's super admin must restore it",
}
#: How long after midnight in UTC+8 a refusal of the newest date is the vendor's day not having
#: turned yet (its clock a little behind this machine's), not a failure.
DAY_TURN_MINUTES = 10


def metric_columns(metrics: Any, names: Sequence[str] = METRICS) -> Dict[str, Optional[int]]:
    """The metrics ``names`` as integers (absent or non-integral: null; the raw value stays in ``metrics``).

    Runs once per record: exact ``type`` checks (a bool is not a count) keep it cheap.
    """
    source: Dict[str, Any] = metrics if type(metrics) is dict else _NO_METRICS
    columns: Dict[str, Optional[int]] = {}
    for name in names:
        value: Any = source.get(name)
        kind = type(value)
        if kind is int:
            columns[name] = value
        elif kind is float and value.is_integer():
            columns[name] = int(value)
        else:
            columns[name] = None
    return columns


class JiandaoyunErrorHandler(UsageErrorHandler):
    """Reads the ``code`` of Jiandaoyun's error bodies before the shared HTTP-status mapping."""

    #: The plan's newest date (``YYYY-MM-DD``), set by the stream: see :meth:`refuse_newest_at_the_turn`.
    newest: Optional[str] = None

    def vendor_resolution(self, response: requests.Response) -> Optional[ErrorResolution]:
        # The HTTP status decides first (401/403, 429 and 5xx mean what they always mean); the
        # body code refines only a 400 and a 2xx that carries a code other than 0.
        if response.status_code == 403:
            # What a 403 means on these endpoints (a CLI client's notes; the body's code is not
            # documented): a key that works elsewhere but is not a super admin's, or a company
            # without the paid feature. Either way the user must act: a config error.
            return fail(
                f"{self.vendor} {self.endpoint} refused the key (HTTP 403: {vendor_error_text(response)}). "
                "The key must be a super admin's, and the usage-statistics feature purchased and enabled "
                f"(Admin Console > Management Tools > Usage Statistics). Check {self.identity.credentials_hint}.",
                FailureType.config_error,
            )
        if response.status_code != 400 and not response.ok:
            if 400 <= response.status_code < 500 and response.status_code not in (401, 429):
                self.refuse_newest_at_the_turn(response, f"HTTP {response.status_code}: {vendor_error_text(response)}")
            return None
        try:
            body = self.body(response)
        except ValueError:
            return None
        code = body.get("code") if isinstance(body, dict) else None
        if not isinstance(code, int) or isinstance(code, bool) or (response.ok and code == 0):
            return self.another_date(response, body) if response.ok else None
        message = str(body.get("msg") or "")[:500]
        if code in RATE_LIMIT_CODES:
            return rate_limited(f"{self.vendor} {self.endpoint} is rate limiting (code {code}: {message}).")
        if code in CREDENTIAL_CODES:
            return self.credentials_rejected(f"code {code}: {message}")
        if code in CONFIG_CODES:
            return fail(f"{self.vendor} {self.endpoint} answered code {code} ({message}): {CONFIG_CODES[code]}.", FailureType.config_error)
        if not response.ok:
            self.refuse_newest_at_the_turn(response, f"code {code}: {message}")
        return fail(f"{self.vendor} {self.endpoint} answered code {code}: {message}")

    def refuse_newest_at_the_turn(self, response: requests.Response, said: str) -> None:
        """Raise :class:`PeriodNotServedYet` when ``response`` refuses a date Jiandaoyun may not
        have finished: the plan's newest within :data:`DAY_TURN_MINUTES` after midnight in UTC+8
        by this machine's clock (the vendor's a second behind), or any date its own clock (its
        answers' ``Date``) says is not over yet. Jiandaoyun publishes no code for a date out of
        range, so any refusal then is taken so; a refusal of any other date is left to the
        caller: a failure."""
        asked = requested_date(response)
        if asked is None:
            return
        now = datetime.now(UTC8)
        minutes = (now - now.replace(hour=0, minute=0, second=0, microsecond=0)).total_seconds() / 60
        if asked == self.newest and minutes < DAY_TURN_MINUTES:
            raise PeriodNotServedYet(
                f"{self.vendor} {self.endpoint} refused {asked}, the latest finished date in UTC+8, "
                f"{minutes:.0f} min after midnight there ({said}): its day has not turned yet."
            )
        vendor_now = self.clock.now() if self.clock is not None else None
        vendor_today = datetime.fromtimestamp(vendor_now, UTC8) if vendor_now is not None else None
        if vendor_today is not None and asked >= vendor_today.date().isoformat():
            raise PeriodNotServedYet(
                f"{self.vendor} {self.endpoint} refused {asked} ({said}): by its own clock "
                f"({vendor_today.strftime('%Y-%m-%d %H:%M')} in UTC+8, the Date of its answers) that date is not over yet."
            )

    def another_date(self, response: requests.Response, body: Any) -> Optional[ErrorResolution]:
        """An answer naming another date than the one asked (a cache between the connector and
        Jiandaoyun keyed on the URL, which is the same for every date: the date is in the body)."""
        asked, answered = requested_date(response), body.get("date") if isinstance(body, dict) else None
        if asked is None or answered is None or answered == asked:
            return None
        return fail(
            f"{self.vendor} {self.endpoint} answered for date {answered} when asked for {asked}: a cache or proxy between "
            "this sync and Jiandaoyun may serve one answer for every date (the date is in the request body, not the URL); "
            "bypass it for the API host."
        )


def requested_date(response: requests.Response) -> Optional[str]:
    """The ``date`` a request's JSON body asked for (``None``: none, or not JSON)."""
    body = response.request.body if response.request is not None else None
    try:
        parsed = json.loads(body) if body else None
    except ValueError:
        return None
    date = parsed.get("date") if isinstance(parsed, dict) else None
    return date if isinstance(date, str) else None


#: Why a date whose every metric is 0 is worth a warning (seed 000: without the Admin Console
#: feature enabled the API answers 0, not an error), and what the user can do.
STATISTICS_MAY_BE_OFF = (
    "Usage statistics may not be enabled: without them Jiandaoyun answers 0, not an error. Enable them in "
    "Admin Console > Management Tools > Usage Statistics."
)


class ZeroWatch:
    """Whether every metric of one date was 0, filled in as its records are built (no second
    pass over a page): some metric value was 0 and none was anything else. A date without any
    metric (no items, empty ``metrics``) says nothing about the feature and is not all zero."""

    __slots__ = ("zero", "nonzero", "reported")

    def __init__(self) -> None:
        self.zero = False
        self.nonzero = False
        self.reported = False

    def observe(self, metrics: Any) -> None:
        # One non-zero value settles the date: later items are not looked at.
        if self.nonzero or type(metrics) is not dict:
            return
        for value in metrics.values():
            if value is None:
                continue
            if value != 0:  # any other value ("3", a list) counts as usage: no false alarm
                self.nonzero = True
                return
            self.zero = True

    def report(self, where: str, day: str, of_what: str) -> None:
        """Warn once, if every metric of ``day`` was 0."""
        if self.zero and not self.nonzero and not self.reported:
            self.reported = True
            logger.warning(f"{where}: every metric {of_what}of {day} is 0. {STATISTICS_MAY_BE_OFF}")


class JiandaoyunStream(PeriodStream):
    """One statistics date per slice; the body names the date."""

    error_handler_class = JiandaoyunErrorHandler
    http_method = "POST"
    cursor_field = "date"
    #: The metrics typed as top-level columns.
    metric_names: Tuple[str, ...] = METRICS

    def columns(self, metrics: Any) -> Dict[str, Optional[int]]:
        """The typed metric columns of one record."""
        return metric_columns(metrics, self.metric_names)

    def cursor_value(self, period: Period) -> str:
        return period.day

    def make_error_handler(self) -> UsageErrorHandler:
        handler = super().make_error_handler()
        assert isinstance(handler, JiandaoyunErrorHandler)
        handler.newest = Granularity.DAY.step(self.plan.stop, -1).to_date_string()
        return handler

    def request_body_json(
        self,
        stream_state: Optional[Mapping[str, Any]],
        stream_slice: Optional[Mapping[str, Any]] = None,
        next_page_token: Optional[Mapping[str, Any]] = None,
    ) -> Optional[Mapping[str, Any]]:
        assert stream_slice is not None
        # The page position (none for the overview) and the id filter of this request, if any.
        return {"date": stream_slice["date"], **self.pager.position, **stream_slice.get("filter", {})}


class JiandaoyunOverviewUsage(JiandaoyunStream):
    """``jiandaoyun_overview_usage``: the organisation's totals, one record per date."""

    name = "jiandaoyun_overview_usage"
    primary_key = "date"
    endpoint = "api/v1/corp_usage/overview"
    metric_names = APP_METRICS
    data_fields = ("metrics",)

    def malformed(self, body: Any) -> Optional[str]:
        if not isinstance(body, dict) or not isinstance(body.get("metrics"), dict):
            return "no 'metrics' object"
        return None

    def records(self, response: requests.Response, stream_slice: Mapping[str, Any]) -> Iterable[Mapping[str, Any]]:
        body = json_body(response)
        record = {**body, "date": stream_slice["date"], **self.columns(body["metrics"])}
        # The body is the whole date, so the warning can come before the record: ``check`` reads
        # only up to this first record and must warn too.
        zeros = ZeroWatch()
        zeros.observe(body["metrics"])
        zeros.report(self.where, stream_slice["date"], "")
        yield record


@dataclass(frozen=True)
class ItemEndpoint:
    """A paged endpoint of one kind of item (members, apps): ``skip``/``limit`` pages of
    ``items`` and ``has_next``, an optional id filter of at most 10 ids."""

    stream: str
    endpoint: str
    #: The body field of the id filter, e.g. ``member_ids``.
    ids_field: str
    #: The record's key column, and where an item holds its value.
    key: str
    key_path: Tuple[str, ...]
    #: The metrics the endpoint documents, typed as columns.
    metrics: Tuple[str, ...] = METRICS
    #: The item's date-times (UTC+8 offsets), each also given in UTC as ``<name>_utc``.
    times: Tuple[str, ...] = ()

    def key_of(self, item: Mapping[str, Any]) -> Any:
        value: Any = item
        for name in self.key_path:
            value = value.get(name) if isinstance(value, dict) else None
        return value


MEMBERS = ItemEndpoint("jiandaoyun_member_usage", "api/v1/corp_usage/member_metrics", "member_ids", "member_id", ("member", "member_id"))
APPS = ItemEndpoint(
    "jiandaoyun_app_usage", "api/v1/corp_usage/app_metrics", "app_ids", "app_id", ("app_id",), APP_METRICS,
    ("created_at", "last_edit_at", "last_visit_at"),
)  # fmt: skip


class JiandaoyunItemUsage(JiandaoyunStream):
    """``jiandaoyun_member_usage`` (one member on one date) and ``jiandaoyun_app_usage`` (one app
    on one date): one class, configured by its :class:`ItemEndpoint`."""

    def __init__(self, connection: Connection, plan: PeriodPlan, items: ItemEndpoint, ids: Sequence[str] = ()) -> None:
        self.items = items
        self.endpoint = items.endpoint
        self.metric_names = items.metrics
        self.ids = list(ids)
        super().__init__(connection, plan)

    @property
    def name(self) -> str:
        return self.items.stream

    @property
    def primary_key(self) -> List[str]:
        return ["date", self.items.key]

    def new_pager(self) -> Pager:
        return SkipLimitPager(self.where, size=PAGE_SIZE, more_field="has_next")

    items_field = "items"

    def requests_for_period(self, period_slice: Mapping[str, Any]) -> Iterable[Mapping[str, Any]]:
        if not self.ids:
            yield period_slice
            return
        for ids in chunked(self.ids, IDS_PER_REQUEST):
            yield {**period_slice, "filter": {self.items.ids_field: ids}}

    def read_period(
        self,
        sync_mode: SyncMode,
        cursor_field: Optional[List[str]],
        period_slice: Mapping[str, Any],
        stream_state: Optional[Mapping[str, Any]],
    ) -> Iterable[StreamData]:
        # A slice is one date: one watch per date, so at most one warning per date and stream.
        # It looks at the records as they are emitted, in order, whichever thread read them.
        zeros = ZeroWatch()
        for record in super().read_period(sync_mode, cursor_field, period_slice, stream_state):
            if isinstance(record, Mapping):
                zeros.observe(record.get("metrics"))
            yield record
        zeros.report(self.where, period_slice["date"], "of every item ")

    def malformed(self, body: Any) -> Optional[str]:
        problem = list_problem(body, "items")
        if problem is None and not isinstance(body.get("has_next", False), bool):
            return "'has_next' is not true or false"
        return problem

    def records(self, response: requests.Response, stream_slice: Mapping[str, Any]) -> Iterable[Mapping[str, Any]]:
        date = stream_slice["date"]
        for item in json_body(response)["items"]:
            # The item whole, plus the key and metric columns.
            times = {f"{name}_utc": in_utc(item.get(name)) for name in self.items.times}
            yield {**item, "date": date, self.items.key: self.items.key_of(item), **self.columns(item.get("metrics")), **times}


#: Jiandaoyun's limit over all endpoints of a company, whatever each endpoint's quota: the
#: budget holds it beside each endpoint's own (``core.budget``).
COMPANY_REQUESTS_PER_SECOND = 50
#: The usage endpoints a sync reads side by side, each at ``requests_per_second``.
USAGE_ENDPOINTS = 3
#: The most ``requests_per_second`` can be: no endpoint's quota can exceed the company's.
MAX_REQUESTS_PER_SECOND = COMPANY_REQUESTS_PER_SECOND

#: The config section's schema.
SPEC: Mapping[str, Any] = {
    "type": "object",
    "title": "Jiandaoyun / Jodoo",
    "description": (
        "Member, app and organisation usage statistics per day (UTC+8). Needs the paid "
        "usage-statistics feature, enabled in Admin Console > Management Tools > Usage Statistics."
    ),
    "required": ["api_key"],
    "properties": {
        "api_key": {
            "type": "string",
            "title": "API key",
            "description": (
                "An API key from Open Platform > API Key, created by a super admin: the usage-statistics "
                "endpoints answer HTTP 403 to another admin's key."
            ),
            "airbyte_secret": True,
            "order": 0,
        },
        "base_url": {
            "type": "string",
            "title": "API host",
            "description": "Jiandaoyun: https://api.jiandaoyun.com; Jodoo: https://api.jodoo.com.",
            "default": DEFAULT_BASE_URL,
            "examples": [DEFAULT_BASE_URL, JODOO_BASE_URL],
            "order": 1,
        },
        "member_ids": {
            "type": "array",
            "items": {"type": "string", "minLength": 1},
            "title": "Member IDs",
            "description": "Only these members (any number; sent 10 per request). Empty: all members.",
            "default": [],
            "order": 2,
        },
        "app_ids": {
            "type": "array",
            "items": {"type": "string", "minLength": 1},
            "title": "App IDs",
            "description": (
                "Only these apps (any number; sent 10 per request). Empty: all apps the key may read: a key "
                "authorized for some apps only may list only those (and a listed app outside them fails with code 17053)."
            ),
            "default": [],
            "order": 3,
        },
        "requests_per_second": {
            "type": "integer",
            "title": "Requests per second per endpoint",
            "description": (
                f"Requests per second to each of the {USAGE_ENDPOINTS} usage endpoints, which a sync reads side by side. "
                f"Jiandaoyun documents 1 per endpoint and {COMPANY_REQUESTS_PER_SECOND} per company; the sync keeps to "
                "both, whatever this says. Leave it at 1 unless Jiandaoyun granted your company a higher quota."
            ),
            "minimum": 1,
            "maximum": MAX_REQUESTS_PER_SECOND,
            "default": 1,
            "order": 4,
        },
    },
}


class Jiandaoyun(Vendor):
    identity = IDENTITY
    history_days = HISTORY_DAYS
    history_timezone = TIMEZONE

    def spec(self) -> Mapping[str, Any]:
        return SPEC

    def plan(self, settings: SharedSettings) -> PeriodPlan:
        return settings.plan(self.identity.title, TIMEZONE, Granularity.DAY, history_days=self.history_days)

    def streams(self, section: Mapping[str, Any], settings: SharedSettings, http: HttpOptions) -> List[Stream]:
        # One policy per endpoint (the limit is per endpoint, so the three run side by side), and
        # one over all three: the company's, which a request counts against too.
        per_second = int(section["requests_per_second"])
        endpoints = (MEMBERS.endpoint, APPS.endpoint, JiandaoyunOverviewUsage.endpoint)
        limits = [EndpointLimit(f"/{endpoint}$", per_second, 1.0) for endpoint in endpoints]
        limits.append(EndpointLimit("/api/v1/corp_usage/", COMPANY_REQUESTS_PER_SECOND, 1.0))
        # The three endpoints share the slots: each endpoint's per-second limit at up to 2 s an
        # answer, within the company-wide 50/s.
        in_flight = min(COMPANY_REQUESTS_PER_SECOND, 2 * per_second * len(endpoints))
        connection = self.connection(section, http, request_budget(section["base_url"], limits), in_flight)
        plan = self.plan(settings)
        return [
            JiandaoyunItemUsage(connection, plan, MEMBERS, ids=section["member_ids"]),
            JiandaoyunItemUsage(connection, plan, APPS, ids=section["app_ids"]),
            JiandaoyunOverviewUsage(connection, plan),
        ]

    def check_stream(self, section: Mapping[str, Any], settings: SharedSettings, http: HttpOptions) -> Stream:
        """The overview of the latest finished day: one request.

        When its every metric is 0 the stream logs the "usage statistics may not be enabled"
        warning, and check still succeeds: the key and host work, and an all-zero day is also
        what a company that used nothing that day (a holiday, a new tenant) gets, so FAILED
        would block a correct setup. Airbyte's SUCCEEDED status carries no message, hence a
        warning line in the check's log.
        """
        plan = self.plan(settings)
        latest = replace(plan, first=Granularity.DAY.step(plan.stop, -1))
        return JiandaoyunOverviewUsage(self.connection(section, http), latest)


VENDOR = Jiandaoyun()

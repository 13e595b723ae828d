"""Tabnine (Enterprise SaaS and private installations): organisation, teams, users, seats, usage.

Every endpoint is a GET on the console host (``https://console.tabnine.com`` or a private
installation's own host) with ``Authorization: Bearer <token>``. Teams and users are paged with
``offset``/``limit`` and answer ``meta.next`` (``{limit, offset}``, null on the last page). Account
utilizations are monthly, with a zero-based ``month``. Organisation usage is counted in UTC
buckets; since server 6.2 it is served by ``/api/v2/organization/usage`` (v1 then keeps only the
older history), and an older server answers 404 there, so the stream falls back to v1. Agent
usage (tokens and cost) is one request per window; usage per user and per team one request per
listed id per window (each a request slice of the window); the roles one request per role. Tabnine
publishes no rate limit: no client-side budget, and a 429 is waited out (``Retry-After``).
"""

from __future__ import annotations

import logging
import threading
from itertools import chain
from typing import Any, Callable, Dict, Generic, Iterable, Iterator, List, Mapping, MutableMapping, Optional, Sequence, Tuple, TypeVar

import pendulum
import requests
from airbyte_cdk.models import FailureType, SyncMode
from airbyte_cdk.sources.streams import Stream
from airbyte_cdk.sources.streams.core import StreamData
from airbyte_cdk.sources.streams.http.error_handlers.response_models import ErrorResolution, ResponseAction
from airbyte_cdk.utils.traced_exception import AirbyteTracedException
from pendulum import DateTime

from source_usage.core.errors import UsageErrorHandler, answer_error, fail, json_body, list_problem, vendor_error_text
from source_usage.core.paging import NextOffsetPager, Pager
from source_usage.core.periods import Granularity, Period, PeriodPlan
from source_usage.core.settings import SharedSettings
from source_usage.core.streams import PeriodStream, UsageStream
from source_usage.core.vendor import Connection, HttpOptions, Vendor, VendorIdentity

T = TypeVar("T")
V = TypeVar("V")
logger = logging.getLogger("airbyte")

IDENTITY = VendorIdentity(key="tabnine", title="Tabnine", credentials_field="api_token")
TIMEZONE = "UTC"  # usage buckets and months are counted in UTC
DEFAULT_BASE_URL = "https://console.tabnine.com"
PAGE_SIZE = 100

ORGANIZATION_PATH = "api/v1/organization"
TEAMS_PATH = "api/v1/organization/teams"
USERS_PATH = "api/v1/organization/users"
ACCOUNT_UTILIZATIONS_PATH = "api/v1/organization/account-utilizations"
LICENSE_PATH = "api/v1/license"
USAGE_V2_PATH = "api/v2/organization/usage"
USAGE_V1_PATH = "api/v1/organization/usage"
PERMISSIONS_PATH = "api/v1/instance/permissions"
AGENT_USAGE_PATH = "api/v1/organization/agent-usage"
USER_USAGE_PATH = "api/v2/user/usage"
TEAM_USAGE_PATH = "api/v2/team/usage"

#: The roles ``GET /api/v1/instance/permissions?role=`` is asked for, one request each (seed 003
#: lists the endpoint; the newer spec's roles are Member, TeamLead, Manager and Admin, and every
#: user not listed under one of these three is a Member).
PERMISSION_ROLES = ("Admin", "Manager", "TeamLead")
#: What a 403 of the agent-usage endpoint says when the license does not include Agent.
FEATURE_NOT_AVAILABLE = "FEATURE_NOT_AVAILABLE"
DEFAULT_USER_USAGE_GRANULARITY = "monthly"

#: The config's granularity names (also what the usage API takes) and their periods.
GRANULARITIES: Mapping[str, Granularity] = {
    "daily": Granularity.DAY,
    "weekly": Granularity.WEEK,
    "monthly": Granularity.MONTH,
}
DEFAULT_GRANULARITY = "daily"
#: What the usage endpoints are asked for: one bucket spanning the whole window. The 6.3 spec gives
#: the per-model breakdowns (``models[]``) only with ``all``, and one bucket per window leaves no
#: guess about how Tabnine aligns its own weeks and months (undocumented): the connector cuts the
#: windows itself, in UTC, and the configured granularity only decides their length.
REQUEST_GRANULARITY = "all"

#: The four listings of ``/api/v1/organization/users`` that together hold every user: in a team or
#: not, active or deactivated. Seed 003 marks both flags required; the newer spec makes them
#: optional but does not say what a server filters by when they are left out. Always asking the
#: four costs three requests a sync more than one unfiltered listing (users are a few pages), and
#: never depends on a default filter that could leave deactivated or teamless users out silently.
USER_LISTINGS: Sequence[Mapping[str, str]] = tuple(
    {"teamMember": team_member, "active": active} for team_member in ("true", "false") for active in ("true", "false")
)

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


class UsagePathFallback:
    """Which organisation-usage path a sync calls: v2 until a 404 says the server predates it
    (6.2), then v1 for the rest of the sync, the window that got the 404 included.

    Everything about the fallback is here: the error handler asks it how to read a 404 (v2's is
    IGNOREd, so that the stream sees it), the stream asks it which path to call, and
    :meth:`read` reads a window again on v1 after the switch.
    """

    class V2Missing(Exception):
        """The ignored 404 of v2, raised where the stream meets it."""

    def __init__(self) -> None:
        self.path = USAGE_V2_PATH

    def resolution(self, response: requests.Response) -> Optional[ErrorResolution]:
        if response.status_code != 404 or self.path != USAGE_V2_PATH:
            return None
        return ErrorResolution(
            ResponseAction.IGNORE,
            error_message=f"Tabnine answered 404 for {USAGE_V2_PATH}: the server predates the v2 usage API.",
        )

    def raise_if_missing(self, response: requests.Response) -> None:
        """Only v2's 404 reaches the stream with a status that is not ok (the handler ignores it)."""
        if not response.ok:
            raise self.V2Missing()

    def read(self, read_window: Callable[[], Iterable[T]]) -> Iterator[T]:
        try:
            yield from read_window()
        except self.V2Missing:
            logger.warning(
                f"Tabnine server has no /{USAGE_V2_PATH} (HTTP 404: a server older than 6.2); falling back to "
                f"/{USAGE_V1_PATH} for the rest of this sync."
            )
            self.path = USAGE_V1_PATH
            yield from read_window()


class TabnineErrorHandler(UsageErrorHandler):
    """Tabnine's 404s, before the shared HTTP-status mapping.

    Every path used here exists on every supported server, so a 404 means the host is not a
    Tabnine console, except where a :class:`UsagePathFallback` reads it first.
    """

    def __init__(
        self,
        *args: Any,
        fallback: Optional[UsagePathFallback] = None,
        tolerated: Optional[Callable[[requests.Response], Optional[ErrorResolution]]] = None,
        **kwargs: Any,
    ) -> None:
        self.fallback = fallback
        #: A stream's own reading of an answer it handles itself (an IGNOREd 404 or 403), first.
        self.tolerated = tolerated
        super().__init__(*args, **kwargs)
        self._endpoint = self.endpoint

    @property
    def endpoint(self) -> str:
        return self.fallback.path if self.fallback is not None else self._endpoint

    @endpoint.setter
    def endpoint(self, value: str) -> None:
        self._endpoint = value

    def vendor_resolution(self, response: requests.Response) -> Optional[ErrorResolution]:
        if self.tolerated is not None and (tolerated := self.tolerated(response)):
            return tolerated
        if response.status_code != 404:
            return None
        if self.fallback is not None and (resolution := self.fallback.resolution(response)):
            return resolution
        return fail(f"Tabnine answered 404 for {self.endpoint}: {WRONG_HOST_HINT}.", FailureType.config_error)


class TabnineStream(UsageStream):
    """One Tabnine endpoint, with Tabnine's reading of a 404."""

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

    def __init__(self, connection: Connection) -> None:
        super().__init__(connection)
        self.lookup = OrganizationLookup(self.fetch)

    def malformed(self, body: Any) -> Optional[str]:
        if not isinstance(body, dict) or not body.get("id"):
            return "no organisation 'id'"
        return None

    def parse_response(self, response: requests.Response, **kwargs: Any) -> Iterable[Mapping[str, Any]]:
        yield json_body(response)

    def fetch(self) -> Mapping[str, Any]:
        """The organisation object, read over HTTP (this stream's retries, errors and timeouts)."""
        for record in super().read_records(SyncMode.full_refresh, stream_slice={}):
            if isinstance(record, Mapping):
                return record
        raise answer_error(f"Tabnine {ORGANIZATION_PATH} answered without an organisation.")

    def read_records(
        self,
        sync_mode: SyncMode,
        cursor_field: Optional[List[str]] = None,
        stream_slice: Optional[Mapping[str, Any]] = None,
        stream_state: Optional[Mapping[str, Any]] = None,
    ) -> Iterable[StreamData]:
        yield self.lookup.get()


#: Epoch values from here on are milliseconds: 10**11 seconds is the year 5138, 10**11
#: milliseconds 1973, so a license time (issued after 2001: 10**9 s) is told apart by magnitude.
MILLISECONDS_FROM = 10**11
#: And from here on neither: 10**14 milliseconds is the year 5138 again.
NEITHER_FROM = 10**14


def epoch_utc(value: Any, field: str) -> Optional[str]:
    """Epoch seconds or milliseconds (told apart by magnitude, :data:`MILLISECONDS_FROM`) as an
    ISO-8601 UTC timestamp (``2026-01-01T00:00:00+00:00``); null when absent. A number that is
    neither (or not a number) fails, naming ``field``: a null would read as "no expiry"."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or abs(value) >= NEITHER_FROM:
        raise answer_error(
            f"Tabnine {LICENSE_PATH} answered '{field}' = {value!r}, neither epoch seconds nor milliseconds: "
            "the license's times cannot be read; report it to Tabnine."
        )
    seconds = value / 1000 if abs(value) >= MILLISECONDS_FROM else value
    return pendulum.from_timestamp(seconds, tz="UTC").isoformat()


class TabnineLicense(FullRefreshTabnineStream):
    """``tabnine_license``: the license, one record: the ``license`` object whole, plus
    ``issued_at`` and ``expires_at`` from its ``iat`` and ``exp`` in UTC (epoch seconds, as
    documented, or milliseconds, told apart by magnitude)."""

    name = "tabnine_license"
    primary_key = "iat"
    endpoint = LICENSE_PATH
    data_fields = ("license",)

    def malformed(self, body: Any) -> Optional[str]:
        license_ = body.get("license") if isinstance(body, dict) else None
        if not isinstance(license_, dict):
            return "no 'license' object"
        iat = license_.get("iat")
        if isinstance(iat, bool) or not isinstance(iat, (int, float)):
            return "no 'license.iat' (epoch seconds)"
        return None

    def parse_response(self, response: requests.Response, **kwargs: Any) -> Iterable[Mapping[str, Any]]:
        license_: Mapping[str, Any] = json_body(response)["license"]
        times = {"issued_at": epoch_utc(license_.get("iat"), "license.iat"), "expires_at": epoch_utc(license_.get("exp"), "license.exp")}
        yield {**license_, **times}


class FetchedOnce(Generic[V]):
    """A value fetched on first use and then shared by every stream that needs it.

    Streams are read in parallel threads; the lock makes the first caller fetch and the others wait
    for its answer instead of sending the same request. A failed fetch is not kept: the next caller
    tries again (and meets the same error, reported by its own stream).
    """

    def __init__(self, fetch: Callable[[], V]) -> None:
        self._fetch = fetch
        self._lock = threading.Lock()
        self._value: Optional[V] = None

    def get(self) -> V:
        with self._lock:
            if self._value is None:
                self._value = self._fetch()
            return self._value


class OrganizationLookup(FetchedOnce[Mapping[str, Any]]):
    """The organisation, fetched once a sync."""

    def organization_id(self) -> str:
        return str(self.get()["id"])


class ListingOnce(FetchedOnce[List[Mapping[str, Any]]]):
    """Every record of a listing (teams, users), read on first use and then shared by the listing's
    own stream and the usage streams that ask for one request per listed id: one listing a sync.
    The records are held for the sync (a few hundred bytes each)."""

    def ids(self) -> List[str]:
        """The listed ids, in listing order (each once: the listing's key guard saw to it)."""
        return [str(record["id"]) for record in self.get()]


class PagedTabnineStream(FullRefreshTabnineStream):
    """``offset``/``limit`` pages, following ``meta.next`` until it is null."""

    def new_pager(self) -> Pager:
        return NextOffsetPager(self.where, size=PAGE_SIZE)

    items_field = "data"

    def malformed(self, body: Any) -> Optional[str]:
        problem = list_problem(body, "data")
        if problem:
            return problem
        meta = body.get("meta")
        if meta is not None and not isinstance(meta, dict):
            return "'meta' is not an object"
        following = (meta or {}).get("next")
        if following is not None and not (isinstance(following, dict) and isinstance(following.get("offset"), int)):
            return "'meta.next' is neither null nor {limit, offset}"
        return None

    def parse_response(self, response: requests.Response, **kwargs: Any) -> Iterable[Mapping[str, Any]]:
        yield from json_body(response)["data"]


class ListedOnceStream(PagedTabnineStream):
    """A listing read once a sync (:class:`ListingOnce`): the stream emits the shared records."""

    def __init__(self, connection: Connection) -> None:
        super().__init__(connection)
        self.listing = ListingOnce(self.fetch_listing)

    def fetch_listing(self) -> List[Mapping[str, Any]]:
        return [record for record in self.list_records() if isinstance(record, Mapping)]

    def list_records(self) -> Iterable[StreamData]:
        """The listing over HTTP, each key once (this stream's retries, errors and timeouts)."""
        return super().read_records(SyncMode.full_refresh, stream_slice={})

    def read_records(
        self,
        sync_mode: SyncMode,
        cursor_field: Optional[List[str]] = None,
        stream_slice: Optional[Mapping[str, Any]] = None,
        stream_state: Optional[Mapping[str, Any]] = None,
    ) -> Iterable[StreamData]:
        yield from self.listing.get()


class TabnineTeams(ListedOnceStream):
    """``tabnine_teams``: one record per team; the team ids of ``tabnine_team_usage``."""

    name = "tabnine_teams"
    primary_key = "id"
    endpoint = TEAMS_PATH


class TabnineUsers(ListedOnceStream):
    """``tabnine_users``: one record per user, active and deactivated, in a team or not; the user
    ids of ``tabnine_user_usage``.

    Read through the four :data:`USER_LISTINGS`, each paged, and always with ``organizationId``:
    the specs do not list it, but a Tabnine engineer's notes report the live endpoint answering 400
    "Validation Error" without it. A record is the user as sent; ``active`` and ``teamMember``
    are added from the listing that served the user only where the object lacks them (the newer
    User has no ``active``), so what the server states in the object always wins.
    """

    name = "tabnine_users"
    primary_key = "id"
    endpoint = USERS_PATH

    def __init__(self, connection: Connection, organization: OrganizationLookup) -> None:
        self.organization = organization
        #: The listing that served each user id in this read, e.g. ``teamMember=true&active=false``.
        self.listed_under: Dict[Any, str] = {}
        #: Why the users' ``active`` and ``teamMember`` cannot be told (a server that ignores the
        #: listings' filters), or ``None``: it fails this stream only, not those that need the ids.
        self.flags_unknown: Optional[str] = None
        super().__init__(connection)

    def list_records(self) -> Iterable[StreamData]:
        self.listed_under, self.flags_unknown = {}, None
        listings = (self.read_request(SyncMode.full_refresh, None, listing, None) for listing in USER_LISTINGS)
        # One guard for the four listings: each user once.
        return self.admitted(chain.from_iterable(listings), self.key_guard())

    def read_records(
        self,
        sync_mode: SyncMode,
        cursor_field: Optional[List[str]] = None,
        stream_slice: Optional[Mapping[str, Any]] = None,
        stream_state: Optional[Mapping[str, Any]] = None,
    ) -> Iterable[StreamData]:
        users = self.listing.get()
        if self.flags_unknown is not None:
            raise answer_error(self.flags_unknown)
        yield from users

    def request_params(
        self,
        stream_state: Optional[Mapping[str, Any]],
        stream_slice: Optional[Mapping[str, Any]] = None,
        next_page_token: Optional[Mapping[str, Any]] = None,
    ) -> MutableMapping[str, Any]:
        params = super().request_params(stream_state, stream_slice, next_page_token)
        return {**params, "organizationId": self.organization.organization_id(), **(stream_slice or {})}

    def parse_response(self, response: requests.Response, **kwargs: Any) -> Iterable[Mapping[str, Any]]:
        listing: Mapping[str, str] = kwargs.get("stream_slice") or {}
        for user in json_body(response)["data"]:
            self.check_listed_once(user, listing)
            stated = {flag: value == "true" for flag, value in listing.items()}
            yield {**stated, **user}

    def check_listed_once(self, user: Mapping[str, Any], listing: Mapping[str, str]) -> None:
        """A user served by two different listings fails this stream (when it is read): the
        ``active`` and ``teamMember`` taken from the first would be a guess (a server that
        ignores the filters serves every user in every listing). The ids are known all the same,
        each once (the key guard leaves out the repeats), so the streams that need only them
        read on. The same listing serving a user twice (a page repeated) is the key guard's alone."""
        label = "&".join(f"{flag}={value}" for flag, value in listing.items())
        if user.get("id") is None:
            return  # the key guard names the missing field
        first = self.listed_under.setdefault(user["id"], label)
        if first != label and self.flags_unknown is None:
            self.flags_unknown = (
                f"{self.where} listed user '{user['id']}' under {first} and again under {label}: the server does "
                "not filter users by teamMember and active as documented (or the user changed during the sync), so "
                "whether each user is active and in a team cannot be told. Retry the sync; if it fails again, report it to Tabnine. "
                "The streams that need only the user ids (tabnine_user_usage) are not affected."
            )


class TabnineAccountUtilizations(PeriodStream):
    """``tabnine_account_utilizations``: seat counts per month, one request per sync.

    The endpoint answers every month from ``startDate`` on, the current one included, so one
    slice spans every month of the plan. The current month, whose counts still change, is read
    but never checkpointed: every sync reads it again until it is over.
    """

    name = "tabnine_account_utilizations"
    primary_key = "month_start"
    cursor_field = "month_start"
    endpoint = ACCOUNT_UTILIZATIONS_PATH
    error_handler_class = TabnineErrorHandler
    periods_per_slice = None
    data_fields = ("data",)  # documented as a bare list (no envelope to mistake); enveloped, under 'data'

    def cursor_value(self, period: Period) -> str:
        return period.day

    def request_params(
        self,
        stream_state: Optional[Mapping[str, Any]],
        stream_slice: Optional[Mapping[str, Any]] = None,
        next_page_token: Optional[Mapping[str, Any]] = None,
    ) -> MutableMapping[str, Any]:
        assert stream_slice is not None
        return {"startDate": str(stream_slice["period_start"])[:7]}

    def malformed(self, body: Any) -> Optional[str]:
        items = body.get("data") if isinstance(body, dict) else body
        if not isinstance(items, list):
            return "not a list of months"
        for index, item in enumerate(items):
            problem = month_problem(item)
            if problem:
                return f"item {index} {problem}"
        return None

    def records(self, response: requests.Response, stream_slice: Mapping[str, Any]) -> Iterable[Mapping[str, Any]]:
        body = json_body(response)
        # Documented as a bare list; an enveloped {"data": [...]} is read the same way.
        items: List[Mapping[str, Any]] = body["data"] if isinstance(body, dict) else body
        first, end = str(stream_slice["period_start"])[:10], str(stream_slice["period_end"])[:10]
        for item in sorted(items, key=lambda entry: (entry["year"], entry["month"])):
            month_start = month_start_of(item)
            if first <= month_start < end:
                yield {**item, "month_start": month_start}


def month_problem(item: Any) -> Optional[str]:
    """What makes one month of account utilizations unusable, or ``None``."""
    if not isinstance(item, dict):
        return "is not an object"
    year, month = item.get("year"), item.get("month")
    if not isinstance(year, int) or isinstance(year, bool) or year < 1970:
        return "has no 'year'"
    # Zero-based: anything outside 0-11 would shift every month_start, so it is refused.
    if not isinstance(month, int) or isinstance(month, bool) or not 0 <= month <= 11:
        return "has no zero-based 'month' (0-11)"
    return None


def bucket_periods(buckets: Sequence[Mapping[str, Any]], window: Mapping[str, Any], where: str) -> List[Tuple[str, str]]:
    """The period of each bucket of one window's answer.

    One bucket (what ``granularity=all`` promises) has the window as its period, whatever its own
    ``from``/``to`` say (a server's own formatting or clipping changes no key). Several buckets
    each have their own ``from``/``to``, which must lie in the window and not overlap: two records
    under one key, or one bucket counted in two windows, would change the numbers silently.
    """
    if len(buckets) <= 1:
        return [(str(window["period_start"]), str(window["period_end"]))] * len(buckets)
    first, end = utc_moment(str(window["period_start"])), utc_moment(str(window["period_end"]))
    assert first is not None and end is not None, "a window is always two instants"
    spans = [bucket_span(bucket, index, len(buckets), where) for index, bucket in enumerate(buckets)]
    previous_end = first
    for start, stop in sorted(spans):
        if start < previous_end or stop > end or stop <= start:
            raise bucket_error(
                f"{where} answered {len(buckets)} buckets for the window from {window['period_start']} to "
                f"{window['period_end']}, and the one from {start.isoformat()} to {stop.isoformat()} overlaps "
                "another or lies outside the window"
            )
        previous_end = stop
    return [(start.isoformat(), stop.isoformat()) for start, stop in spans]


def bucket_span(bucket: Mapping[str, Any], index: int, count: int, where: str) -> Tuple[DateTime, DateTime]:
    """A bucket's own ``[from, to)`` in UTC, or an error naming the field it lacks."""
    span = []
    for field in ("from", "to"):
        value = bucket.get(field)
        moment = utc_moment(value) if isinstance(value, str) else None
        if moment is None:
            raise bucket_error(
                f"{where} answered {count} buckets for one window, and bucket {index} has no date-time '{field}' "
                f"(it has: {', '.join(sorted(bucket)) or 'none'}); with several buckets each one's from/to is its period"
            )
        span.append(moment)
    return span[0], span[1]


def utc_moment(value: str) -> Optional[DateTime]:
    """An ISO-8601 instant in UTC, or ``None`` when ``value`` is not one."""
    try:
        moment = pendulum.parse(value)
    except (ValueError, TypeError, pendulum.parsing.exceptions.ParserError):
        return None
    return moment.in_timezone("UTC") if isinstance(moment, DateTime) else None


def bucket_error(what: str) -> AirbyteTracedException:
    message = f"{what}. No bucket is emitted under a period that could collide with another; report it to Tabnine."
    return answer_error(message)


class Once:
    """Something that happens once a sync whichever thread (worker copy of a stream) meets it
    first: a stream's attributes are shared by its worker copies, a bool set on one copy is not."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: set[str] = set()

    def first(self, what: str = "") -> bool:
        """Whether this is the first time ``what`` happens."""
        with self._lock:
            if what in self._seen:
                return False
            self._seen.add(what)
            return True

    def __contains__(self, what: str) -> bool:
        with self._lock:
            return what in self._seen


class TabninePermissions(FullRefreshTabnineStream):
    """``tabnine_permissions``: one record per user holding one of :data:`PERMISSION_ROLES`, one
    request per role (``GET /api/v1/instance/permissions?role=``), the items as sent
    (``{username, organizationId}``) with the ``role`` asked for."""

    name = "tabnine_permissions"
    primary_key = ["role", "username"]
    endpoint = PERMISSIONS_PATH

    def stream_slices(self, **kwargs: Any) -> Iterable[Optional[Mapping[str, Any]]]:
        for role in PERMISSION_ROLES:
            yield {"role": role}

    def request_params(
        self,
        stream_state: Optional[Mapping[str, Any]],
        stream_slice: Optional[Mapping[str, Any]] = None,
        next_page_token: Optional[Mapping[str, Any]] = None,
    ) -> MutableMapping[str, Any]:
        assert stream_slice is not None
        return {"role": stream_slice["role"]}

    def malformed(self, body: Any) -> Optional[str]:
        # Documented as a bare list; an enveloped {"data": [...]} is read the same way.
        if isinstance(body, dict):
            return list_problem(body, "data")
        if not isinstance(body, list):
            return "not a list of users"
        index = next((index for index, item in enumerate(body) if not isinstance(item, dict)), None)
        return None if index is None else f"item {index} is not an object"

    def parse_response(self, response: requests.Response, **kwargs: Any) -> Iterable[Mapping[str, Any]]:
        role = (kwargs.get("stream_slice") or {})["role"]
        body = json_body(response)
        items: List[Mapping[str, Any]] = body["data"] if isinstance(body, dict) else body
        for item in items:
            yield {**item, "role": role}


class WindowUsageStream(PeriodStream):
    """One Tabnine usage endpoint read one window at a time, each window asked for as one bucket
    (``granularity=all``), ``from``/``to`` in UTC without milliseconds. The answer's buckets are
    kept whole and get their period as :func:`bucket_periods` says; ``organizationId`` and
    ``granularity`` (the configured window length, part of the key) are added.

    A subclass may read some answers itself (:meth:`tolerated`: the error handler IGNOREs them,
    :meth:`records` sees them) and ask one request per id of a window (:meth:`requests_for_period`;
    what one request asks for is in its request slice, never on the stream).
    """

    cursor_field = "period_start"
    error_handler_class = TabnineErrorHandler
    data_fields = ("usage.data",)
    #: The v2-to-v1 path fallback, for an endpoint that has one.
    fallback: Optional[UsagePathFallback] = None

    def __init__(self, connection: Connection, plan: PeriodPlan, granularity_name: str, organization: OrganizationLookup) -> None:
        self.granularity_name = granularity_name
        self.organization = organization
        self.warned = Once()
        super().__init__(connection, plan)

    def make_error_handler(self) -> UsageErrorHandler:
        return TabnineErrorHandler(
            identity=self.identity,
            endpoint=self.endpoint,
            malformed=self.malformed,
            max_retries=self.connection.http.max_retries,
            stats=self.stats,
            tolerated=self.tolerated,
            fallback=self.fallback,
            data_fields=self.data_fields,
        )

    def tolerated(self, response: requests.Response) -> Optional[ErrorResolution]:
        """How this stream reads an answer the shared mapping would fail (``None``: it would)."""
        return None

    def cursor_value(self, period: Period) -> str:
        return period.start_iso

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
            "granularity": REQUEST_GRANULARITY,
        }

    def malformed(self, body: Any) -> Optional[str]:
        usage = body.get("usage") if isinstance(body, dict) else None
        if not isinstance(usage, dict) or not isinstance(usage.get("data"), list):
            return "no 'usage.data' list"
        if not all(isinstance(bucket, dict) for bucket in usage["data"]):
            return "a 'usage.data' bucket is not an object"
        return None

    def bucket_records(self, body: Mapping[str, Any], window: Mapping[str, Any], added: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
        """The records of one answer: each bucket whole, then ``added`` and the key fields."""
        organization_id = body.get("organizationId") or self.organization.organization_id()
        buckets: List[Mapping[str, Any]] = body["usage"]["data"]
        periods = bucket_periods(buckets, window, self.where)
        if len(buckets) > 1 and self.warned.first("multi_bucket"):
            logger.warning(
                f"{self.where} answered {len(buckets)} buckets for the window from {window['period_start']} asked "
                f"with granularity={REQUEST_GRANULARITY}; each is emitted with its own from/to as its period."
            )
        for bucket, (start, end) in zip(buckets, periods, strict=True):
            yield {
                "organizationId": organization_id,
                **bucket,
                **added,
                "period_start": start,
                "period_end": end,
                # The length of the windows asked for (the config's), whatever the bucket spans:
                # with period_start it is the record's key, stable across syncs.
                "granularity": self.granularity_name,
            }

    def records(self, response: requests.Response, stream_slice: Mapping[str, Any]) -> Iterable[Mapping[str, Any]]:
        return self.bucket_records(json_body(response), stream_slice, {})


def feature_not_available(response: requests.Response) -> Optional[str]:
    """The vendor's words when ``response`` is a 403 saying the license lacks the feature
    (``{"error": "FEATURE_NOT_AVAILABLE", "message": ...}``), else ``None``."""
    if response.status_code != 403:
        return None
    try:
        body = json_body(response)
    except ValueError:
        return None
    error = body.get("error") if isinstance(body, dict) else None
    codes = error.values() if isinstance(error, dict) else [error]  # also {"error": {"code": ...}}
    if FEATURE_NOT_AVAILABLE not in codes:
        return None
    message = body.get("message") or (error.get("message") if isinstance(error, dict) else None)
    return str(message)[:300] if message else "no message"


class TabnineOrganizationUsage(WindowUsageStream):
    """``tabnine_organization_usage``: one record per usage bucket, one request per window.

    A window is one period of the configured granularity in UTC, asked for as ``from`` (inclusive)
    and ``to`` (exclusive) with ``granularity=all`` (:data:`REQUEST_GRANULARITY`), on the path the
    :class:`UsagePathFallback` names. The answer's bucket is kept whole (``models[]`` included) and
    the window is its period; an answer of several buckets is read as :func:`bucket_periods` says.
    """

    name = "tabnine_organization_usage"
    primary_key = ["period_start", "granularity"]
    endpoint = USAGE_V2_PATH
    fallback: UsagePathFallback

    def __init__(self, connection: Connection, plan: PeriodPlan, granularity_name: str, organization: OrganizationLookup) -> None:
        self.fallback = UsagePathFallback()
        super().__init__(connection, plan, granularity_name, organization)

    @property
    def where(self) -> str:
        return f"{self.identity.title} {self.fallback.path}"

    def path(self, **kwargs: Any) -> str:
        return self.fallback.path

    def read_request(
        self,
        sync_mode: SyncMode,
        cursor_field: Optional[List[str]],
        stream_slice: Optional[Mapping[str, Any]],
        stream_state: Optional[Mapping[str, Any]],
    ) -> Iterable[StreamData]:
        read_window = super().read_request
        return self.fallback.read(lambda: read_window(sync_mode, cursor_field, stream_slice, stream_state))

    def records(self, response: requests.Response, stream_slice: Mapping[str, Any]) -> Iterable[Mapping[str, Any]]:
        self.fallback.raise_if_missing(response)
        if self.fallback.path == USAGE_V1_PATH and not json_body(response)["usage"]["data"]:
            # v1 keeps only the history from before the server's upgrade to 6.2: an empty window
            # there may be usage v1 no longer records, which an empty success would checkpoint.
            raise answer_error(
                f"{self.where} answered no usage for the window from {stream_slice['period_start']}, after "
                f"/{USAGE_V2_PATH} answered 404. v1 holds only the usage from before a server's upgrade to 6.2, so this "
                f"window's usage may be on v2 alone: if the server is 6.2 or newer, /{USAGE_V2_PATH} is hidden by a proxy or "
                "gateway (let it through, or check tabnine.base_url); the stream's state stays before this window."
            )
        return super().records(response, stream_slice)


class TabnineAgentUsage(WindowUsageStream):
    """``tabnine_agent_usage``: one record per window (the configured ``granularity``, as the
    organisation usage): active users, tokens, ``totalCost`` and the ``modelBreakdown`` and
    ``agentTypeBreakdown`` arrays, whole.

    An organisation whose license lacks Agent gets a 403 ``FEATURE_NOT_AVAILABLE``: one warning
    naming the stream and the vendor's words, no further request, no record, and the state left
    where it was (the windows are read once Agent is licensed). Any other 403 stays a
    credentials error.
    """

    name = "tabnine_agent_usage"
    primary_key = ["period_start", "granularity"]
    endpoint = AGENT_USAGE_PATH

    def tolerated(self, response: requests.Response) -> Optional[ErrorResolution]:
        if feature_not_available(response) is None:
            return None
        return ErrorResolution(ResponseAction.IGNORE, error_message=f"{self.where}: {FEATURE_NOT_AVAILABLE}")

    @property
    def unlicensed(self) -> bool:
        return FEATURE_NOT_AVAILABLE in self.warned

    def requests_for_period(self, period_slice: Mapping[str, Any]) -> Iterable[Mapping[str, Any]]:
        if not self.unlicensed:
            yield period_slice

    def records(self, response: requests.Response, stream_slice: Mapping[str, Any]) -> Iterable[Mapping[str, Any]]:
        words = feature_not_available(response)
        if words is None:
            return self.bucket_records(json_body(response), stream_slice, {})
        if self.warned.first(FEATURE_NOT_AVAILABLE):
            logger.warning(
                f"Stream '{self.name}' is empty: {self.where} answered HTTP 403 {FEATURE_NOT_AVAILABLE} ({words}), so the "
                "organisation's Tabnine license does not include Agent. No further window is asked for and the stream's "
                "state stays where it was; the sync goes on."
            )
        return ()

    def advance_cursor(self, value: str) -> None:
        if not self.unlicensed:
            super().advance_cursor(value)


class EntityUsageStream(WindowUsageStream):
    """One record per listed id (a user, a team) per window: one request each, the id in the
    request slice. An id that answers 404 (deleted between the listing and its usage) is skipped
    with one warning naming it; the sync goes on."""

    #: The query parameter and record field of the id (as Tabnine names it).
    id_field: str
    #: What an id is, in messages.
    noun: str

    def __init__(
        self, connection: Connection, plan: PeriodPlan, granularity_name: str, organization: OrganizationLookup, listing: ListingOnce
    ) -> None:
        self.listing = listing
        super().__init__(connection, plan, granularity_name, organization)

    def requests_for_period(self, period_slice: Mapping[str, Any]) -> Iterable[Mapping[str, Any]]:
        for entity_id in self.listing.ids():
            yield {**period_slice, self.id_field: entity_id}

    def request_params(
        self,
        stream_state: Optional[Mapping[str, Any]],
        stream_slice: Optional[Mapping[str, Any]] = None,
        next_page_token: Optional[Mapping[str, Any]] = None,
    ) -> MutableMapping[str, Any]:
        assert stream_slice is not None
        params = super().request_params(stream_state, stream_slice, next_page_token)
        return {"organizationId": params.pop("organizationId"), self.id_field: stream_slice[self.id_field], **params}

    def tolerated(self, response: requests.Response) -> Optional[ErrorResolution]:
        if response.status_code != 404:
            return None
        return ErrorResolution(ResponseAction.IGNORE, error_message=f"{self.where} answered 404 for one {self.noun}")

    def records(self, response: requests.Response, stream_slice: Mapping[str, Any]) -> Iterable[Mapping[str, Any]]:
        asked = str(stream_slice[self.id_field])
        if response.status_code == 404:
            if self.warned.first(f"404:{asked}"):
                logger.warning(
                    f"Stream '{self.name}' skips {self.noun} '{asked}': {self.where} answered HTTP 404 "
                    f"({vendor_error_text(response)}), so the {self.noun} was probably deleted after the {self.noun}s were "
                    f"listed. Its usage is not read in this sync. (If every {self.noun} is skipped, the server may predate "
                    f"/{self.endpoint}, Tabnine 6.2.)"
                )
            return ()
        body = json_body(response)
        stated = body.get(self.id_field)
        if stated is not None and str(stated) != asked:
            raise answer_error(
                f"{self.where} answered for {self.id_field} '{stated}' when asked for '{asked}': its numbers cannot be "
                f"told to be the {self.noun}'s. Report it to Tabnine."
            )
        return self.bucket_records(body, stream_slice, {self.id_field: asked})


#: Counts that do not add up across users (each is a number of distinct users).
NOT_ADDITIVE = frozenset({"activeUsers", "uniqueUsers"})


def bucket_counts(bucket: Mapping[str, Any]) -> Dict[str, float]:
    """A bucket's counts that add up across users, by path (``codeCompletions.lines``): the numbers
    of its groups (``codeCompletions``, ``chat``, ``agent``), but not their distinct-user counts."""
    counts: Dict[str, float] = {}
    for group, fields in bucket.items():
        if isinstance(fields, Mapping):
            for name, value in fields.items():
                if type(value) in (int, float) and name not in NOT_ADDITIVE:
                    counts[f"{group}.{name}"] = value
    return counts


class TabnineUserUsage(EntityUsageStream):
    """``tabnine_user_usage``: one record per user per window (``user_usage_granularity``), from
    ``GET /api/v2/user/usage`` per user of ``tabnine_users`` (active and deactivated): the v2
    bucket whole, ``ides`` and ``languages`` included.

    Per-user usage covers the users listed today: a user deleted earlier is in no record, though
    their usage stays in the organisation's. After each window the users' counts are summed and
    compared with the organisation's for the same window (one request, ``organization``); the
    first difference is one warning naming the window, both sums and the likely cause, and no
    later window is compared. The comparison never fails the stream: its numbers stand as read.
    """

    name = "tabnine_user_usage"
    primary_key = ["period_start", "granularity", "userId"]
    endpoint = USER_USAGE_PATH
    id_field = "userId"
    noun = "user"

    def __init__(
        self,
        connection: Connection,
        plan: PeriodPlan,
        granularity_name: str,
        organization: OrganizationLookup,
        listing: ListingOnce,
        totals: Optional[TabnineOrganizationUsage] = None,
    ) -> None:
        #: The organisation's usage, read per window to compare with (``None``: not compared).
        self.totals = totals
        super().__init__(connection, plan, granularity_name, organization, listing)

    def read_period(
        self,
        sync_mode: SyncMode,
        cursor_field: Optional[List[str]],
        period_slice: Mapping[str, Any],
        stream_state: Optional[Mapping[str, Any]],
    ) -> Iterable[StreamData]:
        users: Dict[str, float] = {}
        for record in super().read_period(sync_mode, cursor_field, period_slice, stream_state):
            if isinstance(record, Mapping):
                for path, value in bucket_counts(record).items():
                    users[path] = users.get(path, 0) + value
            yield record
        self.compare_with_the_organization(period_slice, users)

    def compare_with_the_organization(self, window: Mapping[str, Any], users: Mapping[str, float]) -> None:
        if self.totals is None or not users or "compared" in self.warned:
            return
        try:
            organization: Dict[str, float] = {}
            for bucket in self.totals.read_request(SyncMode.full_refresh, None, window, None):
                if isinstance(bucket, Mapping):
                    for path, value in bucket_counts(bucket).items():
                        organization[path] = organization.get(path, 0) + value
        except AirbyteTracedException as error:
            if self.warned.first("compared"):
                logger.warning(f"Stream '{self.name}': its users' usage could not be compared with the organisation's: {error.message}")
            return
        order = {group: rank for rank, group in enumerate(("codeCompletions", "chat", "agent"))}
        paths = sorted(users, key=lambda path: (order.get(path.split(".")[0], len(order)), path))
        differing = [path for path in paths if path in organization and users[path] != organization[path]]
        if differing and self.warned.first("compared"):
            path = differing[0]
            logger.warning(
                f"Stream '{self.name}': in the window from {window['period_start']} to {window['period_end']} its users' "
                f"{path} adds up to {users[path]:g} where the organisation's is {organization[path]:g} ({len(differing)} of "
                f"{len(users)} counts differ). The likely cause: users deleted before this sync listed them, whose usage is in "
                "the organisation's totals (tabnine_organization_usage) but in no record of this stream, so per-user and "
                "per-team sums will not match the organisation's."
            )


class TabnineTeamUsage(EntityUsageStream):
    """``tabnine_team_usage``: one record per team per window (``user_usage_granularity``), from
    ``GET /api/v2/team/usage`` per team of ``tabnine_teams``: the v2 bucket whole."""

    name = "tabnine_team_usage"
    primary_key = ["period_start", "granularity", "teamId"]
    endpoint = TEAM_USAGE_PATH
    id_field = "teamId"
    noun = "team"


#: The config section's schema.
SPEC: Mapping[str, Any] = {
    "type": "object",
    "title": "Tabnine",
    "description": (
        "Organisation, teams, users, the license (seats bought), who holds the Admin, Manager and TeamLead roles, monthly "
        "seat utilisation, organisation and agent usage (tokens and cost), and usage per user and per team (UTC) from "
        "Tabnine Enterprise SaaS or a private installation."
    ),
    "required": ["api_token"],
    "properties": {
        "api_token": {
            "type": "string",
            "title": "API token",
            "description": (
                "A personal access token from Admin > Settings > Access Tokens. Any Tabnine user can create one, with the "
                "scopes chosen when creating it: create it as a user with the Admin role (the usage API is for admins) and "
                "give it the scopes of what this reads: the organisation, teams, users, license, roles and usage. A token "
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
                "The length of one window of tabnine_user_usage and tabnine_team_usage, in UTC (weeks start on Monday). "
                "They cost one request per user (and one per team) per window: 500 users over 90 days are 1,500 requests "
                "monthly, about 6,500 weekly and 45,000 daily."
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
        teams, users = TabnineTeams(connection), TabnineUsers(connection, organization.lookup)
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
            TabnineOrganizationUsage(connection, windows, granularity_name, organization.lookup),
            TabnineAgentUsage(connection, windows, granularity_name, organization.lookup),
            # The ids of the users and teams listed once a sync, shared with tabnine_users and tabnine_teams;
            # per-user sums compared with the organisation's usage of the same windows.
            TabnineUserUsage(
                connection,
                entity_windows,
                per_entity,
                organization.lookup,
                users.listing,
                totals=TabnineOrganizationUsage(connection, entity_windows, per_entity, organization.lookup),
            ),
            TabnineTeamUsage(connection, entity_windows, per_entity, organization.lookup, teams.listing),
        ]

    def check_stream(self, section: Mapping[str, Any], settings: SharedSettings, http: HttpOptions) -> Stream:
        """The organisation: one request."""
        return TabnineOrganization(self.connection(section, http))


VENDOR = Tabnine()

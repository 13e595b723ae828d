"""Usage by window: the organisation's usage buckets, agent tokens and cost, and both per user and
per team.

Every usage endpoint is read one window at a time, each window asked for as one bucket
(``granularity=all``), ``from``/``to`` in UTC without milliseconds. One stream class,
:class:`WindowUsage`, serves them all, configured by a :class:`UsageEndpoint` (what the stream
reads, and how the answers are keyed) and given the parts its endpoint needs:

- a listing (users or teams): one request per listed id per window, an id deleted since the
  listing (404) skipped with a warning;
- a licensed feature (agent): a 403 ``FEATURE_NOT_AVAILABLE`` empties the stream with one
  warning, asks nothing more and leaves the state where it was;
- a :class:`UsagePathFallback` (organisation usage): v2 until a 404 says the server predates it;
- the organisation's totals (per-user usage): each window's sums compared with them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterable, Iterator, List, Mapping, MutableMapping, Optional, Tuple, TypeVar

import requests
from airbyte_cdk.models import SyncMode
from airbyte_cdk.sources.streams.core import StreamData
from airbyte_cdk.sources.streams.http.error_handlers.response_models import ErrorResolution, ResponseAction
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_usage.core.errors import UsageErrorHandler, answer_error, json_body, vendor_error_text
from source_usage.core.once import FirstTime
from source_usage.core.periods import Period, PeriodPlan
from source_usage.core.streams import PeriodStream
from source_usage.core.values import utc_z
from source_usage.core.vendor import Connection
from source_usage.vendors.tabnine.account import OrganizationLookup
from source_usage.vendors.tabnine.buckets import bucket_counts, bucket_periods
from source_usage.vendors.tabnine.common import USAGE_V1_PATH, USAGE_V2_PATH, TabnineErrorHandler
from source_usage.vendors.tabnine.directory import ListingOnce

T = TypeVar("T")
logger = logging.getLogger("airbyte")

#: What the usage endpoints are asked for: one bucket spanning the whole window. The 6.3 spec gives
#: the per-model breakdowns (``models[]``) only with ``all``, and one bucket per window leaves no
#: guess about how Tabnine aligns its own weeks and months (undocumented): the connector cuts the
#: windows itself, in UTC, and the configured granularity only decides their length.
REQUEST_GRANULARITY = "all"
#: What a 403 of an agent-usage endpoint says when the license does not include Agent.
FEATURE_NOT_AVAILABLE = "FEATURE_NOT_AVAILABLE"


@dataclass(frozen=True)
class Entity:
    """What a per-id usage endpoint is asked for: the query parameter and record field of the id
    (as Tabnine names it) and what an id is, in messages."""

    id_field: str
    noun: str


USER = Entity("userId", "user")
TEAM = Entity("teamId", "team")


@dataclass(frozen=True)
class UsageEndpoint:
    """One usage stream: its name and path, whose usage each request asks for (``per``: one
    request per listed user or team; ``None``: the organisation's, one per window), whether a 403
    ``FEATURE_NOT_AVAILABLE`` means the license lacks the feature (``licensed``), and the fields
    every bucket must carry as numbers (``demanded``: a documented total a sum over records needs,
    which a null would silently shrink)."""

    stream: str
    path: str
    per: Optional[Entity] = None
    licensed: bool = False
    demanded: Tuple[str, ...] = ()

    @property
    def primary_key(self) -> List[str]:
        return ["period_start", "granularity", *([self.per.id_field] if self.per else [])]


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

    def check_history(self, body: Mapping[str, Any], window: Mapping[str, Any], where: str) -> None:
        """v1 keeps only the history from before the server's upgrade to 6.2: an empty window there
        may be usage v1 no longer records, which an empty success would checkpoint."""
        if self.path == USAGE_V1_PATH and not body["usage"]["data"]:
            raise answer_error(
                f"{where} answered no usage for the window from {window['period_start']}, after "
                f"/{USAGE_V2_PATH} answered 404. v1 holds only the usage from before a server's upgrade to 6.2, so this "
                f"window's usage may be on v2 alone: if the server is 6.2 or newer, /{USAGE_V2_PATH} is hidden by a proxy or "
                "gateway (let it through, or check tabnine.base_url); the stream's state stays before this window."
            )


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


class WindowUsage(PeriodStream):
    """One Tabnine usage endpoint (:class:`UsageEndpoint`), read one window at a time. The answer's
    buckets are kept whole and get their period as :func:`bucket_periods` says; ``organizationId``,
    the id asked for (per user or team) and ``granularity`` (the configured window length, part of
    the key) are added.

    ``listing``: the users or teams a per-id endpoint is asked for; ``fallback``: the v2-to-v1
    path fallback; ``totals``: the organisation's usage of the same windows, which each window's
    sums of this stream are compared with (once a difference is found, no later window is).
    """

    cursor_field = "period_start"
    error_handler_class = TabnineErrorHandler
    data_fields = ("usage.data",)

    def __init__(
        self,
        connection: Connection,
        plan: PeriodPlan,
        usage: UsageEndpoint,
        granularity_name: str,
        organization: OrganizationLookup,
        listing: Optional[ListingOnce] = None,
        fallback: Optional[UsagePathFallback] = None,
        totals: Optional[WindowUsage] = None,
    ) -> None:
        assert (listing is not None) == (usage.per is not None), "a per-id endpoint needs its listing"
        self.usage = usage
        self.endpoint = usage.path
        self.granularity_name = granularity_name
        self.organization = organization
        self.listing = listing
        self.fallback = fallback
        self.totals = totals
        #: What was said or seen once a sync, whichever worker copy met it first.
        self.warned = FirstTime()
        super().__init__(connection, plan)

    @property
    def name(self) -> str:
        return self.usage.stream

    @property
    def primary_key(self) -> List[str]:
        return self.usage.primary_key

    @property
    def where(self) -> str:
        return f"{self.identity.title} {self.path()}"

    def path(self, **kwargs: Any) -> str:
        return self.fallback.path if self.fallback is not None else self.endpoint

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

    def cursor_value(self, period: Period) -> str:
        return period.start_iso

    # -- what is asked

    @property
    def unlicensed(self) -> bool:
        """Whether the license was found to lack this stream's feature (no more requests, no state)."""
        return FEATURE_NOT_AVAILABLE in self.warned

    def requests_for_period(self, period_slice: Mapping[str, Any]) -> Iterable[Mapping[str, Any]]:
        if self.unlicensed:
            return
        per = self.usage.per
        if per is None or self.listing is None:
            yield period_slice
            return
        for entity_id in self.listing.ids():
            if self.unlicensed:
                return  # the rest of the window's ids would answer the same 403
            yield {**period_slice, per.id_field: entity_id}

    def request_params(
        self,
        stream_state: Optional[Mapping[str, Any]],
        stream_slice: Optional[Mapping[str, Any]] = None,
        next_page_token: Optional[Mapping[str, Any]] = None,
    ) -> MutableMapping[str, Any]:
        assert stream_slice is not None
        asked = {self.usage.per.id_field: stream_slice[self.usage.per.id_field]} if self.usage.per else {}
        return {
            "organizationId": self.organization.organization_id(),
            **asked,
            "from": utc_z(stream_slice["period_start"]),
            "to": utc_z(stream_slice["period_end"]),
            "granularity": REQUEST_GRANULARITY,
        }

    def read_request(
        self,
        sync_mode: SyncMode,
        cursor_field: Optional[List[str]],
        stream_slice: Optional[Mapping[str, Any]],
        stream_state: Optional[Mapping[str, Any]],
    ) -> Iterable[StreamData]:
        read_window = super().read_request
        if self.fallback is None:
            return read_window(sync_mode, cursor_field, stream_slice, stream_state)
        return self.fallback.read(lambda: read_window(sync_mode, cursor_field, stream_slice, stream_state))

    # -- what is answered

    def tolerated(self, response: requests.Response) -> Optional[ErrorResolution]:
        """An answer the shared mapping would fail that this stream reads itself (``None``: none):
        an unlicensed feature's 403, a deleted id's 404."""
        if self.usage.licensed and feature_not_available(response) is not None:
            return ErrorResolution(ResponseAction.IGNORE, error_message=f"{self.where}: {FEATURE_NOT_AVAILABLE}")
        if self.usage.per is not None and response.status_code == 404:
            return ErrorResolution(ResponseAction.IGNORE, error_message=f"{self.where} answered 404 for one {self.usage.per.noun}")
        return None

    def malformed(self, body: Any) -> Optional[str]:
        usage = body.get("usage") if isinstance(body, dict) else None
        if not isinstance(usage, dict) or not isinstance(usage.get("data"), list):
            return "no 'usage.data' list"
        if not all(isinstance(bucket, dict) for bucket in usage["data"]):
            return "a 'usage.data' bucket is not an object"
        return None

    def records(self, response: requests.Response, stream_slice: Mapping[str, Any]) -> Iterable[Mapping[str, Any]]:
        if self.fallback is not None:
            self.fallback.raise_if_missing(response)
        if self.usage.licensed and (words := feature_not_available(response)) is not None:
            self.say_unlicensed(words)
            return ()
        if self.usage.per is not None and response.status_code == 404:
            self.say_skipped(response, str(stream_slice[self.usage.per.id_field]))
            return ()
        body = json_body(response)
        added = {self.usage.per.id_field: self.asked_for(body, stream_slice)} if self.usage.per is not None else {}
        if self.fallback is not None:
            self.fallback.check_history(body, stream_slice, self.where)
        return self.bucket_records(body, stream_slice, added)

    def say_unlicensed(self, words: str) -> None:
        if self.warned.first(FEATURE_NOT_AVAILABLE):
            logger.warning(
                f"Stream '{self.name}' is empty: {self.where} answered HTTP 403 {FEATURE_NOT_AVAILABLE} ({words}), so the "
                "organisation's Tabnine license does not include Agent. No further window is asked for and the stream's "
                "state stays where it was; the sync goes on."
            )

    def say_skipped(self, response: requests.Response, asked: str) -> None:
        """An id that answers 404 (deleted between the listing and its usage) is skipped with one
        warning naming it; the sync goes on."""
        noun = self.usage.per.noun if self.usage.per else "id"
        if self.warned.first(f"404:{asked}"):
            logger.warning(
                f"Stream '{self.name}' skips {noun} '{asked}': {self.where} answered HTTP 404 "
                f"({vendor_error_text(response)}), so the {noun} was probably deleted after the {noun}s were "
                f"listed. Its usage is not read in this sync. (If every {noun} is skipped, the server may predate "
                f"/{self.endpoint}, Tabnine 6.2.)"
            )

    def asked_for(self, body: Mapping[str, Any], stream_slice: Mapping[str, Any]) -> str:
        """The id the request asked for; an answer that names another fails, naming the field."""
        assert self.usage.per is not None
        field, noun = self.usage.per.id_field, self.usage.per.noun
        asked, stated = str(stream_slice[field]), body.get(field)
        if stated is not None and str(stated) != asked:
            raise answer_error(
                f"{self.where} answered for {field} '{stated}' when asked for '{asked}': its numbers cannot be "
                f"told to be the {noun}'s. Report it to Tabnine."
            )
        return asked

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
            self.check_demanded(bucket, start)
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

    def check_demanded(self, bucket: Mapping[str, Any], start: str) -> None:
        """A bucket without a demanded total as a number fails the stream, naming the field and
        the fields the bucket has: a null cost would read as no cost in every sum."""
        for field in self.usage.demanded:
            value = bucket.get(field)
            if type(value) not in (int, float):
                has = ", ".join(sorted(name if bucket[name] is not None else f"{name}: null" for name in bucket)) or "none"
                raise answer_error(
                    f"{self.where} answered a bucket for the window from {start} without a number in '{field}' (the bucket "
                    f"has: {has}). Rather than emit '{field}' as null, which every sum would read as 0, the stream stops: the "
                    "answer may have changed shape; report it to Tabnine."
                )

    def advance_cursor(self, value: str) -> None:
        if not self.unlicensed:
            super().advance_cursor(value)

    # -- the organisation's totals

    def read_period(
        self,
        sync_mode: SyncMode,
        cursor_field: Optional[List[str]],
        period_slice: Mapping[str, Any],
        stream_state: Optional[Mapping[str, Any]],
    ) -> Iterable[StreamData]:
        if self.totals is None:
            yield from super().read_period(sync_mode, cursor_field, period_slice, stream_state)
            return
        sums: Dict[str, float] = {}
        for record in super().read_period(sync_mode, cursor_field, period_slice, stream_state):
            if isinstance(record, Mapping):
                for path, value in bucket_counts(record).items():
                    sums[path] = sums.get(path, 0) + value
            yield record
        self.compare_with_the_organization(period_slice, sums)

    def compare_with_the_organization(self, window: Mapping[str, Any], users: Mapping[str, float]) -> None:
        """The first window whose sums differ from the organisation's is one warning naming the
        window, both sums and the likely cause; no later window is compared. The comparison never
        fails the stream: its numbers stand as read."""
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

"""Base streams: what every vendor endpoint shares, and incremental reading by period.

``UsageStream`` wires an endpoint to its vendor's :class:`Connection` (identity, host,
credentials, budget, retries, timeouts), the shared error handler and ``Retry-After`` backoff, a
pager and the stream's schema file. ``PeriodStream`` adds incremental sync by statistics period:
slices of periods, and a cursor that names the last period whose every request and every page was
read and emitted.
"""

from __future__ import annotations

import copy
import logging
from abc import ABC, abstractmethod
from functools import partial
from itertools import chain
from typing import (
    Any,
    Callable,
    ClassVar,
    Dict,
    Iterable,
    Iterator,
    List,
    Mapping,
    MutableMapping,
    Optional,
    Sequence,
    Tuple,
    Type,
    TypeVar,
)

import pendulum
import requests
from airbyte_cdk.models import FailureType, SyncMode
from airbyte_cdk.sources.streams import CheckpointMixin
from airbyte_cdk.sources.streams.core import StreamData
from airbyte_cdk.sources.streams.http import HttpStream
from airbyte_cdk.sources.streams.http.error_handlers import BackoffStrategy, ErrorHandler
from airbyte_cdk.sources.streams.http.exceptions import BaseBackoffException
from airbyte_cdk.utils.traced_exception import AirbyteTracedException
from pendulum import DateTime

from source_usage.core.cdk import backoff_cause
from source_usage.core.errors import PeriodNotServedYet, RetryAfterBackoff, UsageErrorHandler, answer_error, json_body, plain_message
from source_usage.core.keys import KeyGuard
from source_usage.core.limits import DeadlineAdapter, RequestLedger, TimedBudget, mount_deadlines
from source_usage.core.paging import Pager, SinglePage
from source_usage.core.periods import Period, PeriodPlan
from source_usage.core.pool import PlannedReads, thread_local_worker
from source_usage.core.progress import StreamProgress, plan_line
from source_usage.core.schemas import integer_columns, load_schema
from source_usage.core.settings import config_error
from source_usage.core.stats import RequestStats
from source_usage.core.vendor import Connection, VendorIdentity

T = TypeVar("T")
S = TypeVar("S", bound="UsageStream")
logger = logging.getLogger("airbyte")
#: What a warehouse's integer column holds.
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


class UsageStream(HttpStream, ABC):
    """One endpoint of one vendor."""

    #: The endpoint's path below the base URL, e.g. ``api/v1/corp_usage/overview``.
    endpoint: str
    error_handler_class: ClassVar[Type[UsageErrorHandler]] = UsageErrorHandler
    #: The field of a page's body that holds its items (a paged endpoint); a large page's items
    #: are then read one at a time (``core.bodies``).
    items_field: ClassVar[Optional[str]] = None
    #: Where a 2xx body holds the endpoint's data (dotted paths; default: the items field). An
    #: error envelope with these missing or empty is an error, never "no data"
    #: (``core.errors.error_envelope``); without any, the body is the object itself.
    data_fields: ClassVar[Tuple[str, ...]] = ()

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.stats = RequestStats()
        self.wire_http()

    def wire_http(self) -> None:
        """The objects that follow the request being sent: the ledger, the error handler, the
        pager and the HTTP client (with its session and deadlines). HttpStream.__init__ builds
        the client and asks for the error handler and the backoff strategy, so both come first."""
        self.ledger = RequestLedger(self.connection.http, self.stats)
        self.error_handler = self.make_error_handler()
        self.error_handler.follow(self.ledger, self.connection.clock, self.connection.limit, self.connection.pool)
        self.pager = self.new_pager()
        # The vendor's one budget, seen through this stream's stats (its waits are the stream's).
        # It is asked by the transport adapter once an attempt holds an in-flight slot, not by
        # the CDK's session before it (``core.budget``), so the CDK gets none.
        budget = self.connection.budget
        HttpStream.__init__(self, authenticator=self.connection.authenticator, api_budget=None)
        mount_deadlines(
            self,
            DeadlineAdapter(
                self.connection.http,
                self.ledger,
                self.connection.limit,
                self.identity.title,
                budget=TimedBudget(budget, self.stats) if budget is not None else None,
                pool=self.connection.pool,
                judge=self.error_handler.screen,
            ),
        )

    def worker_copy(self: S) -> S:
        """A copy of this stream that sends requests from another thread: everything the stream
        was configured with is shared (connection, budget, plan, stats, vendor lookups), and
        everything that follows one request is its own (:meth:`wire_http`)."""
        worker = copy.copy(self)
        worker.wire_http()
        return worker

    @property
    def identity(self) -> VendorIdentity:
        return self.connection.identity

    @property
    def where(self) -> str:
        """``<vendor> <endpoint>``, how every message names this endpoint."""
        return f"{self.identity.title} {self.endpoint}"

    @property
    def url_base(self) -> str:
        return self.connection.base_url.rstrip("/") + "/"

    def path(self, **kwargs: Any) -> str:
        return self.endpoint

    def request_kwargs(
        self,
        stream_state: Optional[Mapping[str, Any]],
        stream_slice: Optional[Mapping[str, Any]] = None,
        next_page_token: Optional[Mapping[str, Any]] = None,
    ) -> Mapping[str, Any]:
        # The CDK asks once per request (page), just before sending it: its first attempt.
        self.ledger.start()
        return {"timeout": self.connection.http.timeout}

    def make_error_handler(self) -> UsageErrorHandler:
        return self.error_handler_class(
            identity=self.identity,
            endpoint=self.endpoint,
            malformed=self.malformed,
            max_retries=self.connection.http.max_retries,
            stats=self.stats,
            read_body=self.body,
            data_fields=self.data_fields or ((self.items_field,) if self.items_field else ()),
        )

    def body(self, response: requests.Response) -> Any:
        """The answer's body, parsed once; a large page's items are read one at a time."""
        return json_body(response, self.items_field)

    def get_error_handler(self) -> Optional[ErrorHandler]:
        return self.error_handler

    def get_backoff_strategy(self) -> Optional[BackoffStrategy]:
        return RetryAfterBackoff(
            is_rate_limit=self.error_handler.is_rate_limit,
            ledger=self.ledger,
            vendor=self.identity.title,
            budget=self.connection.budget,
        )

    def malformed(self, body: Any) -> Optional[str]:
        """What is wrong with a 2xx JSON body of this endpoint, or ``None`` when it is usable."""
        return None

    def new_pager(self) -> Pager:
        """The paging scheme, at its first page (default: one body answers a request)."""
        return SinglePage(self.where)

    def page_items(self, body: Any) -> Sequence[Any]:
        """The items of one page, which the pager counts and compares (paged endpoints)."""
        return body[self.items_field] if self.items_field is not None else ()

    def next_page_token(self, response: requests.Response) -> Optional[Mapping[str, Any]]:
        body = json_body(response)
        return self.pager.advance(body, self.page_items(body))

    def request_params(
        self,
        stream_state: Optional[Mapping[str, Any]],
        stream_slice: Optional[Mapping[str, Any]] = None,
        next_page_token: Optional[Mapping[str, Any]] = None,
    ) -> MutableMapping[str, Any]:
        """A GET sends its page position in the query (a POST stream puts it in its body)."""
        return dict(self.pager.position) if self.http_method == "GET" else {}

    def get_json_schema(self) -> Mapping[str, Any]:  # type: ignore[override]  # the CDK's is an lru_cache
        return load_schema(self.name)

    @property
    def key_fields(self) -> List[str]:
        """The primary key's top-level fields."""
        key = self.primary_key
        return [key] if isinstance(key, str) else [str(part) for part in key or []]

    def key_guard(self, period: str = "") -> KeyGuard:
        return KeyGuard(self.where, self.key_fields, period)

    def read_records(
        self,
        sync_mode: SyncMode,
        cursor_field: Optional[List[str]] = None,
        stream_slice: Optional[Mapping[str, Any]] = None,
        stream_state: Optional[Mapping[str, Any]] = None,
    ) -> Iterable[StreamData]:
        yield from self.admitted(self.read_request(sync_mode, cursor_field, stream_slice, stream_state), self.key_guard())

    def admitted(self, records: Iterable[StreamData], keys: KeyGuard) -> Iterator[StreamData]:
        """``records`` with each key once across ``keys`` (then its report), counted; a value no
        integer column can hold fails the stream (:meth:`check_integers`)."""
        integers = integer_columns(self.get_json_schema())
        for record in records:
            if isinstance(record, Mapping):
                if not keys.admit(record):
                    continue
                self.check_integers(record, integers)
            self.stats.records += 1
            yield record
        keys.report()

    def check_integers(self, record: Mapping[str, Any], columns: Sequence[str]) -> None:
        """A value beyond 64 bits in an integer column would be refused or rounded by every
        warehouse (its integer column is 64 bits): the stream stops, naming the column, rather
        than change the number. Such a value elsewhere in a record (the vendor's raw objects) is
        kept exact."""
        for column in columns:
            value = record.get(column)
            if type(value) is int and not INT64_MIN <= value <= INT64_MAX:
                raise answer_error(
                    f"{self.where} answered {value} for '{column}', beyond the 64-bit integer a warehouse column of "
                    f"{self.name} holds; rather than round it, the sync stops (the vendor's count is likely wrong: report it)."
                )

    def read_request(
        self,
        sync_mode: SyncMode,
        cursor_field: Optional[List[str]],
        stream_slice: Optional[Mapping[str, Any]],
        stream_state: Optional[Mapping[str, Any]],
    ) -> Iterable[StreamData]:
        """The records of one request slice, all its pages in order (read by one thread)."""
        self.pager = self.new_pager()  # every request slice pages from its first page
        try:
            yield from HttpStream.read_records(self, sync_mode, cursor_field, stream_slice, stream_state)
        except AirbyteTracedException as error:
            self.name_endpoint(error)
            raise

    def name_endpoint(self, error: AirbyteTracedException) -> None:
        """Make the error's message name vendor and endpoint (the CDK's retry-exhaustion messages,
        "API rate limit exceeded." or "Exhausted available request attempts...", name neither)
        and, when retries ran out, how many the request made and in how many seconds."""
        if isinstance(backoff_cause(error), BaseBackoffException):
            error.message = f"{plain_message(error)} {self.ledger.gave_up()}"
        elif error.message and self.identity.title not in error.message:
            error.message = f"{self.where}: {error.message}"


#: How many requests per request in flight a stream submits to its vendor's pool ahead of the one
#: it is emitting: what a kill re-reads at most (the periods of the requests submitted).
READ_AHEAD_WINDOW = 2


def slice_tag(period_slice: Mapping[str, Any]) -> Tuple[str, str]:
    """What tells one slice of periods from another."""
    return str(period_slice["period_start"]), str(period_slice["period_end"])


def chunked(items: Sequence[T], size: int) -> Iterator[List[T]]:
    """``items`` in lists of at most ``size`` (an API's cap on ids per request)."""
    for first in range(0, len(items), size):
        yield list(items[first : first + size])


class PeriodStream(UsageStream, CheckpointMixin, ABC):
    """An incremental stream whose slices are statistics periods.

    State is ``{cursor_field: <cursor of the last period read in full>}``. It moves only after
    every request of a slice (:meth:`requests_for_period`, e.g. one per chunk of ids) and every
    page of each was read and its records handed on, so a sync stopped anywhere resumes at the
    first unfinished period. Re-reading within the lookback never moves it backwards, and a
    period the plan serves before it is over (the current month) is read but never checkpointed.
    """

    #: How many periods one slice covers: 1, or ``None`` for an endpoint that answers every
    #: period of the plan in one request.
    periods_per_slice: ClassVar[Optional[int]] = 1

    def __init__(self, connection: Connection, plan: PeriodPlan) -> None:
        self.plan = plan
        self._state: Dict[str, Any] = {}
        self._ahead: Optional[PlannedReads[StreamData]] = None
        self.progress: Optional[StreamProgress] = None
        self._said_not_over = False
        #: The start of the first period the vendor said it does not serve yet (``PeriodNotServedYet``).
        self._unserved: Optional[str] = None
        #: Whether a failed read's error names its period (:meth:`name_period`): in a sync, where
        #: the state stays before it; not in ``check``, which keeps no state.
        self.names_failed_periods = True
        super().__init__(connection)

    @property
    def cursor_key(self) -> str:
        """The stream's ``cursor_field``, a single top-level field for every stream here."""
        return str(self.cursor_field)

    @abstractmethod
    def cursor_value(self, period: Period) -> str:
        """The cursor written to state and records for ``period``."""

    def stream_slices(
        self,
        *,
        sync_mode: SyncMode,
        cursor_field: Optional[List[str]] = None,
        stream_state: Optional[Mapping[str, Any]] = None,
    ) -> Iterable[Optional[Mapping[str, Any]]]:
        cursor = self.saved_cursor(stream_state) if sync_mode == SyncMode.incremental else None
        periods = self.plan.periods(cursor)
        groups = list(chunked(periods, self.periods_per_slice or max(1, len(periods))))
        slices = [self.period_slice(group) for group in groups]
        self.progress = self.start_progress(slices, [len(group) for group in groups])
        self._ahead = self.read_ahead(slices, sync_mode, cursor_field, stream_state)
        try:
            yield from slices
        finally:
            # Also when the reader stops early (``check`` reads one record; a failed period).
            if self._ahead is not None:
                self._ahead.close()
                self._ahead = None

    def period_slice(self, periods: Sequence[Period]) -> Dict[str, Any]:
        """A slice of consecutive periods: its span, the first period's cursor value, and the
        cursor to checkpoint once it is read (the last finished period's; ``None``: none is)."""
        finished = [period for period in periods if self.plan.is_finished(period)]
        return {
            "period_start": periods[0].start_iso,
            "period_end": periods[-1].end_iso,
            # The cursor after the span: for streams whose cursor is ``period_start`` it is the
            # first period's cursor value.
            self.cursor_key: self.cursor_value(periods[0]),
            "checkpoint": self.cursor_value(finished[-1]) if finished else None,
            # When that period ends: the vendor's own clock must be past it too (``read_records``).
            "checkpoint_end": finished[-1].end_iso if finished else None,
        }

    def requests_for_period(self, period_slice: Mapping[str, Any]) -> Iterable[Mapping[str, Any]]:
        """The request slices that together read one slice of periods (default: one)."""
        yield period_slice

    def start_progress(self, slices: Sequence[Mapping[str, Any]], periods: Sequence[int]) -> Optional[StreamProgress]:
        """Log the plan of reading ``slices`` (``periods``: how many periods each covers) and
        follow its progress; ``None`` when the connection reports none (``check``)."""
        options = self.connection.http.progress
        if options is None:
            return None
        planned = sum(1 for period_slice in slices for _ in self.requests_for_period(period_slice))
        limit = self.connection.limit_for(self.endpoint, self.http_method)
        logger.info(plan_line(self.name, sum(periods), planned, self.identity.title, limit, self.requests_in_flight))
        return StreamProgress(self.name, {slice_tag(s): count for s, count in zip(slices, periods, strict=True)}, self.stats, options)

    # -- reading: the requests of later periods are read ahead by the vendor's pool, the records
    # emitted in order

    @property
    def requests_in_flight(self) -> int:
        """How many of this stream's requests may be read at once (1: one after the other)."""
        return self.connection.requests_in_flight if self.connection.http.read_ahead else 1

    def read_ahead(
        self,
        slices: Sequence[Mapping[str, Any]],
        sync_mode: SyncMode,
        cursor_field: Optional[List[str]],
        stream_state: Optional[Mapping[str, Any]],
    ) -> Optional[PlannedReads[StreamData]]:
        """Every request of ``slices``, submitted to the vendor's pool ahead of the one being
        emitted; ``None`` to read one request at a time, here (one request in flight, or no slice)."""
        in_flight = self.requests_in_flight
        if in_flight <= 1 or not slices:
            return None
        worker = thread_local_worker(self.worker_copy)

        def work() -> Iterator[Tuple[Any, Callable[[], Iterable[StreamData]]]]:
            for period_slice in slices:
                for request_slice in self.requests_for_period(period_slice):
                    yield slice_tag(period_slice), partial(read_with, request_slice=request_slice)

        def read_with(request_slice: Mapping[str, Any]) -> Iterable[StreamData]:
            return worker().read_request(sync_mode, cursor_field, request_slice, stream_state)

        return PlannedReads(self.connection.pool, self, work(), window=READ_AHEAD_WINDOW * in_flight)

    def request_results(
        self,
        sync_mode: SyncMode,
        cursor_field: Optional[List[str]],
        period_slice: Mapping[str, Any],
        stream_state: Optional[Mapping[str, Any]],
    ) -> Iterator[Iterable[StreamData]]:
        """The records of each request of ``period_slice``, request by request, in order: read
        ahead when the slice is the read-ahead's next, else here and now."""
        ahead = self._ahead
        if ahead is not None and ahead.peek_tag() == slice_tag(period_slice):
            while ahead.peek_tag() == slice_tag(period_slice):
                job = ahead.take()
                assert job is not None
                yield job.records()
            return
        for request_slice in self.requests_for_period(period_slice):
            yield self.read_request(sync_mode, cursor_field, request_slice, stream_state)

    def read_period(
        self,
        sync_mode: SyncMode,
        cursor_field: Optional[List[str]],
        period_slice: Mapping[str, Any],
        stream_state: Optional[Mapping[str, Any]],
    ) -> Iterable[StreamData]:
        """The records of one slice of periods, in request order, each key once per slice."""
        records = chain.from_iterable(self.request_results(sync_mode, cursor_field, period_slice, stream_state))
        yield from self.admitted(records, self.key_guard(f"the period from {period_slice['period_start']}"))

    def read_records(
        self,
        sync_mode: SyncMode,
        cursor_field: Optional[List[str]] = None,
        stream_slice: Optional[Mapping[str, Any]] = None,
        stream_state: Optional[Mapping[str, Any]] = None,
    ) -> Iterable[StreamData]:
        assert stream_slice is not None, "period streams always read a period slice"
        if self._unserved is not None:
            return  # a period before this one is not served yet: neither is this one
        try:
            yield from self.read_period(sync_mode, cursor_field, stream_slice, stream_state)
        except AirbyteTracedException as error:
            self.name_period(error, stream_slice)
            raise
        except PeriodNotServedYet as refusal:
            end = pendulum.parse(str(stream_slice["period_end"]))
            assert isinstance(end, DateTime)
            newest = end == self.plan.stop
            if not newest and self.connection.clock.has_passed(end):
                raise answer_error(str(refusal)) from None  # a period over by both clocks must be served
            self._unserved = str(stream_slice["period_start"])
            logger.warning(f"{refusal} It and any later period are left for the next sync: the state stays before them.")
            return
        if stream_slice["checkpoint"] is not None and self.over_for_the_vendor(stream_slice):
            self.advance_cursor(str(stream_slice["checkpoint"]))
        if self.progress is not None:
            self.progress.slice_done(slice_tag(stream_slice))

    def name_period(self, error: AirbyteTracedException, period_slice: Mapping[str, Any]) -> None:
        """Make a failed read's message name the period it failed in, and say what becomes of it
        (the state stays before it). A config error is about the config, not the period: as is."""
        if not self.names_failed_periods or error.failure_type == FailureType.config_error or not error.message:
            return
        if "the state stays before it" in error.message:
            return
        said = error.message if error.message.endswith((".", "!", "?")) else f"{error.message}."
        error.message = (
            f"{said} The period {period_slice['period_start']} to {period_slice['period_end']} of {self.name} "
            "was not read whole, so the state stays before it: the next sync reads it again."
        )

    def over_for_the_vendor(self, period_slice: Mapping[str, Any]) -> bool:
        """Whether the slice's last finished period is over by the vendor's own clock too (its
        answers' ``Date``). A period over by this machine's clock alone (a clock that runs ahead)
        is read but not checkpointed, once said: the next sync reads it again."""
        end = pendulum.parse(str(period_slice["checkpoint_end"]))
        assert isinstance(end, DateTime)
        clock = self.connection.clock
        if clock.has_passed(end):
            return True
        if not self._said_not_over:
            self._said_not_over = True
            vendor_now = clock.now()
            told = pendulum.from_timestamp(vendor_now).format("YYYY-MM-DD HH:mm:ss [UTC]") if vendor_now is not None else "unknown"
            logger.warning(
                f"{self.where}: the period ending {end.to_iso8601_string()} is not over by {self.identity.title}'s own clock "
                f"({told}, the Date of its answers): it is read but not checkpointed, and the next sync reads it again."
            )
        return False

    def parse_response(
        self,
        response: requests.Response,
        *,
        stream_state: Mapping[str, Any],
        stream_slice: Optional[Mapping[str, Any]] = None,
        next_page_token: Optional[Mapping[str, Any]] = None,
    ) -> Iterable[Mapping[str, Any]]:
        assert stream_slice is not None
        return self.records(response, stream_slice)

    @abstractmethod
    def records(self, response: requests.Response, stream_slice: Mapping[str, Any]) -> Iterable[Mapping[str, Any]]:
        """The records of one page, each with the stream's key fields at the top level."""

    # -- the cursor

    def cursor_moment(self, value: str) -> DateTime:
        """The instant a cursor value names (a date is midnight in the plan's zone)."""
        try:
            parsed = pendulum.parse(value, tz=self.plan.timezone)
        except (ValueError, TypeError, pendulum.parsing.exceptions.ParserError):
            parsed = None
        if not isinstance(parsed, DateTime):
            raise config_error(
                f"The saved state of stream '{self.name}' holds '{value}', which is not a {self.cursor_key}; reset the stream's state."
            )
        return parsed.in_timezone(self.plan.timezone)

    def saved_cursor(self, stream_state: Optional[Mapping[str, Any]]) -> Optional[DateTime]:
        """The cursor a read starts from, or ``None`` without state."""
        if stream_state and stream_state.get(self.cursor_key):
            return self.cursor_moment(str(stream_state[self.cursor_key]))
        return None

    def resumed_state(self, stream_state: Optional[Mapping[str, Any]]) -> Optional[Dict[str, Any]]:
        """The state a read really resumes from: ``stream_state`` itself, or, when its cursor names
        a period that is not over yet (a state written by hand, or by a machine whose clock was
        wrong), the latest finished period's; ``None`` (no state) when even that lies before the
        plan's first period (a monthly stream early in its first month), as a full read starts.

        A cursor in the future would otherwise skip every period until then, silently, and be
        written back (the CDK writes the state it was given when no period moves it), so the
        source hands the CDK this state, never the saved one.
        """
        cursor = self.saved_cursor(stream_state)
        latest = self.plan.latest_finished_start()
        if cursor is None or self.plan.granularity.floor(cursor) <= latest:
            return dict(stream_state) if stream_state else None
        value = stream_state and stream_state.get(self.cursor_key)
        saved = f"The saved state of stream '{self.name}' holds {self.cursor_key} '{value}', a period that is not over yet"
        if latest < self.plan.first:
            # A state naming a period before the configured start would claim a period no sync read.
            logger.warning(f"{saved}; reading as if it held none: no period from {self.plan.first.to_date_string()} on is over yet.")
            return None
        clamped = self.cursor_value(Period(latest, self.plan.granularity.step(latest, 1)))
        logger.warning(f"{saved}; reading as if it held '{clamped}', the latest finished period.")
        return {self.cursor_key: clamped}

    def advance_cursor(self, value: str) -> None:
        """Move the cursor to ``value`` unless it already is there or later (a lookback re-read).
        The state is replaced, never mutated: the CDK hands the state read at the start to the
        slices."""
        current = self._state.get(self.cursor_key)
        if current is None or self.cursor_moment(value) > self.cursor_moment(str(current)):
            self._state = {self.cursor_key: value}

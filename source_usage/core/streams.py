"""Base streams: what every vendor endpoint shares, and incremental reading by period.

``UsageStream`` wires an endpoint to the shared error handler, the ``Retry-After`` backoff,
timeouts, the vendor's request budget and the stream's schema file. ``PeriodStream`` adds
incremental sync by statistics period: one slice per period, and a cursor that names the last
period whose every request and every page was read and emitted.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar, Iterable, Iterator, List, Mapping, MutableMapping, Optional, Sequence, Tuple, Type, TypeVar

import pendulum
import requests
from airbyte_cdk.models import SyncMode
from airbyte_cdk.sources.streams import CheckpointMixin
from airbyte_cdk.sources.streams.call_rate import APIBudget
from airbyte_cdk.sources.streams.core import StreamData
from airbyte_cdk.sources.streams.http import HttpStream
from airbyte_cdk.sources.streams.http.error_handlers import BackoffStrategy, ErrorHandler
from airbyte_cdk.sources.streams.http.exceptions import BaseBackoffException
from airbyte_cdk.utils.traced_exception import AirbyteTracedException
from pendulum import DateTime
from requests.auth import AuthBase

from source_usage.core.errors import RetryAfterBackoff, UsageErrorHandler, plain_message
from source_usage.core.periods import Period, PeriodPlan
from source_usage.core.schemas import load_schema
from source_usage.core.settings import config_error
from source_usage.core.stats import RequestStats

T = TypeVar("T")

#: (connect, read) seconds. Workato documents a 40 s server-side timeout; none is slower.
DEFAULT_TIMEOUT: Tuple[float, float] = (10.0, 60.0)


class UsageStream(HttpStream, ABC):
    """One endpoint of one vendor."""

    #: The vendor's name as users know it, e.g. ``Jiandaoyun``.
    vendor: ClassVar[str]
    #: The config field to fix when the vendor rejects the credentials.
    credentials_hint: ClassVar[str]
    #: The endpoint's path below the base URL, e.g. ``api/v1/corp_usage/overview``.
    endpoint: ClassVar[str]
    error_handler_class: ClassVar[Type[UsageErrorHandler]] = UsageErrorHandler

    def __init__(
        self,
        base_url: str,
        authenticator: Optional[AuthBase] = None,
        api_budget: Optional[APIBudget] = None,
        max_retries: int = 5,
        timeout: Tuple[float, float] = DEFAULT_TIMEOUT,
    ) -> None:
        # HttpStream.__init__ builds the HTTP client and asks for the error handler, so what
        # the handler needs is set first.
        self._url_base = base_url.rstrip("/") + "/"
        self.stats = RequestStats()
        self._max_retries = max_retries
        self._timeout = timeout
        super().__init__(authenticator=authenticator, api_budget=api_budget)

    @property
    def url_base(self) -> str:
        return self._url_base

    def path(self, **kwargs: Any) -> str:
        return self.endpoint

    def request_kwargs(
        self,
        stream_state: Optional[Mapping[str, Any]],
        stream_slice: Optional[Mapping[str, Any]] = None,
        next_page_token: Optional[Mapping[str, Any]] = None,
    ) -> Mapping[str, Any]:
        return {"timeout": self._timeout}

    def get_error_handler(self) -> Optional[ErrorHandler]:
        return self.error_handler_class(
            vendor=self.vendor,
            endpoint=self.endpoint,
            credentials_hint=self.credentials_hint,
            malformed=self.malformed,
            max_retries=self._max_retries,
            stats=self.stats,
        )

    def get_backoff_strategy(self) -> Optional[BackoffStrategy]:
        return RetryAfterBackoff(stats=self.stats)

    def malformed(self, body: Any) -> Optional[str]:
        """What is wrong with a 2xx JSON body of this endpoint, or ``None`` when it is usable."""
        return None

    def get_json_schema(self) -> Mapping[str, Any]:  # type: ignore[override]  # the CDK's is an lru_cache
        return load_schema(self.name)

    def read_records(
        self,
        sync_mode: SyncMode,
        cursor_field: Optional[List[str]] = None,
        stream_slice: Optional[Mapping[str, Any]] = None,
        stream_state: Optional[Mapping[str, Any]] = None,
    ) -> Iterable[StreamData]:
        try:
            for record in super().read_records(sync_mode, cursor_field, stream_slice, stream_state):
                self.stats.records += 1
                yield record
        except AirbyteTracedException as error:
            # The CDK's retry-exhaustion messages ("API rate limit exceeded.", "Exhausted
            # available request attempts...") do not say which vendor or endpoint gave up.
            if isinstance(getattr(error, "_exception", None), BaseBackoffException):
                error.message = f"{plain_message(error)} Gave up after {self._max_retries} retries."
            elif error.message and self.vendor not in error.message:
                error.message = f"{self.vendor} {self.endpoint}: {error.message}"
            raise


def chunked(items: Sequence[T], size: int) -> Iterator[List[T]]:
    """``items`` in lists of at most ``size`` (an API's cap on ids per request)."""
    for first in range(0, len(items), size):
        yield list(items[first : first + size])


class CursorState(CheckpointMixin):
    """Per-stream state ``{cursor_field: value}`` that only moves forward.

    A stream sets ``self._state = {}`` before ``HttpStream.__init__`` and names the zone in which
    cursor values without an offset (``2026-06-01``) are read.
    """

    _state: MutableMapping[str, Any]

    @property
    def cursor_key(self) -> str:
        """The stream's ``cursor_field``, a single top-level field for every stream here."""
        return str(getattr(self, "cursor_field"))  # noqa: B009 - a mixin: the Stream defines it

    @property
    def state(self) -> MutableMapping[str, Any]:
        return self._state

    @state.setter
    def state(self, value: Mapping[str, Any]) -> None:
        # Replaced, never mutated: the CDK hands the object read at the start to the slices.
        self._state = dict(value or {})

    @property
    @abstractmethod
    def cursor_timezone(self) -> str:
        """The zone of cursor values that carry no offset."""

    def cursor_moment(self, value: str) -> DateTime:
        """The instant a cursor value names (a date is midnight in ``cursor_timezone``)."""
        try:
            parsed = pendulum.parse(value, tz=self.cursor_timezone)
        except (ValueError, TypeError, pendulum.parsing.exceptions.ParserError):
            parsed = None
        if not isinstance(parsed, DateTime):
            name = getattr(self, "name", type(self).__name__)
            raise config_error(
                f"The saved state of stream '{name}' holds '{value}', which is not a "
                f"{self.cursor_key}; reset the stream's state."
            )
        return parsed.in_timezone(self.cursor_timezone)

    def saved_cursor(self, stream_state: Optional[Mapping[str, Any]]) -> Optional[DateTime]:
        """The cursor a read starts from, or ``None`` without state."""
        if stream_state and stream_state.get(self.cursor_key):
            return self.cursor_moment(str(stream_state[self.cursor_key]))
        return None

    def advance_cursor(self, value: str) -> None:
        """Move the cursor to ``value`` unless it already is there or later (a lookback re-read)."""
        current = self._state.get(self.cursor_key)
        if current is None or self.cursor_moment(value) > self.cursor_moment(str(current)):
            self._state = {self.cursor_key: value}


class PeriodStream(UsageStream, CursorState, ABC):
    """An incremental stream whose slices are statistics periods.

    State is ``{cursor_field: <cursor of the last period read in full>}``. It moves only after
    every request of a period (:meth:`requests_for_period`, e.g. one per chunk of ids) and every
    page of each was read and its records handed on, so a sync stopped anywhere resumes at the
    first unfinished period. Re-reading within the lookback never moves it backwards.
    """

    def __init__(self, plan: PeriodPlan, lookback_periods: int, **kwargs: Any) -> None:
        self.plan = plan
        self.lookback_periods = lookback_periods
        self._state = {}
        super().__init__(**kwargs)

    @property
    def cursor_timezone(self) -> str:
        return self.plan.first.timezone_name or "UTC"

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
        for period in self.plan.periods(cursor, self.lookback_periods):
            # The cursor last: for streams whose cursor is ``period_start`` it is the cursor value.
            yield {
                "period_start": period.start_iso,
                "period_end": period.end_iso,
                self.cursor_key: self.cursor_value(period),
            }

    def requests_for_period(self, period_slice: Mapping[str, Any]) -> Iterable[Mapping[str, Any]]:
        """The request slices that together read one period (default: one)."""
        yield period_slice

    def read_records(
        self,
        sync_mode: SyncMode,
        cursor_field: Optional[List[str]] = None,
        stream_slice: Optional[Mapping[str, Any]] = None,
        stream_state: Optional[Mapping[str, Any]] = None,
    ) -> Iterable[StreamData]:
        assert stream_slice is not None, "period streams always read a period slice"
        for request_slice in self.requests_for_period(stream_slice):
            yield from super().read_records(sync_mode, cursor_field, request_slice, stream_state)
        self.advance_cursor(str(stream_slice[self.cursor_key]))

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

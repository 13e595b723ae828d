"""How long one request may take, and what a request that gave up tried.

A request's limits are its connection's :class:`~source_usage.core.vendor.HttpOptions`:

- every attempt has a *deadline* for connecting, the start of the answer and the whole body.
  The socket timeouts of ``requests`` apply to each read, so a server that trickles one byte
  every few seconds never trips them; :class:`DeadlineAdapter`, a ``requests`` transport adapter
  mounted on the session of the CDK's ``HttpClient``, gives urllib3 the deadline as its total
  timeout (connect and the wait for the answer) and reads the body itself, each read bounded by
  what is left of the deadline. (Headers that trickle in are bounded only per read: http.client
  reads them before the adapter gets the response.);
- the waits between attempts (``Retry-After``, rate-limit backoff) have a total cap per request
  (:class:`RequestLedger` is how much of it is spent; the backoff strategy asks it);
- a request with all its attempts and waits ends within ``max_time`` (the CDK's ``max_time`` on
  the error handler, and each attempt's deadline shortened to what is left of it).

:class:`RequestLedger` follows the request being sent: when it started, how many answers came,
which retries really happened and how long their waits were. It tells the stream's stats a
retry (and a rate-limit wait) only when it happened, and it says, when a request gives up, how
many retries it made and in how many seconds.

Two more things follow a request for the sync's log: :class:`TimedBudget` counts the time a
stream's requests wait for the client-side budget, and :func:`current_request` names, in the
thread that sends, the vendor and the path of the request last sent from it (for the CDK's
backoff lines, ``core.synclog``).
"""

from __future__ import annotations

import datetime
import os
import threading
import time
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any, Callable, List, Optional
from urllib.parse import urlsplit

import requests
import urllib3
from airbyte_cdk.models import FailureType
from airbyte_cdk.sources.http_config import MAX_CONNECTION_POOL_SIZE
from airbyte_cdk.sources.streams.call_rate import AbstractCallRatePolicy, APIBudget
from airbyte_cdk.sources.streams.http import HttpStream
from airbyte_cdk.sources.streams.http.error_handlers.response_models import ResponseAction
from airbyte_cdk.utils.traced_exception import AirbyteTracedException
from requests.adapters import HTTPAdapter

from source_usage.core.cdk import http_session, set_content
from source_usage.core.pool import AdaptiveLimit, VendorPool
from source_usage.core.stats import RequestStats
from source_usage.core.vendor import HttpOptions

#: Bytes asked for per read of a body (a read returns what has arrived, up to this).
READ_SIZE = 64 * 1024


#: The environment variables that name the certificate authorities to trust, in the order they
#: are read: ``requests`` reads the first two; OpenSSL's own ``SSL_CERT_FILE`` (and
#: ``SSL_CERT_DIR``), which ``requests`` ignores in favour of its bundled ``certifi``, stand in
#: when neither is set.
CA_BUNDLE_VARIABLES = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR")


def trusted_authorities(verify: Any) -> Any:
    """What to verify a server's certificate with: ``verify`` as ``requests`` merged it (from
    ``REQUESTS_CA_BUNDLE`` or ``CURL_CA_BUNDLE``, else ``True``), or OpenSSL's standard
    ``SSL_CERT_FILE``/``SSL_CERT_DIR`` when it is ``True`` and one of them is set."""
    if verify is True:
        return os.environ.get("SSL_CERT_FILE") or os.environ.get("SSL_CERT_DIR") or True
    return verify


class MissingCertificateAuthorities(requests.exceptions.SSLError):
    """The certificate authorities an environment variable names are not there: no request can
    be verified (raised before sending, instead of ``requests``' bare ``OSError``)."""


class DeadlineExceeded(requests.exceptions.ReadTimeout):
    """An attempt that did not get its whole answer within its deadline (a transient error, as
    a read timeout is to the CDK and to the error handler)."""


@dataclass
class _Retry:
    """A retry the CDK is about to make, once an answer asked for one."""

    rate_limited: bool
    #: The wait before it, the CDK's extra second included, when the backoff strategy chose it
    #: (``None``: the CDK's own exponential backoff).
    seconds: Optional[float] = None


class RequestLedger:
    """The request a stream is sending now. Each thread that sends has its own stream object and
    ledger (``core.readahead``), so no lock."""

    def __init__(self, options: HttpOptions, stats: RequestStats) -> None:
        self.options = options
        self.stats = stats
        self.started = time.monotonic()
        self.answers = 0
        self.waited = 0.0
        self.last_message = ""
        self._retry: Optional[_Retry] = None

    def start(self) -> None:
        """A new request (a page) is about to be sent: its first attempt."""
        self.started, self.answers, self.waited, self._retry = time.monotonic(), 0, 0.0, None

    def answered(self, action: ResponseAction, message: Optional[str]) -> None:
        """An attempt ended with an answer (or an exception) the error handler read as ``action``."""
        if self._retry is not None:  # this attempt was a retry: it and its wait happened
            retry, self._retry = self._retry, None
            self.waited += retry.seconds or 0.0
            self.stats.retried(retry.rate_limited, retry.seconds or 0.0)
        self.answers += 1
        self.last_message = message or ""
        if action in (ResponseAction.RETRY, ResponseAction.RATE_LIMITED):
            self._retry = _Retry(rate_limited=action == ResponseAction.RATE_LIMITED)

    @property
    def retrying_for_rate_limit(self) -> Optional[bool]:
        """Whether the retry the last answer asked for is for a rate limit (``None``: no retry)."""
        return self._retry.rate_limited if self._retry is not None else None

    def plan_wait(self, seconds: float) -> None:
        """The backoff strategy's wait before the retry the last answer asked for."""
        if self._retry is not None:
            self._retry.seconds = seconds

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    @property
    def retries(self) -> int:
        return max(0, self.answers - 1)

    def wait_left(self) -> float:
        """Seconds this request may still wait between attempts."""
        return self.options.max_wait - self.waited

    def time_left(self) -> float:
        """Seconds this request (attempts and waits) may still take."""
        return self.options.max_time - self.elapsed

    def gave_up(self) -> str:
        """What the request tried, for the message of its failure."""
        retries = f"{self.retries} {'retry' if self.retries == 1 else 'retries'}"
        waiting = f" ({self.waited:.1f} s of it waiting)" if self.waited else ""
        return f"Gave up after {retries} in {self.elapsed:.1f} s{waiting}."

    def wait_cap_reached(self, asked: float, vendor: str) -> AirbyteTracedException:
        """The error that ends a request whose next wait would pass the cap."""
        message = (
            f"{self.last_message} {self.gave_up()} A request waits at most {self.options.max_wait:g} s in all, "
            f"and {vendor} asked to wait {asked:.0f} s more."
        ).strip()
        return AirbyteTracedException(message=message, internal_message=message, failure_type=FailureType.transient_error)


@dataclass(frozen=True)
class SentRequest:
    """The request a thread sent last: its vendor, its path (never its query, which may carry a
    token) and its ledger."""

    vendor: str
    path: str
    ledger: Optional[RequestLedger]


_sending = threading.local()


def current_request() -> Optional[SentRequest]:
    """The request this thread sent last, or ``None`` when it sent none."""
    sent: Optional[SentRequest] = getattr(_sending, "request", None)
    return sent


class TimedBudget(APIBudget):
    """A stream's view of its vendor's shared budget: the same pacing, and the time its
    acquisitions blocked told to the stream's stats (each worker copy has its own view)."""

    def __init__(self, budget: APIBudget, stats: RequestStats, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(policies=[])
        self.budget = budget
        self.stats = stats
        self.clock = clock

    def acquire_call(self, request: Any, block: bool = True, timeout: Optional[float] = None) -> None:
        self.stats.budget_wait_began(self.clock())
        try:
            self.budget.acquire_call(request, block=block, timeout=timeout)
        finally:
            self.stats.budget_wait_ended(self.clock())

    def get_matching_policy(self, request: Any) -> Optional[AbstractCallRatePolicy]:
        return self.budget.get_matching_policy(request)

    def update_from_response(self, request: Any, response: Any) -> None:
        self.budget.update_from_response(request, response)


class DeadlineAdapter(HTTPAdapter):
    """A transport adapter whose every attempt (connect, headers, whole body) ends by a deadline.

    The body is read here (``stream=True`` below, then urllib3's ``read1``, which returns what
    has arrived), each read with the socket timeout set to what is left of the deadline; the
    response then carries the body it read, as a response read at once would. A caller that asks
    to stream gets the response after its headers, and reads its body itself.
    """

    def __init__(
        self,
        options: HttpOptions,
        ledger: Optional[RequestLedger] = None,
        limit: Optional[AdaptiveLimit] = None,
        vendor: str = "",
        budget: Optional[APIBudget] = None,
        pool: Optional[VendorPool] = None,
        judge: Optional[Callable[[requests.Response], Any]] = None,
    ) -> None:
        super().__init__(pool_connections=MAX_CONNECTION_POOL_SIZE, pool_maxsize=MAX_CONNECTION_POOL_SIZE)
        self.options = options
        self.ledger = ledger
        #: The vendor's requests in flight: an attempt holds one slot from sending to its body.
        self.limit = limit
        #: The vendor's pool: an attempt after the vendor refused the credentials is not sent.
        self.pool = pool
        #: The vendor's title, for the lines that name the request (:func:`current_request`).
        self.vendor = vendor
        #: The vendor's request budget, asked once an attempt holds its slot (``core.budget``):
        #: a request that took its place in the window and then waited for a slot would go out
        #: later than the window thinks, and arrive too close to the next one.
        self.budget = budget
        #: Reads an error answer before its slot is given up (the stream's error handler, whose
        #: reading of a rejected credential stops the vendor's pool): a request waiting for the
        #: slot must not go out between a rejection's arrival and its reading.
        self.judge = judge

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: Any = None,
        verify: Any = True,
        cert: Any = None,
        proxies: Optional[Any] = None,
    ) -> requests.Response:
        if self.vendor:
            _sending.request = SentRequest(self.vendor, urlsplit(request.url or "").path, self.ledger)
        with self.limit.slot() if self.limit is not None else nullcontext():
            if self.pool is not None:
                self.pool.raise_if_rejected()
            if self.budget is not None:
                self.budget.acquire_call(request)
            response = self._send(request, stream, timeout, trusted_authorities(verify), cert, proxies)
            if self.budget is not None:
                self.budget.update_from_response(request, response)
            if self.judge is not None and not response.ok:
                self.judge(response)
            return response

    def _send(
        self, request: requests.PreparedRequest, stream: bool, timeout: Any, verify: Any, cert: Any, proxies: Optional[Any]
    ) -> requests.Response:
        if isinstance(verify, str) and not os.path.exists(verify):
            named = " or ".join(CA_BUNDLE_VARIABLES)
            raise MissingCertificateAuthorities(f"the certificate authorities file {verify} ({named}) does not exist", request=request)
        budget = self.options.deadline if self.ledger is None else min(self.options.deadline, self.ledger.time_left())
        if budget <= 0:
            left = f"had no time left for another attempt (a request takes at most {self.options.max_time:g} s)"
            raise DeadlineExceeded(left, request=request)
        deadline = time.monotonic() + budget
        connect, read = _per_operation(timeout, self.options.timeout)
        limits = urllib3.Timeout(connect=min(connect, budget), read=min(read, budget), total=budget)
        try:
            # requests documents a urllib3 ``Timeout`` as a timeout; its type stubs do not say so.
            response = super().send(request, stream=True, timeout=limits, verify=verify, cert=cert, proxies=proxies)  # type: ignore[arg-type]
            # The round trip to the answer's headers, which the budget learns the network from.
            # requests sets ``elapsed`` only once the adapter returned, too late for the budget.
            response.elapsed = datetime.timedelta(seconds=time.monotonic() - (deadline - budget))
            if not stream:
                _read_body(response, deadline)
        except requests.exceptions.Timeout as error:
            if time.monotonic() >= deadline - 0.01:
                raise DeadlineExceeded(f"sent no whole answer within {budget:.3g} s", request=request) from error
            raise
        return response


def _per_operation(timeout: Any, default: Any) -> List[float]:
    """``(connect, read)`` seconds from a ``requests`` timeout (a number, a pair or ``None``)."""
    given = default if timeout is None else timeout
    if isinstance(given, (int, float)):
        return [float(given), float(given)]
    return [float(default[index] if value is None else value) for index, value in enumerate(given)]


def _read_body(response: requests.Response, deadline: float) -> None:
    """Read the whole body of a streamed ``response`` by ``deadline``; it becomes the
    response's ``content``, as if ``requests`` had read it."""
    raw = response.raw
    chunks: List[bytes] = []
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise requests.exceptions.ReadTimeout("deadline passed", request=response.request)
            connection = raw.connection
            if connection is not None and connection.sock is not None:
                connection.sock.settimeout(left)
            chunk = raw.read1(READ_SIZE, decode_content=True)
            if not chunk:
                break
            chunks.append(chunk)
    except urllib3.exceptions.ReadTimeoutError as error:
        response.close()
        raise requests.exceptions.ReadTimeout(str(error), request=response.request) from error
    except (urllib3.exceptions.ProtocolError, OSError) as error:
        response.close()
        raise requests.exceptions.ChunkedEncodingError(str(error), request=response.request) from error
    except urllib3.exceptions.DecodeError as error:
        response.close()
        raise requests.exceptions.ContentDecodingError(str(error), request=response.request) from error
    except requests.exceptions.ReadTimeout:
        response.close()
        raise
    raw.release_conn()
    set_content(response, b"".join(chunks))


def mount_deadlines(stream: HttpStream, adapter: DeadlineAdapter) -> None:
    """Send every request of ``stream`` through ``adapter``.

    The CDK offers no hook for the session's transport adapters (``core.cdk.http_session``).
    """
    session = http_session(stream)
    session.mount("https://", adapter)
    session.mount("http://", adapter)

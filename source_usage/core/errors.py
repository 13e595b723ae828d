"""How a vendor's HTTP answers map to what the client does next.

One handler per endpoint, composed by the CDK's ``HttpClient`` with a backoff strategy:

- connection errors, timeouts, 408 and 5xx, and a 2xx body that is not JSON: retry with backoff;
- 429 (and any vendor body code a vendor module maps to it): rate limited, wait and retry;
- 401/403 (and vendor credential codes): a ``config_error`` naming the vendor and the field;
- a certificate that cannot be verified: a ``config_error`` naming the problem and
  ``REQUESTS_CA_BUNDLE``, at once (a retry gets the same certificate);
- a 2xx body without the envelope the endpoint promises: fail, naming the endpoint;
- any other 4xx: fail with the vendor's own error text.

Vendor modules add their body codes through :meth:`UsageErrorHandler.vendor_resolution`.
Messages name the vendor and the endpoint, never a header or a credential.
"""

from __future__ import annotations

import email.utils
import ssl
import time
from datetime import timedelta
from typing import Any, Callable, Mapping, Optional, Sequence, Union

import requests
from airbyte_cdk.models import FailureType
from airbyte_cdk.sources.streams.call_rate import APIBudget
from airbyte_cdk.sources.streams.http.error_handlers import BackoffStrategy, ErrorHandler
from airbyte_cdk.sources.streams.http.error_handlers.response_models import (
    ErrorResolution,
    ResponseAction,
)
from airbyte_cdk.sources.streams.http.exceptions import BaseBackoffException
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_usage.core.bodies import LARGE_BODY, BodyProblem, NotJson, StreamedItems, large_page, parse_json
from source_usage.core.budget import PacingBudget
from source_usage.core.cdk import CDK_EXTRA_WAIT, backoff_cause
from source_usage.core.limits import DeadlineExceeded, MissingCertificateAuthorities, RequestLedger
from source_usage.core.pool import AdaptiveLimit, VendorPool
from source_usage.core.stats import RequestStats
from source_usage.core.vendor import VendorIdentity
from source_usage.core.vendor_clock import VendorClock

_NOT_PARSED = object()
_BODY_ATTRIBUTE = "_source_usage_json"


def json_body(response: requests.Response, items_field: Optional[str] = None) -> Any:
    """The response body parsed once (``core.bodies.parse_json``), cached on the response for
    the later hooks.

    The first call decides how (the error handler makes it, knowing its endpoint's ``items_field``):
    a large body whose ``items_field`` is a list is read item by item (``core.bodies``), any other
    body parsed whole. Raises ``NotJson`` or ``BodyProblem``, every time it is asked.
    """
    cached = getattr(response, _BODY_ATTRIBUTE, _NOT_PARSED)
    if cached is _NOT_PARSED:
        cached = _parsed(response.content, items_field)
        setattr(response, _BODY_ATTRIBUTE, cached)
    if isinstance(cached, (NotJson, BodyProblem)):
        raise cached
    return cached


def _parsed(content: bytes, items_field: Optional[str]) -> Any:
    try:
        if items_field is not None and len(content) > LARGE_BODY:
            large = large_page(content, items_field)
            if large is not None:
                return large
        return parse_json(content)
    except (NotJson, BodyProblem) as error:
        return error


def vendor_error_text(response: requests.Response) -> str:
    """The vendor's own words from an error body (``msg``, ``message`` or ``error``), short."""
    try:
        body = json_body(response)
    except (NotJson, BodyProblem):
        return response.text[:200].strip() or "no body"
    if isinstance(body, dict):
        for key in ("msg", "message", "error"):
            if body.get(key):
                return str(body[key])[:500]
    return str(body)[:200]


def list_problem(body: Any, field: str) -> Optional[str]:
    """What is wrong unless ``body`` is an object whose ``field`` is a list of objects."""
    items = body.get(field) if isinstance(body, dict) else None
    if isinstance(items, StreamedItems):
        index = items.first_not_object()
    elif isinstance(items, list):
        index = next((index for index, item in enumerate(items) if not isinstance(item, dict)), None)
    else:
        return f"no '{field}' list"
    return None if index is None else f"item {index} of '{field}' is not an object"


#: The fields of an error envelope: what gateways, web frameworks and Tabnine's own errors
#: (``{error, message, status}``) put in a body instead of the data asked for.
ENVELOPE_FIELDS = ("error", "errors", "error_message", "errorMessage", "message", "msg", "detail", "status", "statusCode", "status_code")
#: Where an envelope may name the HTTP status it stands for.
STATUS_FIELDS = ("status", "statusCode", "status_code", "code")


def _at(body: Any, path: str) -> Any:
    for name in path.split("."):
        body = body.get(name) if isinstance(body, dict) else None
    return body


def error_envelope(body: Any, data_fields: Sequence[str]) -> Optional[str]:
    """What an error envelope says (``"error: Internal; status: 500"``), when ``body`` has an
    error field (:data:`ENVELOPE_FIELDS`) beside missing or empty data (none of ``data_fields``,
    dotted paths, holds anything); ``None`` for a body with data, or an endpoint without data
    fields (its body is the object itself)."""
    if not data_fields or not isinstance(body, dict):
        return None
    if any(_at(body, field) not in (None, "", [], {}) for field in data_fields):
        return None
    if says_success(body):
        return None  # an empty answer that says it succeeded (``{"code": 0, "msg": "success", "items": []}``)
    said = [f"{name}: {str(body[name])[:200]}" for name in ENVELOPE_FIELDS if body.get(name) not in (None, "", [], {})]
    return "; ".join(said) or None


#: What a body's code, status or message says when all went well.
SUCCESS_WORDS = frozenset({"ok", "success", "succeeded", "successful", "done"})


def says_success(body: Mapping[str, Any]) -> bool:
    """Whether ``body`` says it succeeded: a ``code`` of 0, a ``status`` of 200, or a success word
    as its status or message."""
    if body.get("code") == 0 and body.get("code") is not False or body.get("status") in (200, "200"):
        return True
    return any(str(body.get(name, "")).strip().lower() in SUCCESS_WORDS for name in ("status", "message", "msg"))


def envelope_status(body: Mapping[str, Any]) -> Optional[int]:
    """The HTTP status an envelope names (a number, or digits, from 400 to 599), if any."""
    for name in STATUS_FIELDS:
        value = body.get(name)
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value)
        if type(value) is int and 400 <= value <= 599:
            return value
    return None


class PeriodNotServedYet(Exception):
    """A vendor refused the plan's newest period as not there yet: its day turned after this
    machine's (raised by a vendor's error handler; ``PeriodStream.read_records`` leaves the
    period for the next sync, and fails the stream if it was not the newest)."""


def answer_error(message: str) -> AirbyteTracedException:
    """An answer the connector cannot use (its shape, a paging loop, a contradiction): the stream
    stops with a ``system_error`` whose message says what is wrong and where."""
    return AirbyteTracedException(message=message, internal_message=message, failure_type=FailureType.system_error)


def retry(message: str) -> ErrorResolution:
    return ErrorResolution(ResponseAction.RETRY, FailureType.transient_error, message)


def rate_limited(message: str) -> ErrorResolution:
    return ErrorResolution(ResponseAction.RATE_LIMITED, FailureType.transient_error, message)


def fail(message: str, failure_type: FailureType = FailureType.system_error) -> ErrorResolution:
    return ErrorResolution(ResponseAction.FAIL, failure_type, message)


SUCCESS = ErrorResolution(ResponseAction.SUCCESS)


class UsageErrorHandler(ErrorHandler):
    """The shared mapping for one endpoint of one vendor.

    ``malformed`` returns what is wrong with a 2xx JSON body, or ``None`` when it is usable.
    Vendor modules subclass it to read their body codes (:meth:`vendor_resolution`).
    """

    def __init__(
        self,
        identity: VendorIdentity,
        endpoint: str,
        malformed: Callable[[Any], Optional[str]],
        max_retries: int = 5,
        max_time: timedelta = timedelta(minutes=10),
        stats: Optional[RequestStats] = None,
        read_body: Callable[[requests.Response], Any] = json_body,
        data_fields: Sequence[str] = (),
    ) -> None:
        self.stats = stats if stats is not None else RequestStats()
        self.identity = identity
        self.endpoint = endpoint
        self._malformed = malformed
        #: How the endpoint's bodies are read (the first reading is cached for the later hooks).
        self._read_body = read_body
        #: Where a 2xx body holds its data (dotted paths): an error envelope instead is an error.
        self.data_fields = tuple(data_fields)
        self._max_retries = max_retries
        self.time_limit = max_time
        #: The request being sent, told every answer (see :meth:`follow`).
        self.ledger: Optional[RequestLedger] = None
        #: The vendor's clock, told the ``Date`` of every answer (see :meth:`follow`).
        self.clock: Optional[VendorClock] = None
        #: The vendor's requests in flight, told what each answer says of congestion, and its
        #: pool, told when the vendor refuses the credentials (see :meth:`follow`).
        self.limit: Optional[AdaptiveLimit] = None
        self.pool: Optional[VendorPool] = None

    def follow(
        self,
        ledger: RequestLedger,
        clock: Optional[VendorClock] = None,
        limit: Optional[AdaptiveLimit] = None,
        pool: Optional[VendorPool] = None,
    ) -> None:
        """Tell ``ledger`` every answer, and give up a request at its ``max_time``; tell ``clock``
        the vendor's time every answer carries, ``limit`` whether it is a sign of congestion (a
        rate-limit answer, a reset connection) and ``pool`` when the vendor refuses the credentials."""
        self.ledger = ledger
        self.clock = clock
        self.limit = limit
        self.pool = pool
        self.time_limit = timedelta(seconds=ledger.options.max_time)

    @property
    def vendor(self) -> str:
        return self.identity.title

    @property
    def max_retries(self) -> Optional[int]:
        return self._max_retries

    @property
    def max_time(self) -> Optional[int]:
        return int(self.time_limit.total_seconds())

    def interpret_response(self, response_or_exception: Optional[Union[requests.Response, Exception]] = None) -> ErrorResolution:
        if self.clock is not None and isinstance(response_or_exception, requests.Response):
            self.clock.observe(response_or_exception)
        resolution = self.resolve(response_or_exception)
        action = resolution.response_action or ResponseAction.SUCCESS
        if self.limit is not None:
            if action == ResponseAction.RATE_LIMITED or isinstance(response_or_exception, requests.exceptions.ConnectionError):
                self.limit.congested()
            elif action == ResponseAction.SUCCESS:
                self.limit.calm()
        self.stats.observe(action)
        if self.ledger is not None:
            self.ledger.answered(action, resolution.error_message)
        return resolution

    def resolve(self, response_or_exception: Optional[Union[requests.Response, Exception]]) -> ErrorResolution:
        """What an answer means, without counting it (the backoff strategy asks too)."""
        if isinstance(response_or_exception, requests.Response):
            try:
                return self.vendor_resolution(response_or_exception) or self._by_status(response_or_exception)
            except BodyProblem as problem:  # a body the connector will not read: retrying gives the same
                return fail(f"{self.vendor} {self.endpoint} answered a body where {problem}.")
        if isinstance(response_or_exception, requests.exceptions.SSLError):
            return self.certificate_refused(response_or_exception)
        if isinstance(response_or_exception, DeadlineExceeded):
            return retry(f"{self.vendor} {self.endpoint} {response_or_exception}.")
        if isinstance(response_or_exception, requests.RequestException):
            kind = type(response_or_exception).__name__
            return retry(f"Could not reach {self.vendor} ({self.endpoint}): {kind}. Check {self.identity.base_url_field}.")
        return fail(f"{self.vendor} {self.endpoint}: unexpected error {type(response_or_exception).__name__}.")

    def screen(self, response: requests.Response) -> None:
        """Read an error answer as soon as it arrives, before its in-flight slot is given up
        (``core.limits.DeadlineAdapter``): a rejected credential stops the vendor's pool then
        (:meth:`credentials_rejected`), not once the CDK gets to the answer. What else the answer
        means is left to :meth:`interpret_response`, which reads it again."""
        try:
            self.resolve(response)
        except PeriodNotServedYet:
            pass  # raised again, in its place, by interpret_response

    def is_rate_limit(self, response_or_exception: Optional[Union[requests.Response, Exception]]) -> bool:
        return self.resolve(response_or_exception).response_action == ResponseAction.RATE_LIMITED

    def vendor_resolution(self, response: requests.Response) -> Optional[ErrorResolution]:
        """A vendor module's own reading of an answer (body error codes); ``None``: use the shared one."""
        return None

    def credentials_rejected(self, detail: str) -> ErrorResolution:
        """The vendor refused the credentials: a config error, and no further request of the
        vendor is sent (its pool stops)."""
        message = f"{self.vendor} rejected the credentials ({detail}). Check {self.identity.credentials_hint}."
        if self.pool is not None:
            self.pool.reject(AirbyteTracedException(message=message, internal_message=message, failure_type=FailureType.config_error))
        return fail(message, FailureType.config_error)

    def certificate_refused(self, error: requests.exceptions.SSLError) -> ErrorResolution:
        """The server's certificate could not be verified (or the authorities to verify it with
        are missing): retrying gives the same answer, so a config error at once, and no further
        request of the vendor is sent."""
        message = (
            f"{self.vendor} ({self.endpoint}): the server's TLS certificate could not be verified: {tls_problem(error)}. "
            f"If {self.identity.base_url_field} is right and its server uses a private certificate authority, set "
            "REQUESTS_CA_BUNDLE (or SSL_CERT_FILE) to a PEM file holding that authority's certificate."
        )
        if self.pool is not None:
            self.pool.reject(AirbyteTracedException(message=message, internal_message=message, failure_type=FailureType.config_error))
        return fail(message, FailureType.config_error)

    def _by_status(self, response: requests.Response) -> ErrorResolution:
        if response.ok:
            return self._by_body(response)
        return self.by_status(response.status_code, vendor_error_text(response))

    def by_status(self, status: int, detail: str) -> ErrorResolution:
        """What an answer of HTTP ``status`` (not 2xx) means; ``detail``: what the vendor said."""
        if status in (401, 403):
            return self.credentials_rejected(f"HTTP {status}: {detail}")
        if status == 429:
            return rate_limited(f"{self.vendor} {self.endpoint} is rate limiting (HTTP 429).")
        if status == 408 or status >= 500:
            return retry(f"{self.vendor} {self.endpoint} answered HTTP {status}.")
        return fail(f"{self.vendor} {self.endpoint} rejected the request (HTTP {status}): {detail}")

    def body(self, response: requests.Response) -> Any:
        """The answer's body as its endpoint reads it (raises ``NotJson``)."""
        return self._read_body(response)

    def _by_body(self, response: requests.Response) -> ErrorResolution:
        try:
            body = self.body(response)
        except NotJson:
            return retry(f"{self.vendor} {self.endpoint} answered with a body that is not JSON.")
        envelope = error_envelope(body, self.data_fields)
        if envelope is not None:
            return self.enveloped(body, envelope)
        problem = self._malformed(body)
        if problem:
            return fail(f"{self.vendor} {self.endpoint} answered with a malformed body: {problem}.")
        return SUCCESS

    def enveloped(self, body: Mapping[str, Any], envelope: str) -> ErrorResolution:
        """A 2xx answer that is an error envelope (a gateway's, or a vendor's error sent with 200):
        never "no usage" (its window would be checkpointed empty). It means the HTTP status it
        names; without one, a server error, retried."""
        status = envelope_status(body)
        said = f"HTTP 200 with an error instead of data ({envelope})"
        if status is None:
            return retry(f"{self.vendor} {self.endpoint} answered {said}.")
        resolution = self.by_status(status, said)
        if resolution.response_action == ResponseAction.RETRY:
            return retry(f"{self.vendor} {self.endpoint} answered {said}.")
        return resolution


def retry_after_seconds(response: requests.Response) -> Optional[float]:
    """``Retry-After`` as seconds, from either of its forms (delta-seconds or an HTTP date)."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - time.time())


def tls_problem(error: BaseException) -> str:
    """What the TLS layer said, without the URL ``requests`` wraps it in: the certificate
    check's own words (``self-signed certificate in certificate chain``), or the SSL error's."""
    seen: set[int] = set()
    pending: list[Any] = [error]
    found: Optional[str] = None
    while pending:
        current = pending.pop(0)
        if not isinstance(current, BaseException) or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, ssl.SSLCertVerificationError) and current.verify_message:
            return str(current.verify_message)
        if isinstance(current, ssl.SSLError) and found is None:
            found = str(current.reason or current.strerror or "").replace("_", " ").lower() or None
        if isinstance(current, MissingCertificateAuthorities):
            return str(current)
        pending.extend([*current.args, getattr(current, "reason", None), current.__cause__, current.__context__])
    return found or "the TLS handshake failed"


def plain_message(error: Exception) -> str:
    """The one sentence an error stands for: the handler's own message when the CDK wrapped it
    ("Exhausted available request attempts. ... Exception: <ours>") unless the stream already
    rewrote the message to start with it, else the error's message."""
    inner = backoff_cause(error)
    message = str(getattr(error, "message", None) or error)
    if isinstance(inner, BaseBackoffException) and not message.startswith(str(inner)):
        return str(inner)
    return message


class RetryAfterBackoff(BackoffStrategy):
    """How long to wait before a retry.

    ``Retry-After`` when the vendor sends it. A rate-limit answer without it (a vendor's own
    "too fast" body code carries none) waits 1, 2, 4, ... seconds, so the wait is ours and measurable; other retries
    without it use the CDK's exponential backoff. The waits of one request share its
    ``max_wait`` (the ledger's ``wait_left``), so a broken header cannot park a sync for hours:
    a wait is cut to what is left, and a request with nothing left gives up, saying so. Whether
    an answer is a rate limit is the error handler's to say: ``is_rate_limit`` asks it; the
    vendor's budget hears of each such answer and paces its window wider from then on.
    """

    def __init__(
        self,
        is_rate_limit: Callable[[Optional[Union[requests.Response, Exception]]], bool],
        ledger: RequestLedger,
        vendor: str,
        budget: Optional[APIBudget] = None,
    ) -> None:
        self.is_rate_limit = is_rate_limit
        self.ledger = ledger
        self.vendor = vendor
        self.budget = budget

    def backoff_time(
        self,
        response_or_exception: Optional[Union[requests.Response, requests.RequestException]],
        attempt_count: int,
    ) -> Optional[float]:
        rate_limited = self.is_rate_limit(response_or_exception)
        asked = None
        if isinstance(response_or_exception, requests.Response):
            asked = retry_after_seconds(response_or_exception)
            if rate_limited and isinstance(self.budget, PacingBudget):
                self.budget.rate_limited(response_or_exception.request)
        if not asked and rate_limited:
            asked = float(2 ** max(0, attempt_count - 1))
        if not asked:  # 0 means "now": the CDK's shortest backoff serves it
            return None
        seconds = min(asked, self.ledger.wait_left() - CDK_EXTRA_WAIT)
        if seconds <= 0:
            raise self.ledger.wait_cap_reached(asked, self.vendor)
        self.ledger.plan_wait(seconds + CDK_EXTRA_WAIT)
        return seconds

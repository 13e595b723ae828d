"""Every place the connector relies on what the CDK (or a library under it) does not promise.

The CDK offers no hook for a session's transport adapters, rewrites no retry budget, and logs
its backoff lines with neither vendor nor endpoint; the connector needs each of those, so it
reaches into a private attribute or a log line's wording. Each reach is one name here, with why;
nothing else in the package touches a private of the CDK, pyrate-limiter or requests.

:func:`broken_assumptions` checks every one against the installed versions, and
``unit_tests/test_cdk_privates.py`` fails naming the one an upgrade moved, so that a new CDK is
adopted knowingly: ``airbyte-cdk`` is pinned (``pyproject.toml``) to the version they were
read from, :data:`READ_FROM`.
"""

from __future__ import annotations

import inspect
import re
from datetime import timedelta
from typing import Any, Callable, List, Optional, Sequence

import requests
from airbyte_cdk.sources.streams.call_rate import MovingWindowCallRatePolicy, Rate
from airbyte_cdk.sources.streams.http import HttpStream, rate_limiting
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

#: The airbyte-cdk version every assumption below was read from.
READ_FROM = "7.39.1"


def http_session(stream: HttpStream) -> requests.Session:
    """The ``requests`` session a stream sends with: the CDK builds it in ``HttpStream.__init__``
    (``HttpClient._session``) and offers no hook for its transport adapters, which carry the
    connector's deadlines and in-flight slots (``core.limits.mount_deadlines``)."""
    session: requests.Session = stream._http_client._session
    return session


def backoff_cause(error: BaseException) -> Optional[BaseException]:
    """The exception an ``AirbyteTracedException`` wraps (``_exception``): the CDK raises its
    retry-exhaustion errors ("Exhausted available request attempts") around the backoff
    exception that carries the connector's own message, and keeps it only there."""
    return getattr(error, "_exception", None)


#: The CDK's user-defined backoff sleeps one second more than a strategy asks for ("extra second
#: to cover any fractions of second", ``rate_limiting.user_defined_backoff_handler``): a request's
#: waits are budgeted with it (``core.errors.RetryAfterBackoff``).
CDK_EXTRA_WAIT = 1.0

#: What the CDK logs before a backoff its strategy chose (``rate_limiting``), which
#: ``core.synclog`` rewrites to name the vendor and the endpoint.
CDK_BACKOFF_LINE = re.compile(
    r"^UserDefinedBackoffException: Rate limit exceeded(?: \(HTTP (?P<status>\d+)\))?\. Retrying in (?P<seconds>\S+) seconds\.$"
)
#: The module the CDK's backoff lines are logged from (a log record's ``module``).
CDK_BACKOFF_MODULE = rate_limiting.__name__.rsplit(".", 1)[-1]


def replace_window_rates(policy: MovingWindowCallRatePolicy, rates: Sequence[Any]) -> None:
    """Give a moving-window policy new pyrate-limiter rates (``_limiter``, ``_bucket``): the CDK
    builds them once; ``core.budget`` widens a window as the network and the vendor teach it.
    pyrate-limiter's bucket reads its rates on every put and leak, so new rates apply from the
    next request on, to the requests already in the window too."""
    limiter: Any = policy._limiter
    with limiter.lock:
        policy._bucket.rates = list(rates)


def set_content(response: requests.Response, content: bytes) -> None:
    """Make ``content`` the body of a streamed response, as ``requests`` does once it has read
    one (``Response._content``), without a second copy through ``raw``: the connector reads
    bodies itself, each read bounded by the attempt's deadline (``core.limits``)."""
    response._content = content


# --------------------------------------------------------------------------- the checks


def _session_reachable() -> Optional[str]:
    class Probe(HttpStream):
        url_base = "https://example.invalid/"
        primary_key = None

        def path(self, **kwargs: Any) -> str:
            return ""

        def next_page_token(self, response: requests.Response) -> None:
            return None

        def parse_response(self, response: requests.Response, **kwargs: Any) -> List[Any]:
            return []

    try:
        session = http_session(Probe())
    except AttributeError as error:
        return f"HttpStream no longer has _http_client._session ({error}): http_session cannot mount the deadline adapter"
    if not isinstance(session, requests.Session):
        return f"HttpStream._http_client._session is a {type(session).__name__}, not a requests.Session"
    return None


def _cause_kept() -> Optional[str]:
    inner = ValueError("inner")
    if backoff_cause(AirbyteTracedException(exception=inner)) is not inner:
        return "AirbyteTracedException(exception=...) no longer keeps it as _exception: backoff_cause finds no message"
    return None


def _extra_wait_unchanged() -> Optional[str]:
    source = inspect.getsource(rate_limiting.user_defined_backoff_handler)
    if "retry_after + 1" not in source:
        return "rate_limiting.user_defined_backoff_handler no longer sleeps retry_after + 1: CDK_EXTRA_WAIT is wrong"
    return None


def _backoff_line_unchanged() -> Optional[str]:
    source = inspect.getsource(rate_limiting.user_defined_backoff_handler)
    if "UserDefinedBackoffException: Rate limit exceeded" not in source or "Retrying in {sleep_time} seconds." not in source:
        return "rate_limiting's backoff line changed its wording: CDK_BACKOFF_LINE no longer matches it"
    return None


def _window_rates_replaceable() -> Optional[str]:
    policy = MovingWindowCallRatePolicy(rates=[Rate(limit=1, interval=timedelta(seconds=1))], matchers=[])
    limiter, bucket = getattr(policy, "_limiter", None), getattr(policy, "_bucket", None)
    if limiter is None or not hasattr(limiter, "lock") or bucket is None or not hasattr(bucket, "rates"):
        return "MovingWindowCallRatePolicy no longer has _limiter.lock and _bucket.rates: replace_window_rates cannot widen a window"
    return None


def _content_settable() -> Optional[str]:
    response = requests.Response()
    response.raw = None
    set_content(response, b"body")
    if response.content != b"body":
        return "requests' Response.content no longer returns _content: set_content cannot hand a body over"
    return None


CHECKS: Sequence[Callable[[], Optional[str]]] = (
    _session_reachable,
    _cause_kept,
    _extra_wait_unchanged,
    _backoff_line_unchanged,
    _window_rates_replaceable,
    _content_settable,
)


def broken_assumptions() -> List[str]:
    """What no longer holds in the installed CDK and libraries, one sentence each (empty: all hold)."""
    return [problem for check in CHECKS if (problem := check()) is not None]

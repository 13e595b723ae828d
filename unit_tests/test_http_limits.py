"""Every request is bounded, and a request that gives up says what it tried (issue 12, rows 2, 3, 13).

Each vendor's first stream is read in this process against the API emulator on loopback,
misbehaving on purpose: with small ``HttpOptions`` where the bound is a deadline (so a test takes
seconds), with the shipped ones where it is a wait, the CDK's sleeps recorded instead of slept.
"""

from __future__ import annotations

import re
import threading
import time
from contextlib import contextmanager
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from typing import Any, Iterator, List, Tuple

import pytest
import requests
from airbyte_cdk.models import FailureType, SyncMode
from airbyte_cdk.sources.streams.http import rate_limiting
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from emulator import Emulator, discover_vendors, vendor_options
from integration_tests.assertions import before_period_note
from source_usage.core import limits
from source_usage.core.cdk import CDK_EXTRA_WAIT, http_session
from source_usage.core.limits import DeadlineAdapter, DeadlineExceeded, RequestLedger
from source_usage.core.settings import SharedSettings
from source_usage.core.stats import RequestStats
from source_usage.core.streams import PeriodStream, UsageStream
from source_usage.core.vendor import CHECK_HTTP, HttpOptions
from source_usage.vendors import all_vendors

VENDORS = sorted(discover_vendors())
#: Small limits, so that a deadline is met in a second: one retry, half a second per read.
QUICK = HttpOptions(max_retries=1, timeout=(1.0, 0.3), deadline=0.5, max_wait=2.0, max_time=5.0)
#: An upper bound on a bounded wait: several times what it needs, far below what it would take
#: unbounded. A busy machine may slow a test down; only a bound that does not hold fails it.
SEVERAL_SECONDS = 10.0


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with Emulator(rate_limits=False, **vendor_options(lambda vendor: vendor.e2e_options)) as running:
        yield running


@pytest.fixture
def cdk_sleeps(monkeypatch: pytest.MonkeyPatch) -> List[float]:
    """The CDK's rate-limit sleeps, recorded and not slept; the connector's clock moves by each,
    as if slept (the emulator's clock, and every other, is untouched)."""
    slept: List[float] = []
    real_monotonic = time.monotonic
    monkeypatch.setattr(rate_limiting, "time", SimpleNamespace(sleep=slept.append))
    monkeypatch.setattr(limits, "time", SimpleNamespace(monotonic=lambda: real_monotonic() + sum(slept)))
    return slept


def first_stream(emulator: Emulator, name: str, http: HttpOptions) -> UsageStream:
    """The check stream of vendor ``name`` (a stream that sends its own requests, as every stream
    does), configured for the emulator, with ``http`` limits."""
    (vendor,) = [vendor for vendor in all_vendors() if vendor.identity.key == name]
    days_ago = date.today() - timedelta(days=3)  # a day over in every zone
    config = {"start_date": days_ago.isoformat(), "lookback_days": 0, name: emulator.vendor(name).connector_section(emulator.url)}
    section = vendor.section(config)
    assert section is not None
    stream = vendor.check_stream(section, SharedSettings.from_config(config), http)
    assert isinstance(stream, UsageStream)
    return stream


def read_failure(stream: UsageStream) -> Tuple[AirbyteTracedException, float]:
    """The error that ends a full read of ``stream``, and the seconds the read took."""
    started = time.monotonic()
    with pytest.raises(AirbyteTracedException) as failure:
        for stream_slice in stream.stream_slices(sync_mode=SyncMode.full_refresh):
            for _ in stream.read_records(SyncMode.full_refresh, stream_slice=stream_slice):
                pass
    return failure.value, time.monotonic() - started


#: A stated number of seconds is rounded to a tenth: at most this much above the time it states.
ROUNDING = 0.05


def stated_seconds(message: str, retries: str) -> float:
    found = re.search(rf"Gave up after {retries} in (\d+\.\d) s", message)
    assert found, message
    return float(found.group(1))


# --------------------------------------------------------------------------- row 2: a trickle


@pytest.mark.parametrize("name", VENDORS)
def test_a_trickling_server_fails_the_read_at_its_deadline_with_a_transient_error_naming_vendor_and_endpoint(
    emulator: Emulator, name: str
) -> None:
    emulator.faults.add("trickle", delay=0.2)  # the real answer, a byte every 200 ms: never a read timeout
    stream = first_stream(emulator, name, QUICK)
    error, took = read_failure(stream)
    assert error.failure_type == FailureType.transient_error
    assert error.message is not None
    first = emulator.log.entries()[0]
    assert error.message.startswith(f"{stream.identity.title} {first.path.lstrip('/')} sent no whole answer within 0.5 s.")
    # Two attempts of 0.5 s and the CDK's 1 s backoff between them (a whole answer, a byte every
    # 200 ms, would take two attempts of tens of seconds: the bound is far from both).
    assert 2.0 <= stated_seconds(error.message, "1 retry") <= took + ROUNDING < SEVERAL_SECONDS
    assert [entry.fault for entry in emulator.log.entries()] == ["trickle", "trickle"]
    assert stream.stats.summary(stream.name).startswith(f"Sync summary: {stream.name}: 2 requests, 1 retries, 0 rate-limit waits (0.0 s)")


def test_a_body_that_arrives_within_the_deadline_is_read_whole(emulator: Emulator) -> None:
    # Any vendor's GET route that answers without parameters.
    vendor, path = next((vendor, route.path) for vendor in emulator.vendors.values() for route in vendor.routes() if route.method == "GET")
    headers = {"Authorization": f"Bearer {vendor.options.api_key}"}
    whole = requests.get(emulator.url + path, headers=headers, timeout=5).content
    emulator.faults.add("trickle", delay=0.001)
    session = requests.Session()
    session.mount("http://", DeadlineAdapter(HttpOptions(deadline=5.0)))
    answer = session.get(emulator.url + path, headers=headers, timeout=(1, 1))
    assert (answer.status_code, answer.content) == (200, whole)


def test_the_deadline_bounds_an_attempt_whose_every_read_is_within_the_socket_timeout(emulator: Emulator) -> None:
    emulator.faults.add("trickle", delay=0.5)  # every read well within the 10 s socket timeout; the whole answer, minutes
    session = requests.Session()
    session.mount("http://", DeadlineAdapter(HttpOptions(deadline=0.4)))
    started = time.monotonic()
    with pytest.raises(DeadlineExceeded, match=r"^sent no whole answer within 0\.4 s$"):
        session.get(emulator.url + "/api/v1/organization", timeout=(1, 10))
    assert 0.4 <= time.monotonic() - started < SEVERAL_SECONDS


# --------------------------------------------------------------------------- row 3: no answer at all


@pytest.mark.parametrize("name", VENDORS)
def test_a_server_that_never_answers_fails_the_read_stating_the_retries_total_time(emulator: Emulator, name: str) -> None:
    emulator.faults.add("hang")
    stream = first_stream(emulator, name, QUICK)
    error, took = read_failure(stream)
    assert error.failure_type == FailureType.transient_error
    assert error.message is not None
    first = emulator.log.entries()[0]
    assert error.message.startswith(f"Could not reach {stream.identity.title} ({first.path.lstrip('/')}): ReadTimeout.")
    # Two attempts that end at the 0.3 s read timeout, and the CDK's 1 s backoff between them
    # (without the timeout, the first would wait for ever).
    assert 1.6 <= stated_seconds(error.message, "1 retry") <= took + ROUNDING < SEVERAL_SECONDS
    assert [(entry.fault, entry.status) for entry in emulator.log.entries()] == [("hang", None), ("hang", None)]


def test_an_attempt_gets_no_more_than_what_is_left_of_the_requests_max_time() -> None:
    options = HttpOptions(timeout=(1.0, 10.0), deadline=10.0, max_time=5.0)
    ledger = RequestLedger(options, RequestStats())
    session = requests.Session()
    session.mount("http://", DeadlineAdapter(options, ledger))
    with hanging_server() as url:
        ledger.started = time.monotonic() - 4.8  # the request began 4.8 s ago: 0.2 s are left
        started = time.monotonic()
        with pytest.raises(DeadlineExceeded, match=r"^sent no whole answer within 0\.(2|19\d) s$"):
            session.get(url, timeout=(1, 10))
        assert 0.15 <= time.monotonic() - started < SEVERAL_SECONDS  # not the 10 s the attempt would get alone
        ledger.started = time.monotonic() - 5.0
        with pytest.raises(DeadlineExceeded, match=r"^had no time left for another attempt \(a request takes at most 5 s\)$"):
            session.get(url, timeout=(1, 10))


class _Hang(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        time.sleep(60)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass


@contextmanager
def hanging_server() -> Iterator[str]:
    """A loopback server that answers nothing for a minute (its threads end with the test process)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hang)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/"
    finally:
        server.shutdown()
        server.server_close()


# --------------------------------------------------------------------------- row 13: Retry-After


@pytest.mark.parametrize(
    "retry_after",
    [{"retry_after": 999999}, {"retry_after_header": "Fri, 01 Jan 2100 00:00:00 GMT"}],
    ids=["999999-seconds", "a-date-in-2100"],
)
@pytest.mark.parametrize("name", VENDORS)
def test_a_huge_retry_after_is_capped_per_request_and_the_summary_states_the_real_wait(
    emulator: Emulator, cdk_sleeps: List[float], name: str, retry_after: Any
) -> None:
    emulator.faults.add("http_429", **retry_after)
    stream = first_stream(emulator, name, HttpOptions())  # the shipped limits: 300 s of waiting per request
    error, _ = read_failure(stream)
    assert cdk_sleeps == [300.0]  # one wait, cut to the cap (the CDK adds its second to the 299 asked)
    assert error.failure_type == FailureType.transient_error
    assert error.message is not None
    assert re.fullmatch(
        rf"{stream.identity.title} {emulator.log.entries()[0].path.lstrip('/')} is rate limiting \(HTTP 429\)\. "
        r"Gave up after 1 retry in 300\.\d s \(300\.0 s of it waiting\)\. "
        rf"A request waits at most 300 s in all, and {stream.identity.title} asked to wait \d+ s more\.",
        before_period_note(error.message, stream.name) if isinstance(stream, PeriodStream) else error.message,
    ), error.message
    assert stream.stats.summary(stream.name).startswith(f"Sync summary: {stream.name}: 2 requests, 1 retries, 1 rate-limit waits (300.0 s)")


@pytest.mark.parametrize("name", VENDORS)
def test_retries_the_cdk_gives_up_before_are_neither_counted_nor_said(emulator: Emulator, cdk_sleeps: List[float], name: str) -> None:
    emulator.faults.add("http_429", retry_after=7)
    stream = first_stream(emulator, name, HttpOptions(max_retries=2))
    error, _ = read_failure(stream)
    assert cdk_sleeps == [7 + CDK_EXTRA_WAIT, 7 + CDK_EXTRA_WAIT]  # three answers, two retries
    assert error.message is not None and "Gave up after 2 retries in " in error.message and "(16.0 s of it waiting)." in error.message
    assert stream.stats.summary(stream.name).startswith(f"Sync summary: {stream.name}: 3 requests, 2 retries, 2 rate-limit waits (16.0 s)")


def test_check_limits_keep_every_check_within_30_seconds() -> None:
    """Two attempts at their deadline and the whole wait cap, within ``max_time``, within 30 s."""
    worst = (CHECK_HTTP.max_retries + 1) * CHECK_HTTP.deadline + CHECK_HTTP.max_wait
    assert worst <= CHECK_HTTP.max_time < 30
    assert max(CHECK_HTTP.timeout) <= CHECK_HTTP.deadline


# --------------------------------------------------------------------------- the environment, read once per session


@pytest.mark.parametrize("name", VENDORS)
def test_a_proxy_in_the_environment_carries_every_request_read_once_per_session(
    emulator: Emulator, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.example:3128")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    session = http_session(first_stream(emulator, name, QUICK))
    monkeypatch.setenv("HTTP_PROXY", "http://changed.example:1")  # read once: later changes do not apply
    settings = session.merge_environment_settings(emulator.url + "/api/x", {}, None, None, None)
    assert session.trust_env is False
    assert (settings["proxies"]["http"], settings["proxies"]["https"]) == ("http://proxy.example:3128", "http://proxy.example:3128")


@pytest.mark.parametrize("name", VENDORS)
def test_no_proxy_naming_the_vendors_host_sends_its_requests_directly(
    emulator: Emulator, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    session = http_session(first_stream(emulator, name, QUICK))
    assert session.merge_environment_settings(emulator.url + "/api/x", {}, None, None, None)["proxies"] == {}


def test_requests_ca_bundle_is_the_sessions_certificate_authorities(emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/private-ca.pem")
    session = http_session(first_stream(emulator, VENDORS[0], QUICK))
    assert session.merge_environment_settings(emulator.url + "/api/x", {}, None, None, None)["verify"] == "/etc/ssl/private-ca.pem"

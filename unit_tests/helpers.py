"""Small builders the unit tests share."""

from __future__ import annotations

import json
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Tuple, Union

import requests
from airbyte_cdk.entrypoint import AirbyteEntrypoint
from airbyte_cdk.models import AirbyteMessageSerializer, AirbyteStateMessage, SyncMode
from airbyte_cdk.sources.streams import Stream
from airbyte_cdk.test.catalog_builder import CatalogBuilder
from airbyte_cdk.test.entrypoint_wrapper import EntrypointOutput, read
from airbyte_cdk.test.mock_http import HttpMocker, HttpRequest, HttpResponse
from airbyte_cdk.test.state_builder import StateBuilder

from integration_tests.toy_vendor.connector import Toy, ToyDailyUsage
from source_usage import SourceUsage
from source_usage.core.settings import SharedSettings
from source_usage.core.vendor import HttpOptions

Responses = Union[HttpResponse, List[HttpResponse]]


#: The toy vendor's token and host in :func:`toy_config` (the toy lives in the test suite, see
#: ``integration_tests/toy_vendor``): what the shared machinery's tests read with.
TOY_SECRET = "toy-SECRET-token-0123456789"
TOY_URL = "https://toy.test"
TOY_STREAM = "toy_daily_usage"


def toy_config(**overrides: Any) -> Dict[str, Any]:
    """A valid config of the toy vendor (06-08 and 06-09, no lookback); ``toy={...}`` updates its
    section, any other keyword a top-level field (``None`` removes it)."""
    section = {"api_token": TOY_SECRET, "base_url": TOY_URL}
    section.update(overrides.pop("toy", {}))
    config = {"start_date": "2026-06-08", "end_date": "2026-06-09", "lookback_days": 0, "toy": section, **overrides}
    return {key: value for key, value in config.items() if value is not None}


def toy_source(*vendors: Toy) -> SourceUsage:
    """The source with the toy vendor only (or the given toy vendors)."""
    return SourceUsage(vendors=list(vendors) or [Toy()])


class ToySeatUsage(ToyDailyUsage):
    name = "toy_seat_usage"
    endpoint = "toy/v1/seats"


class ToyAppUsage(ToyDailyUsage):
    name = "toy_app_usage"
    endpoint = "toy/v1/apps"


class ThreeEndpointToy(Toy):
    """The toy vendor with two more streams like its own, each at its own endpoint: for reading
    several streams side by side."""

    def streams(self, section: Mapping[str, Any], settings: SharedSettings, http: HttpOptions) -> List[Stream]:
        connection, plan = self.connection(section, http), self.plan(settings)
        return [kind(connection, plan) for kind in (ToyDailyUsage, ToySeatUsage, ToyAppUsage)]


#: The streams of :class:`ThreeEndpointToy` and their endpoints.
TOY_ENDPOINTS: Dict[str, str] = {kind.name: kind.endpoint for kind in (ToyDailyUsage, ToySeatUsage, ToyAppUsage)}


def toy_request(day: str, endpoint: str = ToyDailyUsage.endpoint) -> HttpRequest:
    return HttpRequest(f"{TOY_URL}/{endpoint}", query_params={"day": day})


def toy_page(*teams: str) -> HttpResponse:
    """A toy answer: one item per team."""
    return HttpResponse(json.dumps({"items": [{"team": team, "count": 1} for team in teams]}))


def read_streams(
    config: Mapping[str, Any],
    streams: Iterable[str],
    state: Optional[Mapping[str, Mapping[str, Any]]] = None,
    sync_mode: SyncMode = SyncMode.incremental,
    expecting_exception: bool = False,
    source: Optional[SourceUsage] = None,
) -> EntrypointOutput:
    catalog = CatalogBuilder()
    for name in streams:
        catalog.with_stream(name, sync_mode)
    state_messages: Optional[List[AirbyteStateMessage]] = None
    if state:
        builder = StateBuilder()
        for name, value in state.items():
            builder.with_stream_state(name, dict(value))
        state_messages = builder.build()
    source = source or SourceUsage()
    return read(source, dict(config), catalog.build(), state_messages, expecting_exception=expecting_exception)


def run_entrypoint(args: List[str], source: Optional[SourceUsage] = None) -> EntrypointOutput:
    """Run a command (``["check", "--config", path]``, ...) through the CDK's own entrypoint, in
    process, with public pieces only: what it prints, and the error it ends with as a trace."""
    entrypoint = AirbyteEntrypoint(source or SourceUsage())
    messages: List[str] = []
    try:
        messages.extend(entrypoint.run(entrypoint.parse_args(args)))
    except Exception as error:  # noqa: BLE001 - the output carries it as a trace message
        return EntrypointOutput(messages=messages, uncaught_exception=error)
    return EntrypointOutput(messages=messages)


def all_output_lines(output: EntrypointOutput) -> str:
    """Everything the connector emitted (records, state, traces, logs), serialised as it would be printed."""
    return "\n".join(
        json.dumps(AirbyteMessageSerializer.dump(message)) for message in output.get_message_iterator()
    )


class VerifiedHttpMocker(HttpMocker):
    """``HttpMocker`` as a context manager that, on a clean exit, asserts every mocked request was
    made exactly as many times as it was given responses (or ``calls`` times where a test says so).

    The decorator form of ``HttpMocker`` checks its mocks; the context-manager form does not, so a
    test could mock a request the connector never makes and still pass. A request that matches no
    mock fails the verification too (inside the connector it is only a stream error). Counting goes through
    ``assert_number_of_calls`` (public). :attr:`sent` lists every request that reached the mock, in
    the order it was sent, recorded by wrapping ``requests.Session.send`` (public) while the mock
    is active.
    """

    def __init__(self) -> None:
        super().__init__()
        #: Every request sent while the mock was active, as ``requests`` prepared it.
        self.sent: List[requests.PreparedRequest] = []
        self._expected: List[Tuple[HttpRequest, int]] = []
        self._send_before: Optional[Callable[..., requests.Response]] = None

    def __enter__(self) -> VerifiedHttpMocker:
        super().__enter__()
        mocked_send = requests.Session.send
        sent = self.sent

        def recording_send(session: requests.Session, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
            sent.append(request)
            return mocked_send(session, request, **kwargs)

        self._send_before = mocked_send
        requests.Session.send = recording_send  # type: ignore[method-assign]
        return self

    def __exit__(self, exc_type: Any, exc_val: Any, exc_tb: Any) -> None:
        requests.Session.send = self._send_before  # type: ignore[method-assign]
        super().__exit__(exc_type, exc_val, exc_tb)
        if exc_type is None:
            self.verify()

    def verify(self) -> None:
        """Each mocked request was made exactly as often as expected, and nothing else was sent.

        A request that reaches the mock matches one mocked request or none, so when every count is
        right, more requests sent than counted means some matched no mock."""
        for request, calls in self._expected:
            try:
                self.assert_number_of_calls(request, calls)
            except AssertionError:
                raise AssertionError(f"expected exactly {calls} call(s) of the mocked {request}") from None
        unmocked = len(self.sent) - sum(calls for _, calls in self._expected)
        assert unmocked == 0, f"{unmocked} request(s) matched no mock: {[(r.method, r.url, r.body) for r in self.sent]}"

    def sent_to(self, url: str) -> List[requests.PreparedRequest]:
        """The requests sent whose URL starts with ``url``, in order."""
        return [request for request in self.sent if (request.url or "").startswith(url)]

    def get(self, request: HttpRequest, responses: Responses, calls: Optional[int] = None) -> None:
        super().get(request, responses)
        self._expect(request, responses, calls)

    def post(self, request: HttpRequest, responses: Responses, calls: Optional[int] = None) -> None:
        super().post(request, responses)
        self._expect(request, responses, calls)

    def put(self, request: HttpRequest, responses: Responses, calls: Optional[int] = None) -> None:
        super().put(request, responses)
        self._expect(request, responses, calls)

    def patch(self, request: HttpRequest, responses: Responses, calls: Optional[int] = None) -> None:
        super().patch(request, responses)
        self._expect(request, responses, calls)

    def delete(self, request: HttpRequest, responses: Responses, calls: Optional[int] = None) -> None:
        super().delete(request, responses)
        self._expect(request, responses, calls)

    def _expect(self, request: HttpRequest, responses: Responses, calls: Optional[int]) -> None:
        given = 1 if isinstance(responses, HttpResponse) else len(responses)
        self._expected.append((request, given if calls is None else calls))

"""Small builders the unit tests share."""

from __future__ import annotations

import json
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Tuple, Union

import requests
from airbyte_cdk.entrypoint import AirbyteEntrypoint
from airbyte_cdk.models import AirbyteMessageSerializer, AirbyteStateMessage, SyncMode
from airbyte_cdk.test.catalog_builder import CatalogBuilder
from airbyte_cdk.test.entrypoint_wrapper import EntrypointOutput, read
from airbyte_cdk.test.mock_http import HttpMocker, HttpRequest, HttpResponse
from airbyte_cdk.test.state_builder import StateBuilder

from source_usage import SourceUsage

SECRET = "jdy-SECRET-key-0123456789"
BASE_URL = "https://api.jiandaoyun.test"

Responses = Union[HttpResponse, List[HttpResponse]]


def jiandaoyun_config(**overrides: Any) -> Dict[str, Any]:
    section = {"api_key": SECRET, "base_url": BASE_URL, "requests_per_second": 50}
    section.update(overrides.pop("jiandaoyun", {}))
    config = {"start_date": "2026-06-08", "end_date": "2026-06-09", "lookback_days": 0, "jiandaoyun": section, **overrides}
    return {key: value for key, value in config.items() if value is not None}


def read_streams(
    config: Mapping[str, Any],
    streams: Iterable[str],
    state: Optional[Mapping[str, Mapping[str, Any]]] = None,
    sync_mode: SyncMode = SyncMode.incremental,
    expecting_exception: bool = False,
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
    return read(SourceUsage(), dict(config), catalog.build(), state_messages, expecting_exception=expecting_exception)


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

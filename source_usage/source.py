"""``SourceUsage``: the Airbyte source that syncs SaaS usage statistics.

The source itself knows no vendor: it assembles the spec from the vendors it is given (by default
every module of :mod:`source_usage.vendors`), validates the config, asks each configured vendor for
its streams, checks each by reading the first record of its check stream, and reads the selected
streams side by side (:mod:`source_usage.core.reading`).
"""

from __future__ import annotations

import difflib
import logging
import time
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence, Tuple

from airbyte_cdk.models import (
    AirbyteConnectionStatus,
    AirbyteMessage,
    AirbyteStateBlob,
    AirbyteStateMessage,
    AirbyteStateType,
    AirbyteStreamState,
    ConfiguredAirbyteCatalog,
    ConnectorSpecification,
    Status,
    SyncMode,
)
from airbyte_cdk.sources import AbstractSource
from airbyte_cdk.sources.streams import Stream
from airbyte_cdk.sources.utils.schema_helpers import split_config
from airbyte_cdk.utils.airbyte_secrets_utils import filter_secrets
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_usage.core.errors import plain_message
from source_usage.core.reading import SideBySide
from source_usage.core.saved_state import state_file_problem, stream_state_problem
from source_usage.core.settings import SharedSettings, config_error
from source_usage.core.stats import RequestStats
from source_usage.core.streams import PeriodStream
from source_usage.core.synclog import name_backoff_requests, stream_logger
from source_usage.core.validation import ensure_valid
from source_usage.core.vendor import CHECK_HTTP, HttpOptions, Vendor
from source_usage.spec import connection_specification, specification
from source_usage.vendors import all_vendors


def first_record(stream: Stream) -> None:
    """Read ``stream`` up to its first record (a stream with none is read whole), as ``check``
    does: no state is kept, so a failed period is not named as one the next sync reads again."""
    if isinstance(stream, PeriodStream):
        stream.names_failed_periods = False
    for stream_slice in stream.stream_slices(sync_mode=SyncMode.full_refresh):
        for _ in stream.read_records(SyncMode.full_refresh, stream_slice=stream_slice):
            return


class SourceUsage(AbstractSource):
    # Validation is ours (one sentence per field, see core.validation), run in streams() and check.
    check_config_against_spec = False

    def __init__(self, vendors: Optional[Sequence[Vendor]] = None, http: Optional[HttpOptions] = None) -> None:
        super().__init__()
        self.vendors: Tuple[Vendor, ...] = tuple(all_vendors() if vendors is None else vendors)
        #: How the streams of a sync send their requests and report their progress.
        self.http = HttpOptions() if http is None else http
        self._read_streams: Optional[List[Stream]] = None
        #: Seconds each stream of the current read took, from its start to its end.
        self._wall_seconds: Dict[str, float] = {}
        name_backoff_requests()

    def spec(self, logger: logging.Logger) -> ConnectorSpecification:
        return specification(self.vendors)

    def validate(self, config: Mapping[str, Any]) -> None:
        """Raise one config error naming every bad field."""
        ensure_valid(config, connection_specification(self.vendors), self.vendors)

    def configured(self, config: Mapping[str, Any]) -> List[Tuple[Vendor, Dict[str, Any]]]:
        """Every vendor with a section in a valid ``config``, with its section (defaults applied)."""
        self.validate(config)
        sections = [(vendor, vendor.section(config)) for vendor in self.vendors]
        return [(vendor, section) for vendor, section in sections if section is not None]

    def streams(self, config: Mapping[str, Any]) -> List[Stream]:
        if self._read_streams is not None:
            # During a read every stream thread shares one set of streams, so a vendor's
            # budget object (and with it its rate limit) is shared too.
            return self._read_streams
        configured = self.configured(config)  # first: the settings parse only a valid config
        settings = SharedSettings.from_config(config)
        streams: List[Stream] = []
        for vendor, section in configured:
            streams.extend(vendor.streams(section, settings, self.http))
        return streams

    def check_connection(self, logger: logging.Logger, config: Mapping[str, Any]) -> Tuple[bool, Optional[Any]]:
        try:
            configured = self.configured(config)
        except AirbyteTracedException as error:
            return False, error.message
        settings = SharedSettings.from_config(config)
        for vendor, section in configured:
            problem = self.check_vendor(vendor, section, settings)
            if problem:
                return False, problem
        return True, None

    @staticmethod
    def check_vendor(vendor: Vendor, section: Mapping[str, Any], settings: SharedSettings) -> Optional[str]:
        """Why the vendor cannot be reached with this section, or ``None`` when it can."""
        title = vendor.identity.title
        try:
            first_record(vendor.check_stream(section, settings, CHECK_HTTP))
        except AirbyteTracedException as error:
            message = plain_message(error)
            return message if title in message else f"{title}: {message}"
        except Exception as error:  # noqa: BLE001 - check must answer, never crash
            return f"{title} check failed: {type(error).__name__}: {error}"
        return None

    def check(self, logger: logging.Logger, config: Mapping[str, Any]) -> AirbyteConnectionStatus:
        # AbstractSource.check answers repr(error), which wraps our sentence in quotes.
        succeeded, error = self.check_connection(logger, config)
        if succeeded:
            return AirbyteConnectionStatus(status=Status.SUCCEEDED)
        return AirbyteConnectionStatus(status=Status.FAILED, message=filter_secrets(str(error)))

    @classmethod
    def read_state(cls, state_path: str) -> List[AirbyteStateMessage]:
        """The CDK's reading of ``--state``, after checking the file is a list of per-stream
        states: anything else would end the sync with an error that names no stream. An empty
        file is no state, as an empty list is."""
        if not state_path:
            return []
        text = Path(state_path).read_text(encoding="utf-8", errors="replace")
        problem = state_file_problem(text)
        if problem:
            raise config_error(problem)
        return super().read_state(state_path) if text.strip() else []

    def selection_problems(self, config: Mapping[str, Any], provided: Sequence[str], selected: Iterable[str]) -> List[str]:
        """A sentence for each stream of the configured catalog that the config does not provide.
        Without it the CDK skips such a stream and the sync ends as a success with nothing of it:
        a connection that lost a vendor section, or names a stream wrongly, must say so instead."""
        problems = []
        for name in selected:
            if name in provided:
                continue
            # Every stream name starts with its vendor's section key.
            vendor = next((vendor for vendor in self.vendors if name.startswith(f"{vendor.identity.key}_")), None)
            matches = difflib.get_close_matches(name, provided, n=1)
            start = f"The configured catalog selects '{name}'"
            if vendor is not None and config.get(vendor.identity.key) is None:
                key, title = vendor.identity.key, vendor.identity.title
                problems.append(f"{start}, a {title} stream, but the config has no '{key}' section: add it or deselect the stream.")
            elif matches:
                problems.append(f"{start}, which the config does not provide; did you mean '{matches[0]}'?")
            elif vendor is not None:
                problems.append(f"{start}, which is not a stream of the '{vendor.identity.key}' section.")
            else:
                problems.append(f"{start}, which is not a stream of this connector.")
        return problems

    @staticmethod
    def check_states(streams: Sequence[Stream], selected: Iterable[str], state: Optional[List[AirbyteStateMessage]]) -> None:
        """Raise a config error for a selected incremental stream whose saved state does not hold its cursor."""
        cursors = {stream.name: stream.cursor_field for stream in streams if isinstance(stream.cursor_field, str) and stream.cursor_field}
        wanted = set(selected) & set(cursors)
        for message in state or []:
            if message.type != AirbyteStateType.STREAM or message.stream is None:
                continue
            name = message.stream.stream_descriptor.name
            if name in wanted:
                blob = message.stream.stream_state
                problem = stream_state_problem(name, str(cursors[name]), dict(blob.__dict__) if blob is not None else {})
                if problem:
                    raise config_error(problem)

    @staticmethod
    def resumed_states(streams: Sequence[Stream], state: Optional[List[AirbyteStateMessage]]) -> List[AirbyteStateMessage]:
        """The saved states as each period stream really resumes from them
        (:meth:`PeriodStream.resumed_state`): a cursor in the future is read as the latest finished
        period, or as no state at all, and the CDK then writes back that, never the future one."""
        by_name = {stream.name: stream for stream in streams if isinstance(stream, PeriodStream)}
        resumed = []
        for message in state or []:
            saved = message.stream if message.type == AirbyteStateType.STREAM else None
            stream = by_name.get(saved.stream_descriptor.name) if saved is not None else None
            if saved is None or stream is None:
                resumed.append(message)
                continue
            kept = stream.resumed_state(dict(saved.stream_state.__dict__) if saved.stream_state is not None else {})
            if kept is not None:
                blob = AirbyteStateBlob(**kept)
                resumed.append(
                    AirbyteStateMessage(
                        type=AirbyteStateType.STREAM,
                        stream=AirbyteStreamState(stream_descriptor=saved.stream_descriptor, stream_state=blob),
                    )
                )
        return resumed

    def read(
        self,
        logger: logging.Logger,
        config: Mapping[str, Any],
        catalog: ConfiguredAirbyteCatalog,
        state: Optional[List[AirbyteStateMessage]] = None,
    ) -> Iterator[AirbyteMessage]:
        connector_config, _ = split_config(config)
        self._read_streams = None
        streams = self.streams(connector_config)
        selected = [configured.stream.name for configured in catalog.streams]
        unprovided = self.selection_problems(connector_config, [stream.name for stream in streams], selected)
        if unprovided:
            raise config_error(" ".join(unprovided))
        self.check_states(streams, selected, state)
        state = self.resumed_states(streams, state)
        self._read_streams = streams
        self._wall_seconds = {}
        # The CDK's read of each stream says these for its one stream; here once for the sync.
        logger.info(f"Starting syncing {self.name}")
        try:
            yield from self._read_all(logger, config, catalog, state)
        finally:
            self._log_summaries(logger, {configured.stream.name for configured in catalog.streams})
            self._read_streams = None
        logger.info(f"Finished syncing {self.name}")

    def _read_all(
        self,
        logger: logging.Logger,
        config: Mapping[str, Any],
        catalog: ConfiguredAirbyteCatalog,
        state: Optional[List[AirbyteStateMessage]],
    ) -> Iterable[AirbyteMessage]:
        """Each stream through the CDK's own read; several side by side, each in its own thread."""
        by_name = {configured.stream.name: configured for configured in catalog.streams}
        quiet = stream_logger(logger, self.name)

        def read_one(name: str) -> Iterator[AirbyteMessage]:
            started = time.monotonic()
            try:
                yield from AbstractSource.read(self, quiet, config, ConfiguredAirbyteCatalog(streams=[by_name[name]]), state)
            finally:
                self._wall_seconds[name] = time.monotonic() - started

        if len(by_name) <= 1:
            return (message for name in by_name for message in read_one(name))
        return SideBySide(read_one, list(by_name))

    def _log_summaries(self, logger: logging.Logger, selected: set[str]) -> None:
        for stream in self._read_streams or []:
            stats = getattr(stream, "stats", None)
            if stream.name in selected and isinstance(stats, RequestStats):
                logger.info(stats.summary(stream.name, self._wall_seconds.get(stream.name)))

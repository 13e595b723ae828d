"""``SourceUsage``: the Airbyte source that syncs SaaS usage statistics.

The source itself knows no vendor: it assembles the spec from the vendor modules, validates
the config, asks each configured vendor for its streams, and reads the selected streams side by
side, one thread per stream, because each vendor's rate limit is per endpoint (or per vendor)
and a sequential read would leave every other endpoint idle while one waits for its budget.
"""

from __future__ import annotations

import logging
import queue
import threading
from typing import Any, Iterator, List, Mapping, MutableMapping, Optional, Tuple

from airbyte_cdk.models import (
    AirbyteConnectionStatus,
    AirbyteMessage,
    AirbyteStateMessage,
    ConfiguredAirbyteCatalog,
    ConnectorSpecification,
    FailureType,
    Status,
)
from airbyte_cdk.sources import AbstractSource
from airbyte_cdk.sources.streams import Stream
from airbyte_cdk.sources.utils.schema_helpers import split_config
from airbyte_cdk.utils.airbyte_secrets_utils import filter_secrets
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_usage.core.errors import plain_message
from source_usage.core.settings import SharedSettings
from source_usage.core.stats import RequestStats
from source_usage.core.validation import ensure_valid
from source_usage.spec import connection_specification, specification
from source_usage.vendors import all_vendors

#: Messages waiting between the stream threads and stdout. Bounded, so a slow destination
#: pauses the readers instead of growing memory.
_QUEUE_SIZE = 2_000
_DONE = object()


class SourceUsage(AbstractSource):
    # Validation is ours (one sentence per field, see core.validation), run in streams() and check.
    check_config_against_spec = False

    def __init__(self) -> None:
        super().__init__()
        self._read_streams: Optional[List[Stream]] = None

    def spec(self, logger: logging.Logger) -> ConnectorSpecification:
        return specification()

    def _configured_vendors(self, config: Mapping[str, Any]) -> List[Tuple[Any, Mapping[str, Any]]]:
        ensure_valid(config, connection_specification(), all_vendors())
        return [(vendor, config[vendor.key]) for vendor in all_vendors() if config.get(vendor.key) is not None]

    def streams(self, config: Mapping[str, Any]) -> List[Stream]:
        if self._read_streams is not None:
            # During a read every stream thread shares one set of streams, so a vendor's
            # budget object (and with it its rate limit) is shared too.
            return self._read_streams
        settings = SharedSettings.from_config(config)
        streams: List[Stream] = []
        for vendor, section in self._configured_vendors(config):
            streams.extend(vendor.streams(section, settings))
        return streams

    def check_connection(self, logger: logging.Logger, config: Mapping[str, Any]) -> Tuple[bool, Optional[Any]]:
        try:
            configured = self._configured_vendors(config)
        except AirbyteTracedException as error:
            return False, error.message
        settings = SharedSettings.from_config(config)
        for vendor, section in configured:
            try:
                vendor.check(section, settings, logger)
            except AirbyteTracedException as error:
                message = plain_message(error)
                if vendor.title not in message:
                    message = f"{vendor.title}: {message}"
                return False, message
            except Exception as error:  # noqa: BLE001 - check must answer, never crash
                return False, f"{vendor.title} check failed: {type(error).__name__}: {error}"
        return True, None

    def check(self, logger: logging.Logger, config: Mapping[str, Any]) -> AirbyteConnectionStatus:
        # AbstractSource.check answers repr(error), which wraps our sentence in quotes.
        succeeded, error = self.check_connection(logger, config)
        if succeeded:
            return AirbyteConnectionStatus(status=Status.SUCCEEDED)
        return AirbyteConnectionStatus(status=Status.FAILED, message=filter_secrets(str(error)))

    def read(
        self,
        logger: logging.Logger,
        config: Mapping[str, Any],
        catalog: ConfiguredAirbyteCatalog,
        state: Optional[List[AirbyteStateMessage]] = None,
    ) -> Iterator[AirbyteMessage]:
        connector_config, _ = split_config(config)
        self._read_streams = None
        self._read_streams = self.streams(connector_config)
        try:
            if len(catalog.streams) <= 1:
                yield from super().read(logger, config, catalog, state)
            else:
                yield from self._read_side_by_side(logger, config, catalog, state)
        finally:
            selected = {configured.stream.name for configured in catalog.streams}
            for stream in self._read_streams:
                stats = getattr(stream, "stats", None)
                if stream.name in selected and isinstance(stats, RequestStats):
                    logger.info(stats.summary(stream.name))
            self._read_streams = None

    def _read_side_by_side(
        self,
        logger: logging.Logger,
        config: Mapping[str, Any],
        catalog: ConfiguredAirbyteCatalog,
        state: Optional[List[AirbyteStateMessage]],
    ) -> Iterator[AirbyteMessage]:
        """Each configured stream read by the CDK's own per-stream machinery in its own thread.

        Every message of a stream keeps its order (records, then the STATE after them), so a
        stream's state is never ahead of its records; streams interleave freely, which Airbyte's
        per-stream state allows.
        """
        messages: queue.Queue[Any] = queue.Queue(maxsize=_QUEUE_SIZE)
        stop = threading.Event()
        failed: MutableMapping[str, BaseException] = {}

        def put(item: Any) -> bool:
            while not stop.is_set():
                try:
                    messages.put(item, timeout=0.5)
                    return True
                except queue.Full:
                    continue
            return False

        def read_one(configured_stream: Any) -> None:
            single = ConfiguredAirbyteCatalog(streams=[configured_stream])
            try:
                for message in AbstractSource.read(self, logger, config, single, state):
                    if not put(message):
                        return
            except BaseException as error:  # noqa: BLE001 - reported once all streams ended
                failed[configured_stream.stream.name] = error
            finally:
                put(_DONE)

        threads = [
            threading.Thread(target=read_one, args=(configured,), name=f"read-{configured.stream.name}", daemon=True)
            for configured in catalog.streams
        ]
        for thread in threads:
            thread.start()
        running = len(threads)
        try:
            while running:
                item = messages.get()
                if item is _DONE:
                    running -= 1
                else:
                    yield item
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=5)

        if failed:
            names = ", ".join(sorted(failed))
            raise AirbyteTracedException(
                message=f"During the sync, the following streams did not sync successfully: {names}.",
                failure_type=FailureType.config_error
                if all(getattr(e, "failure_type", None) == FailureType.config_error for e in failed.values())
                else FailureType.system_error,
            )

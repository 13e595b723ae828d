"""The ``source-usage`` command: the Airbyte protocol (spec, check, discover, read)."""

from __future__ import annotations

import gc
import json
import sys
import threading
import time
from types import TracebackType
from typing import Any, List, Mapping, Optional, Set

from airbyte_cdk.entrypoint import AirbyteEntrypoint
from airbyte_cdk.logger import PRINT_BUFFER
from airbyte_cdk.models import ConnectorSpecification
from airbyte_cdk.sources.utils.schema_helpers import split_config
from airbyte_cdk.utils.airbyte_secrets_utils import get_secrets, update_secrets
from airbyte_cdk.utils.print_buffer import PrintBuffer

from source_usage.source import SourceUsage

MIN_SECRET_LENGTH = 4


def secret_forms(secrets: List[str]) -> List[str]:
    """Every printable form of ``secrets``, longest first (the filter replaces in order, so a
    longer form must go before a shorter one it contains)."""
    forms: Set[str] = set()
    for secret in secrets:
        for text in (secret, secret.strip()):
            forms.update({text, json.dumps(text)[1:-1], repr(text)[1:-1], repr(text.encode())[2:-1]})
    # A form shorter than this would mask ordinary words; no real key is that short.
    return sorted((form for form in forms if len(form) >= MIN_SECRET_LENGTH), key=len, reverse=True)


class HeldOutputFlusher:
    """Writes out what the CDK's print buffer holds once its interval has passed.

    The CDK's ``PRINT_BUFFER`` (stdout and its log handler's stream alike) writes its buffer only
    when a later message comes at least ``flush_interval`` after its last write: a STATE followed
    by a long wait (a stream waiting for a slow request, a vendor's rate-limit wait) stayed in the
    buffer for the whole wait (60 s, measured), unseen by the platform and lost if the sync was
    killed meanwhile. This thread flushes the same buffer, under its own lock, every interval: one
    buffer and one lock for every writer, so no two threads ever write stdout at once.
    """

    def __init__(self, buffer: PrintBuffer = PRINT_BUFFER) -> None:
        self.buffer = buffer
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._flush_held, name="output-flusher", daemon=True)

    def _flush_held(self) -> None:
        while not self._stop.wait(self.buffer.flush_interval):
            with self.buffer.lock:
                if self.buffer.buffer.tell():
                    self.buffer.flush()
                    self.buffer.last_flush_time = time.monotonic()

    def __enter__(self) -> HeldOutputFlusher:
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: Optional[BaseException], exc_val: Optional[BaseException], exc_tb: Optional[TracebackType]
    ) -> None:
        self._stop.set()
        self._thread.join()


class UsageEntrypoint(AirbyteEntrypoint):
    """The CDK entrypoint, with ``check``'s config validation replaced by ours.

    ``check`` validates the config before the source sees it; the CDK's validator answers with
    jsonschema's first message, which does not name the field. Ours answers one sentence per
    bad field (``source_usage.core.validation``), still as a FAILED connection status.
    """

    def __init__(self, source: SourceUsage) -> None:
        super().__init__(source)
        self.usage_source = source

    @staticmethod
    def set_up_secret_filter(config: Mapping[str, Any], connection_specification: Mapping[str, Any]) -> None:
        """The CDK's filter, for every form a secret can take in a message: as pasted, trimmed,
        and escaped as JSON, a Python ``repr`` or a header's bytes would print it."""
        secrets = [str(secret) for secret in get_secrets(connection_specification, config) if secret]
        update_secrets(secret_forms(secrets))

    def validate_connection(self, source_spec: ConnectorSpecification, config: Mapping[str, Any]) -> None:  # type: ignore[override]  # the CDK's is a staticmethod; ours needs the source's vendors
        connector_config, _ = split_config(config)
        self.usage_source.validate(connector_config)


def launch(args: List[str], source: Optional[SourceUsage] = None) -> None:
    """As ``airbyte_cdk.entrypoint.launch``, with :class:`UsageEntrypoint`."""
    entrypoint = UsageEntrypoint(source or SourceUsage())
    parsed_args = entrypoint.parse_args(args)
    # Everything imported so far (the CDK, pydantic's models: some 110,000 objects the garbage
    # collector tracks) lives until the process ends: frozen, it is out of the collector's sight,
    # so each full collection during the sync and the last ones at exit no longer walk it (0.2 s
    # of CPU a sync at exit alone, measured).
    gc.freeze()
    with PRINT_BUFFER, HeldOutputFlusher():
        for message in entrypoint.run(parsed_args):
            # One write per message: two writes could interleave with another thread's output.
            print(f"{message}\n", end="")


def run(args: Optional[List[str]] = None) -> None:
    launch(sys.argv[1:] if args is None else args)


if __name__ == "__main__":
    run()

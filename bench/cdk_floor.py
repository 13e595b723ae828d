"""The least wall time any Airbyte CDK source can take for N records: the bench's yardstick.

A source with one stream that sends no request and yields the same record ``records`` times
(config ``{"stream": NAME, "record": {...}, "records": N}``; the bench passes one record of the
stream it compares, as the emulator's ground truth has it), through the CDK's own ``AbstractSource``
read loop and ``launch`` entrypoint, as every Python CDK connector does. What it costs is the
CDK's part alone: importing ``airbyte_cdk`` (about 1.2 s on this machine) and the per-message
work after a stream yields a record (the ``AirbyteMessage``, the record counts, serialising,
stdout). No HTTP connector built on the CDK can be faster; the bench prints its
``records_per_s`` next to ours and the peer's, so a target above it shows as out of reach.

    .venv/bin/python bench/cdk_floor.py read --config config.json --catalog catalog.json
"""

from __future__ import annotations

import sys
from typing import Any, Iterable, List, Mapping, Optional, Tuple

from airbyte_cdk.entrypoint import launch
from airbyte_cdk.models import ConnectorSpecification, SyncMode
from airbyte_cdk.sources import AbstractSource
from airbyte_cdk.sources.streams import Stream


class RepeatedRecords(Stream):
    primary_key = None

    def __init__(self, name: str, record: Mapping[str, Any], records: int) -> None:
        self._name = name
        self.record = record
        self.records = records

    @property
    def name(self) -> str:
        return self._name

    def get_json_schema(self) -> Mapping[str, Any]:  # type: ignore[override]  # the CDK's is an lru_cache
        return {"type": "object"}

    def read_records(
        self,
        sync_mode: SyncMode,
        cursor_field: Optional[List[str]] = None,
        stream_slice: Optional[Mapping[str, Any]] = None,
        stream_state: Optional[Mapping[str, Any]] = None,
    ) -> Iterable[Mapping[str, Any]]:
        for _ in range(self.records):
            yield dict(self.record)  # a fresh dict, as a parsed page would give


class CdkFloorSource(AbstractSource):
    def spec(self, logger: Any) -> ConnectorSpecification:
        properties = {"stream": {"type": "string"}, "record": {"type": "object"}, "records": {"type": "integer"}}
        return ConnectorSpecification(connectionSpecification={"type": "object", "properties": properties})

    def check_connection(self, logger: Any, config: Mapping[str, Any]) -> Tuple[bool, Optional[Any]]:
        return True, None

    def streams(self, config: Mapping[str, Any]) -> List[Stream]:
        return [RepeatedRecords(str(config["stream"]), config["record"], int(config["records"]))]


if __name__ == "__main__":
    launch(CdkFloorSource(), sys.argv[1:])

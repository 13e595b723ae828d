"""The least wall time any Airbyte CDK source can take for N records: the bench's yardstick.

A source with one stream, ``jiandaoyun_member_usage``, that sends no request and yields the same
record ``records`` times (config ``{"records": N}``), through the CDK's own ``AbstractSource``
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

#: One member record as our connector emits it (the vendor's item, the key and metric columns).
MEMBER_RECORD: Mapping[str, Any] = {
    "member": {"member_id": "65f49d21078d000000000000", "name": "杨Yuki0"},
    "metrics": {
        "app": 2, "form_coop": 32, "form_workflow": 3, "dash": 13, "etl": 3, "aggregate": 1,
        "public_link": 6, "data_trigger": 8, "automation": 0, "bpa": 0, "data": 204545,
    },
    "date": "2026-11-12",
    "member_id": "65f49d21078d000000000000",
    "app": 2, "form_coop": 32, "form_workflow": 3, "dash": 13, "etl": 3, "aggregate": 1,
    "public_link": 6, "data_trigger": 8, "automation": 0, "bpa": 0, "data": 204545,
}  # fmt: skip


class RepeatedRecords(Stream):
    name = "jiandaoyun_member_usage"
    primary_key = None

    def __init__(self, records: int) -> None:
        self.records = records

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
            yield dict(MEMBER_RECORD)  # a fresh dict, as a parsed page would give


class CdkFloorSource(AbstractSource):
    def spec(self, logger: Any) -> ConnectorSpecification:
        return ConnectorSpecification(connectionSpecification={"type": "object", "properties": {"records": {"type": "integer"}}})

    def check_connection(self, logger: Any, config: Mapping[str, Any]) -> Tuple[bool, Optional[Any]]:
        return True, None

    def streams(self, config: Mapping[str, Any]) -> List[Stream]:
        return [RepeatedRecords(int(config["records"]))]


if __name__ == "__main__":
    launch(CdkFloorSource(), sys.argv[1:])

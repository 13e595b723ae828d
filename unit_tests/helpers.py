"""Small builders the unit tests share."""

from __future__ import annotations

import json
from typing import Any, Dict, Iterable, List, Mapping, Optional

from airbyte_cdk.models import AirbyteMessageSerializer, AirbyteStateMessage, SyncMode
from airbyte_cdk.test.catalog_builder import CatalogBuilder
from airbyte_cdk.test.entrypoint_wrapper import EntrypointOutput, read
from airbyte_cdk.test.state_builder import StateBuilder

from source_usage import SourceUsage

SECRET = "jdy-SECRET-key-0123456789"
BASE_URL = "https://api.jiandaoyun.test"


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


def all_output_lines(output: EntrypointOutput) -> str:
    """Everything the connector emitted (records, state, traces, logs), serialised as it would be printed."""
    return "\n".join(
        json.dumps(AirbyteMessageSerializer.dump(message)) for message in output.get_message_iterator()
    )

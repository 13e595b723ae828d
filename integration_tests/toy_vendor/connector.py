"""The toy vendor on the connector's side: one incremental stream, ``toy_daily_usage``, one
record per team and UTC day, keyed by ``day`` and ``team``, its cursor the ``day``."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Iterable, List, Mapping, MutableMapping, Optional

import requests
from airbyte_cdk.sources.streams import Stream

from source_usage.core.errors import json_body, list_problem
from source_usage.core.periods import Granularity, Period, PeriodPlan
from source_usage.core.settings import SharedSettings
from source_usage.core.streams import PeriodStream
from source_usage.core.vendor import HttpOptions, Vendor, VendorIdentity

IDENTITY = VendorIdentity(key="toy", title="Toy", credentials_field="api_token")
STREAM = "toy_daily_usage"

#: Inline, not a file of ``schemas/``: the vendor ships nowhere.
SCHEMA: Mapping[str, Any] = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "additionalProperties": True,
    "required": ["day", "team"],
    "properties": {
        "day": {"type": "string", "format": "date"},
        "team": {"type": "string"},
        "count": {"type": ["null", "integer"]},
    },
}

SPEC: Mapping[str, Any] = {
    "type": "object",
    "title": "Toy",
    "description": "A vendor of the test suite.",
    "required": ["api_token"],
    "properties": {
        "api_token": {"type": "string", "title": "API token", "airbyte_secret": True, "order": 0},
        "base_url": {"type": "string", "title": "API host", "default": "https://toy.invalid", "order": 1},
    },
}


class ToyDailyUsage(PeriodStream):
    name = STREAM
    primary_key = ["day", "team"]
    cursor_field = "day"
    endpoint = "toy/v1/usage"

    def cursor_value(self, period: Period) -> str:
        return period.day

    def request_params(
        self,
        stream_state: Optional[Mapping[str, Any]],
        stream_slice: Optional[Mapping[str, Any]] = None,
        next_page_token: Optional[Mapping[str, Any]] = None,
    ) -> MutableMapping[str, Any]:
        assert stream_slice is not None
        return {**super().request_params(stream_state, stream_slice, next_page_token), "day": stream_slice["day"]}

    def malformed(self, body: Any) -> Optional[str]:
        return list_problem(body, "items")

    def records(self, response: requests.Response, stream_slice: Mapping[str, Any]) -> Iterable[Mapping[str, Any]]:
        for item in json_body(response)["items"]:
            yield {**item, "day": stream_slice["day"]}

    def get_json_schema(self) -> Mapping[str, Any]:  # type: ignore[override]  # the CDK's is an lru_cache
        return SCHEMA


class Toy(Vendor):
    identity = IDENTITY

    def spec(self) -> Mapping[str, Any]:
        return SPEC

    def plan(self, settings: SharedSettings) -> PeriodPlan:
        return settings.plan(self.identity.title, "UTC", Granularity.DAY)

    def streams(self, section: Mapping[str, Any], settings: SharedSettings, http: HttpOptions) -> List[Stream]:
        return [ToyDailyUsage(self.connection(section, http), self.plan(settings))]

    def check_stream(self, section: Mapping[str, Any], settings: SharedSettings, http: HttpOptions) -> Stream:
        """The latest finished day: one request."""
        plan = self.plan(settings)
        latest = replace(plan, first=Granularity.DAY.step(plan.stop, -1))
        return ToyDailyUsage(self.connection(section, http), latest)

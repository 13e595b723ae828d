"""Seat counts per month: ``tabnine_account_utilizations``."""

from __future__ import annotations

from typing import Any, Iterable, List, Mapping, MutableMapping, Optional

import requests

from source_usage.core.errors import json_body
from source_usage.core.periods import Period
from source_usage.core.streams import PeriodStream
from source_usage.vendors.tabnine.common import ACCOUNT_UTILIZATIONS_PATH, TabnineErrorHandler


def month_start_of(item: Mapping[str, Any]) -> str:
    """``YYYY-MM-01`` from Tabnine's ``year`` and zero-based ``month`` (0 = January)."""
    return f"{int(item['year']):04d}-{int(item['month']) + 1:02d}-01"


def month_problem(item: Any) -> Optional[str]:
    """What makes one month of account utilizations unusable, or ``None``."""
    if not isinstance(item, dict):
        return "is not an object"
    year, month = item.get("year"), item.get("month")
    if not isinstance(year, int) or isinstance(year, bool) or year < 1970:
        return "has no 'year'"
    # Zero-based: anything outside 0-11 would shift every month_start, so it is refused.
    if not isinstance(month, int) or isinstance(month, bool) or not 0 <= month <= 11:
        return "has no zero-based 'month' (0-11)"
    return None


class TabnineAccountUtilizations(PeriodStream):
    """``tabnine_account_utilizations``: seat counts per month, one request per sync.

    The endpoint answers every month from ``startDate`` on, the current one included, so one
    slice spans every month of the plan. The current month, whose counts still change, is read
    but never checkpointed: every sync reads it again until it is over.
    """

    name = "tabnine_account_utilizations"
    primary_key = "month_start"
    cursor_field = "month_start"
    endpoint = ACCOUNT_UTILIZATIONS_PATH
    error_handler_class = TabnineErrorHandler
    periods_per_slice = None
    data_fields = ("data",)  # documented as a bare list (no envelope to mistake); enveloped, under 'data'

    def cursor_value(self, period: Period) -> str:
        return period.day

    def request_params(
        self,
        stream_state: Optional[Mapping[str, Any]],
        stream_slice: Optional[Mapping[str, Any]] = None,
        next_page_token: Optional[Mapping[str, Any]] = None,
    ) -> MutableMapping[str, Any]:
        assert stream_slice is not None
        return {"startDate": str(stream_slice["period_start"])[:7]}

    def malformed(self, body: Any) -> Optional[str]:
        items = body.get("data") if isinstance(body, dict) else body
        if not isinstance(items, list):
            return "not a list of months"
        for index, item in enumerate(items):
            problem = month_problem(item)
            if problem:
                return f"item {index} {problem}"
        return None

    def records(self, response: requests.Response, stream_slice: Mapping[str, Any]) -> Iterable[Mapping[str, Any]]:
        body = json_body(response)
        # Documented as a bare list; an enveloped {"data": [...]} is read the same way.
        items: List[Mapping[str, Any]] = body["data"] if isinstance(body, dict) else body
        first, end = str(stream_slice["period_start"])[:10], str(stream_slice["period_end"])[:10]
        for item in sorted(items, key=lambda entry: (entry["year"], entry["month"])):
            month_start = month_start_of(item)
            if first <= month_start < end:
                yield {**item, "month_start": month_start}

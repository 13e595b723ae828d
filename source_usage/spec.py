"""The connector's spec: the shared fields, then one section per vendor, in the vendors' order."""

from __future__ import annotations

from typing import Any, Dict, Mapping, Sequence

from airbyte_cdk.models import ConnectorSpecification

from source_usage.core.vendor import Vendor

DOCUMENTATION_URL = "https://github.com/source-usage/source-usage/blob/main/docs/usage.md"

DATE_FIELD = {
    "type": "string",
    "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$",
    "pattern_descriptor": "YYYY-MM-DD",
    "format": "date",
}

SHARED_PROPERTIES: Dict[str, Any] = {
    "start_date": {
        **DATE_FIELD,
        "title": "Start date",
        "description": (
            "The first statistics day to sync. Default: 30 days before the latest finished day. "
            "A start older than a vendor keeps is moved up to its oldest day, with a warning."
        ),
        "examples": ["2026-06-01"],
        "order": 0,
    },
    "end_date": {
        **DATE_FIELD,
        "title": "End date",
        "description": (
            "The last statistics day to sync. Default and upper bound: the latest finished period "
            "in each API's own time zone; a later date is clamped, one older than a vendor keeps is an error."
        ),
        "examples": ["2026-06-30"],
        "order": 1,
    },
    "lookback_days": {
        "type": "integer",
        "title": "Lookback days",
        "description": ("An incremental sync re-reads this many already-synced days, to pick up late corrections."),
        "minimum": 0,
        "maximum": 180,
        "default": 1,
        "order": 2,
    },
}


def history_note(vendors: Sequence[Vendor]) -> str:
    """How long the vendors that keep less than all history keep it, e.g. `` (<Vendor> keeps 180 days)``."""
    kept = [f"{vendor.identity.title} keeps {vendor.history_days} days" for vendor in vendors if vendor.history_days is not None]
    return f" ({'; '.join(kept)})" if kept else ""


def connection_specification(vendors: Sequence[Vendor]) -> Mapping[str, Any]:
    properties: Dict[str, Any] = dict(SHARED_PROPERTIES)
    note = history_note(vendors)
    for name in ("start_date", "end_date"):
        field = properties[name]
        properties[name] = {**field, "description": field["description"].replace("than a vendor keeps", f"than a vendor keeps{note}")}
    for position, vendor in enumerate(vendors, start=len(SHARED_PROPERTIES)):
        # Every section is optional, and Airbyte's form folds optional fields away under "Optional
        # fields": always_show keeps each vendor's section in sight, where a user looks for it.
        properties[vendor.identity.key] = {**vendor.spec(), "order": position, "always_show": True}
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": "Usage Spec",
        "type": "object",
        "description": "Fill in the section of each vendor to sync; leave out the others.",
        "required": [],
        "properties": properties,
    }


def specification(vendors: Sequence[Vendor]) -> ConnectorSpecification:
    return ConnectorSpecification(
        documentationUrl=DOCUMENTATION_URL,
        connectionSpecification=dict(connection_specification(vendors)),
    )

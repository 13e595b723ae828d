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
            "A vendor that keeps less history (Jiandaoyun: 180 days) moves an older start up, with a warning."
        ),
        "examples": ["2026-06-01"],
        "order": 0,
    },
    "end_date": {
        **DATE_FIELD,
        "title": "End date",
        "description": (
            "The last statistics day to sync. Default and upper bound: the latest finished period "
            "in each API's own time zone; a later date is clamped."
        ),
        "examples": ["2026-06-30"],
        "order": 1,
    },
    "lookback_days": {
        "type": "integer",
        "title": "Lookback days",
        "description": (
            "An incremental sync re-reads this many already-synced days, to pick up late corrections."
        ),
        "minimum": 0,
        "maximum": 180,
        "default": 1,
        "order": 2,
    },
}


def connection_specification(vendors: Sequence[Vendor]) -> Mapping[str, Any]:
    properties: Dict[str, Any] = dict(SHARED_PROPERTIES)
    for position, vendor in enumerate(vendors, start=len(SHARED_PROPERTIES)):
        properties[vendor.identity.key] = {**vendor.spec(), "order": position}
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

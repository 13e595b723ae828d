"""Builders of the Jiandaoyun unit tests: a valid Jiandaoyun config and its key and host."""

from __future__ import annotations

from typing import Any, Dict

SECRET = "jdy-SECRET-key-0123456789"
BASE_URL = "https://api.jiandaoyun.test"


def jiandaoyun_config(**overrides: Any) -> Dict[str, Any]:
    section = {"api_key": SECRET, "base_url": BASE_URL, "requests_per_second": 16}
    section.update(overrides.pop("jiandaoyun", {}))
    config = {"start_date": "2026-06-08", "end_date": "2026-06-09", "lookback_days": 0, "jiandaoyun": section, **overrides}
    return {key: value for key, value in config.items() if value is not None}

"""Workato's config section as users meet it: its own fields (time zone, external and workspace
ids) and their sentences. The rules every vendor shares are tested on the toy vendor
(``test_config_and_spec.py``, ``test_config_errors.py``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict

import pytest

from source_usage import SourceUsage
from unit_tests.test_config_errors import Files, check_message, run, the_config_error

SOURCE = SourceUsage()
NOT_IANA = "must be an IANA time zone name such as America/Los_Angeles."


def workato_config(**section: Any) -> Dict[str, Any]:
    return {"start_date": "2026-06-08", "end_date": "2026-06-09", "lookback_days": 0, "workato": {"api_token": "a-token", **section}}


def test_a_bad_workato_time_zone_is_named_after_the_shared_checks_in_one_message(tmp_path: Path) -> None:
    files = Files(tmp_path)
    config = {
        **workato_config(timezone="Mars/Olympus_Mons", base_url="http://api.workato.example"),
        "start_date": "2026-02-30",
        "lookback_days": -1,
    }
    expected = (
        "'lookback_days' must be at least 0. "
        "'start_date' is not a real calendar date (YYYY-MM-DD). "
        "'workato.base_url' must use https (plain http is allowed only for localhost). "
        f"'workato.timezone' {NOT_IANA}"
    )
    assert check_message(config, files, SOURCE) == expected
    assert the_config_error(run("read", config, files, source=SOURCE)) == expected


@pytest.mark.parametrize(
    "section, sentence",
    [
        ({"timezone": "localtime"}, f"'workato.timezone' {NOT_IANA}"),
        ({"timezone": "posixrules"}, f"'workato.timezone' {NOT_IANA}"),
        ({"external_ids": [""]}, "'workato.external_ids.0' must not be empty."),
        ({"workspace_ids": [7, -1]}, "'workato.workspace_ids.1' must be at least 1."),
        ({"workspace_ids": [0]}, "'workato.workspace_ids.0' must be at least 1."),
    ],
)
def test_a_workato_zone_or_id_it_cannot_use_is_a_config_error_naming_the_field(
    section: Dict[str, Any], sentence: str, tmp_path: Path
) -> None:
    assert check_message(workato_config(**section), Files(tmp_path), SOURCE) == sentence

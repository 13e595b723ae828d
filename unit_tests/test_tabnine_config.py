"""Tabnine's config section as users meet it. The rules every vendor shares are tested on the
toy vendor (``test_config_and_spec.py``, ``test_config_errors.py``)."""

from __future__ import annotations

from source_usage import SourceUsage
from source_usage.vendors.tabnine import Tabnine
from unit_tests.conftest import Sleeps


def test_tabnine_keeps_all_history_so_an_old_end_date_is_accepted(clock: Sleeps) -> None:
    assert Tabnine.history_days is None
    SourceUsage().validate({"start_date": "2019-01-01", "end_date": "2020-01-01", "tabnine": {"api_token": "a-token"}})


def test_the_tabnine_token_is_described_as_an_admins_personal_access_token_with_the_scopes_it_needs() -> None:
    spec = SourceUsage().spec(None).connectionSpecification  # type: ignore[arg-type]
    assert spec["properties"]["tabnine"]["properties"]["api_token"]["description"] == (
        "A personal access token from Admin > Settings > Access Tokens. Any Tabnine user can create one, with the "
        "scopes chosen when creating it: create it as a user with the Admin role (the usage API is for admins) and "
        "give it the scopes of what this reads: the organisation, teams, users, invitations, license, roles and usage. A token "
        "without them gets HTTP 403 (insufficient permissions)."
    )

"""The account: the organisation (whose id every usage request names) and the license."""

from __future__ import annotations

from typing import Any, Iterable, List, Mapping, Optional

import requests
from airbyte_cdk.models import SyncMode
from airbyte_cdk.sources.streams.core import StreamData

from source_usage.core.errors import answer_error, json_body
from source_usage.core.once import FetchedOnce
from source_usage.core.values import epoch_utc
from source_usage.core.vendor import Connection
from source_usage.vendors.tabnine.common import LICENSE_PATH, ORGANIZATION_PATH, TabnineEndpoint


class OrganizationLookup(FetchedOnce[Mapping[str, Any]]):
    """The organisation, fetched once a sync."""

    def organization_id(self) -> str:
        return str(self.get()["id"])


class TabnineOrganization(TabnineEndpoint):
    """``tabnine_organization``: the organisation and its high-level settings, one record.

    The usage streams need the organisation's id too; all read the one answer that
    :class:`OrganizationLookup` fetches through this stream, so a sync asks once.
    """

    name = "tabnine_organization"
    primary_key = "id"
    endpoint = ORGANIZATION_PATH

    def __init__(self, connection: Connection) -> None:
        super().__init__(connection)
        self.lookup = OrganizationLookup(self.fetch)

    def malformed(self, body: Any) -> Optional[str]:
        if not isinstance(body, dict) or not body.get("id"):
            return "no organisation 'id'"
        return None

    def parse_response(self, response: requests.Response, **kwargs: Any) -> Iterable[Mapping[str, Any]]:
        yield json_body(response)

    def fetch(self) -> Mapping[str, Any]:
        """The organisation object, read over HTTP (this stream's retries, errors and timeouts)."""
        for record in super().read_records(SyncMode.full_refresh, stream_slice={}):
            if isinstance(record, Mapping):
                return record
        raise answer_error(f"Tabnine {ORGANIZATION_PATH} answered without an organisation.")

    def read_records(
        self,
        sync_mode: SyncMode,
        cursor_field: Optional[List[str]] = None,
        stream_slice: Optional[Mapping[str, Any]] = None,
        stream_state: Optional[Mapping[str, Any]] = None,
    ) -> Iterable[StreamData]:
        yield self.lookup.get()


def license_time(value: Any, field: str) -> Optional[str]:
    """A license time (epoch seconds, as documented, or milliseconds) in UTC; null when absent. A
    number that is neither fails, naming ``field``: a null would read as "no expiry"."""
    try:
        return epoch_utc(value)
    except ValueError:
        raise answer_error(
            f"Tabnine {LICENSE_PATH} answered '{field}' = {value!r}, neither epoch seconds nor milliseconds: "
            "the license's times cannot be read; report it to Tabnine."
        ) from None


class TabnineLicense(TabnineEndpoint):
    """``tabnine_license``: the license, one record: the ``license`` object whole, plus
    ``issued_at`` and ``expires_at`` from its ``iat`` and ``exp`` in UTC (epoch seconds, as
    documented, or milliseconds, told apart by magnitude)."""

    name = "tabnine_license"
    primary_key = "iat"
    endpoint = LICENSE_PATH
    data_fields = ("license",)

    def malformed(self, body: Any) -> Optional[str]:
        license_ = body.get("license") if isinstance(body, dict) else None
        if not isinstance(license_, dict):
            return "no 'license' object"
        iat = license_.get("iat")
        if isinstance(iat, bool) or not isinstance(iat, (int, float)):
            return "no 'license.iat' (epoch seconds)"
        return None

    def parse_response(self, response: requests.Response, **kwargs: Any) -> Iterable[Mapping[str, Any]]:
        license_: Mapping[str, Any] = json_body(response)["license"]
        issued, expires = license_time(license_.get("iat"), "license.iat"), license_time(license_.get("exp"), "license.exp")
        yield {**license_, "issued_at": issued, "expires_at": expires}

"""What every Tabnine stream shares: the vendor's identity, its paths, its reading of a 404, and
the base of its full-refresh endpoints."""

from __future__ import annotations

from typing import Any, Callable, Optional, Protocol

import requests
from airbyte_cdk.models import FailureType
from airbyte_cdk.sources.streams.http.error_handlers.response_models import ErrorResolution

from source_usage.core.errors import UsageErrorHandler, fail
from source_usage.core.streams import UsageStream
from source_usage.core.vendor import VendorIdentity

IDENTITY = VendorIdentity(key="tabnine", title="Tabnine", credentials_field="api_token")
TIMEZONE = "UTC"  # usage buckets and months are counted in UTC
DEFAULT_BASE_URL = "https://console.tabnine.com"
PAGE_SIZE = 100

ORGANIZATION_PATH = "api/v1/organization"
TEAMS_PATH = "api/v1/organization/teams"
USERS_PATH = "api/v1/organization/users"
INVITATIONS_PATH = "api/invitation/v1"
ACCOUNT_UTILIZATIONS_PATH = "api/v1/organization/account-utilizations"
LICENSE_PATH = "api/v1/license"
PERMISSIONS_PATH = "api/v1/instance/permissions"
USAGE_V2_PATH = "api/v2/organization/usage"
USAGE_V1_PATH = "api/v1/organization/usage"
USER_USAGE_PATH = "api/v2/user/usage"
TEAM_USAGE_PATH = "api/v2/team/usage"
AGENT_USAGE_PATH = "api/v1/organization/agent-usage"
USER_AGENT_USAGE_PATH = "api/v1/user/agent-usage"
TEAM_AGENT_USAGE_PATH = "api/v1/team/agent-usage"

#: How a private installation with the wrong host (or a path Tabnine does not serve) looks.
WRONG_HOST_HINT = "the host in tabnine.base_url may be wrong (a private installation serves the console on its own host)"


class PathFallback(Protocol):
    """Which of two paths an endpoint is read on (see ``usage.UsagePathFallback``)."""

    path: str

    def resolution(self, response: requests.Response) -> Optional[ErrorResolution]: ...


class TabnineErrorHandler(UsageErrorHandler):
    """Tabnine's 404s, before the shared HTTP-status mapping.

    Every path used here exists on every supported server, so a 404 means the host is not a
    Tabnine console (``missing``: what else it may mean for a newer endpoint), except where the
    stream reads it first: ``tolerated``, a 404 or 403 the stream handles itself (IGNOREd, so
    that the stream sees it), and ``fallback``, whose first path's 404 switches to the second.
    """

    def __init__(
        self,
        *args: Any,
        tolerated: Optional[Callable[[requests.Response], Optional[ErrorResolution]]] = None,
        fallback: Optional[PathFallback] = None,
        missing: str = WRONG_HOST_HINT,
        **kwargs: Any,
    ) -> None:
        self.tolerated = tolerated
        self.fallback = fallback
        self.missing = missing
        super().__init__(*args, **kwargs)
        self._endpoint = self.endpoint

    @property
    def endpoint(self) -> str:
        return self.fallback.path if self.fallback is not None else self._endpoint

    @endpoint.setter
    def endpoint(self, value: str) -> None:
        self._endpoint = value

    def vendor_resolution(self, response: requests.Response) -> Optional[ErrorResolution]:
        if self.tolerated is not None and (tolerated := self.tolerated(response)):
            return tolerated
        if response.status_code != 404:
            return None
        if self.fallback is not None and (resolution := self.fallback.resolution(response)):
            return resolution
        return fail(f"Tabnine answered 404 for {self.endpoint}: {self.missing}.", FailureType.config_error)


class TabnineEndpoint(UsageStream):
    """A full-refresh Tabnine endpoint, with Tabnine's reading of a 404.

    Deliberately not resumable (``is_resumable`` is what the catalog tells the platform, and what
    picks the CDK's checkpoint reader). A resumable full refresh ends with the state
    ``{"__ab_full_refresh_sync_complete": true}``, and a caller that hands that state to the next
    sync (PyAirbyte does) then gets no records at all, so seats and teams would silently go stale.
    These endpoints are a few pages: every sync reads them whole.
    """

    error_handler_class = TabnineErrorHandler

    @property
    def is_resumable(self) -> bool:
        return False

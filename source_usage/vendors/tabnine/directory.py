"""The directory: teams, users, pending invitations, and who holds which role.

Teams, users and invitations are paged listings of ``{data, meta}`` with ``offset``/``limit``:
teams and users answer ``meta.next`` as ``{limit, offset}``, invitations as the next offset
itself (an integer); null on the last page. The teams and users are each listed once a sync and
shared with the per-team and per-user usage streams, which ask for one request per listed id.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import chain
from typing import Any, Dict, Iterable, List, Mapping, MutableMapping, Optional, Sequence, Type

import requests
from airbyte_cdk.models import SyncMode
from airbyte_cdk.sources.streams.core import StreamData

from source_usage.core.errors import UsageErrorHandler, answer_error, json_body, list_problem
from source_usage.core.once import FetchedOnce
from source_usage.core.paging import NextOffsetNumberPager, NextOffsetPager, Pager
from source_usage.core.vendor import Connection
from source_usage.vendors.tabnine.account import OrganizationLookup
from source_usage.vendors.tabnine.common import (
    INVITATIONS_PATH,
    PAGE_SIZE,
    PERMISSIONS_PATH,
    TEAMS_PATH,
    USERS_PATH,
    WRONG_HOST_HINT,
    TabnineEndpoint,
    TabnineErrorHandler,
)

#: The four listings of ``/api/v1/organization/users`` that together hold every user: in a team or
#: not, active or deactivated. Seed 003 marks both flags required; the newer spec makes them
#: optional but does not say what a server filters by when they are left out. Always asking the
#: four costs three requests a sync more than one unfiltered listing (users are a few pages), and
#: never depends on a default filter that could leave deactivated or teamless users out silently.
USER_LISTINGS: Sequence[Mapping[str, str]] = tuple(
    {"teamMember": team_member, "active": active} for team_member in ("true", "false") for active in ("true", "false")
)

#: The roles ``GET /api/v1/instance/permissions?role=`` is asked for, one request each (seed 003
#: lists the endpoint; the newer spec's roles are Member, TeamLead, Manager and Admin, and every
#: user not listed under one of these three is a Member).
PERMISSION_ROLES = ("Admin", "Manager", "TeamLead")


@dataclass(frozen=True)
class Listing:
    """One paged listing: its stream, its path, how its answers name the next page, and what a 404
    there may mean besides a wrong host."""

    stream: str
    path: str
    pager: Type[NextOffsetPager] = NextOffsetPager
    missing: str = WRONG_HOST_HINT


TEAMS = Listing("tabnine_teams", TEAMS_PATH)
USERS = Listing("tabnine_users", USERS_PATH)
#: Pending invitations (``GET /api/invitation/v1``, 6.2 spec): ``offset`` and ``limit`` required,
#: ``meta.next`` the next offset itself. A server that predates the endpoint answers 404.
INVITATIONS = Listing(
    "tabnine_invitations",
    INVITATIONS_PATH,
    pager=NextOffsetNumberPager,
    missing=(
        "the server may predate the invitations API (Tabnine 6.2): deselect tabnine_invitations; or "
        + WRONG_HOST_HINT
    ),
)


class ListingOnce(FetchedOnce[List[Mapping[str, Any]]]):
    """Every record of a listing (teams, users), read on first use and then shared by the listing's
    own stream and the usage streams that ask for one request per listed id: one listing a sync.
    The records are held for the sync (a few hundred bytes each)."""

    def ids(self) -> List[str]:
        """The listed ids, in listing order (each once: the listing's key guard saw to it)."""
        return [str(record["id"]) for record in self.get()]


class TabnineListing(TabnineEndpoint):
    """``tabnine_teams``, ``tabnine_invitations`` (and, with its own reading, ``tabnine_users``): one
    record per listed object, kept whole, keyed by ``id``. The listing is read once a sync
    (:class:`ListingOnce`) and the stream emits the shared records."""

    primary_key = "id"
    items_field = "data"

    def __init__(self, connection: Connection, listing: Listing) -> None:
        self.listed = listing
        self.endpoint = listing.path
        super().__init__(connection)
        self.listing = ListingOnce(self.fetch_listing)

    @property
    def name(self) -> str:
        return self.listed.stream

    def make_error_handler(self) -> UsageErrorHandler:
        handler = super().make_error_handler()
        assert isinstance(handler, TabnineErrorHandler)
        handler.missing = self.listed.missing
        return handler

    def new_pager(self) -> Pager:
        return self.listed.pager(self.where, size=PAGE_SIZE)

    def malformed(self, body: Any) -> Optional[str]:
        return list_problem(body, "data") or self.pager.problem(body)

    def parse_response(self, response: requests.Response, **kwargs: Any) -> Iterable[Mapping[str, Any]]:
        yield from json_body(response)["data"]

    def fetch_listing(self) -> List[Mapping[str, Any]]:
        return [record for record in self.list_records() if isinstance(record, Mapping)]

    def list_records(self) -> Iterable[StreamData]:
        """The listing over HTTP, each key once (this stream's retries, errors and timeouts)."""
        return super().read_records(SyncMode.full_refresh, stream_slice={})

    def read_records(
        self,
        sync_mode: SyncMode,
        cursor_field: Optional[List[str]] = None,
        stream_slice: Optional[Mapping[str, Any]] = None,
        stream_state: Optional[Mapping[str, Any]] = None,
    ) -> Iterable[StreamData]:
        yield from self.listing.get()


class TabnineUsers(TabnineListing):
    """``tabnine_users``: one record per user, active and deactivated, in a team or not; the user
    ids of ``tabnine_user_usage`` and ``tabnine_user_agent_usage``.

    Read through the four :data:`USER_LISTINGS`, each paged, and always with ``organizationId``:
    the specs do not list it, but a Tabnine engineer's notes report the live endpoint answering 400
    "Validation Error" without it. A record is the user as sent; ``active`` and ``teamMember``
    are added from the listing that served the user only where the object lacks them (the newer
    User has no ``active``), so what the server states in the object always wins.
    """

    def __init__(self, connection: Connection, organization: OrganizationLookup) -> None:
        self.organization = organization
        #: The listing that served each user id in this read, e.g. ``teamMember=true&active=false``.
        self.listed_under: Dict[Any, str] = {}
        #: Why the users' ``active`` and ``teamMember`` cannot be told (a server that ignores the
        #: listings' filters), or ``None``: it fails this stream only, not those that need the ids.
        self.flags_unknown: Optional[str] = None
        super().__init__(connection, USERS)

    def list_records(self) -> Iterable[StreamData]:
        self.listed_under, self.flags_unknown = {}, None
        listings = (self.read_request(SyncMode.full_refresh, None, listing, None) for listing in USER_LISTINGS)
        # One guard for the four listings: each user once.
        return self.admitted(chain.from_iterable(listings), self.key_guard())

    def read_records(
        self,
        sync_mode: SyncMode,
        cursor_field: Optional[List[str]] = None,
        stream_slice: Optional[Mapping[str, Any]] = None,
        stream_state: Optional[Mapping[str, Any]] = None,
    ) -> Iterable[StreamData]:
        users = self.listing.get()
        if self.flags_unknown is not None:
            raise answer_error(self.flags_unknown)
        yield from users

    def request_params(
        self,
        stream_state: Optional[Mapping[str, Any]],
        stream_slice: Optional[Mapping[str, Any]] = None,
        next_page_token: Optional[Mapping[str, Any]] = None,
    ) -> MutableMapping[str, Any]:
        params = super().request_params(stream_state, stream_slice, next_page_token)
        return {**params, "organizationId": self.organization.organization_id(), **(stream_slice or {})}

    def parse_response(self, response: requests.Response, **kwargs: Any) -> Iterable[Mapping[str, Any]]:
        listing: Mapping[str, str] = kwargs.get("stream_slice") or {}
        for user in json_body(response)["data"]:
            self.check_listed_once(user, listing)
            stated = {flag: value == "true" for flag, value in listing.items()}
            yield {**stated, **user}

    def check_listed_once(self, user: Mapping[str, Any], listing: Mapping[str, str]) -> None:
        """A user served by two different listings fails this stream (when it is read): the
        ``active`` and ``teamMember`` taken from the first would be a guess (a server that
        ignores the filters serves every user in every listing). The ids are known all the same,
        each once (the key guard leaves out the repeats), so the streams that need only them
        read on. The same listing serving a user twice (a page repeated) is the key guard's alone."""
        label = "&".join(f"{flag}={value}" for flag, value in listing.items())
        if user.get("id") is None:
            return  # the key guard names the missing field
        first = self.listed_under.setdefault(user["id"], label)
        if first != label and self.flags_unknown is None:
            self.flags_unknown = (
                f"{self.where} listed user '{user['id']}' under {first} and again under {label}: the server does "
                "not filter users by teamMember and active as documented (or the user changed during the sync), so "
                "whether each user is active and in a team cannot be told. Retry the sync; if it fails again, report it to Tabnine. "
                "The streams that need only the user ids (tabnine_user_usage, tabnine_user_agent_usage) are not affected."
            )


class TabninePermissions(TabnineEndpoint):
    """``tabnine_permissions``: one record per user holding one of :data:`PERMISSION_ROLES`, one
    request per role (``GET /api/v1/instance/permissions?role=``), the items as sent
    (``{username, organizationId}``) with the ``role`` asked for."""

    name = "tabnine_permissions"
    primary_key = ["role", "username"]
    endpoint = PERMISSIONS_PATH

    def stream_slices(self, **kwargs: Any) -> Iterable[Optional[Mapping[str, Any]]]:
        for role in PERMISSION_ROLES:
            yield {"role": role}

    def request_params(
        self,
        stream_state: Optional[Mapping[str, Any]],
        stream_slice: Optional[Mapping[str, Any]] = None,
        next_page_token: Optional[Mapping[str, Any]] = None,
    ) -> MutableMapping[str, Any]:
        assert stream_slice is not None
        return {"role": stream_slice["role"]}

    def malformed(self, body: Any) -> Optional[str]:
        # Documented as a bare list; an enveloped {"data": [...]} is read the same way.
        if isinstance(body, dict):
            return list_problem(body, "data")
        if not isinstance(body, list):
            return "not a list of users"
        index = next((index for index, item in enumerate(body) if not isinstance(item, dict)), None)
        return None if index is None else f"item {index} is not an object"

    def parse_response(self, response: requests.Response, **kwargs: Any) -> Iterable[Mapping[str, Any]]:
        role = (kwargs.get("stream_slice") or {})["role"]
        body = json_body(response)
        items: List[Mapping[str, Any]] = body["data"] if isinstance(body, dict) else body
        for item in items:
            yield {**item, "role": role}

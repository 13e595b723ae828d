"""What a vendor module exports, so that the source finds it without a hand-kept list.

A module in :mod:`source_usage.vendors` that defines ``VENDOR = SomeVendor()`` is a vendor: its
config section appears in the spec, its streams in ``discover`` when the section is present, and
``check`` reads the first record of its :meth:`Vendor.check_stream`. Adding a vendor is adding a
module (or, for a vendor that does not ship, passing it to ``SourceUsage(vendors=...)``).

A vendor is known to everything that talks to it by one :class:`VendorIdentity`; streams reach it
through one :class:`Connection` (identity, host, credentials, budget, retries and timeouts).
"""

from __future__ import annotations

import logging
import re
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar, Dict, List, Mapping, Optional, Tuple
from urllib.parse import urlsplit

from airbyte_cdk.sources.streams import Stream
from airbyte_cdk.sources.streams.call_rate import APIBudget
from airbyte_cdk.sources.streams.http.requests_native_auth import TokenAuthenticator
from requests.auth import AuthBase

from source_usage.core.budget import EndpointLimit, PacingBudget
from source_usage.core.pool import AdaptiveLimit, VendorPool
from source_usage.core.progress import ProgressOptions
from source_usage.core.settings import SharedSettings
from source_usage.core.vendor_clock import VendorClock

logger = logging.getLogger("airbyte")


@dataclass(frozen=True)
class VendorIdentity:
    """Who a vendor is, in every message about it."""

    #: The config section, e.g. ``acme``; stream names start with it.
    key: str
    #: The vendor's name as users know it, e.g. ``Acme``.
    title: str
    #: The field of the section that holds the credentials, e.g. ``api_key``.
    credentials_field: str

    @property
    def credentials_hint(self) -> str:
        """The config field to fix when the vendor rejects the credentials, e.g. ``acme.api_key``."""
        return f"{self.key}.{self.credentials_field}"

    @property
    def base_url_field(self) -> str:
        return f"{self.key}.base_url"


@dataclass(frozen=True)
class HttpOptions:
    """How hard and how long a request tries (seconds; see :mod:`source_usage.core.limits`)."""

    max_retries: int = 5
    #: (connect, read) socket timeouts, for each socket operation. The slowest server-side timeout
    #: a vendor here documents is 40 s.
    timeout: Tuple[float, float] = (10.0, 60.0)
    #: One attempt in all: connect, headers and the whole body (a trickling server ends here).
    deadline: float = 90.0
    #: The waits between a request's attempts (``Retry-After``, backoff), in all.
    max_wait: float = 300.0
    #: A request with all its attempts and waits.
    max_time: float = 600.0
    #: Whether a stream reads its periods' requests through the vendor's pool, several at once
    #: (``core.pool``); ``check`` reads one record and must not send requests it will not read.
    read_ahead: bool = True
    #: The plan and progress lines of a period stream (``core.progress``); ``None``: none, as
    #: for ``check``, which reads one record of a one-period plan.
    progress: Optional[ProgressOptions] = field(default_factory=ProgressOptions)


#: ``check`` must answer within 30 s: one retry, short timeouts, and at most 21 s in all (two
#: attempts of 8 s and the CDK's 1 s between take 17 s), which leaves the process's own start-up
#: (importing the CDK takes 2-3.5 s on an idle 2-core machine, several times that on a busy one:
#: CI once saw a 25 s check take 33 s) its margin.
CHECK_HTTP = HttpOptions(max_retries=1, timeout=(5.0, 8.0), deadline=8.0, max_wait=5.0, max_time=21.0, read_ahead=False, progress=None)


@dataclass(frozen=True)
class Connection:
    """How the streams of one vendor reach it. One object per vendor and sync, shared by its
    streams, so a budget that spans endpoints holds across them."""

    identity: VendorIdentity
    base_url: str
    authenticator: Optional[AuthBase] = None
    budget: Optional[APIBudget] = None
    http: HttpOptions = field(default_factory=HttpOptions)
    #: At most this many requests of the vendor are on the wire at once, over all its streams
    #: (the budget says how many may *start* per window; this bounds how many wait for answers):
    #: the ceiling of ``limit``, and the pool's worker threads.
    requests_in_flight: int = 1
    #: How many attempts may be on the wire now, taken by each one (``core.limits.DeadlineAdapter``)
    #: and adapted to the vendor's answers (``core.pool.AdaptiveLimit``).
    limit: AdaptiveLimit = field(init=False, repr=False, compare=False)
    #: The worker threads that read the request slices of every stream of the vendor (``core.pool``).
    pool: VendorPool = field(init=False, repr=False, compare=False)
    #: The vendor's own time, from its answers' ``Date`` headers (``core.vendor_clock``).
    clock: VendorClock = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        limit = AdaptiveLimit(self.requests_in_flight)
        object.__setattr__(self, "limit", limit)
        object.__setattr__(self, "pool", VendorPool(self.identity.title, self.requests_in_flight, limit))
        object.__setattr__(self, "clock", VendorClock(self.identity.title))

    @property
    def limits(self) -> Tuple[EndpointLimit, ...]:
        """The published limits the budget paces to (none without a budget)."""
        return tuple(policy.limit for policy in self.budget.paced) if isinstance(self.budget, PacingBudget) else ()

    def limit_for(self, endpoint: str, method: str = "GET") -> Optional[EndpointLimit]:
        """The limit a request to ``endpoint`` counts against: the first that matches its path and
        method, as the budget picks its policy (``None``: no published limit)."""
        path = urlsplit(self.base_url.rstrip("/") + "/" + endpoint.lstrip("/")).path
        for limit in self.limits:
            if (limit.method is None or limit.method.upper() == method.upper()) and re.search(limit.path_pattern, path):
                return limit
        return None


class Vendor(ABC):
    """One vendor: its config section, its checks, its streams.

    Every method gets the vendor's config section with the spec's defaults already applied
    (``section["base_url"]`` is always set), so no vendor repeats a default.
    """

    identity: ClassVar[VendorIdentity]
    #: How many days of statistics the vendor keeps, counted back from today (``None``: no
    #: limit). An older start is moved up with a warning; an older ``end_date`` is a config error.
    history_days: ClassVar[Optional[int]] = None
    #: The time zone whose calendar ``history_days`` are counted in.
    history_timezone: ClassVar[str] = "UTC"
    #: Requests on the wire at once (:attr:`Connection.requests_in_flight`): enough to reach the
    #: vendor's rate limit when an answer takes a second.
    requests_in_flight: ClassVar[int] = 1

    @abstractmethod
    def spec(self) -> Mapping[str, Any]:
        """The JSON schema of the vendor's config section (titles, field order, secrets,
        defaults); the section's own place in the form comes from the vendor's position."""

    def problems(self, section: Mapping[str, Any]) -> List[str]:
        """Checks the JSON schema cannot express; one sentence per bad field. ``section`` holds
        only the fields the schema accepted (as given, no defaults), so each has its declared type."""
        return []

    @abstractmethod
    def streams(self, section: Mapping[str, Any], settings: SharedSettings, http: HttpOptions) -> List[Stream]:
        """The vendor's streams for a valid section."""

    @abstractmethod
    def check_stream(self, section: Mapping[str, Any], settings: SharedSettings, http: HttpOptions) -> Stream:
        """A stream whose first record proves host and credentials with one cheap request."""

    def section(self, config: Mapping[str, Any]) -> Optional[Dict[str, Any]]:
        """The vendor's section of a valid ``config`` with the spec's defaults filled in (a field
        set to null counts as unset); ``None`` when the config has no such section."""
        given = config.get(self.identity.key)
        if given is None:
            return None
        fields = self.spec().get("properties", {})
        defaults = {name: field["default"] for name, field in fields.items() if "default" in field}
        section = {**defaults, **{name: value for name, value in given.items() if value is not None}}
        return {name: self._once_each(name, value) for name, value in section.items()}

    def _once_each(self, field: str, value: Any) -> Any:
        """A list of ids with each id once: an id named twice would be read, and counted, twice."""
        if not isinstance(value, list) or not all(isinstance(item, (str, int)) for item in value):
            return value
        unique = list(dict.fromkeys(value))
        if len(unique) < len(value):
            logger.warning(f"'{self.identity.key}.{field}' names {len(value) - len(unique)} ids more than once; each is read once.")
        return unique

    def connection(
        self, section: Mapping[str, Any], http: HttpOptions, budget: Optional[APIBudget] = None, in_flight: Optional[int] = None
    ) -> Connection:
        """The vendor reached at ``base_url`` with the section's credentials sent as a Bearer token.

        The token is trimmed: a key pasted with a trailing newline or spaces would otherwise be an
        invalid header, and requests quotes an invalid header's value, key included, in its error.
        """
        token = str(section[self.identity.credentials_field]).strip()
        in_flight = self.requests_in_flight if in_flight is None else in_flight
        return Connection(self.identity, str(section["base_url"]), TokenAuthenticator(token=token), budget, http, in_flight)

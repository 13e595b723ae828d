"""The emulator's shared core: HTTP server, routing, auth, rate limiting, faults, request log.

A vendor is a module of this package that exports ``VENDOR``, a :class:`VendorEmulator`
subclass. It declares its routes, its own error bodies (bad key, too fast) and its rate
limits; everything else (parsing, the Bearer check, sliding windows, fault injection, the log)
lives here, so adding a vendor is adding one module. It also tells the shared tests and tools
what they need to know of it (its connector config section, the sizes they run it at, what a
sync of it reads), so that none of them lists vendors. A vendor defined elsewhere (a test's
own) joins with ``Emulator(extra_vendors=[...])``.

Data is never stored: vendors derive every value from ``stable_int(seed, ...)`` when asked,
so a 100,000-record scenario costs nothing until a page of it is served.
"""

from __future__ import annotations

import email.utils
import hashlib
import importlib
import json
import pkgutil
import re
import select
import socket
import ssl
import struct
import threading
import time
from collections import deque
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta, timezone, tzinfo
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, ClassVar, Deque, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple, Type
from urllib.parse import parse_qs, urlsplit

# --------------------------------------------------------------------------- deterministic data


def stable_int(seed: int, *parts: Any) -> int:
    """A 64-bit integer that depends only on ``seed`` and ``parts`` (not on PYTHONHASHSEED)."""
    text = "\x1f".join([str(seed), *map(str, parts)])
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")


def stable_ints(count: int, seed: int, *parts: Any) -> List[int]:
    """``count`` 32-bit integers from one hash of ``seed`` and ``parts`` (cheaper than ``count`` hashes)."""
    text = "\x1f".join([str(seed), *map(str, parts)])
    digest = hashlib.blake2b(text.encode(), digest_size=4 * count).digest()
    return [int.from_bytes(digest[4 * i : 4 * i + 4], "big") for i in range(count)]


def stable_choice(options: Sequence[Any], seed: int, *parts: Any) -> Any:
    return options[stable_int(seed, *parts) % len(options)]


# --------------------------------------------------------------------------- requests and replies


@dataclass
class Request:
    method: str
    path: str
    query: Dict[str, List[str]]
    headers: Mapping[str, str]
    raw_body: bytes

    def param(self, name: str) -> Optional[str]:
        """The last value of a query parameter, or ``None``."""
        values = self.query.get(name)
        return values[-1] if values else None

    def json(self) -> Any:
        """The body as JSON; raises ``ValueError`` when it is not."""
        return json.loads(self.raw_body.decode("utf-8")) if self.raw_body.strip() else None


@dataclass
class Reply:
    status: int
    body: Any = None  # JSON-serialisable, or raw ``bytes`` sent as they are
    headers: Dict[str, str] = field(default_factory=dict)

    def encoded(self) -> bytes:
        if isinstance(self.body, bytes):
            return self.body
        # A lone surrogate (a truncated emoji) is sent as its JSON escape, "\\ud83d", as vendors send it.
        return json.dumps(self.body, ensure_ascii=False, separators=(",", ":")).encode("utf-8", errors="backslashreplace")


class ApiError(Exception):
    """Raised by a route handler to answer with the vendor's own error ``reply``."""

    def __init__(self, reply: Reply) -> None:
        super().__init__(f"HTTP {reply.status}: {reply.body!r}")
        self.reply = reply


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    handler: Callable[[Request], Reply]
    #: Names of the rate limits this request counts against (see ``VendorEmulator.rate_limit``).
    limits: Tuple[str, ...] = ()


@dataclass(frozen=True)
class Window:
    """At most ``calls`` requests in any ``seconds``-long window."""

    calls: int
    seconds: float


# --------------------------------------------------------------------------- the network


def check_latency(latency_ms: float, jitter_ms: float) -> None:
    """Refuses a round trip that could be negative: ``0 <= jitter_ms <= latency_ms``."""
    if latency_ms < 0 or jitter_ms < 0:
        raise ValueError(f"latency_ms and jitter_ms must be >= 0, not {latency_ms:g} and {jitter_ms:g}")
    if jitter_ms > latency_ms:
        raise ValueError(f"jitter_ms ({jitter_ms:g}) must not exceed latency_ms ({latency_ms:g}): a round trip is never negative")


def round_trip(latency_ms: float, jitter_ms: float, seed: int, number: int) -> float:
    """The round trip, in seconds, of the emulator's ``number``-th request: ``latency_ms`` plus an
    offset spread evenly over ``[-jitter_ms, +jitter_ms]``, the same for the same seed and number."""
    if not jitter_ms:
        return latency_ms / 1000
    spread = stable_int(seed, "round trip", number) / 2**64  # in [0, 1)
    return (latency_ms + jitter_ms * (2 * spread - 1)) / 1000


#: The share of a round trip a request spends on its way to the vendor, before the vendor sees it
#: (and counts it against its limits); the rest is the answer's way back.
INBOUND_SHARE = 0.5


# --------------------------------------------------------------------------- vendors


class World:
    """What every vendor shares: the seed and the clock (overridable, so tests can pin "today",
    or run the vendors' clock ``clock_offset`` behind or ahead of the machine's, as a machine
    with a wrong clock sees a vendor). Every answer's ``Date`` header is this clock."""

    def __init__(self, seed: int = 1, now: Optional[datetime] = None, clock_offset: timedelta = timedelta(0)) -> None:
        self.seed = seed
        self.frozen_now = now
        self.clock_offset = clock_offset

    def now(self) -> datetime:
        return (self.frozen_now or datetime.now(timezone.utc)) + self.clock_offset


class VendorEmulator:
    """One vendor's API. Subclasses set ``name`` (also the connector's config section),
    ``Options`` (a dataclass with ``api_key``), ``streams`` (connector stream names it can give
    the ground truth of), and implement :meth:`routes`, :meth:`unauthorized`, :meth:`throttled`,
    :meth:`ground_truth` and :meth:`connector_section`.

    The class attributes below the first three are what shared tests and tools read instead of
    naming the vendor; each has a default that fits a vendor with nothing special about it.
    """

    name: ClassVar[str]
    Options: ClassVar[type]
    streams: ClassVar[Tuple[str, ...]] = ()

    #: The ``Options`` field that holds the key the emulator accepts (a test sets its own key there).
    key_option: ClassVar[str] = "api_key"
    #: The options a shared end-to-end test runs the vendor with: small, so a sync of a few days
    #: takes seconds, yet every stream yields records. Run with the emulator's limits off, so
    #: they also lift any limit the connector would otherwise pace itself to.
    e2e_options: ClassVar[Mapping[str, Any]] = {}
    #: Options under which a sync crosses the page boundaries of the vendor's paged lists (for a
    #: test of a destination: several pages, still quick with limits off).
    paged_options: ClassVar[Mapping[str, Any]] = {}
    #: The options of the demo (``tools/demo.py``), which runs with limits on.
    demo_options: ClassVar[Mapping[str, Any]] = {}
    #: Incremental streams whose cursor may not move in a sync of days that are over, because
    #: their period (a month) may still run; every other incremental stream's must.
    cursor_may_not_move: ClassVar[Tuple[str, ...]] = ()
    #: A daily usage stream of the vendor and the path its requests go to: where a shared test
    #: of how the connector reads answers (error envelopes, byte order marks, the vendor's clock)
    #: puts its faults.
    usage_stream: ClassVar[str] = ""
    usage_path: ClassVar[str] = ""
    #: A regular expression (``{day}``: an ISO date) that the query or body of a request of
    #: ``usage_path`` matches when it reads that day: a fault's ``carrying``, to fail one period.
    usage_day_pattern: ClassVar[str] = ""

    @property
    def usage_zone(self) -> str:
        """The zone the periods of ``usage_stream`` are days of (as the connector is configured)."""
        return "UTC"

    def __init__(self, world: World, latency_ms: Optional[float] = None, jitter_ms: Optional[float] = None, **options: Any) -> None:
        self.world = world
        self.options: Any = self.Options(**options)
        #: This vendor's round trip and jitter (ms); ``None``: the emulator's. Given among the
        #: vendor's options (``VENDOR={"latency_ms": 300}``, ``--VENDOR-latency-ms 300``), kept
        #: apart from ``Options`` since every vendor has them; may be changed at run time.
        self.latency_ms = latency_ms
        self.jitter_ms = jitter_ms

    @property
    def seed(self) -> int:
        return self.world.seed

    def with_options(self, **changes: Any) -> VendorEmulator:
        """A copy of this vendor in the same world with some options changed (e.g. another key,
        to write a config this one rejects)."""
        network = {"latency_ms": self.latency_ms, "jitter_ms": self.jitter_ms}
        return type(self)(self.world, **{**network, **asdict(self.options), **changes})

    def routes(self) -> List[Route]:
        raise NotImplementedError

    def unauthorized(self) -> Reply:
        """The vendor's answer to a missing or wrong key."""
        raise NotImplementedError

    def throttled(self, retry_after: float) -> Reply:
        """The vendor's answer to a request over its rate limit."""
        raise NotImplementedError

    def rate_limit(self, name: str) -> Optional[Window]:
        """The current window of limit ``name`` (``None``: unlimited). Read on every request,
        so changing ``options`` at run time takes effect at once."""
        return None

    def ground_truth(self, stream: str, **filters: Any) -> List[Dict[str, Any]]:
        """The records a correct sync of ``stream`` produces, in the connector's record shape.
        ``filters`` are the config section's fields (and ``start_date``/``end_date``); a vendor
        ignores those that do not change what a sync reads (keys, URLs, pace)."""
        raise NotImplementedError

    def connector_section(self, url: str) -> Dict[str, Any]:
        """The connector's config section (under :attr:`name`) that syncs this vendor served at
        ``url``: the key these options accept, the settings they imply (a time zone), and a
        pace at the vendor's rate limit in these options, or the connector's fastest when they
        set none. Fields that do not describe the emulator keep the connector's defaults."""
        raise NotImplementedError

    def requested_day(self, request: LoggedRequest) -> Optional[str]:
        """The day (``YYYY-MM-DD``) whose statistics a logged request of this vendor asks for,
        in the zone the vendor counts days in; ``None`` for a request not about one day (a list,
        a month). A vendor with daily incremental streams answers for their requests."""
        return None


def discover_vendors(extra: Sequence[Type[VendorEmulator]] = ()) -> Dict[str, Type[VendorEmulator]]:
    """Every ``VENDOR`` class exported by a module of this package, plus ``extra``, by vendor name."""
    package = importlib.import_module(__package__ or "emulator")
    found: Dict[str, Type[VendorEmulator]] = {}
    for module_info in pkgutil.iter_modules(package.__path__):
        if module_info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{package.__name__}.{module_info.name}")
        vendor = getattr(module, "VENDOR", None)
        if isinstance(vendor, type) and issubclass(vendor, VendorEmulator):
            found[vendor.name] = vendor
    for vendor in extra:
        if vendor.name in found and found[vendor.name] is not vendor:
            raise ValueError(f"two emulated vendors are named {vendor.name!r}")
        found[vendor.name] = vendor
    return dict(sorted(found.items()))


def vendor_options(
    pick: Callable[[Type[VendorEmulator]], Mapping[str, Any]],
    keys: Optional[Mapping[str, str]] = None,
    extra_vendors: Sequence[Type[VendorEmulator]] = (),
) -> Dict[str, Any]:
    """``Emulator`` keyword arguments giving every vendor the options ``pick`` chooses (e.g.
    ``lambda vendor: vendor.e2e_options``) and, when ``keys`` names it, that key."""
    options: Dict[str, Any] = {}  # typed as keyword arguments of ``Emulator`` are
    for name, cls in discover_vendors(extra_vendors).items():
        options[name] = {**pick(cls), **({cls.key_option: keys[name]} if keys and name in keys else {})}
    return options


# --------------------------------------------------------------------------- faults

#: ``http_500``: HTTP 500; ``http_429``: HTTP 429 with ``Retry-After`` (``retry_after`` seconds,
#: or ``retry_after_header`` as it is, e.g. an HTTP date); ``throttle``: the vendor's own
#: rate-limit answer (whatever status and body it uses); ``invalid_json``: a 200 whose body does not
#: parse; ``slow``: the real answer after ``delay`` seconds; ``trickle``: the real answer's status
#: and headers at once, then its body one byte every ``delay`` seconds; ``hang``: the request is
#: read and never answered, until the client goes away; ``drop``: the socket is closed without
#: an answer; ``reply``: a canned answer (``status`` and JSON ``body``, or its bytes as they are),
#: for codes and bodies the vendors' documents never mention; ``bom``: the real answer, its body
#: after a UTF-8 byte order mark (as some Windows-hosted gateways send it).
FAULT_KINDS = ("http_500", "http_429", "throttle", "invalid_json", "slow", "trickle", "hang", "drop", "reply", "bom")
#: Faults that change how the real answer is sent, not what it is.
_DELIVERY_FAULTS = ("slow", "trickle", "bom")


@dataclass
class Fault:
    """Fires on every ``every``-th request whose path contains ``path`` (all paths when empty)
    and whose query (``name=value&...``) or body matches the regular expression ``carrying`` (one
    period's requests: ``VendorEmulator.usage_day_pattern``), at most ``times`` times (``None``:
    without end)."""

    kind: str
    every: int = 1
    path: str = ""
    times: Optional[int] = None
    delay: float = 0.5  # for ``slow``, and between the bytes of ``trickle``
    retry_after: float = 1.0  # for ``http_429`` and ``throttle``
    retry_after_header: Optional[str] = None  # for ``http_429``: sent as it is, instead of ``retry_after``
    status: int = 500  # for ``reply``: answer with this status and ``body``
    body: Any = None
    carrying: str = ""
    #: The answer waits until the emulator has received this many requests on ``path`` (at
    #: most 30 s): requests sent after this one are on the wire when it is answered.
    held_until_received: int = 0
    seen: int = 0
    fired: int = 0

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; one of {', '.join(FAULT_KINDS)}")
        if self.every < 1:
            raise ValueError("every must be >= 1")

    def hit(self, path: str, content: str = "") -> bool:
        """Counts a request; whether this one gets the fault. Called under the faults lock."""
        if self.path not in path or (self.times is not None and self.fired >= self.times):
            return False
        if self.carrying and not re.search(self.carrying, content):
            return False
        self.seen += 1
        if self.seen % self.every:
            return False
        self.fired += 1
        return True


class Faults:
    """The fault switches, changeable while the server runs (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: List[Fault] = []

    def add(self, kind: str, every: int = 1, path: str = "", times: Optional[int] = None, **extra: Any) -> Fault:
        rule = Fault(kind=kind, every=every, path=path, times=times, **extra)
        with self._lock:
            self._rules.append(rule)
        return rule

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def pick(self, path: str, content: str = "") -> Optional[Fault]:
        """The first rule that fires for this request (every rule counts it); ``content``: its
        query and body, as text."""
        chosen = None
        with self._lock:
            for rule in self._rules:
                if rule.hit(path, content) and chosen is None:
                    chosen = rule
        return chosen


# --------------------------------------------------------------------------- rate limiting


class SlidingWindows:
    """Arrival times of admitted requests per limit name; a request is admitted when every
    limit it counts against has fewer than ``calls`` arrivals in the last ``seconds``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._arrivals: Dict[str, Deque[float]] = {}

    def admit(self, limits: Sequence[Tuple[str, Window]], arrival: float) -> Optional[float]:
        """``None`` when admitted (and recorded); else the seconds until a slot frees."""
        with self._lock:
            wait = 0.0
            for name, window in limits:
                arrivals = self._arrivals.setdefault(name, deque())
                while arrivals and arrivals[0] <= arrival - window.seconds:
                    arrivals.popleft()
                if len(arrivals) >= window.calls:
                    wait = max(wait, arrivals[len(arrivals) - window.calls] + window.seconds - arrival)
            if wait > 0:
                return wait
            for name, _ in limits:
                self._arrivals[name].append(arrival)
            return None

    def reset(self) -> None:
        with self._lock:
            self._arrivals.clear()


# --------------------------------------------------------------------------- request log


@dataclass(frozen=True)
class LoggedRequest:
    method: str
    path: str
    query: Dict[str, List[str]]
    body: Any  # parsed JSON, or the raw text when it is not JSON
    status: Optional[int]  # None: the connection was dropped
    time: float  # time.time() at arrival
    vendor: Optional[str]
    fault: Optional[str]
    # The emulator's own account of the request, on its monotonic clock (``time.monotonic()``), so
    # that a test proves order and overlap from what the server saw, not from a stopwatch bound:
    #: when the request was received whole (the client sent it);
    received: float = 0.0
    #: the round trip it was given (seconds: the latency, its jitter);
    round_trip: float = 0.0
    #: when the vendor saw it and counted it against its limits (``received`` + the inbound share);
    reached: float = 0.0
    #: when its answer was released (at the earliest ``received + round_trip``), or it was dropped.
    answered: float = 0.0


class RequestLog:
    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._entries: List[LoggedRequest] = []

    def append(self, entry: LoggedRequest) -> None:
        with self._lock:
            self._entries.append(entry)
            self._lock.notify_all()

    def wait_for(self, count: int, timeout: float = 30.0) -> bool:
        """Wait until ``count`` requests are logged (a request is logged once answered); whether
        they are."""
        with self._lock:
            return self._lock.wait_for(lambda: len(self._entries) >= count, timeout)

    def entries(self, path: str = "", vendor: Optional[str] = None) -> List[LoggedRequest]:
        """A copy of the log, oldest first, filtered by path substring and vendor."""
        with self._lock:
            return [e for e in self._entries if path in e.path and (vendor is None or e.vendor == vendor)]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)


# --------------------------------------------------------------------------- the server


class Emulator:
    """All vendors on one loopback port.

    ``Emulator(seed=3, rate_limits=False, VENDOR={...its options...}).start()`` serves until
    :meth:`stop`; ``vendor(name).options`` and ``faults`` may be changed while it runs.
    ``extra_vendors`` are served beside this package's vendors (a vendor a test defines).

    The network: every request's round trip is ``latency_ms`` plus or minus up to ``jitter_ms``
    (spread evenly, a function of the seed and the request's number, so a run is repeatable); a
    vendor's own ``latency_ms``/``jitter_ms`` options override them. The first
    :data:`INBOUND_SHARE` of it passes before the vendor sees the request: that moment is its
    arrival, when it is counted against the vendor's rate limits and answered; the rest passes
    before the answer is sent. So at a constant latency the vendor counts requests as the client
    sent them, one latency/2 later, and with jitter two requests sent one window apart may
    arrive up to ``jitter_ms`` closer, as over a real network. Requests in flight wait apart (a
    thread per connection), so they overlap; the ``slow`` fault's delay comes on top.
    """

    def __init__(
        self,
        seed: int = 1,
        now: Optional[datetime] = None,
        rate_limits: bool = True,
        host: str = "127.0.0.1",
        port: int = 0,
        extra_vendors: Sequence[Type[VendorEmulator]] = (),
        latency_ms: float = 0.0,
        jitter_ms: float = 0.0,
        clock_offset_seconds: float = 0.0,
        concurrency_limit: Optional[int] = None,
        over_concurrency: str = "429",
        tls: Optional[ssl.SSLContext] = None,
        **vendor_options: Mapping[str, Any],
    ) -> None:
        #: Served over HTTPS with this server context (its certificate chain), when given.
        self.tls = tls
        self.world = World(seed=seed, now=now, clock_offset=timedelta(seconds=clock_offset_seconds))
        check_latency(latency_ms, jitter_ms)
        #: Every vendor's round trip and its jitter (ms), unless the vendor sets its own.
        self.latency_ms = latency_ms
        self.jitter_ms = jitter_ms
        classes = discover_vendors(extra_vendors)
        unknown = set(vendor_options) - set(classes)
        if unknown:
            raise ValueError(f"unknown vendors: {', '.join(sorted(unknown))}")
        self.vendors: Dict[str, VendorEmulator] = {
            name: cls(self.world, **dict(vendor_options.get(name) or {})) for name, cls in classes.items()
        }
        self.routes: Dict[str, Dict[str, Tuple[VendorEmulator, Route]]] = {}
        for vendor in self.vendors.values():
            for route in vendor.routes():
                self.routes.setdefault(route.path, {})[route.method] = (vendor, route)
        for vendor in self.vendors.values():
            check_latency(*self.network(vendor))
        self.rate_limits_enabled = rate_limits
        #: Guards the numbering of received requests; notified at each (``wait_for_receipts``).
        self._numbering = threading.Condition()
        self._received = 0
        #: The path of every request received so far, in order, as soon as it is received (the
        #: log has a request once it is answered): a test waits for a request to be in flight.
        self.receipts: List[str] = []
        #: At most this many requests held at once (received, not yet answered); the others are
        #: refused as ``over_concurrency`` says (see ``_Handler._refuse_for_concurrency``).
        if over_concurrency not in OVER_CONCURRENCY:
            raise ValueError(f"unknown over_concurrency {over_concurrency!r}; one of {', '.join(OVER_CONCURRENCY)}")
        self.concurrency_limit = concurrency_limit
        self.over_concurrency = over_concurrency
        self._held = 0
        #: The most requests held at once so far.
        self.most_held = 0
        self._holding = threading.Lock()
        self.faults = Faults()
        self.windows = SlidingWindows()
        self.log = RequestLog()
        self._address = (host, port)
        self._server: Optional[ThreadingHTTPServer] = None
        self._thread: Optional[threading.Thread] = None
        #: Set by :meth:`stop`: a ``trickle`` or ``hang`` still serving ends.
        self.stopped = threading.Event()

    # -- life cycle

    def start(self) -> str:
        emulator = self
        self.stopped.clear()

        class Handler(_Handler):
            pass

        Handler.emulator = emulator
        self._server = _Server(self._address, Handler)
        if self.tls is not None:
            # Every accepted connection shakes hands first; one that fails (a client refusing
            # the certificate) is dropped by the server loop, as an ``OSError`` of ``accept``.
            self._server.socket = self.tls.wrap_socket(self._server.socket, server_side=True)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="emulator", daemon=True)
        self._thread.start()
        return self.url

    def wait(self) -> None:
        """Block until interrupted (Ctrl-C), then stop; for the command line."""
        assert self._thread is not None, "start() first"
        try:
            while self._thread.is_alive():
                self._thread.join(0.5)
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()

    def stop(self) -> None:
        self.stopped.set()
        with self._numbering:
            self._numbering.notify_all()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Emulator:
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._server is not None, "the emulator is not running"
        scheme = "https" if self.tls is not None else "http"
        return f"{scheme}://{self._address[0]}:{self._server.server_port}"

    # -- the Python API tests use

    def wait_for_receipts(self, count: int, path: str = "", timeout: float = 30.0) -> bool:
        """Wait until ``count`` requests whose path contains ``path`` were received (or ``timeout``
        passed, or the emulator stopped); whether they were."""

        def received() -> int:
            return sum(1 for seen in self.receipts if path in seen)

        with self._numbering:
            self._numbering.wait_for(lambda: received() >= count or self.stopped.is_set(), timeout)
            return received() >= count

    def vendor(self, name: str) -> Any:
        return self.vendors[name]

    def vendor_of(self, stream: str) -> VendorEmulator:
        """The vendor that serves ``stream``."""
        for vendor in self.vendors.values():
            if stream in vendor.streams:
                return vendor
        raise KeyError(f"no vendor serves stream {stream!r}")

    def ground_truth(self, stream: str, **filters: Any) -> List[Dict[str, Any]]:
        """The records a correct sync of ``stream`` must produce (see each vendor's ``ground_truth``)."""
        return self.vendor_of(stream).ground_truth(stream, **filters)

    def streams(self) -> List[str]:
        """Every stream some vendor here serves, sorted."""
        return sorted(stream for vendor in self.vendors.values() for stream in vendor.streams)

    def connector_config(self, **shared: Any) -> Dict[str, Any]:
        """A connector config with every vendor's :meth:`~VendorEmulator.connector_section` for
        this running emulator, plus the ``shared`` fields (``start_date``, ``lookback_days``, ...)."""
        return {**shared, **{name: vendor.connector_section(self.url) for name, vendor in self.vendors.items()}}

    # -- one request

    def network(self, vendor: Optional[VendorEmulator]) -> Tuple[float, float]:
        """The latency and jitter (ms) ``vendor``'s answers take (``None``: a path no vendor serves)."""
        latency = vendor.latency_ms if vendor is not None and vendor.latency_ms is not None else self.latency_ms
        jitter = vendor.jitter_ms if vendor is not None and vendor.jitter_ms is not None else self.jitter_ms
        return latency, jitter

    @contextmanager
    def holding(self) -> Iterator[int]:
        """Count one request held from here to the end of the block; gives how many are held."""
        with self._holding:
            self._held += 1
            held = self._held
            self.most_held = max(self.most_held, held)
        try:
            yield held
        finally:
            with self._holding:
                self._held -= 1

    def round_trip(self, request: Request) -> float:
        """Numbers a received request (1, 2, ... in order of receipt) and gives its round trip in seconds."""
        with self._numbering:
            self._received += 1
            number = self._received
            self.receipts.append(request.path)
            self._numbering.notify_all()
        route = self.routes.get(request.path, {}).get(request.method)
        latency, jitter = self.network(route[0] if route else None)
        return round_trip(latency, jitter, self.world.seed, number) if latency else 0.0

    def answer(self, request: Request, arrival: float) -> Tuple[Optional[VendorEmulator], Optional[Fault], Reply]:
        """The vendor, the fault that fired (if any) and the reply. Order: route, fault (a gateway
        fails before the app checks anything), key, rate limit, the route's own checks. Waiting
        (``slow``) and hanging up (``drop``) are the handler's, which owns the socket."""
        by_method = self.routes.get(request.path)
        if not by_method:
            return None, None, Reply(404, {"message": "Not Found", "path": request.path})
        if request.method not in by_method:
            return None, None, Reply(405, {"message": "Method Not Allowed"})
        vendor, route = by_method[request.method]
        query = "&".join(f"{name}={value}" for name, values in request.query.items() for value in values)
        content = f"{query} {request.raw_body.decode('utf-8', 'replace')}"
        fault = self.faults.pick(request.path, content)
        if fault is not None and fault.kind not in _DELIVERY_FAULTS:
            return vendor, fault, self._fault_reply(vendor, fault)
        if request.headers.get("Authorization") != f"Bearer {vendor.options.api_key}":
            return vendor, fault, vendor.unauthorized()
        if self.rate_limits_enabled:
            limits = [(f"{vendor.name}.{name}", w) for name in route.limits if (w := vendor.rate_limit(name))]
            wait = self.windows.admit(limits, arrival) if limits else None
            if wait is not None:
                return vendor, fault, vendor.throttled(wait)
        try:
            return vendor, fault, route.handler(request)
        except ApiError as error:
            return vendor, fault, error.reply

    @staticmethod
    def _fault_reply(vendor: VendorEmulator, fault: Fault) -> Reply:
        if fault.kind == "reply":
            return Reply(fault.status, fault.body)
        if fault.kind == "http_500":
            return Reply(500, {"message": "Internal Server Error (injected)"})
        if fault.kind == "http_429":
            retry_after = fault.retry_after_header if fault.retry_after_header is not None else f"{fault.retry_after:g}"
            return Reply(429, {"message": "Too Many Requests (injected)"}, {"Retry-After": retry_after})
        if fault.kind == "throttle":
            return vendor.throttled(fault.retry_after)
        if fault.kind == "invalid_json":
            return Reply(200, b'{"injected": "invalid JSON", "items": [', {"Content-Type": "application/json"})
        return Reply(0)  # drop, hang: never sent


#: What a server refusing a request over its concurrency limit answers (with HTTP 429).
CONCURRENCY_BODY = b'{"message":"Too many concurrent requests"}'
#: The values of ``Emulator(over_concurrency=...)``.
OVER_CONCURRENCY = ("429", "429-retry-after", "reset")


class _Server(ThreadingHTTPServer):
    """A thread per connection, so requests in flight (waiting out their round trip) overlap.
    Each keep-alive connection is one client's, serving its requests in turn as HTTP/1.1 does;
    a client with requests in flight at once holds as many connections."""

    daemon_threads = True
    #: Connections waiting to be accepted: a client opening dozens at once must not overflow the
    #: listen queue (the default of 5), whose dropped SYNs the client resends a second later.
    request_queue_size = 128


class _Handler(BaseHTTPRequestHandler):
    emulator: ClassVar[Emulator]
    protocol_version = "HTTP/1.1"  # keep-alive, as the vendors' servers and the connector's pool use

    def setup(self) -> None:
        super().setup()
        # Headers and body leave in two writes: with Nagle's algorithm on, the body waits for the
        # client's delayed ACK of the headers, about 40 ms a request on loopback.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass  # the RequestLog is the log; stderr stays quiet

    def date_time_string(self, timestamp: Optional[float] = None) -> str:
        """Every answer's ``Date``: the vendors' clock (``World.now``), not the machine's."""
        return email.utils.formatdate(self.emulator.world.now().timestamp() if timestamp is None else timestamp, usegmt=True)

    def _serve(self) -> None:
        arrival_wall, arrival = time.time(), time.monotonic()
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw_body = self.rfile.read(length) if length else b""
        if len(raw_body) < length:
            # The client went away mid-request (a test killed it): a real server never answers a
            # truncated body, so it is logged unanswered and nothing is sent.
            self.emulator.log.append(
                LoggedRequest(
                    method=self.command, path=parts.path, query=parse_qs(parts.query, keep_blank_values=True),
                    body=raw_body.decode("utf-8", "replace"), status=None, time=arrival_wall, vendor=None, fault="client_gone",
                    received=arrival, reached=arrival, answered=time.monotonic(),
                )
            )
            self.close_connection = True
            return
        request = Request(
            method=self.command,
            path=parts.path,
            query=parse_qs(parts.query, keep_blank_values=True),
            headers={key: value for key, value in self.headers.items()},
            raw_body=raw_body,
        )
        with self.emulator.holding() as held:
            limit = self.emulator.concurrency_limit
            if limit is not None and held > limit:
                self._refuse_for_concurrency(request, arrival_wall, arrival, raw_body)
            else:
                self._answer(request, arrival_wall, arrival, raw_body)

    def _refuse_for_concurrency(self, request: Request, arrival_wall: float, arrival: float, raw_body: bytes) -> None:
        """More requests held than ``Emulator.concurrency_limit``: this one is refused at once, as
        ``Emulator.over_concurrency`` says (``429``, ``429-retry-after``: HTTP 429 without or with
        ``Retry-After: 1``; ``reset``: the connection reset, nothing answered)."""
        how = self.emulator.over_concurrency
        status = None if how == "reset" else 429
        self.emulator.log.append(
            LoggedRequest(
                method=request.method, path=request.path, query=request.query, body=raw_body.decode("utf-8", "replace"),
                status=status, time=arrival_wall, vendor=None, fault="concurrency",
                received=arrival, reached=arrival, answered=time.monotonic(),
            )
        )  # fmt: skip
        self.close_connection = True
        if how == "reset":
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()  # with no linger: a reset, not a close
            return
        headers = {"Retry-After": "1"} if how == "429-retry-after" else {}
        self._send_head(Reply(429, None, headers), len(CONCURRENCY_BODY))
        self.wfile.write(CONCURRENCY_BODY)

    def finish(self) -> None:
        try:
            super().finish()
        except (OSError, ValueError):
            pass  # the connection was reset on purpose (``_refuse_for_concurrency``), or by the client

    def _answer(self, request: Request, arrival_wall: float, arrival: float, raw_body: bytes) -> None:
        # The network: the request reaches the vendor a share of its round trip after it was sent
        # (here: received), is counted and answered then, and the answer is back at the end.
        trip = self.emulator.round_trip(request)
        reaches = arrival + INBOUND_SHARE * trip
        self._wait_until(reaches)
        vendor, fault, reply = self.emulator.answer(request, reaches)
        self._wait_until(arrival + trip)
        kind = fault.kind if fault else None
        if kind == "slow":
            time.sleep(fault.delay)  # type: ignore[union-attr]
        if fault is not None and fault.held_until_received:
            self.emulator.wait_for_receipts(fault.held_until_received, fault.path)
        account = {"received": arrival, "round_trip": trip, "reached": reaches, "answered": time.monotonic()}
        status: Optional[int] = None if kind in ("drop", "hang") else reply.status
        try:
            body: Any = request.json()
        except ValueError:
            body = raw_body.decode("utf-8", "replace")
        self.emulator.log.append(
            LoggedRequest(
                method=request.method,
                path=request.path,
                query=request.query,
                body=body,
                status=status,
                time=arrival_wall,
                vendor=vendor.name if vendor else None,
                fault=kind,
                **account,
            )
        )
        if kind == "hang":
            self._hang()
        if kind in ("drop", "hang"):
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        if kind == "trickle":
            self._trickle(reply, fault.delay)  # type: ignore[union-attr]
            return
        payload = reply.encoded()
        if kind == "bom":
            payload = b"\xef\xbb\xbf" + payload
        self.send_response(reply.status)
        headers = {"Content-Type": "application/json; charset=utf-8", **reply.headers}
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        try:
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client is gone (a test killed it): nothing to tell

    def _wait_until(self, moment: float) -> None:
        """Sleeps until ``moment`` (``time.monotonic()``), or until the emulator stops."""
        left = moment - time.monotonic()
        if left > 0:
            self.emulator.stopped.wait(left)

    def _send_head(self, reply: Reply, length: int) -> None:
        self.send_response(reply.status)
        for name, value in {"Content-Type": "application/json; charset=utf-8", **reply.headers}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(length))
        self.end_headers()

    def _hang(self) -> None:
        """Answer nothing until the client closes the connection (or the emulator stops)."""
        while not self.emulator.stopped.is_set():
            readable, _, _ = select.select([self.connection], [], [], 0.05)
            if readable:
                try:
                    if not self.connection.recv(4096):
                        return  # the client went away
                except OSError:
                    return

    def _trickle(self, reply: Reply, delay: float) -> None:
        """Status and headers at once, then the body one byte every ``delay`` seconds."""
        payload = reply.encoded()
        self.close_connection = True
        try:
            self._send_head(reply, len(payload))
            self.wfile.flush()
            for index in range(len(payload)):
                if self.emulator.stopped.wait(delay):
                    return
                self.wfile.write(payload[index : index + 1])
                self.wfile.flush()
        except OSError:
            return  # the client gave up and closed the connection

    do_GET = _serve
    do_POST = _serve
    do_PUT = _serve
    do_DELETE = _serve


# --------------------------------------------------------------------------- small helpers for vendors


def floor_period(moment: datetime, unit: str) -> datetime:
    """The start of the ``unit`` (hour, day, week from Monday, month, year) holding ``moment``,
    on the wall clock of its zone."""
    if unit == "hour":
        return moment.replace(minute=0, second=0, microsecond=0)
    day = moment.date()
    if unit == "week":
        day -= timedelta(days=day.weekday())
    elif unit == "month":
        day = day.replace(day=1)
    elif unit == "year":
        day = day.replace(month=1, day=1)
    return datetime(day.year, day.month, day.day, tzinfo=moment.tzinfo)


def next_period(start: datetime, unit: str) -> datetime:
    """The start of the period after the one starting at ``start``."""
    zone = start.tzinfo
    if unit == "hour":  # absolute time: a DST night has 23 or 25 hours
        return (start.astimezone(timezone.utc) + timedelta(hours=1)).astimezone(zone)
    if unit in ("day", "week"):
        day = start.date() + timedelta(days=1 if unit == "day" else 7)
    elif unit == "month":
        day = date(start.year + start.month // 12, start.month % 12 + 1, 1)
    else:
        day = date(start.year + 1, 1, 1)
    return datetime(day.year, day.month, day.day, tzinfo=zone)


def planned_periods(
    unit: str, zone: tzinfo, now: datetime, start_date: Any = None, end_date: Any = None
) -> List[Tuple[datetime, datetime]]:
    """The periods a sync covers, planned as the connector's contract says, in ``zone``: from the
    one holding ``start_date`` (default: 30 days before yesterday), every whole period that has
    ended by the end of ``end_date`` and by ``now``. Dates are ``date`` or ``YYYY-MM-DD``."""
    local_now = now.astimezone(zone)
    start = _as_date(start_date) if start_date else local_now.date() - timedelta(days=31)
    stop = floor_period(local_now, unit)
    if end_date:
        end = _as_date(end_date) + timedelta(days=1)
        stop = min(stop, datetime(end.year, end.month, end.day, tzinfo=zone))
    periods: List[Tuple[datetime, datetime]] = []
    current = floor_period(datetime(start.year, start.month, start.day, tzinfo=zone), unit)
    while (following := next_period(current, unit)) <= stop:
        periods.append((current, following))
        current = following
    return periods


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def days(first: date, last: date) -> Iterator[date]:
    """Every calendar day from ``first`` to ``last``, both included."""
    current = first
    while current <= last:
        yield current
        current = date.fromordinal(current.toordinal() + 1)


def positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)

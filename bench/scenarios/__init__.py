"""The bench's scenarios: what ``bench/run.py`` syncs against each vendor of the emulator, and
how it judges the result.

A vendor's scenarios live in this package's module of the vendor's name (``workato.py`` for the
emulator's ``workato``), as a function ``scenarios(vendor, quick, rps)`` returning a list of
:class:`BenchScenario`; :func:`vendor_scenarios` finds them for every vendor the emulator serves
(a vendor without a module here has none). A scenario's :class:`BenchPlan` is worked out from the
emulator's vendor built with the scenario's options (its sizes, its today, its ground truth), so
the emulator holds emulation and ground truth only, and the bench what it measures.
"""

from __future__ import annotations

import importlib
import math
import pkgutil
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple, Type

from emulator.core import VendorEmulator, Window, check_latency, discover_vendors


@dataclass(frozen=True)
class BenchEndpoint:
    """An endpoint a scenario calls: the requests the scenario's sizes need at least, and (for a
    floor time) the budget ``limit`` it shares with the endpoints of ``group``."""

    path: str
    min_requests: int
    group: Optional[str] = None
    limit: Optional[Window] = None


@dataclass(frozen=True)
class BenchPlan:
    """What a scenario syncs and must read, worked out from the vendor it runs (its options, its
    today): ``expected`` records per stream, the ``endpoints`` it calls, and the config (the
    dates, and ``section`` laid over the vendor's ``connector_section``)."""

    streams: Tuple[str, ...]  # read incrementally where the stream has a cursor, as Airbyte would
    expected: Mapping[str, int]
    endpoints: Tuple[BenchEndpoint, ...] = ()
    start_date: Optional[date] = None
    end_date: Optional[date] = None
    section: Mapping[str, Any] = field(default_factory=dict)
    #: The longest chain of requests that must follow one another because each needs the answer
    #: of the one before (a listing's ids, then their usage; an organisation's id, then its
    #: usage): the round trips no concurrency hides, in the scenario's ``ideal_s``.
    round_trips: int = 1


#: The connectors a scenario runs: ``ours`` is ``source-usage``; ``peer`` the CDK's
#: ``source-declarative-manifest`` with the scenario's ``manifest`` (a file of ``bench/peer/``);
#: ``cdk_floor`` is ``bench/cdk_floor.py``, which sends no request and yields the plan's one
#: stream's expected records (the first of the emulator's ground truth, repeated).
CONNECTORS = ("ours", "peer", "cdk_floor")


@dataclass(frozen=True)
class BenchScenario:
    """One scenario: the vendor's emulator ``options`` (seed and all else the bench's), the
    ``plan`` given the vendor built with them, and how the bench judges it."""

    name: str
    options: Mapping[str, Any]
    plan: Callable[[Any], BenchPlan]
    connector: str = "ours"
    manifest: Optional[str] = None
    #: Days synced (shown in the bench's ``meta`` line).
    days: Optional[int] = None
    #: Whether the emulator enforces the vendor's rate limits.
    rate_limits: bool = False
    #: Whether the connector must pace itself to them: ``floor_s`` is worked out, and the targets
    #: ``requests == min_requests`` and no rate-limit answer apply.
    paced: bool = False
    #: The per-endpoint requests/second set on both sides, shown as ``rps`` (``None``: no such limit).
    rps: Optional[int] = None
    #: The peer's run of this scenario, compared with it; the CDK floor's for the same records
    #: (the ceiling of any CDK source); targets: ``records_per_s`` at least ``speed_target`` times
    #: the peer's, ``wall_s`` at most ``wall_target`` times ``floor_s``, peak memory within 10% of
    #: the scenario ``memory_like``'s.
    peer: Optional[str] = None
    ceiling: Optional[str] = None
    speed_target: Optional[float] = None
    wall_target: Optional[float] = None
    memory_like: Optional[str] = None
    #: The emulator's round trip and jitter (ms) for every answer (``Emulator(latency_ms=...)``).
    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    #: Whether the bench also runs this scenario over a network (a few hundred ms a round trip,
    #: with and without jitter), as variants it names after it, and judges each against its
    #: ``ideal_s`` (the rate floor, the plan's sequential round trips, the CDK's start-up).
    over_network: bool = False
    #: A destination that reads this many lines (messages) a second, not as fast as it can (a
    #: slow warehouse loader: the connector's stdout fills and its writes wait), for ``seconds``
    #: at most, then the sync is stopped: a scenario about the connector's memory while it waits,
    #: judged by its peak RSS (at most ``rss_target_mb``), not by its records. Such a scenario
    #: runs only when asked for (``--slow-destination``, or by name).
    destination_lines_per_s: Optional[float] = None
    seconds: Optional[float] = None
    rss_target_mb: Optional[float] = None
    #: The most connector CPU a request may cost once started (``cpu_ms_per_request``).
    cpu_ms_per_request_target: Optional[float] = None

    def __post_init__(self) -> None:
        check_latency(self.latency_ms, self.jitter_ms)
        if self.connector not in CONNECTORS:
            raise ValueError(f"unknown connector {self.connector!r}; one of {', '.join(CONNECTORS)}")
        if (self.connector == "peer") != (self.manifest is not None):
            raise ValueError("a peer scenario, and only one, names its manifest")
        if (self.destination_lines_per_s is None) != (self.seconds is None):
            raise ValueError("a slow destination reads for a number of seconds, and only it")

    @property
    def on_demand(self) -> bool:
        """Whether the scenario runs only when asked for (a slow destination, minutes each)."""
        return self.destination_lines_per_s is not None


def paged_requests(count: int, page: int) -> int:
    """Requests to page through ``count`` items when each page says whether another follows (a
    ``has_next``, a ``meta.next``): exactly ``page`` items are one page, and none still take one."""
    return max(1, math.ceil(count / page))


def records_label(records: int) -> str:
    """``60k`` for 60,000 records, as scenario names say sizes."""
    return f"{records // 1000}k" if records % 1000 == 0 else str(records)


#: What a vendor's module of this package exports: its scenarios at small sizes when ``quick``;
#: ``rps`` is the per-endpoint requests/second a rate-limited scenario sets on both sides, for a
#: vendor whose limit is one (``--rps``).
ScenarioFunction = Callable[[Type[VendorEmulator], bool, int], List[BenchScenario]]


def vendor_scenarios(quick: bool, rps: int) -> Dict[str, List[BenchScenario]]:
    """Every emulated vendor's scenarios, by vendor name (in the emulator's vendor order)."""
    vendors = discover_vendors()
    modules = {info.name for info in pkgutil.iter_modules(__path__) if not info.name.startswith("_")}
    strays = sorted(modules - set(vendors))
    if strays:
        raise ValueError(f"bench/scenarios/ has modules for vendors the emulator does not serve: {', '.join(strays)}")
    found: Dict[str, List[BenchScenario]] = {}
    for name, vendor in vendors.items():
        if name in modules:
            function: ScenarioFunction = importlib.import_module(f"{__name__}.{name}").scenarios
            found[name] = function(vendor, quick, rps)
    return found

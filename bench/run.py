"""The benchmark of issue 6: requests, rate-limit errors, wall time, CPU and memory per scenario.

    .venv/bin/python bench/run.py                      # every scenario, Jiandaoyun at the documented 1 req/s (~13 min)
    .venv/bin/python bench/run.py --rps 10             # a raised quota of 10 req/s on both sides (~3 min)
    .venv/bin/python bench/run.py --quick              # small sizes, a smoke run (under a minute)
    .venv/bin/python bench/run.py --scenarios 'jiandaoyun_member*' 'peer_*' --markdown
    .venv/bin/python bench/run.py --source-usage /path/to/other/venv/bin/source-usage   # a candidate build

Run on demand, not by the test suite. Each scenario starts a fresh API emulator in this process
(``integration_tests.emulator``, its Python API) and runs one connector as a subprocess: the
installed ``source-usage`` command next to ``sys.executable``, or, for the ``peer_*`` scenarios,
the CDK's ``source-declarative-manifest`` with ``bench/peer/jiandaoyun_member_manifest.yaml``,
or, for the ``cdk_floor_*`` scenarios, ``bench/cdk_floor.py``: a CDK source that sends no request
and yields as many member records, the least wall time any CDK connector can take for them.
The connector's stdout is read as a stream (RECORD lines counted, the last STATE of each stream
kept), never held in memory. A ``meta`` line (commit, machine, sizes), one JSON line per
scenario, lines comparing our member stream with the peer's (``compare_*``: ratios of
``records_per_s``, ``sync_records_per_s`` and ``records_per_cpu_s``) and one line of target
verdicts go to stdout; progress goes to stderr. The exit status is 1 when a connector failed or
read other than the expected number of records.

Fields of a scenario line:

- ``records``: RECORD messages read; ``expected_records``: what the emulator's sizes give.
- ``requests``: requests the emulator received on the scenario's endpoints (rate-limited ones
  included); ``min_requests``: what the sizes need (pages per date per endpoint, see
  ``paged``); ``by_endpoint``: ``[requests, min_requests, rate_limit_errors]`` per endpoint.
- ``rate_limit_errors``: answers that were the vendor's "too fast" (Jiandaoyun 8303/8304, 429).
- ``wall_s``: the connector process's lifetime, launch to exit (start-up included: it is what a
  sync costs). ``startup_s``: launch to its first request (mostly importing the CDK);
  ``span_s``: first to last request; what remains of ``wall_s`` is the tail after the last answer.
- ``floor_s``: the least time the vendor's budget allows for ``min_requests``, for the slowest
  rate-limit group: n requests under "L per W seconds", the first sent at t=0, need
  ``floor((n - 1) / L) * W`` seconds (null: no limit applies). Both the emulator's window and the
  CDK's moving-window budget admit L at once, so this is the exact floor; at 1 request/second it
  equals ``(n - 1) / rps``, at 10/s it is up to 0.9 s below it.
- ``records_per_s``: ``records / wall_s``; ``sync_records_per_s``: ``records / (wall_s -
  startup_s)``, without the fixed start-up. ``cpu_s``: the connector's own user+system CPU
  (``os.wait4``); ``records_per_cpu_s``: ``records / cpu_s``, the CPU cost per record.
- ``peak_rss_mb``: the connector process's peak resident memory (``ru_maxrss`` from ``os.wait4``).
- ``rps``: the Jiandaoyun limit per endpoint used on both sides (null: limits off);
  ``bench_cpu_s``: CPU of this process meanwhile (the emulator, mostly).
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import math
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from integration_tests.assertions import without_nulls  # noqa: E402
from integration_tests.emulator import Emulator  # noqa: E402
from integration_tests.emulator.core import Reply, Request, planned_periods  # noqa: E402
from integration_tests.runner import configured_catalog  # noqa: E402

BIN = Path(sys.executable).parent
SOURCE_USAGE = BIN / "source-usage"
DECLARATIVE = BIN / "source-declarative-manifest"
CDK_FLOOR = Path(__file__).resolve().parent / "cdk_floor.py"
PEER_MANIFEST = ROOT / "bench" / "peer" / "jiandaoyun_member_manifest.yaml"

JIANDAOYUN_PAGE = 100  # the connector's and the peer's page size (the API's maximum)
WORKATO_IDS_PER_REQUEST = 100
WORKATO_LISTING_PAGE = 100
TABNINE_PAGE = 100
RATE_LIMIT_CODES = (8303, 8304)

RECORD = b'{"type":"RECORD"'
STATE = b'{"type":"STATE"'
SUMMARY = re.compile(rb"Sync summary: [^:]+: (\d+) requests, (\d+) retries, (\d+) rate-limit waits")

def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- the emulator


class Throttles:
    """Counts the emulator's rate-limit answers per path.

    The request log keeps the HTTP status but not the reply body, and Jiandaoyun answers every
    error with HTTP 400: only the body's ``code`` tells 8303 (too fast) from 17017 (bad
    parameter). So the emulator's ``answer`` is wrapped on this instance to look at the reply.
    """

    def __init__(self, emulator: Emulator) -> None:
        self.by_path: Counter[str] = Counter()
        self._lock = threading.Lock()
        answer = emulator.answer

        def counting_answer(request: Request, arrival: float) -> Any:
            vendor, fault, reply = answer(request, arrival)
            if is_rate_limit(reply):
                with self._lock:
                    self.by_path[request.path] += 1
            return vendor, fault, reply

        emulator.answer = counting_answer  # type: ignore[method-assign]

    def count(self, path: str) -> int:
        with self._lock:
            return self.by_path[path]


def is_rate_limit(reply: Reply) -> bool:
    if reply.status == 429:
        return True
    return isinstance(reply.body, dict) and reply.body.get("code") in RATE_LIMIT_CODES


# --------------------------------------------------------------------------- what a scenario needs


def paged(count: int, page: int) -> int:
    """Requests to page through ``count`` items that end with a "no next page" flag.

    The emulator answers ``has_next = skip + limit < total`` (Tabnine: ``meta.next`` null at the
    end), so exactly ``page`` items are one page, and no items still take one request.
    """
    return max(1, math.ceil(count / page))


def listed(count: int, page: int) -> int:
    """Requests to list ``count`` items when only a short page says "last" (Workato's
    ``GET /api/managed_users`` has no total and no next flag): a full last page needs one more."""
    return count // page + 1


def floor_seconds(requests: int, calls: int, seconds: float) -> float:
    """The least time ``requests`` requests take under "``calls`` per ``seconds``", the first at t=0."""
    return 0.0 if requests <= 1 else ((requests - 1) // calls) * seconds


@dataclass
class Endpoint:
    path: str
    min_requests: int
    #: The rate-limit group (endpoints that share one budget) and its "calls per seconds".
    group: Optional[str] = None
    limit: Optional[Tuple[int, float]] = None


@dataclass
class Plan:
    """What one scenario runs and expects, from the emulator's sizes and today's dates."""

    command: List[str]  # without --config/--catalog
    config: Dict[str, Any]  # a vendor's section is laid over its connector_section once the emulator runs
    streams: List[str]  # read incrementally where the stream has a cursor, as Airbyte would
    endpoints: List[Endpoint]
    expected: Dict[str, int]  # stream -> records


@dataclass
class Scenario:
    name: str
    emulator: Dict[str, Any]  # Emulator(...) keyword arguments
    plan: Callable[[Emulator], Plan]
    rps: Optional[int] = None  # Jiandaoyun's limit per endpoint on both sides; None: off
    rate_limited: bool = False  # whether the emulator enforces limits (targets apply)


@dataclass
class Sizes:
    days: int = 10
    members: int = 2000
    apps: int = 500
    memory_days: int = 10
    memory_small_members: int = 100  # x memory_days = 1,000 records
    memory_large_members: int = 10_000  # x memory_days = 100,000 records
    workato_workspaces: int = 200
    workato_recipes: int = 6
    workato_days: int = 3
    tabnine_users: int = 5000
    tabnine_teams: int = 200
    tabnine_days: int = 90


QUICK = Sizes(
    days=3,
    members=500,
    apps=100,
    memory_small_members=100,
    memory_large_members=2000,
    workato_workspaces=50,
    workato_days=1,
    tabnine_users=500,
    tabnine_teams=20,
    tabnine_days=14,
)


# --------------------------------------------------------------------------- Jiandaoyun

JDY_PATHS = {
    "jiandaoyun_member_usage": "/api/v1/corp_usage/member_metrics",
    "jiandaoyun_app_usage": "/api/v1/corp_usage/app_metrics",
    "jiandaoyun_overview_usage": "/api/v1/corp_usage/overview",
}


def jiandaoyun_emulator(members: int, apps: int, rps: Optional[int]) -> Dict[str, Any]:
    # The company limit (50/s over all endpoints) stays as documented; limits off means no limit at all.
    return {
        "seed": 6,
        "rate_limits": rps is not None,
        "jiandaoyun": {"members": members, "apps": apps, "requests_per_second": rps},
    }


def jiandaoyun_plan(streams: Sequence[str], days: int, rps: Optional[int], command: Sequence[str]) -> Callable[[Emulator], Plan]:
    def plan(emulator: Emulator) -> Plan:
        vendor = emulator.vendor("jiandaoyun")
        last = vendor.valid_dates()[1]  # T-1 in UTC+8
        first = last - timedelta(days=days - 1)
        dates = len(vendor.sync_dates(first, last))
        sizes = {
            "jiandaoyun_member_usage": vendor.options.members,
            "jiandaoyun_app_usage": vendor.options.apps,
            "jiandaoyun_overview_usage": None,
        }
        endpoints, expected = [], {}
        for stream in streams:
            count = sizes[stream]
            per_date = 1 if count is None else paged(count, JIANDAOYUN_PAGE)
            path = JDY_PATHS[stream]
            limit = (rps, 1.0) if rps else None
            endpoints.append(Endpoint(path, per_date * dates, group=path if limit else None, limit=limit))
            expected[stream] = dates * (1 if count is None else count)
        config = {
            "start_date": first.isoformat(),
            "end_date": last.isoformat(),
            # "Limits off" on the connector's side is its largest allowed budget.
            "jiandaoyun": {"requests_per_second": rps or 1000},
        }
        return Plan(list(command), config, list(streams), endpoints, expected)

    return plan


def cdk_floor_plan(stream: str, records: int) -> Callable[[Emulator], Plan]:
    """``bench/cdk_floor.py``: ``records`` records of ``stream`` through the CDK alone, no request;
    the record is the first of the emulator's ground truth, as our connector emits it."""

    def plan(emulator: Emulator) -> Plan:
        command = [sys.executable, str(CDK_FLOOR), "read"]
        record = without_nulls(emulator.ground_truth(stream)[0])
        return Plan(command, {"stream": stream, "record": record, "records": records}, [stream], [], {stream: records})

    return plan


# --------------------------------------------------------------------------- Workato

WORKATO_USAGE = "/api/v2/managed_users/statistics/usage"
WORKATO_LISTING = "/api/managed_users"
WORKATO_ZONE = "America/Los_Angeles"


def workato_plan(days: int, command: Sequence[str]) -> Callable[[Emulator], Plan]:
    def plan(emulator: Emulator) -> Plan:
        vendor = emulator.vendor("workato")
        zone = vendor.zone
        last = datetime.now(zone).date() - timedelta(days=1)
        first = last - timedelta(days=days - 1)
        periods = len(planned_periods("hour", zone, datetime.now(timezone.utc), first, last))
        workspaces = vendor.options.workspaces
        live_recipes = sum(not vendor.recipe(ws, index)["deleted"] for ws in range(workspaces) for index in range(vendor.options.recipes))
        chunks = paged(workspaces, WORKATO_IDS_PER_REQUEST)
        endpoints = [
            Endpoint(WORKATO_LISTING, listed(workspaces, WORKATO_LISTING_PAGE), "listing", (60, 60.0)),
            # Both streams share Workato's one budget of 1,000 usage requests per minute.
            Endpoint(WORKATO_USAGE, 2 * periods * chunks, "usage", (1000, 60.0)),
        ]
        config = {
            "start_date": first.isoformat(),
            "end_date": last.isoformat(),
            "workato": {"interval": "hour"},
        }
        streams = ["workato_workspace_usage", "workato_recipe_usage"]
        expected = {"workato_workspace_usage": periods * workspaces, "workato_recipe_usage": periods * live_recipes}
        return Plan(list(command), config, streams, endpoints, expected)

    return plan


# --------------------------------------------------------------------------- Tabnine

TABNINE_STREAMS = (
    "tabnine_organization",
    "tabnine_teams",
    "tabnine_users",
    "tabnine_account_utilizations",
    "tabnine_organization_usage",
)


def tabnine_plan(days: int, command: Sequence[str]) -> Callable[[Emulator], Plan]:
    def plan(emulator: Emulator) -> Plan:
        vendor = emulator.vendor("tabnine")
        last = datetime.now(timezone.utc).date() - timedelta(days=1)
        first = last - timedelta(days=days - 1)
        options = vendor.options
        expected = {
            "tabnine_organization": 1,
            "tabnine_teams": options.teams,
            "tabnine_users": options.users,
            "tabnine_account_utilizations": len(vendor.ground_truth("tabnine_account_utilizations", first, last)),
            "tabnine_organization_usage": len(vendor.ground_truth("tabnine_organization_usage", first, last)),
        }
        # One organisation request is enough for both the stream and the usage's organizationId.
        endpoints = [
            Endpoint("/api/v1/organization", 1),
            Endpoint("/api/v1/organization/teams", paged(options.teams, TABNINE_PAGE)),
            Endpoint("/api/v1/organization/users", paged(options.users, TABNINE_PAGE)),
            Endpoint("/api/v1/organization/account-utilizations", 1),
            Endpoint("/api/v2/organization/usage", len(planned_periods("day", timezone.utc, datetime.now(timezone.utc), first, last))),
        ]
        config = {
            "start_date": first.isoformat(),
            "end_date": last.isoformat(),
            "tabnine": {"granularity": "daily"},
        }
        return Plan(list(command), config, list(TABNINE_STREAMS), endpoints, expected)

    return plan


# --------------------------------------------------------------------------- the scenarios


def memory_scenarios(sizes: Sizes) -> Tuple[str, str]:
    """The names of the small and the large member scenarios, by their record counts."""

    def label(records: int) -> str:
        return f"{records // 1000}k" if records % 1000 == 0 else str(records)

    return tuple(  # type: ignore[return-value]
        f"jiandaoyun_member_{label(members * sizes.memory_days)}" for members in (sizes.memory_small_members, sizes.memory_large_members)
    )


def scenarios(sizes: Sizes, rps: int, source_usage: Path = SOURCE_USAGE) -> List[Scenario]:
    ours = [str(source_usage), "read"]
    peer = [str(DECLARATIVE), "read", "--manifest-path", str(PEER_MANIFEST)]
    all_three = list(JDY_PATHS)
    member = ["jiandaoyun_member_usage"]
    small, large = memory_scenarios(sizes)
    return [
        Scenario(
            "jiandaoyun_all_limited",
            jiandaoyun_emulator(sizes.members, sizes.apps, rps),
            jiandaoyun_plan(all_three, sizes.days, rps, ours),
            rps=rps,
            rate_limited=True,
        ),
        Scenario(
            "jiandaoyun_all_limits_off",
            jiandaoyun_emulator(sizes.members, sizes.apps, None),
            jiandaoyun_plan(all_three, sizes.days, None, ours),
        ),
        Scenario(
            "jiandaoyun_member_limited",
            jiandaoyun_emulator(sizes.members, sizes.apps, rps),
            jiandaoyun_plan(member, sizes.days, rps, ours),
            rps=rps,
            rate_limited=True,
        ),
        Scenario(
            "peer_jiandaoyun_member_limited",
            jiandaoyun_emulator(sizes.members, sizes.apps, rps),
            jiandaoyun_plan(member, sizes.days, rps, peer),
            rps=rps,
            rate_limited=True,
        ),
        Scenario(
            "jiandaoyun_member_limits_off",
            jiandaoyun_emulator(sizes.members, sizes.apps, None),
            jiandaoyun_plan(member, sizes.days, None, ours),
        ),
        Scenario(
            "peer_jiandaoyun_member_limits_off",
            jiandaoyun_emulator(sizes.members, sizes.apps, None),
            jiandaoyun_plan(member, sizes.days, None, peer),
        ),
        Scenario(
            "cdk_floor_member_limits_off",
            jiandaoyun_emulator(1, 1, None),  # not asked: the floor sends no request
            cdk_floor_plan(member[0], sizes.members * sizes.days),
        ),
        Scenario(
            small,
            jiandaoyun_emulator(sizes.memory_small_members, 1, None),
            jiandaoyun_plan(member, sizes.memory_days, None, ours),
        ),
        Scenario(
            large,
            jiandaoyun_emulator(sizes.memory_large_members, 1, None),
            jiandaoyun_plan(member, sizes.memory_days, None, ours),
        ),
        Scenario(
            f"peer_{large}",
            jiandaoyun_emulator(sizes.memory_large_members, 1, None),
            jiandaoyun_plan(member, sizes.memory_days, None, peer),
        ),
        Scenario(
            f"cdk_floor_{large}",
            jiandaoyun_emulator(1, 1, None),
            cdk_floor_plan(member[0], sizes.memory_large_members * sizes.memory_days),
        ),
        Scenario(
            "workato_hourly",
            {
                "seed": 6,
                "workato": {"workspaces": sizes.workato_workspaces, "recipes": sizes.workato_recipes, "timezone": WORKATO_ZONE},
            },
            workato_plan(sizes.workato_days, ours),
            rate_limited=True,  # Workato's documented limits, as they are: 1,000 usage and 60 listing requests a minute
        ),
        Scenario(
            "tabnine_all",
            {"seed": 6, "tabnine": {"users": sizes.tabnine_users, "teams": sizes.tabnine_teams}},
            tabnine_plan(sizes.tabnine_days, ours),
        ),
    ]


# --------------------------------------------------------------------------- running one scenario


@dataclass
class Output:
    """What the connector wrote to stdout, read as it came."""

    records: Counter[str] = field(default_factory=Counter)
    states: Dict[str, Any] = field(default_factory=dict)  # stream -> its last stream_state
    errors: List[str] = field(default_factory=list)
    reported: List[int] = field(default_factory=lambda: [0, 0, 0])  # Sync summary: requests, retries, waits
    remainder: bytes = b""

    def feed(self, chunk: bytes) -> None:
        lines = (self.remainder + chunk).split(b"\n")
        self.remainder = lines.pop()
        for line in lines:
            if line.startswith(RECORD):
                # The stream name sits right after {"type":"RECORD","record":{"stream":"
                start = line.find(b'"stream":"', 0, 64) + 10
                self.records[line[start : line.find(b'"', start)].decode()] += 1
            elif line.startswith(STATE):
                state = json.loads(line)["state"]
                stream = state.get("stream") or {}
                self.states[stream.get("stream_descriptor", {}).get("name", "?")] = stream.get("stream_state")
            elif b'"type":"ERROR"' in line or b'"level":"FATAL"' in line or b'"level":"ERROR"' in line:
                try:
                    message = json.loads(line)
                except ValueError:
                    continue
                error = (message.get("trace") or {}).get("error") or message.get("log") or {}
                self.errors.append(str(error.get("message", ""))[:300])
            elif (found := SUMMARY.search(line)) is not None:
                for i in range(3):
                    self.reported[i] += int(found.group(i + 1))


@dataclass
class Process:
    wall_s: float
    launched_at: float  # time.time(), to compare with the emulator's log
    exit_code: int
    cpu_s: float
    peak_rss_mb: float
    output: Output
    stderr_tail: str


def run_connector(command: List[str], workdir: Path, timeout: float) -> Process:
    stderr_path = workdir / "stderr.txt"
    output = Output()
    with stderr_path.open("wb") as stderr:
        launched_at, started = time.time(), time.monotonic()
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=stderr, cwd=workdir)
        assert process.stdout is not None
        watchdog = threading.Timer(timeout, process.kill)
        watchdog.start()
        try:
            descriptor = process.stdout.fileno()
            # Large reads: one system call drains the pipe, so the reader (which shares this
            # process's GIL with the emulator) holds the connector up as little as possible.
            while chunk := os.read(descriptor, 1 << 20):
                output.feed(chunk)
            # The child's own rusage (RUSAGE_CHILDREN would add up every earlier scenario).
            _, status, usage = os.wait4(process.pid, 0)
            wall = time.monotonic() - started
        finally:
            watchdog.cancel()
        process.returncode = os.waitstatus_to_exitcode(status)
        process.stdout.close()
    tail = stderr_path.read_text(errors="replace")[-1500:]
    return Process(
        wall_s=wall,
        launched_at=launched_at,
        exit_code=process.returncode,
        cpu_s=usage.ru_utime + usage.ru_stime,
        peak_rss_mb=usage.ru_maxrss / 1024,  # KiB on Linux
        output=output,
        stderr_tail=tail,
    )


def run_scenario(scenario: Scenario, timeout: float = 300) -> Dict[str, Any]:
    emulator = Emulator(**scenario.emulator)
    throttles = Throttles(emulator)
    plan = scenario.plan(emulator)
    floor = None
    groups: Dict[str, Tuple[int, Tuple[int, float]]] = {}
    for endpoint in plan.endpoints:
        if scenario.rate_limited and endpoint.group and endpoint.limit:
            needed, _ = groups.get(endpoint.group, (0, endpoint.limit))
            groups[endpoint.group] = (needed + endpoint.min_requests, endpoint.limit)
    if groups:
        floor = max(floor_seconds(needed, *limit) for needed, limit in groups.values())
    with emulator, tempfile.TemporaryDirectory(prefix="bench-") as temp:
        workdir = Path(temp)
        config = json.loads(json.dumps(plan.config))
        for name, vendor in emulator.vendors.items():
            if name in config:  # the vendor's section for this emulator (key, URL), then the scenario's settings
                config[name] = {**vendor.connector_section(emulator.url), **config[name]}
        (workdir / "config.json").write_text(json.dumps(config))
        (workdir / "catalog.json").write_text(json.dumps(configured_catalog(plan.streams)))
        command = [*plan.command, "--config", "config.json", "--catalog", "catalog.json"]
        timeout += 3 * (floor or 0)
        cpu_before = time.process_time()
        process = run_connector(command, workdir, timeout)
        bench_cpu = time.process_time() - cpu_before
        entries = [e for e in emulator.log.entries() if e.path in {ep.path for ep in plan.endpoints}]
    counts = Counter(entry.path for entry in entries)
    by_endpoint = {
        endpoint.path.rsplit("/", 1)[-1]: [counts[endpoint.path], endpoint.min_requests, throttles.count(endpoint.path)]
        for endpoint in plan.endpoints
    }
    records = sum(process.output.records.values())
    expected = sum(plan.expected.values())
    startup = round(min(e.time for e in entries) - process.launched_at, 2) if entries else None
    span = round(max(e.time for e in entries) - min(e.time for e in entries), 2) if entries else None
    result: Dict[str, Any] = {
        "scenario": scenario.name,
        "records": records,
        "requests": len(entries),
        "min_requests": sum(endpoint.min_requests for endpoint in plan.endpoints),
        "rate_limit_errors": sum(throttles.count(endpoint.path) for endpoint in plan.endpoints),
        "wall_s": round(process.wall_s, 2),
        "floor_s": None if floor is None else round(floor, 2),
        "records_per_s": round(records / process.wall_s),
        "peak_rss_mb": round(process.peak_rss_mb, 1),
        "rps": scenario.rps,
        "expected_records": expected,
        "cpu_s": round(process.cpu_s, 2),
        "records_per_cpu_s": round(records / process.cpu_s) if process.cpu_s else None,
        "startup_s": startup,
        "span_s": span,
        "sync_records_per_s": round(records / (process.wall_s - startup)) if startup is not None and process.wall_s > startup else None,
        "bench_cpu_s": round(bench_cpu, 2),
        "exit_code": process.exit_code,
        "by_endpoint": by_endpoint,
    }
    if records != expected:
        result["records_by_stream"] = {s: [process.output.records[s], n] for s, n in plan.expected.items()}
    if not scenario.name.startswith(("peer_", "cdk_floor_")):  # only ours logs a sync summary
        result["reported"] = dict(zip(("requests", "retries", "rate_limit_waits"), process.output.reported, strict=True))
    result["last_state"] = process.output.states
    if process.exit_code != 0 or process.output.errors:
        result["errors"] = process.output.errors[-3:] or [process.stderr_tail]
    return result


# --------------------------------------------------------------------------- comparison, targets, table


def yardsticks(sizes: Sizes) -> List[Tuple[str, str, Optional[str]]]:
    """Our member scenarios, each with the peer's same scenario and (limits off) the CDK floor's."""
    large = memory_scenarios(sizes)[1]
    return [
        ("jiandaoyun_member_limited", "peer_jiandaoyun_member_limited", None),
        ("jiandaoyun_member_limits_off", "peer_jiandaoyun_member_limits_off", "cdk_floor_member_limits_off"),
        (large, f"peer_{large}", f"cdk_floor_{large}"),
    ]


def comparison(results: Mapping[str, Dict[str, Any]], ours: str, peer: str) -> Optional[Dict[str, Any]]:
    if ours not in results or peer not in results:
        return None
    a, b = results[ours], results[peer]
    return {
        "scenario": f"compare_{ours}_vs_{peer}",
        "records_per_s_ratio": round(a["records_per_s"] / b["records_per_s"], 2) if b["records_per_s"] else None,
        "records_per_cpu_s_ratio": round(a["records_per_cpu_s"] / b["records_per_cpu_s"], 2) if b["records_per_cpu_s"] else None,
        "sync_records_per_s_ratio": round(a["sync_records_per_s"] / b["sync_records_per_s"], 2)
        if a["sync_records_per_s"] and b["sync_records_per_s"]
        else None,
        "ours_records_per_s": a["records_per_s"],
        "peer_records_per_s": b["records_per_s"],
        "ours_records_per_cpu_s": a["records_per_cpu_s"],
        "peer_records_per_cpu_s": b["records_per_cpu_s"],
    }


def targets(results: Mapping[str, Dict[str, Any]], sizes: Sizes, limited: Sequence[str]) -> Dict[str, Any]:
    """The issue's targets for our connector (the peer is the yardstick, not judged)."""
    verdicts: Dict[str, Any] = {"scenario": "targets"}
    for name in limited:
        if name in results and not name.startswith("peer_"):
            r = results[name]
            verdicts[f"{name}: requests == min_requests"] = r["requests"] == r["min_requests"]
            verdicts[f"{name}: rate_limit_errors == 0"] = r["rate_limit_errors"] == 0
    if "jiandaoyun_all_limited" in results:
        r = results["jiandaoyun_all_limited"]
        verdicts["jiandaoyun_all_limited: wall_s <= 1.05 * floor_s"] = r["wall_s"] <= 1.05 * r["floor_s"]
        verdicts["jiandaoyun_all_limited: wall_s / floor_s"] = round(r["wall_s"] / r["floor_s"], 3) if r["floor_s"] else None
    for ours, peer, floor in yardsticks(sizes):
        if floor is None:
            continue  # rate-limited: the records_per_s target is for limits off
        pair = comparison(results, ours, peer)
        if pair:
            verdicts[f"{ours}: records_per_s >= 3x peer"] = (pair["records_per_s_ratio"] or 0) >= 3
            verdicts[f"{ours}: records_per_s / peer"] = pair["records_per_s_ratio"]
        ceiling = comparison(results, floor, peer)
        if ceiling:
            # What a CDK source that sends no request at all reaches: no HTTP connector can do better.
            verdicts[f"{ours}: ceiling for any CDK source ({floor} / peer)"] = ceiling["records_per_s_ratio"]
    small, large = memory_scenarios(sizes)
    if small in results and large in results:
        a, b = results[small]["peak_rss_mb"], results[large]["peak_rss_mb"]
        verdicts[f"peak_rss_mb {small} vs {large} within 10%"] = abs(b - a) <= 0.10 * min(a, b)
    return verdicts


COLUMNS = (
    "scenario", "records", "requests", "min_requests", "rate_limit_errors",
    "wall_s", "floor_s", "records_per_s", "cpu_s", "peak_rss_mb", "rps",
)  # fmt: skip


def markdown(results: Sequence[Dict[str, Any]]) -> str:
    def cell(value: Any) -> str:
        return "–" if value is None else f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else str(value)

    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(cell(r.get(c)) for c in COLUMNS) + " |" for r in results]
    return "\n".join(lines)


# --------------------------------------------------------------------------- main


def meta(args: argparse.Namespace, sizes: Sizes) -> Dict[str, Any]:
    """What was measured: the code (commit, and whether the tree had edits), the machine, the sizes."""

    def git(*command: str) -> str:
        try:
            done = subprocess.run(["git", *command], cwd=ROOT, capture_output=True, text=True, timeout=10)
        except OSError:
            return ""
        return done.stdout.strip() if done.returncode == 0 else ""

    return {
        "scenario": "meta",
        "commit": git("rev-parse", "--short", "HEAD") or None,
        "source_edited": bool(git("status", "--porcelain", "--", "source_usage")),
        "python": sys.version.split()[0],
        "cpus": os.cpu_count(),
        "rps": args.rps,
        "quick": args.quick,
        "sizes": vars(sizes),
    }


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenarios", nargs="+", metavar="NAME", help="scenario names or shell patterns (default: all)")
    parser.add_argument(
        "--rps",
        type=int,
        default=1,
        help="Jiandaoyun's limit per endpoint on both sides in the rate-limited scenarios (default: the "
        "documented 1, about 200 s per scenario; 10, a raised quota, takes about 20 s)",
    )
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run of every scenario")
    parser.add_argument("--markdown", action="store_true", help="also print the results as a markdown table")
    parser.add_argument("--list", action="store_true", help="list the scenarios and exit")
    parser.add_argument(
        "--source-usage",
        type=Path,
        default=SOURCE_USAGE,
        metavar="PATH",
        help="the source-usage command to measure (default: the one next to this python), e.g. a candidate fix's",
    )
    parser.add_argument("--timeout", type=float, default=300, help="seconds a connector may run beyond 3x its floor before it is killed")
    args = parser.parse_args(argv)
    if args.rps < 1 or args.rps > 1000:
        parser.error("--rps must be from 1 to 1000 (the connector's allowed range)")

    sizes = QUICK if args.quick else Sizes()
    chosen = scenarios(sizes, args.rps, args.source_usage.absolute())
    if args.scenarios:
        chosen = [s for s in chosen if any(fnmatch.fnmatchcase(s.name, pattern) for pattern in args.scenarios)]
        if not chosen:
            parser.error("no scenario matches " + " ".join(args.scenarios))
    if args.list:
        for scenario in chosen:
            print(scenario.name)
        return 0
    for command in (args.source_usage, DECLARATIVE):
        if not command.exists():
            parser.error(f"{command} is missing: run this with the project's venv python (.venv/bin/python bench/run.py)")

    print(json.dumps(meta(args, sizes)), flush=True)
    results: Dict[str, Dict[str, Any]] = {}
    failed = False
    for scenario in chosen:
        log(f"== {scenario.name} ...")
        result = run_scenario(scenario, args.timeout)
        results[scenario.name] = result
        failed |= result["exit_code"] != 0 or result["records"] != result["expected_records"]
        print(json.dumps(result, ensure_ascii=False), flush=True)

    sticks = yardsticks(sizes)
    for ours, peer in [(ours, peer) for ours, peer, _ in sticks] + [(floor, peer) for _, peer, floor in sticks if floor]:
        pair = comparison(results, ours, peer)
        if pair:
            print(json.dumps(pair), flush=True)
    print(json.dumps(targets(results, sizes, [s.name for s in chosen if s.rate_limited])), flush=True)
    if args.markdown:
        print(markdown(list(results.values())))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

"""The benchmark of issue 6: requests, rate-limit errors, wall time, CPU and memory per scenario.

    .venv/bin/python bench/run.py                      # every scenario, rate limits at the documented rates (~13 min)
    .venv/bin/python bench/run.py --rps 10             # a raised quota of 10 req/s per endpoint on both sides (~3 min)
    .venv/bin/python bench/run.py --quick              # small sizes, a smoke run (under a minute)
    .venv/bin/python bench/run.py --scenarios '*_limits_off' 'peer_*' --markdown
    .venv/bin/python bench/run.py --source-usage /path/to/other/venv/bin/source-usage   # a candidate build
    .venv/bin/python bench/run.py --scenarios '*_300ms*' --markdown   # over a network, and the CDK start-up (~6 min)
    .venv/bin/python bench/run.py --slow-destination --markdown       # a destination reading 200 lines/s (~6 min)

Run on demand, not by the test suite. The scenarios are the vendors': ``bench/scenarios/`` holds
a module per emulated vendor (``bench.scenarios``: a list of ``BenchScenario``, each its emulator
options, the streams, the endpoints with the requests they need at least and their rate-limit
budgets, the round trips that must follow one another, the records expected, and how the scenario
is judged), and this file runs every vendor's, in vendor-name order; a slow-destination scenario
only when asked for (``--slow-destination``, or by name). Each scenario starts a fresh API emulator in this process
(``emulator``, its Python API) and runs one connector as a subprocess: the
installed ``source-usage`` command next to ``sys.executable``; for a ``peer`` scenario, the CDK's
``source-declarative-manifest`` with the manifest of ``bench/peer/`` it names; for a ``cdk_floor``
scenario, ``bench/cdk_floor.py``: a CDK source that sends no request and yields as many records of
the stream, the least wall time any CDK connector can take for them. The connector's stdout is
read as a stream (RECORD lines counted, the last STATE of each stream kept), never held in
memory. A ``meta`` line (commit, machine, sizes), one JSON line per scenario, lines comparing a
scenario of ours with the peer's same scenario and the CDK floor with the peer (``compare_*``:
ratios of ``records_per_s``, ``sync_records_per_s`` and ``records_per_cpu_s``) and one line of
target verdicts go to stdout; progress goes to stderr. The exit status is 1 when a connector
failed or read other than the expected number of records.

Fields of a scenario line:

- ``records``: RECORD messages read; ``expected_records``: what the emulator's sizes give.
- ``requests``: requests the emulator received on the scenario's endpoints (rate-limited ones
  included); ``min_requests``: what the sizes need (pages per period per endpoint, as the
  vendor's scenario works them out); ``by_endpoint``: ``[requests, min_requests,
  rate_limit_errors]`` per endpoint.
- ``rate_limit_errors``: answers that were the vendor's own "too fast" (its ``throttled`` answer).
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
- ``startup_cpu_s``: the connector's CPU when its first request reached the emulator (read from
  ``/proc/PID/stat`` then: importing the CDK, reading config and catalog, planning);
  ``exit_cpu_s``: its CPU after the last output this process read (read from ``/proc`` at each
  read of its stdout: the interpreter's shutdown, a fixed cost of every sync like the start-up);
  ``sync_cpu_s``: what the sync itself cost, ``cpu_s - startup_cpu_s - exit_cpu_s`` (first
  request to last output); ``cpu_ms_per_request``: ``sync_cpu_s`` per request the emulator
  received, in ms; ``cpu_us_per_record``: ``sync_cpu_s`` per record read, in microseconds (the
  same CPU seen per request and per record, not split).
- ``peak_rss_mb``: the connector process's peak resident memory: its ``VmHWM`` (``/proc/PID/status``)
  read at each read of its stdout, the last one before it exited (``ru_maxrss`` only where
  ``/proc`` does not tell: Linux carries the launching process's peak over ``exec`` into a
  child's ``ru_maxrss``, so it says the bench's own size once that is the larger);
  for a slow-destination scenario also ``rss_mb_every_15s``, its resident memory every 15 s (is
  it flat?).
- ``destination_lines_per_s``, ``stopped_after_s`` (slow-destination scenarios): the pace this
  process read the connector's stdout at (a destination that loads slowly: the pipe fills and
  the connector's writes wait), and when it stopped the sync (SIGTERM) to report its memory.
- ``rps``: the per-endpoint limit (requests/second) used on both sides (null: limits off, or the
  vendor's limit is not one of requests per second); ``bench_cpu_s``: CPU of this process
  meanwhile (the emulator, mostly).
- ``latency_ms``, ``jitter_ms``: the emulator's round trip for every answer (the network). A
  vendor's scenario marked ``over_network`` also runs as ``NAME_300ms`` (300 ms a round trip)
  and ``NAME_300ms_jitter`` (300 ms +- 50 ms, repeatable per seed), beside itself at 0 ms.
- ``round_trips``: the longest chain of requests each of which needs the answer of the one before
  (Workato: the listing's pages, then the usage; Tabnine: the organisation, then its usage;
  Jiandaoyun: one), as the vendor's scenario works it out.
- ``ideal_s`` (scenarios over a network and their 0 ms run): ``floor_s`` (0 with no limit) +
  ``round_trips`` round trips (``latency_ms`` each) + the CDK's own start-up, measured in the same run as the wall time
  of the ``cdk_startup`` scenario (``bench/cdk_floor.py`` yielding 0 records: launching Python,
  importing the CDK, reading config and catalog), which runs first whenever such a scenario is
  chosen. ``wall_over_ideal``: ``wall_s / ideal_s``; the issue's targets are 1.25 at a constant
  latency and 1.35 with jitter.
"""

from __future__ import annotations

import argparse
import compileall
import dataclasses
import fnmatch
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.scenarios import BenchPlan, BenchScenario, vendor_scenarios  # noqa: E402
from emulator import Emulator  # noqa: E402
from emulator.core import Reply, Request, VendorEmulator, Window  # noqa: E402
from integration_tests.assertions import without_nulls  # noqa: E402
from integration_tests.runner import configured_catalog  # noqa: E402

BIN = Path(sys.executable).parent
SOURCE_USAGE = BIN / "source-usage"
DECLARATIVE = BIN / "source-declarative-manifest"
CDK_FLOOR = Path(__file__).resolve().parent / "cdk_floor.py"
PEER_MANIFESTS = ROOT / "bench" / "peer"
#: Every scenario's emulator seed.
SEED = 6

RECORD = b'{"type":"RECORD"'
STATE = b'{"type":"STATE"'
SUMMARY = re.compile(rb"Sync summary: [^:]+: (\d+) requests, (\d+) retries, (\d+) rate-limit waits")
#: The networks an ``over_network`` scenario also runs over: name suffix, latency, jitter (ms).
NETWORKS = (("_300ms", 300.0, 0.0), ("_300ms_jitter", 300.0, 50.0))
#: The scenario whose wall time is the CDK's own start-up in ``ideal_s``.
STARTUP = "cdk_startup"
#: The issue's targets for ``wall_s / ideal_s`` over a network, without and with jitter, and the
#: share of requests that may get a rate-limit answer with jitter.
IDEAL_TARGET, IDEAL_TARGET_JITTER, THROTTLED_SHARE_JITTER = 1.25, 1.35, 0.02


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- the emulator


class Throttles:
    """Counts the emulator's rate-limit answers per path, and reads the connector's CPU when its
    first request comes.

    The request log keeps the HTTP status but not the reply body, and a vendor may answer "too
    fast" with a status it uses for other errors too (an HTTP 400 with a code in the body). So the
    emulator's ``answer`` is wrapped on this instance to compare each reply with the vendor's own
    rate-limit answer.
    """

    def __init__(self, emulator: Emulator) -> None:
        self.by_path: Counter[str] = Counter()
        self._lock = threading.Lock()
        #: The connector's process id, once launched; its CPU (s) when its first request came.
        self.connector_pid: Optional[int] = None
        self.first_request_cpu_s: Optional[float] = None
        answer = emulator.answer

        def counting_answer(request: Request, arrival: float) -> Any:
            if self.first_request_cpu_s is None and self.connector_pid is not None:
                with self._lock:
                    if self.first_request_cpu_s is None:
                        self.first_request_cpu_s = process_cpu_s(self.connector_pid)
            vendor, fault, reply = answer(request, arrival)
            if vendor is not None and is_rate_limit(vendor, reply):
                with self._lock:
                    self.by_path[request.path] += 1
            return vendor, fault, reply

        emulator.answer = counting_answer  # type: ignore[method-assign]

    def count(self, path: str) -> int:
        with self._lock:
            return self.by_path[path]


def process_cpu_s(pid: int) -> Optional[float]:
    """The user+system CPU seconds process ``pid`` has used so far, every thread's (``None``
    where ``/proc`` does not tell)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rpartition(")")[2].split()  # after the command name, which may hold spaces
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime in ticks


def process_rss_mb(pid: int, field: str = "VmRSS") -> Optional[float]:
    """Process ``pid``'s resident memory now (``VmHWM``: its peak so far; ``None`` where
    ``/proc`` does not tell)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    found = re.search(rf"^{field}:\s+(\d+) kB", status, re.MULTILINE)
    return int(found.group(1)) / 1024 if found else None


def is_rate_limit(vendor: VendorEmulator, reply: Reply) -> bool:
    """Whether ``reply`` is the vendor's "too fast" answer (its ``Retry-After`` aside)."""
    too_fast = vendor.throttled(1.0)
    return (reply.status, reply.body) == (too_fast.status, too_fast.body)


# --------------------------------------------------------------------------- the scenarios


def floor_seconds(requests: int, window: Window) -> float:
    """The least time ``requests`` requests take under "``calls`` per ``seconds``", the first at t=0."""
    return 0.0 if requests <= 1 else ((requests - 1) // window.calls) * window.seconds


@dataclass(frozen=True)
class Scenario:
    """A vendor's bench scenario, with the vendor it runs against."""

    vendor: str
    spec: BenchScenario

    @property
    def name(self) -> str:
        return self.spec.name

    def emulator(self) -> Emulator:
        spec = self.spec
        vendor: Dict[str, Any] = {self.vendor: dict(spec.options)}
        return Emulator(seed=SEED, rate_limits=spec.rate_limits, latency_ms=spec.latency_ms, jitter_ms=spec.jitter_ms, **vendor)

    def command(self, source_usage: Path) -> List[str]:
        """The connector's command, without --config/--catalog."""
        if self.spec.connector == "peer":
            return [str(DECLARATIVE), "read", "--manifest-path", str(PEER_MANIFESTS / str(self.spec.manifest))]
        if self.spec.connector == "cdk_floor":
            return [sys.executable, str(CDK_FLOOR), "read"]
        return [str(source_usage), "read"]

    def config(self, emulator: Emulator, plan: BenchPlan) -> Dict[str, Any]:
        if self.spec.connector == "cdk_floor":
            # ``records`` of the one stream through the CDK alone, no request; the record is the
            # first of the emulator's ground truth, as our connector emits it.
            (stream,) = plan.streams
            records = plan.expected[stream]
            record = without_nulls(emulator.ground_truth(stream)[0]) if records else {}
            return {"stream": stream, "record": record, "records": records}
        dates = {"start_date": plan.start_date, "end_date": plan.end_date}
        config: Dict[str, Any] = {name: day.isoformat() for name, day in dates.items() if day is not None}
        # The vendor's section for this emulator (key, URL), then the scenario's settings.
        config[self.vendor] = {**emulator.vendor(self.vendor).connector_section(emulator.url), **plan.section}
        return config


def over_networks(spec: BenchScenario) -> List[BenchScenario]:
    """``spec``, and when it is ``over_network`` its runs over :data:`NETWORKS` (judged against
    their ideal, not as the scenario at 0 ms is)."""
    if not spec.over_network or spec.latency_ms:
        return [spec]
    unjudged = {
        "peer": None, "ceiling": None, "speed_target": None, "wall_target": None, "memory_like": None,
        "cpu_ms_per_request_target": None,
    }  # fmt: skip
    return [spec] + [
        dataclasses.replace(spec, name=spec.name + suffix, latency_ms=latency, jitter_ms=jitter, **unjudged)  # type: ignore[arg-type]
        for suffix, latency, jitter in NETWORKS
    ]


def startup_scenario(vendor: str, like: BenchScenario) -> Scenario:
    """The CDK's start-up: the CDK floor yielding no record of the first stream ``like`` syncs."""

    def plan(served: VendorEmulator) -> BenchPlan:
        stream = like.plan(served).streams[0]
        return BenchPlan((stream,), {stream: 0})

    return Scenario(vendor, BenchScenario(STARTUP, like.options, plan, connector="cdk_floor"))


def scenarios(quick: bool, rps: int) -> List[Scenario]:
    """Every scenario of every vendor the emulator serves (and those over a network), then the
    CDK's start-up when a scenario is over a network."""
    found = [
        Scenario(name, variant) for name, specs in vendor_scenarios(quick, rps).items() for spec in specs for variant in over_networks(spec)
    ]
    networked = [scenario for scenario in found if scenario.spec.over_network]
    if networked:
        found.append(startup_scenario(networked[0].vendor, networked[0].spec))
    names = Counter(scenario.name for scenario in found)
    twice = sorted(name for name, count in names.items() if count > 1)
    if twice:
        raise ValueError(f"two bench scenarios are named {', '.join(twice)}")
    return found


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
    #: The connector's CPU (s) when this process last read its stdout (``None``: ``/proc`` did not tell).
    last_output_cpu_s: Optional[float] = None
    #: When this process stopped the connector (a slow destination's time was up), else ``None``.
    stopped_after_s: Optional[float] = None
    rss_samples_mb: List[Optional[float]] = field(default_factory=list)


@dataclass(frozen=True)
class Destination:
    """How the connector's stdout is read: as fast as it comes (``lines_per_s`` ``None``), or at
    ``lines_per_s`` for ``seconds``, then the sync is stopped."""

    lines_per_s: Optional[float] = None
    seconds: Optional[float] = None
    #: Resident memory sampled this often (s) while a slow destination reads.
    sample_every: float = 15.0


def run_connector(
    command: List[str], workdir: Path, timeout: float, on_launch: Callable[[int], None], destination: Destination = Destination()
) -> Process:
    stderr_path = workdir / "stderr.txt"
    output = Output()
    rate, seconds = destination.lines_per_s, destination.seconds
    samples: List[Optional[float]] = []
    stopped_after: Optional[float] = None
    with stderr_path.open("wb") as stderr:
        launched_at, started = time.time(), time.monotonic()
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=stderr, cwd=workdir)
        on_launch(process.pid)
        assert process.stdout is not None
        watchdog = threading.Timer(timeout + (seconds or 0), process.kill)
        watchdog.start()
        try:
            descriptor = process.stdout.fileno()
            lines, next_sample = 0, 0.0
            last_output_cpu: Optional[float] = None
            peak_rss: Optional[float] = None
            # Large reads: one system call drains the pipe, so the reader (which shares this
            # process's GIL with the emulator) holds the connector up as little as possible. A
            # slow destination reads a pipe's worth at a time and waits until its pace allows
            # the lines it read.
            while chunk := os.read(descriptor, 1 << 16 if rate else 1 << 20):
                output.feed(chunk)
                last_output_cpu = process_cpu_s(process.pid)
                peak_rss = process_rss_mb(process.pid, "VmHWM") or peak_rss
                if rate is None or seconds is None or stopped_after is not None:
                    continue
                lines += chunk.count(b"\n")
                elapsed = time.monotonic() - started
                while elapsed >= next_sample and next_sample <= seconds:
                    samples.append(process_rss_mb(process.pid))
                    next_sample += destination.sample_every
                if elapsed >= seconds:
                    stopped_after = elapsed
                    process.terminate()  # then drain the pipe as fast as it comes, so the connector can exit
                    continue
                time.sleep(max(0.0, min(lines / rate - elapsed, next_sample - elapsed, seconds - elapsed)))
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
        peak_rss_mb=peak_rss or usage.ru_maxrss / 1024,  # KiB on Linux
        output=output,
        stderr_tail=tail,
        last_output_cpu_s=last_output_cpu,
        stopped_after_s=stopped_after,
        rss_samples_mb=samples,
    )


def run_scenario(scenario: Scenario, source_usage: Path, timeout: float = 300, destination: Destination = Destination()) -> Dict[str, Any]:
    emulator = scenario.emulator()
    throttles = Throttles(emulator)
    plan = scenario.spec.plan(emulator.vendor(scenario.vendor))
    floor = None
    groups: Dict[str, Tuple[int, Window]] = {}
    for endpoint in plan.endpoints:
        if scenario.spec.paced and endpoint.group and endpoint.limit:
            needed, _ = groups.get(endpoint.group, (0, endpoint.limit))
            groups[endpoint.group] = (needed + endpoint.min_requests, endpoint.limit)
    if groups:
        floor = max(floor_seconds(needed, limit) for needed, limit in groups.values())
    with emulator, tempfile.TemporaryDirectory(prefix="bench-") as temp:
        workdir = Path(temp)
        (workdir / "config.json").write_text(json.dumps(scenario.config(emulator, plan)))
        (workdir / "catalog.json").write_text(json.dumps(configured_catalog(list(plan.streams))))
        command = [*scenario.command(source_usage), "--config", "config.json", "--catalog", "catalog.json"]
        timeout += 3 * (floor or 0)
        cpu_before = time.process_time()

        def launched(pid: int) -> None:
            throttles.connector_pid = pid

        process = run_connector(command, workdir, timeout, launched, destination)
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
    startup_cpu = throttles.first_request_cpu_s if entries else None
    last_cpu = process.last_output_cpu_s
    exit_cpu = max(0.0, process.cpu_s - last_cpu) if last_cpu is not None and process.stopped_after_s is None else None
    sync_cpu = max(0.0, process.cpu_s - startup_cpu - (exit_cpu or 0.0)) if startup_cpu is not None else None
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
        "rps": scenario.spec.rps,
        "latency_ms": scenario.spec.latency_ms,
        "jitter_ms": scenario.spec.jitter_ms,
        "expected_records": expected,
        "cpu_s": round(process.cpu_s, 2),
        "records_per_cpu_s": round(records / process.cpu_s) if process.cpu_s else None,
        "startup_cpu_s": None if startup_cpu is None else round(startup_cpu, 2),
        "sync_cpu_s": None if sync_cpu is None else round(sync_cpu, 2),
        "exit_cpu_s": None if exit_cpu is None else round(exit_cpu, 2),
        "cpu_ms_per_request": round(1000 * sync_cpu / len(entries), 2) if sync_cpu is not None and entries else None,
        "cpu_us_per_record": round(1e6 * sync_cpu / records, 1) if sync_cpu is not None and records else None,
        "round_trips": plan.round_trips,
        "startup_s": startup,
        "span_s": span,
        "sync_records_per_s": round(records / (process.wall_s - startup)) if startup is not None and process.wall_s > startup else None,
        "bench_cpu_s": round(bench_cpu, 2),
        "exit_code": process.exit_code,
        "by_endpoint": by_endpoint,
    }
    if destination.lines_per_s is not None:
        result["destination_lines_per_s"] = destination.lines_per_s
        result["stopped_after_s"] = None if process.stopped_after_s is None else round(process.stopped_after_s, 1)
        result["rss_mb_every_15s"] = [None if mb is None else round(mb, 1) for mb in process.rss_samples_mb]
    if records != expected:
        result["records_by_stream"] = {s: [process.output.records[s], n] for s, n in plan.expected.items()}
    if scenario.spec.connector == "ours":  # only ours logs a sync summary
        result["reported"] = dict(zip(("requests", "retries", "rate_limit_waits"), process.output.reported, strict=True))
    result["last_state"] = process.output.states
    if process.stopped_after_s is None and (process.exit_code != 0 or process.output.errors):
        result["errors"] = process.output.errors[-3:] or [process.stderr_tail]
    return result


# --------------------------------------------------------------------------- comparison, targets, table


def add_ideal(result: Dict[str, Any], spec: BenchScenario, startup_s: Optional[float]) -> None:
    """``ideal_s`` and ``wall_over_ideal`` of a scenario over a network (or its 0 ms run)."""
    if not spec.over_network or startup_s is None:
        return
    ideal = (result["floor_s"] or 0.0) + result["round_trips"] * spec.latency_ms / 1000 + startup_s
    result["ideal_s"] = round(ideal, 2)
    result["wall_over_ideal"] = round(result["wall_s"] / ideal, 2)


def yardsticks(every: Sequence[Scenario]) -> Iterator[Tuple[str, str]]:
    """The pairs compared: each scenario of ours with the peer's same scenario, then the CDK
    floor for the same records (the ceiling of any CDK source) with that peer scenario."""
    compared = [scenario.spec for scenario in every if scenario.spec.peer]
    yield from ((spec.name, str(spec.peer)) for spec in compared)
    yield from ((spec.ceiling, str(spec.peer)) for spec in compared if spec.ceiling)


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


def targets(results: Mapping[str, Dict[str, Any]], every: Sequence[Scenario], chosen: Sequence[Scenario]) -> Dict[str, Any]:
    """The issue's targets for our connector (the peer is the yardstick, not judged), as the
    vendors' scenarios set them."""
    verdicts: Dict[str, Any] = {"scenario": "targets"}
    for scenario in chosen:
        spec = scenario.spec
        if spec.paced and spec.connector != "peer" and scenario.name in results:
            r = results[scenario.name]
            verdicts[f"{scenario.name}: requests == min_requests"] = r["requests"] == r["min_requests"]
            if spec.jitter_ms:  # two requests sent one window apart may arrive closer: a few are throttled
                share = THROTTLED_SHARE_JITTER
                verdicts[f"{scenario.name}: rate_limit_errors <= {share:.0%} of requests"] = r["rate_limit_errors"] <= share * r["requests"]
            else:
                verdicts[f"{scenario.name}: rate_limit_errors == 0"] = r["rate_limit_errors"] == 0
        if spec.latency_ms and scenario.name in results and "ideal_s" in results[scenario.name]:
            r, most = results[scenario.name], IDEAL_TARGET_JITTER if spec.jitter_ms else IDEAL_TARGET
            verdicts[f"{scenario.name}: wall_s <= {most:g} * ideal_s"] = r["wall_over_ideal"] <= most
    specs = [scenario.spec for scenario in every]
    for spec in specs:
        if spec.wall_target is not None and spec.name in results:
            r, most = results[spec.name], spec.wall_target
            verdicts[f"{spec.name}: wall_s <= {most:g} * floor_s"] = r["wall_s"] <= most * r["floor_s"]
            verdicts[f"{spec.name}: wall_s / floor_s"] = round(r["wall_s"] / r["floor_s"], 3) if r["floor_s"] else None
    for spec in specs:
        if spec.speed_target is None or spec.peer is None:
            continue
        pair = comparison(results, spec.name, spec.peer)
        if pair:
            verdicts[f"{spec.name}: records_per_s >= {spec.speed_target:g}x peer"] = (pair["records_per_s_ratio"] or 0) >= spec.speed_target
            verdicts[f"{spec.name}: records_per_s / peer"] = pair["records_per_s_ratio"]
        ceiling = comparison(results, spec.ceiling, spec.peer) if spec.ceiling else None
        if ceiling:
            # What a CDK source that sends no request at all reaches: no HTTP connector can do better.
            verdicts[f"{spec.name}: ceiling for any CDK source ({spec.ceiling} / peer)"] = ceiling["records_per_s_ratio"]
    for spec in specs:
        if spec.cpu_ms_per_request_target is not None and spec.name in results:
            r, most = results[spec.name], spec.cpu_ms_per_request_target
            measured = r["cpu_ms_per_request"]  # None: no request, or /proc did not tell: not met
            verdicts[f"{spec.name}: cpu_ms_per_request <= {most:g}"] = measured is not None and measured <= most
        if spec.rss_target_mb is not None and spec.name in results:
            verdicts[f"{spec.name}: peak_rss_mb < {spec.rss_target_mb:g}"] = results[spec.name]["peak_rss_mb"] < spec.rss_target_mb
    for spec in specs:
        small, large = spec.memory_like, spec.name
        if small is not None and small in results and large in results:
            a, b = results[small]["peak_rss_mb"], results[large]["peak_rss_mb"]
            verdicts[f"peak_rss_mb {small} vs {large} within 10%"] = abs(b - a) <= 0.10 * min(a, b)
    return verdicts


COLUMNS = (
    "scenario", "records", "requests", "min_requests", "rate_limit_errors",
    "wall_s", "floor_s", "ideal_s", "wall_over_ideal", "records_per_s", "cpu_s", "cpu_ms_per_request",
    "cpu_us_per_record", "peak_rss_mb", "rps",
)  # fmt: skip


def markdown(results: Sequence[Dict[str, Any]]) -> str:
    def cell(value: Any) -> str:
        return "–" if value is None else f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else str(value)

    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(cell(r.get(c)) for c in COLUMNS) + " |" for r in results]
    return "\n".join(lines)


# --------------------------------------------------------------------------- main


def meta(args: argparse.Namespace, chosen: Sequence[Scenario]) -> Dict[str, Any]:
    """What was measured: the code (commit, and whether the tree had edits), the machine, the
    sizes (each scenario's emulator options and days)."""

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
        "sizes": {s.name: {**s.spec.options, "days": s.spec.days, **network(s.spec)} for s in chosen},
    }


def network(spec: BenchScenario) -> Dict[str, float]:
    return {"latency_ms": spec.latency_ms, "jitter_ms": spec.jitter_ms} if spec.latency_ms else {}


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenarios", nargs="+", metavar="NAME", help="scenario names or shell patterns (default: all)")
    parser.add_argument(
        "--rps",
        type=int,
        default=1,
        help="the per-endpoint limit (requests/second) on both sides in the rate-limited scenarios of a vendor "
        "whose limit is one (default: 1, as documented, about 200 s per scenario; 10, a raised quota, takes about 20 s)",
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
    parser.add_argument(
        "--slow-destination",
        action="store_true",
        help="run the slow-destination scenarios (a destination reading 200 lines/s for 90 s each: the connector's "
        "memory while it waits), besides those --scenarios names",
    )
    slow = "the slow destination's"
    parser.add_argument("--destination-lines-per-s", type=float, metavar="N", help=f"{slow} pace (default: the scenario's, 200)")
    parser.add_argument("--destination-seconds", type=float, metavar="S", help=f"how long {slow} reads (default: the scenario's, 90)")
    args = parser.parse_args(argv)
    if args.rps < 1:
        parser.error("--rps must be at least 1 (and at most what the connector's spec allows: a config above it is refused)")

    every = scenarios(args.quick, args.rps)
    chosen = [s for s in every if not s.spec.on_demand]
    if args.scenarios:
        chosen = [s for s in every if any(fnmatch.fnmatchcase(s.name, pattern) for pattern in args.scenarios)]
        if not chosen:
            parser.error("no scenario matches " + " ".join(args.scenarios))
    if args.slow_destination:  # alone: only those; with --scenarios, those besides
        picked = chosen if args.scenarios else []
        chosen = picked + [s for s in every if s.spec.on_demand and s not in picked]
    if any(s.spec.over_network for s in chosen) and all(s.name != STARTUP for s in chosen):
        chosen = [s for s in every if s.name == STARTUP] + chosen  # the start-up in their ideal_s
    chosen = sorted(chosen, key=lambda s: s.name != STARTUP)  # first: measured before, and alike for, every scenario
    if args.list:
        for scenario in chosen:
            print(scenario.name)
        return 0
    for command in (args.source_usage, DECLARATIVE):
        if not command.exists():
            parser.error(f"{command} is missing: run this with the project's venv python (.venv/bin/python bench/run.py)")

    # A user's install (the wheel, the image) holds the package's bytecode, compiled by pip; an
    # editable install does not, and where PYTHONDONTWRITEBYTECODE is set (as on the dev machine)
    # every run would compile the package again: 0.2-0.4 s a sync (measured), which no user pays.
    compileall.compile_dir(str(ROOT / "source_usage"), quiet=1)
    print(json.dumps(meta(args, chosen)), flush=True)
    results: Dict[str, Dict[str, Any]] = {}
    failed = False
    for scenario in chosen:
        log(f"== {scenario.name} ...")
        destination = Destination()
        if scenario.spec.on_demand:
            destination = Destination(
                args.destination_lines_per_s or scenario.spec.destination_lines_per_s, args.destination_seconds or scenario.spec.seconds
            )
        result = run_scenario(scenario, args.source_usage.absolute(), args.timeout, destination)
        add_ideal(result, scenario.spec, results[STARTUP]["wall_s"] if STARTUP in results else None)
        results[scenario.name] = result
        if destination.lines_per_s is not None:  # stopped by design: failed only when it failed before
            failed |= result["stopped_after_s"] is None and result["exit_code"] != 0
        else:
            failed |= result["exit_code"] != 0 or result["records"] != result["expected_records"]
        print(json.dumps(result, ensure_ascii=False), flush=True)

    for ours, peer in yardsticks(every):
        pair = comparison(results, ours, peer)
        if pair:
            print(json.dumps(pair), flush=True)
    print(json.dumps(targets(results, every, chosen)), flush=True)
    if args.markdown:
        print(markdown(list(results.values())))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

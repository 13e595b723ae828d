"""Run the test suite: ruff, mypy on source_usage/, hadolint, and pytest (unit and end-to-end).

    python3 tools/test.py                      # the whole suite (and tools/lock.py --check), at the real date
    python3 tools/test.py --quick              # the edit loop: ruff, mypy, the tests that start no process
    python3 tools/test.py --at 2026-12-31T16:30:00Z     # the whole suite with that instant as "now"
    python3 tools/test.py --calendar           # the tests that read "today", at each instant of CALENDAR
    python3 tools/test.py --burn 2 --runs 3    # the whole suite three times, two CPU-burning processes beside it
    python3 tools/test.py [options] -- PYTEST ARGUMENTS    # e.g. -- unit_tests -k budget

Sets up ``.venv`` first when needed (``tools/bootstrap.py``); ``--fresh`` rebuilds it from
nothing, as CI does. Options combine (``--quick --at ...``, ``--calendar --burn 1``).

``--at`` moves the clock of every process the suite starts, through ``tools/clock/sitecustomize.py``
(see there): the wall clock starts at the instant and runs on; sleeps and timeouts keep real time.
Tests that read "today" are marked ``reads_today``; ``--calendar`` runs them at each instant below,
the edges where a day, a month or a year differs between UTC and the vendors' zones.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Dict, Iterator, List, Sequence, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bootstrap import ROOT, check_python, ensure_venv, venv_bin  # noqa: E402

CLOCK_FOLDER = ROOT / "tools" / "clock"
CLOCK_VARIABLE = "SOURCE_USAGE_TEST_CLOCK"

#: The instants ``--calendar`` runs the ``reads_today`` tests at, and why each. 31 December at
#: 16:30 UTC is both a month's and a year's last day with UTC+8 past it; one DST change per
#: region, one of each length (a 25-hour day in Europe, a 23-hour one in the US): every instant
#: costs CI about 20 s, and the DST tests build their own days on both sides anyway.
CALENDAR: Dict[str, str] = {
    "2027-03-01T00:30:00Z": "the 1st of a month, 00:30 UTC: the latest finished day is the last of February everywhere",
    "2026-12-31T16:30:00Z": "the last day of a month and of a year, 16:30 UTC: UTC+8 is already in the next month and year",
    "2028-02-29T12:00:00Z": "29 February 2028, a leap day",
    "2027-10-31T02:30:00Z": "the European autumn change (01:00 UTC): the day has 25 hours in Europe",
    "2027-03-14T11:30:00Z": "the US spring change (10:00 UTC in Los Angeles): the day has 23 hours there",
}

#: Most tests wait on a subprocess or a loopback server: one worker per core. Tests are handed
#: out one by one as workers free up, except those of a group (``xdist_group``), which share files.
PYTEST_DEFAULT = ["-n", "auto", "--dist", "loadgroup", "--durations", "25"]
QUICK = ["-m", "not process", "-n", "auto", "--dist", "loadgroup", "--durations", "10"]


#: The folders ruff checks besides conftest.py: all the Python of the repository.
LINTED = ("source_usage", "emulator", "unit_tests", "integration_tests", "tools", "bench")


def parse(argv: Sequence[str]) -> Tuple[argparse.Namespace, List[str]]:
    parser = argparse.ArgumentParser(
        prog="tools/test.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter, allow_abbrev=False
    )
    parser.add_argument("--fresh", action="store_true", help="rebuild .venv from nothing first, as CI does")
    parser.add_argument(
        "--quick", action="store_true", help="ruff, mypy and the tests that start no process (connector, Docker, PostgreSQL, browser)"
    )
    parser.add_argument("--at", metavar="INSTANT", help="run with INSTANT (ISO-8601 with an offset or Z) as now, in every process")
    parser.add_argument("--calendar", action="store_true", help="run the reads_today tests at each instant of CALENDAR (no linters)")
    parser.add_argument("--burn", type=int, default=0, metavar="N", help="keep N CPU-burning processes running beside the suite")
    parser.add_argument("--runs", type=int, default=1, metavar="K", help="run it K times in a row, stopping at the first failure")
    argv = list(argv)
    own, rest = (argv[: argv.index("--")], argv[argv.index("--") + 1 :]) if "--" in argv else (argv, [])
    options, unknown = parser.parse_known_args(own)
    return options, [*unknown, *rest]


def instant(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise SystemExit(f"--at {text}: give the instant's offset (e.g. {text}Z or {text}+08:00)")
    return moment.astimezone(timezone.utc)


def clock_environment(at: str | None) -> Dict[str, str]:
    """The environment every step runs in: with ``at``, the shifted clock for every Python process."""
    environment = dict(os.environ)
    environment.pop(CLOCK_VARIABLE, None)
    if at is not None:
        moment = instant(at)
        environment[CLOCK_VARIABLE] = f"{moment.isoformat()}@{time.time():.6f}"
        environment["PYTHONPATH"] = os.pathsep.join(filter(None, [str(CLOCK_FOLDER), os.environ.get("PYTHONPATH")]))
    return environment


def lint_steps() -> List[Tuple[str, List[str]]]:
    return [
        ("ruff", [str(venv_bin("ruff")), "check", "conftest.py", *LINTED]),
        ("mypy", [str(venv_bin("mypy")), "source_usage"]),
    ]


def reads_today_files() -> List[str]:
    """The test files that mark a test ``reads_today``: collecting only them saves each calendar
    session the import of every other test module."""
    files = sorted((ROOT / "unit_tests").glob("test_*.py")) + sorted((ROOT / "integration_tests").glob("test_*.py"))
    return [str(path.relative_to(ROOT)) for path in files if "reads_today" in path.read_text()]


def steps(options: argparse.Namespace, pytest_args: List[str], python: Path) -> Iterator[Tuple[str, List[str], Dict[str, str]]]:
    pytest = [str(python), "-m", "pytest"]
    if options.calendar:
        for moment, why in CALENDAR.items():
            command = [*pytest, "-m", "reads_today", *(pytest_args or [*PYTEST_DEFAULT, *reads_today_files()])]
            yield f"pytest at {moment} ({why})", command, clock_environment(moment)
        return
    environment = clock_environment(options.at)
    for name, command in lint_steps():
        yield name, command, environment
    if options.quick:
        yield "pytest", [*pytest, *QUICK, *pytest_args], environment
        return
    # The locks still match pyproject.toml (resolved again in a scratch copy; tools/lock.py).
    yield "lock", [str(python), str(ROOT / "tools" / "lock.py"), "--check"], clock_environment(None)  # uv and pip on the real clock
    yield "hadolint", [str(venv_bin("hadolint")), "Dockerfile"], environment
    yield "pytest", [*pytest, *(pytest_args or PYTEST_DEFAULT)], environment


def burners(count: int) -> List[subprocess.Popen[bytes]]:
    """``count`` processes that each keep a core busy until they are killed."""
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]


def run_once(options: argparse.Namespace, pytest_args: List[str], python: Path) -> int:
    for name, command, environment in steps(options, pytest_args, python):
        shown = " ".join(Path(part).name if index == 0 else part for index, part in enumerate(command))
        print(f"== {name}: {shown}", flush=True)
        started = time.monotonic()
        result = subprocess.run(command, cwd=ROOT, env=environment)
        print(f"== {name}: exit {result.returncode} after {time.monotonic() - started:.0f} s", flush=True)
        if result.returncode != 0:
            return result.returncode
    return 0


def main(argv: Sequence[str]) -> int:
    check_python()  # before anything else, so that an old Python gets one sentence
    options, pytest_args = parse(argv)
    if options.at is not None:
        instant(options.at)  # refuse a bad instant before setting anything up
    python = ensure_venv(fresh=options.fresh)
    burning = burners(options.burn)
    try:
        for number in range(1, options.runs + 1):
            if options.runs > 1 or burning:
                print(f"== run {number} of {options.runs}, {len(burning)} CPU-burning processes beside it", flush=True)
            code = run_once(options, pytest_args, python)
            if code != 0:
                return code
        return 0
    finally:
        for process in burning:
            process.kill()
            process.wait()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

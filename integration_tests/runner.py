"""Running the ``source-usage`` command as Airbyte runs it, and reading its messages.

``Connector(tmp_path).read(config, catalog, state)`` writes the files, runs
``source-usage read --config ... --catalog ... [--state ...]`` and parses stdout into messages.
Every run is kept, so a test (or a fixture) can check them all. Each run is a process of its own:
by default a fork of a process that has already imported the connector
(:mod:`integration_tests.forked_command`: the same code without 1.5 s of start-up per run);
``Connector(workdir, forked=False)`` runs the installed command beside ``sys.executable``.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence

from integration_tests.catalog import Catalog, default_catalog
from integration_tests.forked_command import ForkServer

SOURCE_USAGE = Path(sys.executable).parent / "source-usage"
SCHEMAS = Path(__file__).resolve().parents[1] / "schemas"


def parse_messages(stdout: str) -> List[Dict[str, Any]]:
    """The Airbyte messages of a run's stdout (one JSON object per line; other lines skipped)."""
    messages = []
    for line in stdout.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                messages.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return messages


@dataclass
class Run:
    args: List[str]
    returncode: int
    stdout: str
    stderr: str
    messages: List[Dict[str, Any]] = field(default_factory=list)

    def of_type(self, kind: str) -> List[Dict[str, Any]]:
        return [m for m in self.messages if m.get("type") == kind]

    def records(self, stream: Optional[str] = None) -> List[Dict[str, Any]]:
        return [m["record"]["data"] for m in self.of_type("RECORD") if stream in (None, m["record"]["stream"])]

    def states(self, stream: str) -> List[Dict[str, Any]]:
        """The ``stream_state`` of each STATE message of ``stream``, in order."""
        return [
            m["state"]["stream"]["stream_state"]
            for m in self.of_type("STATE")
            if m["state"].get("stream", {}).get("stream_descriptor", {}).get("name") == stream
        ]

    def last_states(self) -> List[Dict[str, Any]]:
        """The last STATE of every stream, as a ``--state`` file holds them."""
        last: Dict[str, Dict[str, Any]] = {}
        for message in self.of_type("STATE"):
            last[message["state"]["stream"]["stream_descriptor"]["name"]] = message["state"]
        return list(last.values())

    def errors(self) -> List[Dict[str, Any]]:
        return [m["trace"]["error"] for m in self.of_type("TRACE") if m["trace"].get("type") == "ERROR"]

    def connection_status(self) -> Dict[str, Any]:
        (status,) = [m["connectionStatus"] for m in self.of_type("CONNECTION_STATUS")]
        return status

    def describe(self) -> str:
        """What went wrong, for assertion messages."""
        tail = "\n".join(self.stderr.splitlines()[-20:])
        return f"source-usage {' '.join(self.args)} -> {self.returncode}; errors: {self.errors()}\nstderr tail:\n{tail}"


@dataclass(frozen=True)
class TimedRun:
    run: Run
    #: From the first message (the CDK imported, the connector running) to the exit.
    running: float
    #: From the process's start to its exit.
    wall: float


def configured_catalog(streams: Sequence[str], sync_mode: str = "incremental", catalog: Optional[Catalog] = None) -> Dict[str, Any]:
    """A configured catalog of ``streams`` with their schemas, cursors and keys as discover gives
    them (``catalog``; default: the shipped connector's, see :mod:`integration_tests.catalog`).

    A stream without a cursor is configured full refresh whatever ``sync_mode`` says, as a platform
    configures a stream that supports nothing else.
    """
    return (catalog or default_catalog()).configured(streams, sync_mode)


class Connector:
    """Runs ``source-usage`` with files in ``workdir``; keeps every run in ``runs``."""

    def __init__(self, workdir: Path, forked: bool = True) -> None:
        self.workdir = workdir
        self.forked = forked
        self.runs: List[Run] = []
        self._files = 0

    def _write(self, name: str, content: Any) -> str:
        self._files += 1
        path = self.workdir / f"{self._files:02d}-{name}.json"
        path.write_text(json.dumps(content))
        return str(path)

    def arguments(
        self,
        command: str,
        config: Optional[Mapping[str, Any]] = None,
        catalog: Optional[Mapping[str, Any]] = None,
        state: Optional[Iterable[Mapping[str, Any]]] = None,
    ) -> List[str]:
        args = [command]
        if config is not None:
            args += ["--config", self._write("config", config)]
        if catalog is not None:
            args += ["--catalog", self._write("catalog", catalog)]
        if state is not None:
            args += ["--state", self._write("state", list(state))]
        return args

    def start(self, args: List[str], stderr: Optional[IO[Any]] = None) -> Any:
        """A running ``source-usage ARGS`` (a :class:`subprocess.Popen`, or its forked twin), its
        stdout a text pipe, its stderr a text pipe or ``stderr``."""
        if self.forked:
            return ForkServer.shared().start(args, stderr=None if stderr is None else stderr.fileno())
        return subprocess.Popen(
            [str(SOURCE_USAGE), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE if stderr is None else stderr, text=True
        )

    def run(self, command: str, timeout: float = 120, **files: Any) -> Run:
        args = self.arguments(command, **files)
        process = self.start(args)
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
            raise
        return self.keep(args, process.returncode, stdout, stderr)

    def timed(self, args: List[str], timeout: float = 120) -> TimedRun:
        """A run of ``args`` (from :meth:`arguments`), timed from its start and from its first
        message: the part after start-up is the connector's own, the start-up the machine's."""
        started = time.monotonic()
        process = self.start(args)
        assert process.stdout is not None
        first = process.stdout.readline()
        running_since = time.monotonic()
        rest, stderr = process.communicate(timeout=timeout)
        ended = time.monotonic()
        run = self.keep(args, process.returncode, first + rest, stderr)
        return TimedRun(run, running=ended - running_since, wall=ended - started)

    def keep(self, args: List[str], returncode: int, stdout: str, stderr: str) -> Run:
        run = Run(args, returncode, stdout, stderr, parse_messages(stdout))
        self.runs.append(run)
        return run

    def spec(self) -> Run:
        return self.run("spec")

    def check(self, config: Mapping[str, Any]) -> Run:
        return self.run("check", config=config)

    def discover(self, config: Mapping[str, Any]) -> Run:
        return self.run("discover", config=config)

    def read(
        self,
        config: Mapping[str, Any],
        catalog: Mapping[str, Any],
        state: Optional[Iterable[Mapping[str, Any]]] = None,
    ) -> Run:
        return self.run("read", config=config, catalog=catalog, state=state)

    def read_killed_when(
        self,
        stop: Callable[[Dict[str, Any]], bool],
        config: Mapping[str, Any],
        catalog: Mapping[str, Any],
        state: Optional[Iterable[Mapping[str, Any]]] = None,
        timeout: float = 120,
    ) -> Run:
        """A read killed with SIGKILL as soon as it prints a message for which ``stop`` is true.

        The run holds everything the process wrote before it died, as a platform reading its
        stdout would have received it.
        """
        args = self.arguments("read", config=config, catalog=catalog, state=state)
        stderr_path = self.workdir / f"{self._files:02d}-stderr.txt"
        with stderr_path.open("w") as stderr:
            process = self.start(args, stderr=stderr)
            watchdog = threading.Timer(timeout, process.kill)
            watchdog.start()
            lines: List[str] = []
            try:
                assert process.stdout is not None
                for line in process.stdout:
                    lines.append(line)
                    parsed = parse_messages(line)
                    if parsed and stop(parsed[0]):
                        process.send_signal(signal.SIGKILL)
                        break
                lines.append(process.stdout.read())
                process.wait()
            finally:
                watchdog.cancel()
                process.stdout.close()
        return self.keep(args, process.returncode, "".join(lines), stderr_path.read_text())


class InProcessConnector(Connector):
    """Runs ``source`` in this process through the connector's own entrypoint, with the same
    files and the same :class:`Run` as :class:`Connector`: for a source the installed command
    cannot build, such as one given a test's own vendor. ``timeout`` does not apply here, and
    ``read_killed_when`` needs the command."""

    def __init__(self, workdir: Path, source: Any) -> None:
        super().__init__(workdir)
        self.source = source

    def run(self, command: str, timeout: float = 120, **files: Any) -> Run:
        from airbyte_cdk.exception_handler import assemble_uncaught_exception
        from airbyte_cdk.models import AirbyteMessageSerializer

        from source_usage.run import UsageEntrypoint

        args = self.arguments(command, **files)
        entrypoint = UsageEntrypoint(self.source)
        lines: List[str] = []
        returncode = 0
        try:
            for line in entrypoint.run(entrypoint.parse_args(args)):
                lines.append(line)  # one at a time: what came before an error is kept
        except Exception as error:  # noqa: BLE001 - the command's excepthook reports any error
            # What the command prints on an uncaught error: a TRACE message, then exit status 1.
            trace = assemble_uncaught_exception(type(error), error).as_airbyte_message()
            lines.append(json.dumps(AirbyteMessageSerializer.dump(trace)))
            returncode = 1
        return self.keep(args, returncode, "".join(f"{line}\n" for line in lines), "")

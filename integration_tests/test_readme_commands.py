"""The README's newcomer path runs as written: its commands, the sample files they name, and its
PyAirbyte snippet, against the API emulator the README starts.

The README marks two blocks (``<!-- newcomer-commands ... -->`` and ``<!-- pyairbyte-snippet ...
-->``). They run in a scratch directory laid out like a fresh clone after ``tools/demo.py``:
``.venv`` (this test's virtual environment), ``tools/``, ``emulator/`` and copies
of ``integration_tests/sample_configs/``. Three things are not as written, and only these: the
emulator gets a free port instead of the README's fixed one (the copies of the sample files get
it too), the test waits for the emulator's URL instead of the ``sleep`` line, and it stops the
emulator instead of ``kill %1``. The commands name one vendor's files; they run once for every
vendor the emulator serves, with that vendor's files in their place, so every sample file is used.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Dict, Iterator, List, Mapping, Sequence, Set, Tuple

import pytest

from emulator.core import discover_vendors

# the README's commands; one worker runs the module, which shares one costly fixture
pytestmark = [pytest.mark.process, pytest.mark.xdist_group("readme")]

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
SAMPLES = ROOT / "integration_tests" / "sample_configs"
SAMPLES_IN_CLONE = "integration_tests/sample_configs"
EMULATOR_COMMAND = ".venv/bin/python -m emulator"
COMMAND_TIMEOUT_SECONDS = 240
#: Where the walkthrough writes its files: a folder git ignores, so a newcomer's checkout stays clean.
WALKTHROUGH = "demo-output/walkthrough"


def readme_block(marker: str) -> Tuple[str, str]:
    """The fenced block that follows the ``<!-- marker ...-->`` line: its language and its text;
    and the block after it too, for the snippet's run command."""
    text = README.read_text()
    start = text.index(f"<!-- {marker}")
    match = re.compile(r"```(\w+)\n(.*?)```", re.S).search(text, start)
    assert match is not None, f"README: no fenced block after <!-- {marker}"
    return match.group(1), match.group(2)


def next_block_after(marker: str) -> str:
    text = README.read_text()
    start = text.index(f"<!-- {marker}")
    blocks = re.compile(r"```(\w+)\n(.*?)```", re.S).finditer(text, start)
    next(blocks)
    return next(blocks).group(2)


def command_lines(block: str) -> List[str]:
    """The block's commands, without their comments."""
    lines = []
    for line in block.splitlines():
        command = line.split("  #", 1)[0].strip()
        if command and not command.startswith("#"):
            lines.append(command)
    return lines


def readme_port(emulator_line: str) -> int:
    match = re.search(r"--port (\d+)", emulator_line)
    assert match, f"the README's emulator command names no fixed port: {emulator_line}"
    return int(match.group(1))


def sample_vendor(commands: Sequence[str]) -> str:
    """The vendor whose sample files the README's commands name."""
    named = {match for line in commands for match in re.findall(rf"{SAMPLES_IN_CLONE}/(\w+?)(?:_catalog)?\.json", line)}
    assert len(named) == 1, f"the README's commands should name one vendor's sample files, not {sorted(named)}"
    return named.pop()


def messages(text: str) -> List[Dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


# --------------------------------------------------------------------------- the committed files


VENDORS = sorted(discover_vendors())


def test_every_vendor_the_emulator_serves_has_a_sample_config_and_catalog() -> None:
    have = sorted(path.name for path in SAMPLES.glob("*.json"))
    assert have == sorted([f"{vendor}.json" for vendor in VENDORS] + [f"{vendor}_catalog.json" for vendor in VENDORS])


@pytest.mark.parametrize("vendor", VENDORS)
def test_each_sample_config_is_one_vendor_section_at_the_port_the_readme_emulator_listens_on(vendor: str) -> None:
    port = readme_port(command_lines(readme_block("newcomer-commands")[1])[0])
    config = json.loads((SAMPLES / f"{vendor}.json").read_text())
    sections = {key for key, value in config.items() if isinstance(value, dict)}
    assert (sections, config[vendor]["base_url"]) == ({vendor}, f"http://127.0.0.1:{port}")


def written_files() -> List[str]:
    """Every file the walkthrough writes: its commands' ``>`` targets, and the snippet's file, its
    database and the path it is run from."""
    commands = command_lines(readme_block("newcomer-commands")[1])
    targets = [match for line in commands for match in re.findall(r"(?<![<2])> (\S+)", line)]
    snippet = readme_block("pyairbyte-snippet")[1]
    (database,) = re.findall(r'DuckDBCache\(db_path="([^"]+)"\)', snippet)
    (script,) = re.findall(r"\S+\.py$", command_lines(next_block_after("pyairbyte-snippet"))[0])
    return [*targets, database, script]


def test_the_walkthrough_writes_every_file_into_one_folder_git_ignores() -> None:
    written = written_files()
    assert written == [f"{WALKTHROUGH}/{name}" for name in ("records.jsonl", "state.json", "incremental.jsonl", "usage.duckdb", "sync.py")]
    assert f"mkdir -p {WALKTHROUGH}" in command_lines(readme_block("newcomer-commands")[1])
    # --no-index: the rules alone decide, whatever the index holds.
    ignored = subprocess.run(["git", "check-ignore", "--no-index", *written], cwd=ROOT, capture_output=True, text=True)
    assert ignored.stdout.split() == written


# --------------------------------------------------------------------------- running the README


@dataclass
class Clone:
    """A scratch directory the README's commands run in, and the emulator they run against."""

    path: Path
    port: int


def lay_out_clone(path: Path) -> Path:
    """``path`` laid out like a fresh clone after ``tools/demo.py`` (its sample files: see :func:`with_samples`)."""
    (path / "integration_tests").mkdir(parents=True)
    (path / ".venv").symlink_to(sys.prefix, target_is_directory=True)
    (path / "tools").symlink_to(ROOT / "tools", target_is_directory=True)
    (path / "integration_tests" / "__init__.py").symlink_to(ROOT / "integration_tests" / "__init__.py")
    (path / "integration_tests" / "emulator").symlink_to(ROOT / "integration_tests" / "emulator", target_is_directory=True)
    return path


def with_samples(path: Path, port: int, fixed_port: int) -> Clone:
    """The clone at ``path`` with copies of the sample files, naming the emulator's ``port``."""
    copies = path / SAMPLES_IN_CLONE
    copies.mkdir()
    for sample in SAMPLES.glob("*.json"):
        (copies / sample.name).write_text(sample.read_text().replace(f"127.0.0.1:{fixed_port}", f"127.0.0.1:{port}"))
    return Clone(path, port)


@pytest.fixture(scope="module")
def clones(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dict[str, Clone]]:
    """A clone for each vendor (the commands write the same file names), one emulator for all."""
    commands = command_lines(readme_block("newcomer-commands")[1])
    emulator_line = commands[0]
    assert emulator_line.startswith(EMULATOR_COMMAND) and emulator_line.endswith("&"), emulator_line
    fixed_port = readme_port(emulator_line)
    base = tmp_path_factory.mktemp("clones")
    argv = shlex.split(emulator_line.rstrip("&").replace(f"--port {fixed_port}", "--port 0"))
    emulator = subprocess.Popen(argv, cwd=lay_out_clone(base / "emulator"), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert emulator.stdout is not None
        url = emulator.stdout.readline().strip()
        match = re.fullmatch(r"http://127\.0\.0\.1:(\d+)", url)
        assert match, f"the emulator printed {url!r} instead of its URL"
        port = int(match.group(1))
        yield {vendor: with_samples(lay_out_clone(base / vendor), port, fixed_port) for vendor in VENDORS}
    finally:
        emulator.terminate()
        emulator.wait(timeout=30)


def run_in(clone: Clone, command: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    done = subprocess.run(
        ["bash", "-c", f"set -euo pipefail\n{command}"],
        cwd=clone.path,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT_SECONDS,
        env=env,
    )
    assert done.returncode == 0, f"{command}\nexit {done.returncode}\n{done.stderr[-3000:]}\n{done.stdout[-3000:]}"
    return done


@dataclass
class VendorRun:
    spec: List[Dict[str, Any]]
    check: List[Dict[str, Any]]
    discover: List[Dict[str, Any]]
    first: List[Dict[str, Any]]
    state: List[Dict[str, Any]]
    second: List[Dict[str, Any]]


def run_commands_for(clone: Clone, vendor: str) -> VendorRun:
    commands = command_lines(readme_block("newcomer-commands")[1])
    shown = sample_vendor(commands)
    printed: Dict[str, str] = {}  # what spec, check and discover print, by command
    for command in commands[1:]:
        if command.startswith(("sleep ", "kill ")):
            continue  # the fixture waited for the emulator's URL, and stops it
        command = command.replace(f"{SAMPLES_IN_CLONE}/{shown}", f"{SAMPLES_IN_CLONE}/{vendor}")
        printed[command.split()[1] if command.startswith(".venv/bin/source-usage ") else command] = run_in(clone, command).stdout
    spec, check, discover = (messages(printed[name]) for name in ("spec", "check", "discover"))
    first = messages((clone.path / WALKTHROUGH / "records.jsonl").read_text())
    state = json.loads((clone.path / WALKTHROUGH / "state.json").read_text())
    second = messages((clone.path / WALKTHROUGH / "incremental.jsonl").read_text())
    return VendorRun(spec, check, discover, first, state, second)


@pytest.fixture(scope="module")
def runs(clones: Dict[str, Clone]) -> Dict[str, VendorRun]:
    """Every vendor's run of the commands, side by side (each in its own clone)."""
    with ThreadPoolExecutor(len(clones)) as pool:
        done = {vendor: pool.submit(run_commands_for, clone, vendor) for vendor, clone in clones.items()}
    return {vendor: future.result() for vendor, future in done.items()}


def records_by_stream(run_messages: Sequence[Mapping[str, Any]]) -> Dict[str, List[Dict[str, Any]]]:
    found: Dict[str, List[Dict[str, Any]]] = {}
    for message in run_messages:
        if message["type"] == "RECORD":
            found.setdefault(message["record"]["stream"], []).append(message["record"]["data"])
    return found


def errors(run_messages: Sequence[Mapping[str, Any]]) -> List[str]:
    return [m["trace"]["error"]["message"] for m in run_messages if m["type"] == "TRACE" and m["trace"]["type"] == "ERROR"]


def catalog_of(vendor: str) -> Dict[str, Any]:
    catalog = json.loads((SAMPLES / f"{vendor}_catalog.json").read_text())
    assert isinstance(catalog, dict)
    return catalog


@pytest.mark.parametrize("vendor", VENDORS)
def test_spec_and_check_answer_as_the_readme_says(runs: Dict[str, VendorRun], vendor: str) -> None:
    run = runs[vendor]
    assert [m["type"] for m in run.spec if m["type"] != "LOG"] == ["SPEC"]
    assert vendor in run.spec[-1]["spec"]["connectionSpecification"]["properties"]
    statuses = [m["connectionStatus"]["status"] for m in run.check if m["type"] == "CONNECTION_STATUS"]
    assert statuses == ["SUCCEEDED"]


@pytest.mark.parametrize("vendor", VENDORS)
def test_the_sample_catalog_selects_every_discovered_stream_incremental_streams_append_deduped(
    runs: Dict[str, VendorRun], vendor: str
) -> None:
    (catalog,) = [m["catalog"] for m in runs[vendor].discover if m["type"] == "CATALOG"]
    expected = []
    for stream in catalog["streams"]:
        key = stream.get("source_defined_primary_key")
        if "incremental" in stream["supported_sync_modes"]:
            modes = ("incremental", "append_dedup", stream["default_cursor_field"], key)
        else:
            modes = ("full_refresh", "overwrite", None, key)
        expected.append((stream["name"], *modes))
    configured = [
        (s["stream"]["name"], s["sync_mode"], s["destination_sync_mode"], s.get("cursor_field"), s.get("primary_key"))
        for s in catalog_of(vendor)["streams"]
    ]
    assert sorted(configured, key=repr) == sorted(expected, key=repr)
    assert {stream["name"] for stream in catalog["streams"]} == set(discover_vendors()[vendor].streams)


@pytest.mark.parametrize("vendor", VENDORS)
def test_the_first_read_emits_records_of_every_selected_stream_and_no_error(runs: Dict[str, VendorRun], vendor: str) -> None:
    run = runs[vendor]
    selected = {s["stream"]["name"] for s in catalog_of(vendor)["streams"]}
    assert errors(run.first) == []
    assert {name for name, records in records_by_stream(run.first).items() if records} == selected


@pytest.mark.parametrize("vendor", VENDORS)
def test_the_state_file_holds_each_streams_last_state_and_the_second_read_starts_at_its_cursor(
    runs: Dict[str, VendorRun], vendor: str
) -> None:
    """``lookback_days: 1`` re-reads the saved cursor's own period: each incremental stream's
    second read begins there (and goes on only with periods finished in between)."""
    run = runs[vendor]
    last: Dict[str, Any] = {}
    for message in run.first:
        if message["type"] == "STATE":
            last[message["state"]["stream"]["stream_descriptor"]["name"]] = message["state"]
    assert run.state == list(last.values())
    assert errors(run.second) == []
    incremental = [s for s in catalog_of(vendor)["streams"] if s["sync_mode"] == "incremental"]
    second = records_by_stream(run.second)
    for stream in incremental:
        name, (cursor,) = stream["stream"]["name"], stream["cursor_field"]
        saved = last[name]["stream"]["stream_state"][cursor]
        assert (name, min(record[cursor] for record in second[name])) == (name, saved)


# --------------------------------------------------------------------------- the PyAirbyte snippet


def utc_wall_clock(value: str) -> datetime:
    return datetime.fromisoformat(value).astimezone(timezone.utc).replace(tzinfo=None)


def test_the_pyairbyte_snippet_loads_every_stream_into_duckdb_with_each_instant_in_utc(
    clones: Dict[str, Clone], runs: Dict[str, VendorRun]
) -> None:
    import duckdb

    language, snippet = readme_block("pyairbyte-snippet")
    (run_command,) = command_lines(next_block_after("pyairbyte-snippet"))
    assert (language, run_command) == ("python", f"AIRBYTE_OFFLINE_MODE=1 .venv/bin/python {WALKTHROUGH}/sync.py")
    vendor = sample_vendor(snippet.splitlines())
    clone = clones[vendor]
    (clone.path / WALKTHROUGH / "sync.py").write_text(snippet)  # the folder the commands made
    printed = run_in(clone, run_command).stdout
    # The same sync as the README's first read of that vendor: the same rows (deduplicated, as the read holds each key once).
    expected_counts = {name: len(records) for name, records in records_by_stream(runs[vendor].first).items()}
    assert [line for line in printed.splitlines() if line.endswith(" rows")] == [
        f"{name}: {count} rows" for name, count in sorted(expected_counts.items())
    ]
    schemas = {s["name"]: s["json_schema"] for m in runs[vendor].discover if m["type"] == "CATALOG" for s in m["catalog"]["streams"]}
    connection = duckdb.connect(str(clone.path / WALKTHROUGH / "usage.duckdb"), read_only=True)
    try:
        checked: Set[str] = set()
        for name, records in records_by_stream(runs[vendor].first).items():
            properties = schemas[name]["properties"]
            times = [field for field, prop in properties.items() if prop.get("format") == "date-time"]
            if not times:
                continue
            types = dict(
                connection.execute("SELECT column_name, data_type FROM information_schema.columns WHERE table_name = ?", [name]).fetchall()
            )
            # PyAirbyte 0.71.3: timestamps without time zone, whatever the schema's airbyte_type.
            assert {field: types[field.lower()] for field in times} == {field: "TIMESTAMP" for field in times}
            for field in (field for field in times if not field.endswith("_utc")):
                column = f"{field}_utc" if f"{field}_utc" in properties else field
                query = f'SELECT "{column.lower()}" FROM main."{name}" WHERE "{column.lower()}" IS NOT NULL'
                stored = sorted(row[0] for row in connection.execute(query).fetchall())
                wanted = sorted(utc_wall_clock(record[field]) for record in records if record.get(field) is not None)
                assert (name, column, stored) == (name, column, wanted)
                checked.add(f"{name}.{column}")
        assert checked, "the snippet's streams declare no date-time: the check proves nothing"
    finally:
        connection.close()

"""PostgreSQL as the destination: every stream, from the emulator into a real PostgreSQL server
through PyAirbyte's Postgres cache, synced twice (full, then incremental), checked with SQL.

The server: ``SOURCE_USAGE_TEST_PG`` (``postgresql://user:password@host:port/db``, which
``.ci/run`` exports after starting one with ``tools/postgres.py``); without it, a throwaway
server of this module when the PostgreSQL binaries are installed; else the test is skipped,
except under ``CI=true``, where a missing database fails.

The first sync reads the days ``S..E-1``; the second, with ``end_date`` moved to ``E``, must
be incremental (PyAirbyte keeps the state in the cache): it asks each API only for the lookback
day ``E-1`` and the new day ``E``. After both, each table deduplicated on its primary key must
hold exactly the emulator's ground truth for ``S..E``: the same keys, and the same value in
every column the stream's schema declares.

Timestamps: PyAirbyte 0.71.3 creates every ``date-time`` column as ``timestamp without time
zone`` (it renders ``TIMESTAMP(timezone=True)`` without the dialect) and drops a value's offset,
so each vendor instant must be in a column that holds it in UTC: the date-time itself when its
values are UTC, else its ``<name>_utc`` sibling (``schemas/``; ``unit_tests/test_schema_timestamps.py``).
"""

from __future__ import annotations

import os
import signal
import tempfile
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any, Dict, Iterator, List, Mapping, Sequence, Set, Tuple
from urllib.parse import unquote, urlsplit

import pytest

from emulator import Emulator, vendor_options
from integration_tests.assertions import without_nulls
from integration_tests.runner import SOURCE_USAGE
from integration_tests.tooling import in_ci, load_tool

# PyAirbyte runs the command; a PostgreSQL server; one worker runs the module, which shares one costly fixture
pytestmark = [pytest.mark.process, pytest.mark.xdist_group("postgres")]

DATABASE_ENV = "SOURCE_USAGE_TEST_PG"
#: PyAirbyte's read has no timeout of its own: a connector that never ends would hang CI.
SYNC_TIMEOUT_SECONDS = 240
LOOKBACK_DAYS = 1


@pytest.fixture(scope="module")
def database_url() -> Iterator[str]:
    given = os.environ.get(DATABASE_ENV)
    if given:
        yield given
        return
    helper = load_tool("postgres")
    if helper.find_bin_dir() is None:
        reason = f"no PostgreSQL: set {DATABASE_ENV}=postgresql://user:password@host:port/db, or install it (apt-get install postgresql)"
        if in_ci():
            pytest.fail(f"CI=true but {reason}; .ci/run starts one with tools/postgres.py", pytrace=False)
        pytest.skip(reason)
    # Not under pytest's tmp dir: that is private to root, and the server runs as ``postgres`` under root.
    data_dir = Path(tempfile.mkdtemp(prefix="source-usage-pg-"))
    try:
        url = helper.start(data_dir)
    except helper.PostgresError as error:
        pytest.fail(f"could not start a throwaway PostgreSQL server: {error}", pytrace=False)
    try:
        yield url
    finally:
        helper.stop(data_dir)


@pytest.fixture(scope="module")
def pyairbyte() -> Iterator[ModuleType]:
    """PyAirbyte, offline: with no registry lookup (it would fail without network even for a
    local executable) and no telemetry. The offline flag is read when ``airbyte`` is first
    imported, so the registry switch is set too, which is read on every lookup."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AIRBYTE_OFFLINE_MODE", "1")
        patch.setenv("AIRBYTE_LOCAL_REGISTRY", "0")
        patch.setenv("DO_NOT_TRACK", "1")
        import airbyte

        yield airbyte


# --------------------------------------------------------------------------- the two syncs


def _children_running(name: str) -> List[int]:
    """The pids of this process's children whose command line holds ``name`` (Linux ``/proc``)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            command = (stat.parent / "cmdline").read_bytes()
        except (OSError, ValueError, IndexError):
            continue
        if parent == os.getpid() and name.encode() in command:
            found.append(int(stat.parent.name))
    return found


@contextmanager
def connector_killed_after(seconds: float) -> Iterator[threading.Event]:
    """Kills the ``source-usage`` process PyAirbyte runs if it is still running after ``seconds``;
    the event tells whether that happened."""
    killed = threading.Event()

    def kill() -> None:
        for pid in _children_running(SOURCE_USAGE.name):
            killed.set()
            os.kill(pid, signal.SIGKILL)

    timer = threading.Timer(seconds, kill)
    timer.daemon = True
    timer.start()
    try:
        yield killed
    finally:
        timer.cancel()


@dataclass
class Synced:
    emulator: Emulator
    cache: Any  # airbyte.caches.PostgresCache
    catalog: Any  # the discovered AirbyteCatalog
    start: date
    end: date
    second_sync_began: float  # time.time()


def sync_config(emulator: Emulator, start: date, end: date) -> Dict[str, Any]:
    # Every vendor's section for this emulator; with its limits off, the connector's own pace is
    # its fastest: the test is about the destination, and the budgets have tests of their own.
    return emulator.connector_config(start_date=start.isoformat(), end_date=end.isoformat(), lookback_days=LOOKBACK_DAYS)


@pytest.fixture(scope="module")
def synced(database_url: str, pyairbyte: ModuleType, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synced]:
    from airbyte.caches import PostgresCache

    # E three days before today (UTC): a finished day in every API's zone (UTC+8, Los Angeles, UTC)
    # even if the test runs across a midnight.
    end = datetime.now(timezone.utc).date() - timedelta(days=3)
    start = end - timedelta(days=2)
    parts = urlsplit(database_url)
    cache = PostgresCache(
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 5432,
        username=unquote(parts.username or ""),
        password=unquote(parts.password or ""),
        database=parts.path.lstrip("/"),
        schema_name=f"source_usage_test_{uuid.uuid4().hex[:10]}",  # the database may be shared
        cache_dir=tmp_path_factory.mktemp("pyairbyte"),  # its JSONL staging files, not in the checkout
    )
    # Several pages of every list that pages at a size a quick test can reach (each vendor's paged_options).
    with Emulator(seed=23, rate_limits=False, **vendor_options(lambda vendor: vendor.paged_options)) as emulator:
        source = pyairbyte.get_source(
            "source-usage",
            config=sync_config(emulator, start, end - timedelta(days=1)),
            local_executable=str(SOURCE_USAGE),
            streams="*",
        )
        catalog = source.discovered_catalog
        try:
            read(source, cache, "first (full)")
            second_sync_began = time.time()
            source.set_config(sync_config(emulator, start, end))
            read(source, cache, "second (incremental)")
            yield Synced(emulator, cache, catalog, start, end, second_sync_began)
        finally:
            with cache.get_sql_engine().begin() as connection:
                connection.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{cache.schema_name}" CASCADE')


def read(source: Any, cache: Any, which: str) -> None:
    from airbyte.exceptions import PyAirbyteError
    from sqlalchemy.exc import SQLAlchemyError

    with connector_killed_after(SYNC_TIMEOUT_SECONDS) as killed:
        try:
            source.read(cache=cache)
        except (PyAirbyteError, SQLAlchemyError) as error:
            if killed.is_set():
                message = f"the {which} sync was still running after {SYNC_TIMEOUT_SECONDS} s and was killed"
            else:
                # SQLAlchemy's message holds every row of the failed batch: its first lines say enough.
                lines = [line[:400] for line in str(error).splitlines()[:3]]
                message = f"the {which} sync failed: {type(error).__name__}: " + "\n".join(lines)
            raise pytest.fail.Exception(message, pytrace=False) from None


# --------------------------------------------------------------------------- comparing tables with the ground truth


def pandas_parses_dates(field: str) -> bool:
    """Whether PyAirbyte's loader (``pandas.read_json``, ``keep_default_dates``) turns this field's
    ISO strings into UTC timestamps before they reach PostgreSQL."""
    name = field.lower()
    return name.endswith(("_at", "_time")) or name in ("modified", "date", "datetime") or name.startswith("timestamp")


def as_stored(field: str, sql_type: str, value: Any) -> Any:
    """A ground-truth value as PyAirbyte 0.71's Postgres cache stores it in a column of ``sql_type``.

    A ``date-time`` column is ``timestamp without time zone``: a field pandas parses arrives in UTC;
    any other arrives as text, and PostgreSQL's cast to ``timestamp`` keeps the wall clock and drops
    the offset (so a ``period_start`` counted in a user-configured zone is midnight in that zone)."""
    if value is None:
        return None
    if sql_type.startswith("timestamp"):
        moment = datetime.fromisoformat(value)
        if sql_type == "timestamp with time zone":
            return moment
        return (moment.astimezone(timezone.utc) if pandas_parses_dates(field) else moment).replace(tzinfo=None)
    if sql_type == "date":
        return date.fromisoformat(value)
    if sql_type == "numeric":
        return Decimal(str(value))
    if sql_type in ("json", "jsonb"):
        return to_12_digits(without_nulls(value))
    return value


def to_12_digits(value: Any) -> Any:
    """Floats at any depth to 12 significant digits: PyAirbyte 0.71 loads its JSONL batches with
    ``pd.read_json`` (``precise_float=False``), which reads e.g. 0.793266 as 0.7932659999999999."""
    if isinstance(value, float):
        return float(f"{value:.12g}")
    if isinstance(value, list):
        return [to_12_digits(item) for item in value]
    if isinstance(value, dict):
        return {key: to_12_digits(item) for key, item in value.items()}
    return value


def utc_wall_clock(value: str) -> datetime:
    """An ISO-8601 date-time with an offset as the naive UTC timestamp a column without time zone holds."""
    moment = datetime.fromisoformat(value)
    assert moment.utcoffset() is not None, f"{value!r} has no offset: its instant is unknown"
    return moment.astimezone(timezone.utc).replace(tzinfo=None)


def column_types(synced: Synced, table: str) -> Dict[str, str]:
    sql = "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = %(schema)s AND table_name = %(table)s"
    with synced.cache.get_sql_engine().connect() as connection:
        rows = connection.exec_driver_sql(sql, {"schema": synced.cache.schema_name, "table": table}).all()
    return {name: kind for name, kind in rows}


def deduplicated_rows(synced: Synced, table: str, key_columns: Sequence[str]) -> List[Dict[str, Any]]:
    """The table deduplicated on its primary key, the latest extraction winning."""
    keys = ", ".join(f'"{column}"' for column in key_columns)
    sql = f'SELECT DISTINCT ON ({keys}) * FROM "{synced.cache.schema_name}"."{table}" ORDER BY {keys}, _airbyte_extracted_at DESC'
    with synced.cache.get_sql_engine().connect() as connection:
        return [dict(row) for row in connection.exec_driver_sql(sql).mappings()]


def stream_problems(synced: Synced, stream: Any) -> Tuple[List[str], Set[str]]:
    """What differs between the stream's deduplicated table and its ground truth, and the
    ground-truth fields its schema does not declare (no destination column can hold them)."""
    normalize = synced.cache.processor.normalizer.normalize
    name = stream.name
    table = normalize(name)
    declared = list(stream.json_schema.get("properties", {}))
    key_fields = [path[0] for path in stream.source_defined_primary_key or []]
    vendor = synced.emulator.vendor_of(name)
    # The truth for the config synced: its section's settings (interval, granularity) where a vendor has them.
    section = vendor.connector_section(synced.emulator.url)
    truth = vendor.ground_truth(name, start_date=synced.start, end_date=synced.end, **section)
    undeclared = {field for record in truth for field in record} - set(declared)

    types = column_types(synced, table)
    if not types:
        return [f"{name}: no table {table}"], undeclared
    missing_columns = [field for field in declared if normalize(field) not in types]
    if missing_columns or not key_fields:
        return [f"{name}: no column for declared fields {missing_columns} (primary key {key_fields})"], undeclared

    def stored(field: str, record: Mapping[str, Any]) -> Any:
        return as_stored(field, types[normalize(field)], record.get(field))

    key_columns = [normalize(field) for field in key_fields]
    got = {tuple(row[column] for column in key_columns): row for row in deduplicated_rows(synced, table, key_columns)}
    expected: Dict[Tuple[Any, ...], Mapping[str, Any]] = {}
    problems = []
    for record in truth:
        key = tuple(stored(field, record) for field in key_fields)
        if key in expected:
            problems.append(f"{name}: the ground truth has key {key} twice")
        expected[key] = record
    missing = sorted(set(expected) - set(got), key=repr)
    extra = sorted(set(got) - set(expected), key=repr)
    if missing or extra:
        problems.append(f"{name}: {len(missing)} keys missing, e.g. {missing[:3]}; {len(extra)} keys extra, e.g. {extra[:3]}")
    differing = []
    for key in sorted(set(expected) & set(got), key=repr):
        for field in declared:
            want, have = stored(field, expected[key]), got[key][normalize(field)]
            if types[normalize(field)] in ("json", "jsonb"):
                have = to_12_digits(have)
            if want != have:
                differing.append(f"{key} {field}: table {have!r} != truth {want!r}")
    if differing:
        problems.append(f"{name}: {len(differing)} values differ, e.g. " + "; ".join(differing[:3]))
    if not expected:
        problems.append(f"{name}: the ground truth is empty, so the comparison proves nothing")
    return problems, undeclared


# --------------------------------------------------------------------------- tests


def test_discover_lists_every_stream_the_emulator_knows(synced: Synced) -> None:
    discovered = {stream.name for stream in synced.catalog.streams}
    known = {stream for vendor in synced.emulator.vendors.values() for stream in vendor.streams}
    assert discovered == known


def test_each_table_deduplicated_on_its_primary_key_equals_the_ground_truth(synced: Synced) -> None:
    problems: List[str] = []
    undeclared: Dict[str, Set[str]] = {}
    for stream in synced.catalog.streams:
        found, fields = stream_problems(synced, stream)
        problems += found
        if fields:
            undeclared[stream.name] = fields
    if undeclared:
        # Not a failure: records keep every vendor field, but a typed table has only the declared ones.
        print(f"ground-truth fields no schema declares (no column in the tables): {undeclared}")
    assert not problems, "\n".join(problems)


def test_the_second_sync_is_incremental_asking_only_for_the_lookback_and_new_days(synced: Synced) -> None:
    """Every dated API is asked for S..E-1 by the first sync and for E-1 (lookback) and E by the second."""
    first_sync = {(synced.start + timedelta(days=n)).isoformat() for n in range((synced.end - synced.start).days)}
    second_sync = {(synced.end - timedelta(days=n)).isoformat() for n in range(LOOKBACK_DAYS + 1)}
    # Each vendor with an incremental stream says which day a request of it asks for.
    incremental = {stream.name for stream in synced.catalog.streams if stream.default_cursor_field}
    for vendor in synced.emulator.vendors.values():
        if not incremental & set(vendor.streams):
            continue
        entries = [entry for entry in synced.emulator.log.entries(vendor=vendor.name) if entry.status == 200]
        before = {day for entry in entries if entry.time < synced.second_sync_began and (day := vendor.requested_day(entry))}
        after = {day for entry in entries if entry.time >= synced.second_sync_began and (day := vendor.requested_day(entry))}
        assert (vendor.name, sorted(before)) == (vendor.name, sorted(first_sync))
        assert (vendor.name, sorted(after)) == (vendor.name, sorted(second_sync))


def date_time_fields(stream: Any) -> List[str]:
    return [name for name, prop in stream.json_schema.get("properties", {}).items() if prop.get("format") == "date-time"]


def test_date_time_columns_are_timestamps_without_time_zone_as_pyairbyte_creates_them(synced: Synced) -> None:
    """What PyAirbyte 0.71.3 makes of ``format: date-time`` + ``airbyte_type: timestamp_with_timezone``
    (information_schema): a timestamp, but without time zone. If this changes, the ``_utc``
    columns are no longer needed for PyAirbyte's caches."""
    normalize = synced.cache.processor.normalizer.normalize
    got = {}
    for stream in synced.catalog.streams:
        types = column_types(synced, normalize(stream.name))
        got.update({f"{stream.name}.{field}": types.get(normalize(field)) for field in date_time_fields(stream)})
    assert got and set(got.values()) == {"timestamp without time zone"}, got


def test_every_vendor_instant_is_stored_in_utc_beside_its_offset_or_as_it_is_utc(synced: Synced) -> None:
    """For every date-time a stream declares, the instant the ground truth holds (e.g. a vendor's
    ``2026-06-01T00:00:00-08:00``) is in the table as UTC (``2026-06-01 08:00:00``): in the
    ``<name>_utc`` column where the schema declares one, else in the column itself."""
    normalize = synced.cache.processor.normalizer.normalize
    problems: List[str] = []
    compared = with_offset = 0
    for stream in synced.catalog.streams:
        fields = date_time_fields(stream)
        instants = [field for field in fields if not field.endswith("_utc")]
        if not instants:
            continue
        vendor = synced.emulator.vendor_of(stream.name)
        section = vendor.connector_section(synced.emulator.url)
        truth = vendor.ground_truth(stream.name, start_date=synced.start, end_date=synced.end, **section)
        key_fields = [path[0] for path in stream.source_defined_primary_key or []]
        types = column_types(synced, normalize(stream.name))
        rows = deduplicated_rows(synced, normalize(stream.name), [normalize(field) for field in key_fields])

        stored = {tuple(row[normalize(field)] for field in key_fields): row for row in rows}
        for record in truth:
            key = tuple(as_stored(field, types[normalize(field)], record.get(field)) for field in key_fields)
            row = stored.get(key)
            if row is None:
                problems.append(f"{stream.name}: no row for {key}")
                continue
            for field in instants:
                value = record.get(field)
                if value is None:
                    continue
                column = f"{field}_utc" if f"{field}_utc" in fields else field
                compared += 1
                with_offset += datetime.fromisoformat(value).utcoffset() != timedelta(0)
                have, want = row[normalize(column)], utc_wall_clock(value)
                if have != want:
                    problems.append(f"{stream.name} {key} {column}: table {have!r} != {field} {value!r} in UTC, {want!r}")
    assert not problems, f"{len(problems)} instants lost, e.g.\n" + "\n".join(problems[:5])
    # Some compared values must carry an offset other than UTC, or the test proves nothing about them.
    assert compared > 0 and with_offset > 0, (compared, with_offset)

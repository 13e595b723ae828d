"""The dbt project in ``models/`` on the tables a real sync lands, on DuckDB and on PostgreSQL: the
emulator synced through PyAirbyte into each warehouse, ``dbt build`` (every model and every dbt
test) run by ``tools/models.py``, and every model's rows compared exactly with the answer worked out
in Python from the emulator's ground truth (``integration_tests/model_answers.py``), never from
the models.

The two warehouses get two configs, so that both ways of reading per-user use are answered: DuckDB
the connector's defaults (daily organisation and agent buckets, monthly per-user and per-team
windows, daily Workato intervals), PostgreSQL daily per-user windows. Both sync 40 days, so the
30-day window of the seat answers is cut out of a longer history. A synced row without a field an
answer counts on fails ``dbt build``, naming the model and the column.

PostgreSQL: ``SOURCE_USAGE_TEST_PG`` (which ``.ci/run`` exports), else a throwaway server when the
binaries are installed; else skipped, except under ``CI=true``, where it fails.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Mapping, Tuple
from urllib.parse import unquote, urlsplit

import pytest

from emulator import Emulator
from integration_tests.model_answers import KEYS, Row, expected_answers
from integration_tests.runner import SOURCE_USAGE
from integration_tests.tooling import in_ci, load_tool

# PyAirbyte runs the connector, dbt runs, a PostgreSQL server; one worker runs the module, which shares its costly fixtures
pytestmark = [pytest.mark.process, pytest.mark.xdist_group("models")]

models_tool = load_tool("models")
DATABASE_ENV = "SOURCE_USAGE_TEST_PG"
DAYS = 40
#: Small enough for seconds, large enough that every answer has rows: idle holders, teams with
#: and without a cap, customers over and under their limit.
SIZES = {
    "jiandaoyun": {"members": 30, "apps": 8, "requests_per_second": None},
    "tabnine": {"teams": 3, "users": 20},
    "workato": {"workspaces": 12, "recipes": 2},
}


def synced_days() -> Tuple[date, date]:
    """40 days ending three days before today (UTC): finished in every vendor's zone all day long."""
    end = datetime.now(timezone.utc).date() - timedelta(days=3)
    return end - timedelta(days=DAYS - 1), end


def sections(emulator: Emulator, defaults: bool) -> Dict[str, Dict[str, Any]]:
    """Each vendor's config section; ``defaults``: Tabnine's granularities left to the connector."""
    chosen = {name: vendor.connector_section(emulator.url) for name, vendor in emulator.vendors.items()}
    if defaults:
        chosen["tabnine"] = {key: value for key, value in chosen["tabnine"].items() if key not in ("granularity", "user_usage_granularity")}
    return chosen


def ground_truth(emulator: Emulator, chosen: Mapping[str, Mapping[str, Any]], start: date, end: date) -> Dict[str, List[Dict[str, Any]]]:
    return {
        stream: vendor.ground_truth(stream, start_date=start, end_date=end, **chosen[name])
        for name, vendor in emulator.vendors.items()
        for stream in vendor.streams
    }


# --------------------------------------------------------------------------- the warehouses


@pytest.fixture(scope="module")
def pyairbyte() -> Iterator[Any]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AIRBYTE_OFFLINE_MODE", "1")
        patch.setenv("AIRBYTE_LOCAL_REGISTRY", "0")
        patch.setenv("DO_NOT_TRACK", "1")
        import airbyte

        yield airbyte


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
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
    data_dir = Path(tempfile.mkdtemp(prefix="source-usage-pg-"))  # not pytest's: the server's user must reach it
    try:
        yield helper.start(data_dir)
    finally:
        helper.stop(data_dir)


@dataclass
class Built:
    """A sync into one warehouse, the models built on it, and what the models must hold."""

    adapter: str
    warehouse: Any  # tools/models.py's Warehouse
    source_schema: str
    models_schema: str
    answers: Dict[str, List[Row]]
    target_path: Path
    fetch: Callable[[str], List[Row]]


def build(warehouse: Any, source_schema: str, models_schema: str, target_path: Path, *options: str) -> Any:
    done = models_tool.run_dbt(warehouse, ["build", *options], source_schema, models_schema, target_path=target_path, capture=True)
    done.target_path = target_path
    return done


def assert_built(done: Any, where: str) -> None:
    """dbt build succeeded; else what failed: each failing node and its message, or dbt's last words."""
    if done.returncode == 0:
        return
    results = done.target_path / "run_results.json"
    failed = []
    if results.exists():
        failed = [
            f"{result['unique_id']}: {result['status']}: {result.get('message')}"
            for result in json.loads(results.read_text())["results"]
            if result["status"] not in ("success", "pass")
        ]
    pytest.fail(f"dbt build on {where} failed:\n" + ("\n".join(failed) or done.stdout[-4000:] + done.stderr[-2000:]), pytrace=False)


@pytest.fixture(scope="module")
def on_duckdb(pyairbyte: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    import duckdb
    from airbyte.caches import DuckDBCache

    folder = tmp_path_factory.mktemp("models_duckdb")
    database = folder / "usage.duckdb"
    start, end = synced_days()
    with Emulator(seed=40, rate_limits=False, **SIZES) as emulator:
        chosen = sections(emulator, defaults=True)
        config = {"start_date": start.isoformat(), "end_date": end.isoformat(), **chosen}
        source = pyairbyte.get_source("source-usage", config=config, local_executable=str(SOURCE_USAGE), streams="*")
        cache = DuckDBCache(db_path=database, schema_name="saas_usage")
        source.read(cache=cache)
        cache.get_sql_engine().dispose()
        truth = ground_truth(emulator, chosen, start, end)
    warehouse = models_tool.Warehouse(duckdb=database)
    done = build(warehouse, "saas_usage", "finops", folder / "dbt")
    assert_built(done, "DuckDB")

    def fetch(model: str) -> List[Row]:
        with duckdb.connect(str(database), read_only=True) as connection:
            result = connection.execute(f"SELECT * FROM finops.{model}")
            columns = [column[0] for column in result.description]
            return [dict(zip(columns, row, strict=True)) for row in result.fetchall()]

    yield Built("duckdb", warehouse, "saas_usage", "finops", expected_answers(truth), folder / "dbt", fetch)


@pytest.fixture(scope="module")
def on_postgres(pyairbyte: Any, postgres_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    from airbyte.caches import PostgresCache
    from sqlalchemy import create_engine, text

    folder = tmp_path_factory.mktemp("models_postgres")
    start, end = synced_days()
    parts = urlsplit(postgres_url)
    schema = f"source_usage_models_{uuid.uuid4().hex[:10]}"  # the database may be shared
    cache = PostgresCache(
        host=parts.hostname or "127.0.0.1", port=parts.port or 5432, username=unquote(parts.username or ""),
        password=unquote(parts.password or ""), database=parts.path.lstrip("/"), schema_name=schema, cache_dir=folder / "pyairbyte",
    )  # fmt: skip
    engine = create_engine(postgres_url.replace("postgresql://", "postgresql+psycopg2://", 1))
    try:
        with Emulator(seed=41, rate_limits=False, **SIZES) as emulator:
            chosen = sections(emulator, defaults=False)  # daily per-user windows
            config = {"start_date": start.isoformat(), "end_date": end.isoformat(), **chosen}
            source = pyairbyte.get_source("source-usage", config=config, local_executable=str(SOURCE_USAGE), streams="*")
            source.read(cache=cache)
            truth = ground_truth(emulator, chosen, start, end)
        warehouse = models_tool.Warehouse(postgres=postgres_url)
        done = build(warehouse, schema, f"{schema}_finops", folder / "dbt")
        assert_built(done, "PostgreSQL")

        def fetch(model: str) -> List[Row]:
            with engine.connect() as connection:
                return [dict(row) for row in connection.execute(text(f'SELECT * FROM "{schema}_finops"."{model}"')).mappings()]

        yield Built("postgres", warehouse, schema, f"{schema}_finops", expected_answers(truth), folder / "dbt", fetch)
    finally:
        with engine.begin() as connection:
            for name in (schema, f"{schema}_finops"):
                connection.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
        engine.dispose()


@pytest.fixture(params=["duckdb", "postgres"])
def built(request: pytest.FixtureRequest) -> Built:
    return request.getfixturevalue(f"on_{request.param}")


# --------------------------------------------------------------------------- comparing


def keyed(model: str, rows: List[Row]) -> Dict[Tuple[Any, ...], Row]:
    found: Dict[Tuple[Any, ...], Row] = {}
    for row in rows:
        key = tuple(row[column] for column in KEYS[model])
        assert key not in found, f"{model}: two rows with key {key}"
        found[key] = row
    return found


def differences(model: str, got: List[Row], want: List[Row]) -> List[str]:
    """What differs between a model's rows and the answer: keys missing or extra, values unequal."""
    have, expected = keyed(model, got), keyed(model, want)
    problems = []
    missing, extra = set(expected) - set(have), set(have) - set(expected)
    if missing or extra:
        problems.append(
            f"{len(missing)} rows missing, e.g. {sorted(missing, key=repr)[:3]}; {len(extra)} extra, e.g. {sorted(extra, key=repr)[:3]}"
        )
    for key in sorted(set(expected) & set(have), key=repr):
        if set(have[key]) != set(expected[key]):
            problems.append(f"columns {sorted(have[key])} != {sorted(expected[key])}")
            break
        for column, value in expected[key].items():
            # True == 1 in Python: a flag must come back a boolean, a count a number.
            if have[key][column] != value or isinstance(have[key][column], bool) != isinstance(value, bool):
                problems.append(f"{key} {column}: model {have[key][column]!r} != answer {value!r}")
    return problems


MODELS = sorted(KEYS)


@pytest.mark.parametrize("model", MODELS)
def test_every_model_holds_exactly_the_answer_worked_out_from_the_ground_truth(built: Built, model: str) -> None:
    want = built.answers[model]
    assert want, f"{model}: the answer is empty, so the comparison proves nothing"
    problems = differences(model, built.fetch(model), want)
    assert not problems, f"{model} on {built.adapter}: {len(problems)} differences\n" + "\n".join(problems[:10])


def test_every_model_of_the_project_is_compared(built: Built) -> None:
    manifest = json.loads((built.target_path / "manifest.json").read_text())
    models = {node["name"] for node in manifest["nodes"].values() if node["resource_type"] == "model"}
    assert models == set(MODELS)


def test_dbt_build_ran_every_model_and_test_and_all_passed(built: Built) -> None:
    results = json.loads((built.target_path / "run_results.json").read_text())["results"]
    statuses = {result["unique_id"]: result["status"] for result in results}
    kinds = {unique_id.split(".")[0] for unique_id in statuses}
    assert kinds == {"model", "test"}
    assert sum(1 for unique_id in statuses if unique_id.startswith("test.")) >= 100
    assert {status for status in statuses.values()} <= {"success", "pass"}, {
        k: v for k, v in statuses.items() if v not in ("success", "pass")
    }


def test_the_answers_cover_what_the_owner_asks(built: Built) -> None:
    """The scenario is rich enough to prove something: idle holders, a customer over its limit and
    one that will cross it, costs allocated, both granularities of per-user use."""
    answers = built.answers
    assert any(row["is_idle"] for row in answers["seat_holders"] if row["vendor"] == "tabnine")
    statuses = {row["status"] for row in answers["workato_quotas"]}
    assert {"over limit", "within limit"} <= statuses, statuses
    assert {row["usage_granularity"] for row in answers["seats"] if row["vendor"] == "tabnine"} == {
        "duckdb": {"monthly"},
        "postgres": {"daily"},
    }[built.adapter]
    assert len({row["month_start"] for row in answers["agent_chargeback_monthly"]}) >= 2
    assert {row["allocation"] for row in answers["agent_chargeback_monthly"]} == {"model", "user", "team"}
    assert any(row["allocated_to"] == "(no team)" for row in answers["agent_chargeback_monthly"])
    assert answers["tabnine_pending_invitations"]
    assert {row["metric"] for row in answers["trends_monthly"] if row["vendor"] == "workato"} >= {"tasks", "billed_tasks"}


# --------------------------------------------------------------------------- a field missing fails the build, naming it


@pytest.mark.parametrize(
    "change, failing_test",
    [
        ("UPDATE saas_usage.tabnine_user_usage SET activeusers = NULL "
         "WHERE userid = (SELECT MIN(userid) FROM saas_usage.tabnine_user_usage)",
         "not_null_stg_tabnine__user_usage_active_users"),
        ("UPDATE saas_usage.tabnine_users SET active = NULL WHERE username = 'dev3'", "not_null_stg_tabnine__users_is_active"),
        ("UPDATE saas_usage.tabnine_agent_usage SET modelbreakdown = "
         "replace(CAST(modelbreakdown AS VARCHAR), '\"cost\"', '\"price\"')::JSON "
         "WHERE period_start = (SELECT MIN(period_start) FROM saas_usage.tabnine_agent_usage)",
         "not_null_stg_tabnine__agent_usage_models_cost"),
        ("UPDATE saas_usage.workato_customer_workspaces SET task_count = NULL "
         "WHERE id = (SELECT MIN(id) FROM saas_usage.workato_customer_workspaces)",
         "not_null_stg_workato__customer_workspaces_task_count"),
    ],
    ids=["tabnine activeUsers", "tabnine active", "tabnine modelBreakdown cost", "workato task_count"],
)  # fmt: skip
def test_a_synced_row_without_a_field_an_answer_counts_on_fails_the_build_naming_it(
    on_duckdb: Built, tmp_path: Path, change: str, failing_test: str
) -> None:
    import duckdb

    database = Path(on_duckdb.warehouse.duckdb)
    copy = tmp_path / "changed.duckdb"
    shutil.copy(database, copy)
    with duckdb.connect(str(copy)) as connection:
        connection.execute(change)

    # The staging model the field feeds, with its tests (the whole project fails the same way: its
    # marts are skipped; one model keeps the test short).
    staging = max((name for name in KEYS if failing_test.startswith(f"not_null_{name}_")), key=len)
    only = ("--select", staging, "--indirect-selection", "cautious")  # its own tests, none of its children's
    done = build(models_tool.Warehouse(duckdb=copy), "saas_usage", "finops", tmp_path / "dbt", *only)

    assert done.returncode == 1
    results = json.loads((tmp_path / "dbt" / "run_results.json").read_text())["results"]
    failed = sorted(result["unique_id"].split(".")[2] for result in results if result["status"] in ("fail", "error"))
    assert failed == [failing_test]
    assert f"Failure in test {failing_test}" in done.stdout

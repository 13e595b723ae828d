"""The demo's Workato report answers "which customer is about to exceed its task limit": a
PyAirbyte sync of ``workato_customer_workspaces`` into DuckDB, the report run on it as the demo
runs it, and its rows compared exactly with the emulator's ground truth: every customer with a
limit, by share of it used (percent, rounded half up to a tenth), the most used first.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest

from emulator import Emulator
from emulator.workato import Workato
from tools.report import run_reports

pytestmark = pytest.mark.process  # PyAirbyte runs the command

STREAM = "workato_customer_workspaces"


def test_workato_demo_report_ranks_customers_by_share_of_task_limit_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRBYTE_OFFLINE_MODE", "1")  # PyAirbyte: no registry access
    monkeypatch.setenv("DO_NOT_TRACK", "1")
    import airbyte as ab
    from airbyte.caches import DuckDBCache

    day = (datetime.now(UTC).date() - timedelta(days=2)).isoformat()
    with Emulator(seed=17, rate_limits=False, workato={"workspaces": 40}) as emulator:
        config = {"start_date": day, "end_date": day, "workato": emulator.vendors["workato"].connector_section(emulator.url)}
        source = ab.get_source("source-usage", config=config, local_executable=str(Path(sys.executable).parent / "source-usage"))
        source.select_streams([STREAM])
        cache = DuckDBCache(db_path=tmp_path / "workato.duckdb", schema_name="demo")
        result = source.read(cache=cache)
        with cache.get_sql_engine().connect() as connection:
            (report,) = run_reports(connection, {STREAM: f'"demo"."{result.streams[STREAM].to_sql_table().name}"'}, Workato.demo_reports)
        truth = emulator.ground_truth(STREAM)

    def share(row: dict) -> Decimal:
        return (Decimal(row["task_count"] * 100) / Decimal(row["task_limit"])).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)

    customers = [row for row in truth if row["task_limit"]]
    expected = sorted(
        ((row["name"], row["task_count"], row["task_limit"], share(row)) for row in customers), key=lambda row: (-row[3], row[0])
    )
    assert len(expected) == 40 and any(row[3] > 100 for row in expected)  # some customers are over their limit
    assert report.columns == ["name", "task_count", "task_limit", "percent_used"]
    assert report.rows == expected


def test_a_customer_with_a_task_limit_and_no_task_count_fails_the_report_naming_the_field(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRBYTE_OFFLINE_MODE", "1")
    monkeypatch.setenv("DO_NOT_TRACK", "1")
    import airbyte as ab
    from airbyte.caches import DuckDBCache
    from sqlalchemy import text

    day = (datetime.now(UTC).date() - timedelta(days=2)).isoformat()
    with Emulator(seed=17, rate_limits=False, workato={"workspaces": 5}) as emulator:
        config = {"start_date": day, "end_date": day, "workato": emulator.vendors["workato"].connector_section(emulator.url)}
        source = ab.get_source("source-usage", config=config, local_executable=str(Path(sys.executable).parent / "source-usage"))
        source.select_streams([STREAM])
        cache = DuckDBCache(db_path=tmp_path / "workato.duckdb", schema_name="demo")
        table = f'"demo"."{source.read(cache=cache).streams[STREAM].to_sql_table().name}"'
    with cache.get_sql_engine().begin() as connection:
        # A listing row whose count came under another name: the column is empty for it.
        (customer,) = connection.execute(text(f"SELECT id FROM {table} WHERE task_limit > 0 ORDER BY id LIMIT 1")).one()
        connection.execute(text(f"UPDATE {table} SET task_count = NULL WHERE id = :id"), {"id": customer})

    with cache.get_sql_engine().connect() as connection, pytest.raises(Exception) as failed:
        run_reports(connection, {STREAM: table}, Workato.demo_reports)

    assert f"workato_customer_workspaces: customer {customer} has a task_limit and no task_count" in str(failed.value)

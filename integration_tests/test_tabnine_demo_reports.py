"""The demo's Tabnine reports answer the FinOps questions: a PyAirbyte sync of the streams they
read (30 daily per-user windows) into DuckDB, the reports run on it as the demo runs them, and
their rows compared exactly with what the emulator's ground truth says of the same days: seats
bought, held, used and unused in the last 30 days, who holds an unused seat (with the roles the
permissions list), and each agent model's cost and tokens.
"""

from __future__ import annotations

import sys
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Dict, List

import pytest

from integration_tests.emulator import Emulator
from integration_tests.emulator.tabnine import DEMO_REPORTS
from tools.report import Section, run_reports

DAYS = 30
STREAMS = ["tabnine_license", "tabnine_users", "tabnine_permissions", "tabnine_user_usage", "tabnine_agent_usage"]


def synced_reports(tmp_path: Path, emulator: Emulator, start: str, end: str) -> List[Section]:
    import airbyte as ab
    from airbyte.caches import DuckDBCache

    config = {"start_date": start, "end_date": end, "tabnine": emulator.vendors["tabnine"].connector_section(emulator.url)}
    source = ab.get_source("source-usage", config=config, local_executable=str(Path(sys.executable).parent / "source-usage"))
    source.select_streams(STREAMS)
    cache = DuckDBCache(db_path=tmp_path / "tabnine.duckdb", schema_name="demo")
    result = source.read(cache=cache)
    tables = {stream: f'"demo"."{dataset.to_sql_table().name}"' for stream, dataset in result.streams.items()}
    with cache.get_sql_engine().connect() as connection:
        return run_reports(connection, tables, DEMO_REPORTS)


def test_tabnine_demo_reports_answer_seats_idle_holders_and_model_costs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRBYTE_OFFLINE_MODE", "1")  # PyAirbyte: no registry access
    monkeypatch.setenv("DO_NOT_TRACK", "1")
    last = datetime.now(UTC).date() - timedelta(days=2)
    start, end = (last - timedelta(days=DAYS - 1)).isoformat(), last.isoformat()
    with Emulator(seed=29, rate_limits=False, tabnine={"users": 23, "teams": 3}) as emulator:
        vendor = emulator.vendors["tabnine"]
        seats, holders, models = synced_reports(tmp_path, emulator, start, end)
        truth = {stream: vendor.ground_truth(stream, start_date=start, end_date=end, user_usage_granularity="daily") for stream in STREAMS}

    (license,) = truth["tabnine_license"]
    held = {user["id"]: user for user in truth["tabnine_users"] if user["active"]}
    used = {row["userId"] for row in truth["tabnine_user_usage"] if row["activeUsers"] > 0}
    unused = sorted((user for user_id, user in held.items() if user_id not in used), key=lambda user: user["username"])
    # The emulator's rule: every fifth user never uses the seat; the others use it most days.
    assert 0 < len(unused) < len(held) and all(int(user["username"].removeprefix("dev")) % 5 == 4 for user in unused)
    assert seats.columns == ["measure", "users"]
    assert seats.rows == [
        ("seats bought (license seats)", license["seats"]),
        ("seat cap (license seatsCap)", license["seatsCap"]),
        ("held (active users)", len(held)),
        ("held and used in the last 30 days", len(held) - len(unused)),
        ("held, unused in the last 30 days", len(unused)),
    ]

    roles: Dict[str, List[str]] = defaultdict(list)
    for holder in truth["tabnine_permissions"]:
        roles[holder["username"]].append(holder["role"])
    assert holders.columns == ["username", "email", "team", "role"]
    assert holders.rows == [
        (user["username"], user["email"], user.get("team", {}).get("name", ""), ", ".join(sorted(roles[user["username"]])) or "Member")
        for user in unused
    ]

    cost: Dict[str, Decimal] = defaultdict(Decimal)
    tokens: Dict[str, int] = defaultdict(int)
    for window in truth["tabnine_agent_usage"]:
        for model in window["modelBreakdown"]:
            cost[model["model"]] += Decimal(str(model["cost"]))
            tokens[model["model"]] += model["tokensConsumed"]
    assert len(truth["tabnine_agent_usage"]) == DAYS
    expected: List[Any] = sorted(((name, cost[name], tokens[name]) for name in cost), key=lambda row: (-row[1], row[0]))
    assert models.columns == ["model", "cost", "tokens"]
    assert models.rows == expected

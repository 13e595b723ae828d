"""The demo's Tabnine reports answer the FinOps questions: a PyAirbyte sync of the streams they
read (30 daily per-user windows) into DuckDB, the reports run on it as the demo runs them, and
their rows compared exactly with what the emulator's ground truth says of the same days: seats
bought, held, used and unused in the last 30 days, who holds an unused seat (with the roles the
permissions list), and each agent model's cost and tokens. "The last 30 days" are the 30 daily
windows up to the end of the last synced one: a holder whose only activity is in the 31st day back
is idle, one active in the 30th or 29th is not (a longer sync, its activity moved to one day). A
synced row without a field the reports count on fails the report, naming it.
"""

from __future__ import annotations

import json
import shutil
import sys
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple

import pytest
from sqlalchemy import create_engine, text

from emulator import Emulator
from emulator.tabnine import DEMO_REPORTS
from tools.report import ReportInputError, Section, run_reports

# PyAirbyte runs the command; one worker runs the module, which shares one costly fixture
pytestmark = [pytest.mark.process, pytest.mark.xdist_group("tabnine_demo")]

DAYS = 30
STREAMS = ["tabnine_license", "tabnine_users", "tabnine_permissions", "tabnine_user_usage", "tabnine_agent_usage"]


@dataclass(frozen=True)
class Synced:
    """A PyAirbyte sync of :data:`STREAMS` into a DuckDB file, and each stream's table there."""

    database: Path
    tables: Dict[str, str]

    def reports(self, database: Optional[Path] = None) -> List[Section]:
        """The demo's Tabnine reports on this sync's file (or a changed copy of it)."""
        engine = create_engine(f"duckdb:///{database or self.database}")
        try:
            with engine.connect() as connection:
                return run_reports(connection, self.tables, DEMO_REPORTS)
        finally:
            engine.dispose()

    def changed_copy(self, tmp_path: Path, *statements: str) -> Path:
        """A copy of the synced file with ``statements`` (``{<stream>}`` names a table) run on it."""
        copy = tmp_path / "changed.duckdb"
        shutil.copy(self.database, copy)
        engine = create_engine(f"duckdb:///{copy}")
        try:
            with engine.begin() as connection:
                for statement in statements:
                    connection.execute(text(statement.format(**self.tables)))
        finally:
            engine.dispose()
        return copy


def sync(database: Path, emulator: Emulator, start: str, end: str) -> Synced:
    import airbyte as ab
    from airbyte.caches import DuckDBCache

    config = {"start_date": start, "end_date": end, "tabnine": emulator.vendors["tabnine"].connector_section(emulator.url)}
    source = ab.get_source("source-usage", config=config, local_executable=str(Path(sys.executable).parent / "source-usage"))
    source.select_streams(STREAMS)
    cache = DuckDBCache(db_path=database, schema_name="demo")
    result = source.read(cache=cache)
    tables = {stream: f'"demo"."{dataset.to_sql_table().name}"' for stream, dataset in result.streams.items()}
    cache.get_sql_engine().dispose()
    return Synced(database, tables)


def synced_days(days: int) -> Tuple[str, str]:
    last = datetime.now(UTC).date() - timedelta(days=2)
    return (last - timedelta(days=days - 1)).isoformat(), last.isoformat()


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRBYTE_OFFLINE_MODE", "1")  # PyAirbyte: no registry access
    monkeypatch.setenv("DO_NOT_TRACK", "1")


@pytest.fixture(scope="module")
def forty_days(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synced]:
    """40 daily windows of 8 users: the 30 days the reports look at and 10 before them."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AIRBYTE_OFFLINE_MODE", "1")
        patch.setenv("DO_NOT_TRACK", "1")
        with Emulator(seed=31, rate_limits=False, tabnine={"users": 8, "teams": 2}) as emulator:
            yield sync(tmp_path_factory.mktemp("forty_days") / "tabnine.duckdb", emulator, *synced_days(40))


def test_tabnine_demo_reports_answer_seats_idle_holders_and_model_costs(tmp_path: Path, offline: None) -> None:
    start, end = synced_days(DAYS)
    with Emulator(seed=29, rate_limits=False, tabnine={"users": 23, "teams": 3}) as emulator:
        vendor = emulator.vendors["tabnine"]
        seats, holders, models = sync(tmp_path / "tabnine.duckdb", emulator, start, end).reports()
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


# --------------------------------------------------------------------------- the last 30 days

#: Three seat holders who used their seat, each left with activity on one day only: the window
#: starting this many days before the end of the last synced window.
AGES = {"only_31_days_ago": 31, "only_30_days_ago": 30, "only_29_days_ago": 29}


def seat_holders_used(synced: Synced) -> List[str]:
    """The usernames of active users with activity in some synced window, in order."""
    engine = create_engine(f"duckdb:///{synced.database}")
    try:
        with engine.connect() as connection:
            query = """SELECT username FROM {tabnine_users} WHERE active AND id IN
                       (SELECT userid FROM {tabnine_user_usage} WHERE activeusers > 0) ORDER BY username"""
            return [row[0] for row in connection.execute(text(query.format(**synced.tables)))]
    finally:
        engine.dispose()


def active_only_on(synced: Synced, username: str, age: int) -> str:
    """An UPDATE leaving ``username`` active in the window starting ``age`` days before the end of
    the last synced window (as active as the sync said it was) and idle in every other."""
    return f"""
        UPDATE {{tabnine_user_usage}} SET activeusers = CASE
            WHEN period_start = (SELECT MAX(period_end) FROM {{tabnine_user_usage}}) - INTERVAL {age} DAY THEN 1 ELSE 0 END
        WHERE userid = (SELECT id FROM {{tabnine_users}} WHERE username = '{username}')"""


def moved(forty_days: Synced, tmp_path: Path) -> Tuple[Dict[str, str], Path]:
    used = seat_holders_used(forty_days)
    assert len(used) >= len(AGES), used
    who = dict(zip(AGES, used, strict=False))
    copy = forty_days.changed_copy(tmp_path, *(active_only_on(forty_days, who[name], age) for name, age in AGES.items()))
    # Each of them has activity in exactly one window, the one meant: the test cannot pass vacuously.
    engine = create_engine(f"duckdb:///{copy}")
    try:
        with engine.connect() as connection:
            for name, age in AGES.items():
                query = """SELECT CAST((SELECT MAX(period_end) FROM {tabnine_user_usage}) - period_start AS VARCHAR), activeusers
                           FROM {tabnine_user_usage}
                           WHERE userid = (SELECT id FROM {tabnine_users} WHERE username = :username) AND activeusers > 0"""
                rows = connection.execute(text(query.format(**forty_days.tables)), {"username": who[name]}).all()
                assert rows == [(f"{age} days", 1)], (name, rows)
    finally:
        engine.dispose()
    return who, copy


def test_a_seat_holder_whose_only_activity_is_31_days_old_is_listed_as_idle(forty_days: Synced, tmp_path: Path) -> None:
    (seats_before, holders_before, _), (who, copy) = forty_days.reports(), moved(forty_days, tmp_path)

    seats, holders, _ = forty_days.reports(copy)

    idle = [row[0] for row in holders.rows]
    assert who["only_31_days_ago"] in idle
    assert idle == sorted([*(row[0] for row in holders_before.rows), who["only_31_days_ago"]])
    before, after = dict(seats_before.rows), dict(seats.rows)
    assert after["held, unused in the last 30 days"] == before["held, unused in the last 30 days"] + 1
    assert after["held and used in the last 30 days"] == before["held and used in the last 30 days"] - 1


def test_seat_holders_active_29_or_30_days_ago_are_not_idle(forty_days: Synced, tmp_path: Path) -> None:
    (_, holders_before, _), (who, copy) = forty_days.reports(), moved(forty_days, tmp_path)

    _, holders, _ = forty_days.reports(copy)

    idle = [row[0] for row in holders.rows]
    assert who["only_29_days_ago"] not in idle and who["only_30_days_ago"] not in idle
    assert idle == sorted([*(row[0] for row in holders_before.rows), who["only_31_days_ago"]])


# --------------------------------------------------------------------------- shape guesses fail loudly


def test_a_per_user_bucket_without_active_users_fails_the_seat_reports_naming_the_field(forty_days: Synced, tmp_path: Path) -> None:
    copy = forty_days.changed_copy(
        tmp_path,
        "UPDATE {tabnine_user_usage} SET activeusers = NULL WHERE period_start = (SELECT MIN(period_start) FROM {tabnine_user_usage})",
    )

    with pytest.raises(ReportInputError) as failed:
        forty_days.reports(copy)

    assert "counts on tabnine_user_usage.activeUsers, and 8 of its 320 synced rows have none" in str(failed.value)
    assert "Tabnine seats: bought, held, used in the last 30 days" in str(failed.value)


def test_a_user_without_active_fails_the_seat_reports_naming_the_field(forty_days: Synced, tmp_path: Path) -> None:
    copy = forty_days.changed_copy(tmp_path, "UPDATE {tabnine_users} SET active = NULL WHERE username = 'dev3'")

    with pytest.raises(ReportInputError, match=r"counts on tabnine_users\.active, and 1 of its 8 synced rows have none"):
        forty_days.reports(copy)


@pytest.mark.parametrize("field", ["cost", "tokensConsumed"])
def test_an_agent_model_without_cost_or_tokens_fails_the_model_report_naming_the_field(
    forty_days: Synced, tmp_path: Path, field: str
) -> None:
    copy = forty_days.changed_copy(tmp_path)
    engine = create_engine(f"duckdb:///{copy}")
    try:
        with engine.begin() as connection:
            first = "(SELECT MIN(period_start) FROM {tabnine_agent_usage})".format(**forty_days.tables)
            (breakdown,) = connection.execute(
                text(f"SELECT modelbreakdown FROM {forty_days.tables['tabnine_agent_usage']} WHERE period_start = {first}")
            ).one()
            models = json.loads(breakdown) if isinstance(breakdown, str) else breakdown
            assert field in models[0]
            del models[0][field]  # the first window's first model, without the field
            connection.execute(
                text(f"UPDATE {forty_days.tables['tabnine_agent_usage']} SET modelbreakdown = :models WHERE period_start = {first}"),
                {"models": json.dumps(models)},
            )
    finally:
        engine.dispose()

    with pytest.raises(Exception, match=f"tabnine_agent_usage: a modelBreakdown item has no {field}"):
        forty_days.reports(copy)

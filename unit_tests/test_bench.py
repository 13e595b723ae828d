"""The bench's scenarios (``bench/scenarios/``) and how ``bench/run.py`` judges a run: what the
numbers it prints are worked out from. The bench itself runs on demand, never here."""

from __future__ import annotations

from typing import Any, Dict, List

import pytest

from bench.run import Scenario, add_ideal, scenarios, targets
from bench.scenarios import BenchPlan, BenchScenario, vendor_scenarios
from emulator import discover_vendors


def planned(name: str, quick: bool = True) -> BenchPlan:
    (scenario,) = [s for s in scenarios(quick, rps=1) if s.name == name]
    emulator = scenario.emulator()
    return scenario.spec.plan(emulator.vendor(scenario.vendor))


def test_every_emulated_vendor_has_bench_scenarios_and_no_name_is_taken_twice() -> None:
    found = vendor_scenarios(quick=True, rps=1)
    assert list(found) == list(discover_vendors())
    names = [scenario.name for scenario in scenarios(quick=True, rps=1)]
    assert len(names) == len(set(names))


@pytest.mark.parametrize("scenario", scenarios(quick=True, rps=1), ids=lambda s: s.name)
def test_a_scenario_calls_only_endpoints_its_vendor_serves(scenario: Scenario) -> None:
    emulator = scenario.emulator()
    plan = scenario.spec.plan(emulator.vendor(scenario.vendor))
    assert {endpoint.path for endpoint in plan.endpoints} <= set(emulator.routes)
    assert set(plan.expected) == set(plan.streams)


def test_workato_round_trips_are_the_listing_pages_then_the_usage() -> None:
    plan = planned("workato_hourly_7x7")
    # 7 workspaces on one page, then the empty page that ends the listing, then the usage.
    assert [(endpoint.path, endpoint.min_requests) for endpoint in plan.endpoints] == [
        ("/api/managed_users", 2),
        ("/api/v2/managed_users/statistics/usage", 336),
    ]
    assert plan.round_trips == 3


def test_tabnine_usage_round_trips_are_the_organisation_then_the_usage() -> None:
    plan = planned("tabnine_daily_usage_90d")
    assert [endpoint.path for endpoint in plan.endpoints] == ["/api/v1/organization", "/api/v2/organization/usage"]
    assert plan.round_trips == 2


def test_jiandaoyun_needs_one_round_trip() -> None:
    assert planned("jiandaoyun_all_1rps").round_trips == 1


def test_the_ideal_is_the_floor_the_sequential_round_trips_and_the_start_up() -> None:
    spec = BenchScenario("x", {}, lambda vendor: BenchPlan((), {}), latency_ms=300, over_network=True)
    result: Dict[str, Any] = {"floor_s": 9.0, "round_trips": 3, "wall_s": 13.4}
    add_ideal(result, spec, startup_s=1.5)
    assert result["ideal_s"] == 11.4  # 9.0 + 3 x 0.3 + 1.5
    assert result["wall_over_ideal"] == 1.18


def test_slow_destination_scenarios_run_only_when_asked_and_are_judged_by_memory() -> None:
    every = scenarios(quick=True, rps=1)
    slow: List[Scenario] = [s for s in every if s.spec.on_demand]
    assert sorted(s.name for s in slow) == [
        "jiandaoyun_slow_destination_20000x20000",
        "jiandaoyun_slow_destination_5000x3000",
        "workato_slow_destination_100x100",
        "workato_slow_destination_100x50",
    ]
    assert {(s.spec.destination_lines_per_s, s.spec.seconds, s.spec.rss_target_mb) for s in slow} == {(200, 90, 150)}
    results = {"workato_slow_destination_100x50": {"peak_rss_mb": 151.0}, "workato_slow_destination_100x100": {"peak_rss_mb": 120.0}}
    verdicts = targets(results, every, every)
    assert verdicts["workato_slow_destination_100x50: peak_rss_mb < 150"] is False
    assert verdicts["workato_slow_destination_100x100: peak_rss_mb < 150"] is True


def test_a_slow_destination_reads_for_a_time_and_only_then() -> None:
    with pytest.raises(ValueError, match="a slow destination reads for a number of seconds"):
        BenchScenario("x", {}, lambda vendor: BenchPlan((), {}), destination_lines_per_s=200)


def test_cpu_per_request_is_judged_where_the_scenario_sets_a_target() -> None:
    every = scenarios(quick=True, rps=1)
    run = {"requests": 338, "min_requests": 338, "rate_limit_errors": 0, "cpu_ms_per_request": 2.9}
    verdicts = targets({"workato_hourly_7x7": run}, every, every)
    assert verdicts["workato_hourly_7x7: cpu_ms_per_request <= 3"] is True
    verdicts = targets({"workato_hourly_7x7": {**run, "cpu_ms_per_request": 3.3}}, every, every)
    assert verdicts["workato_hourly_7x7: cpu_ms_per_request <= 3"] is False


def test_cpu_per_request_not_measured_is_no_target_met() -> None:
    every = scenarios(quick=True, rps=1)
    failed = {"requests": 0, "min_requests": 338, "rate_limit_errors": 0, "cpu_ms_per_request": None}
    verdicts = targets({"workato_hourly_7x7": failed}, every, every)
    assert verdicts["workato_hourly_7x7: cpu_ms_per_request <= 3"] is False

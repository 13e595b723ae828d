"""What the end-to-end tests that run once per vendor the emulator serves share: the vendors,
their days, their emulator and a config of one vendor alone."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Any, Dict, List, Tuple

from emulator import Emulator, discover_vendors, vendor_options
from integration_tests.conftest import EmulatorFactory

#: Every vendor the emulator serves, the ids a parametrized test runs with.
VENDORS: List[str] = sorted(discover_vendors())


def days(count: int, ending_days_ago: int = 3) -> Tuple[date, date]:
    """``count`` days ending ``ending_days_ago`` days ago in UTC: over in every vendor's zone."""
    end = datetime.now(timezone.utc).date() - timedelta(days=ending_days_ago)
    return end - timedelta(days=count - 1), end


def emulated(emulator_factory: EmulatorFactory, **options: Any) -> Emulator:
    """Every vendor with its shared end-to-end options (``VendorEmulator.e2e_options``), the
    emulator's rate limits off."""
    return emulator_factory(seed=7, rate_limits=False, **vendor_options(lambda vendor: vendor.e2e_options), **options)


def one_vendor(emulator: Emulator, vendor: str, start: date, end: date, lookback_days: int = 0) -> Dict[str, Any]:
    """A config that syncs ``vendor`` alone, as served by ``emulator``, from ``start`` to ``end``."""
    section = emulator.vendor(vendor).connector_section(emulator.url)
    return {"start_date": start.isoformat(), "end_date": end.isoformat(), "lookback_days": lookback_days, vendor: section}

"""Shared fixtures of the unit tests: today pinned for every test, and a frozen clock that sleeping advances."""

from __future__ import annotations

import time
from typing import Any, Iterator, List

import freezegun
import pytest
import time_machine

# pytest's own clock (test durations, ``--durations``) stays real while a test's is frozen.
freezegun.configure(extend_ignore_list=["_pytest.timing"])

#: 2026-06-10 12:00 UTC is 20:00 in UTC+8: T = 2026-06-10 in both, so the latest finished day of a
#: vendor counting days in either zone is 06-09.
FROZEN_NOW = "2026-06-10T12:00:00Z"


@pytest.fixture(autouse=True)
def pinned_today() -> Iterator[None]:
    """Every unit test runs on ``FROZEN_NOW``'s date whatever the real date (or ``tools/test.py
    --at``): the wall clock starts there and runs on; sleeps and monotonic time stay real. A test
    that needs time to stand still, or sleeps to take none, uses ``clock``."""
    with time_machine.travel(FROZEN_NOW, tick=True):
        yield


class Sleeps:
    """Every sleep the code under test asked for, in seconds; the frozen clock moves by each."""

    def __init__(self, frozen: Any) -> None:
        self._frozen = frozen
        self.seconds: List[float] = []

    def __call__(self, seconds: float) -> None:
        self.seconds.append(seconds)
        if seconds > 0:
            self._frozen.tick(seconds)

    @property
    def waits(self) -> List[float]:
        """The sleeps that took time, in order. The ``backoff`` library follows each of the CDK's
        own rate-limit sleeps with a ``sleep(0)`` (its interval is 0), which waits for nothing."""
        return [seconds for seconds in self.seconds if seconds > 0]


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[Sleeps]:
    """Time frozen at ``FROZEN_NOW``; ``time.sleep`` (backoff, budget) ticks it instead of waiting."""
    with freezegun.freeze_time(FROZEN_NOW) as frozen:
        sleeps = Sleeps(frozen)
        monkeypatch.setattr(time, "sleep", sleeps)
        yield sleeps

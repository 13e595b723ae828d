"""The core's value conversions (``core.values``) and what happens once per sync (``core.once``),
one test per promised behaviour, exact values."""

from __future__ import annotations

import threading
from typing import Any, List, Optional

import pytest

from source_usage.core.once import FetchedOnce, FirstTime
from source_usage.core.values import as_count, as_date_time, as_text, epoch_utc, in_utc, utc_instant, utc_z

# --- core.values -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-03-08T00:00:00-08:00", "2026-03-08T08:00:00+00:00"),
        ("2026-01-01T00:00:00+08:00", "2025-12-31T16:00:00+00:00"),
        ("2026-01-01T00:00:00.250+00:00", "2026-01-01T00:00:00.250000+00:00"),
        ("2026-01-01T00:00:00", None),  # no offset: the instant is unknown
        ("2026-01-01", None),
        ("yesterday", None),
        (1767225600, None),
        (None, None),
    ],
)
def test_in_utc_is_the_instant_of_a_date_time_with_an_offset_and_null_for_anything_else(value: Any, expected: Optional[str]) -> None:
    assert in_utc(value) == expected


def test_utc_instant_reads_z_offsets_milliseconds_and_a_bare_date_as_its_utc_midnight() -> None:
    moment = utc_instant("2026-06-01T02:00:00.000+02:00")
    assert moment is not None and moment.isoformat() == "2026-06-01T00:00:00+00:00"
    assert utc_instant("2026-06-01T00:00:00Z") == moment == utc_instant("2026-06-01")
    assert [utc_instant(value) for value in ("soon", None, 5)] == [None, None, None]


def test_utc_z_writes_whole_seconds_with_z_in_utc() -> None:
    assert utc_z("2026-06-01T02:00:00+02:00") == "2026-06-01T00:00:00Z"
    assert utc_z("2026-06-01T00:00:00.999+00:00") == "2026-06-01T00:00:00Z"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1735689600, "2025-01-01T00:00:00+00:00"),  # seconds, as documented
        (1735689600000, "2025-01-01T00:00:00+00:00"),  # milliseconds, told apart by magnitude
        (1735689600.5, "2025-01-01T00:00:00.500000+00:00"),
        (None, None),
    ],
)
def test_epoch_utc_reads_seconds_and_milliseconds(value: Any, expected: Optional[str]) -> None:
    assert epoch_utc(value) == expected


@pytest.mark.parametrize("value", [1735689600000000, "1735689600", True, [1]])
def test_epoch_utc_refuses_what_is_neither_seconds_nor_milliseconds(value: Any) -> None:
    with pytest.raises(ValueError, match="neither epoch seconds nor milliseconds"):
        epoch_utc(value)


def test_counts_text_and_date_times_become_typed_columns_or_null() -> None:
    assert [as_count(value) for value in (7, 7.0, " 12 ", "-3", 7.5, "7a", True, None)] == [7, 7, 12, -3, None, None, None, None]
    assert [as_text(value) for value in ("cust-1", 42, True, 4.2, None)] == ["cust-1", "42", None, None, None]
    assert [as_date_time(value) for value in ("2026-01-01T00:00:00.000-08:00", "2026-01-01", "soon", 5)] == [
        "2026-01-01T00:00:00.000-08:00",
        None,
        None,
        None,
    ]


# --- core.once -------------------------------------------------------------------------------


def test_a_value_is_fetched_once_for_every_caller_whatever_the_thread() -> None:
    calls: List[int] = []
    started, release = threading.Event(), threading.Event()

    def fetch() -> List[str]:
        calls.append(1)
        started.set()
        release.wait(5)
        return ["a", "b"]

    once = FetchedOnce(fetch)
    results: List[List[str]] = []
    first = threading.Thread(target=lambda: results.append(once.get()))
    first.start()
    assert started.wait(5)
    second = threading.Thread(target=lambda: results.append(once.get()))
    second.start()  # waits for the first caller's answer instead of fetching again
    release.set()
    first.join(5)
    second.join(5)
    assert results == [["a", "b"], ["a", "b"]] and calls == [1]
    assert once.get() is results[0]


def test_an_empty_value_counts_as_fetched() -> None:
    calls: List[int] = []
    once: FetchedOnce[List[str]] = FetchedOnce(lambda: calls.append(1) or [])
    assert once.get() == [] and once.get() == [] and calls == [1]


def test_a_failed_fetch_is_remembered_and_every_later_caller_gets_the_same_error_without_fetching_again() -> None:
    calls: List[int] = []
    error = RuntimeError("the listing failed after its retries")

    def fetch() -> List[str]:
        calls.append(1)
        raise error

    once = FetchedOnce(fetch)
    for _ in range(3):
        with pytest.raises(RuntimeError) as raised:
            once.get()
        assert raised.value is error
    assert calls == [1]


def test_first_time_is_true_once_per_thing_across_threads() -> None:
    said = FirstTime()
    answers: List[bool] = []
    threads = [threading.Thread(target=lambda: answers.append(said.first("warned"))) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(5)
    assert sorted(answers) == [False] * 7 + [True]
    assert "warned" in said and "other" not in said
    assert said.first("other") is True and said.first() is True and said.first() is False

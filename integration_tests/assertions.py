"""What the end-to-end tests assert about synced records, shared by every vendor's test file."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from integration_tests.catalog import Catalog, default_catalog
from integration_tests.runner import Run

#: What a failed period read adds to its error: the period, the stream, and that the state stays before it.
PERIOD_NOTE = re.compile(
    r" The period (?P<start>\S+) to (?P<end>\S+) of (?P<stream>\w+) was not read whole, "
    r"so the state stays before it: the next sync reads it again\.$"
)


def with_period_note(said: str, stream: str, start: str, end: str) -> str:
    """The error a failed read of ``stream``'s period from ``start`` to ``end`` gives, when what
    went wrong is ``said``."""
    said = said if said.endswith((".", "!", "?")) else f"{said}."
    return f"{said} The period {start} to {end} of {stream} was not read whole, so the state stays before it: the next sync reads it again."


def before_period_note(message: str, stream: str) -> str:
    """What went wrong, from an error that must name a period of ``stream`` as not read whole
    (for a test that does not know which period the clock makes it)."""
    note = PERIOD_NOTE.search(message)
    assert note is not None and note["stream"] == stream, f"the error names no period of {stream}: {message}"
    return message[: note.start()]


def without_nulls(value: Any) -> Any:
    """A record as it is on the wire: the CDK's serializer leaves out null fields."""
    if isinstance(value, dict):
        return {key: without_nulls(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [without_nulls(item) for item in value]
    return value


def keyed(stream: str, records: Sequence[Mapping[str, Any]], catalog: Optional[Catalog] = None) -> Dict[Tuple[Any, ...], Any]:
    """Records by the primary key discover declares for ``stream`` (in ``catalog``; default: the
    shipped connector's); fails on a duplicate key."""
    fields = (catalog or default_catalog()).primary_key(stream)
    keys = [tuple(record.get(field) for field in fields) for record in records]
    duplicates = [key for key, count in Counter(keys).items() if count > 1]
    assert not duplicates, f"{stream}: {len(duplicates)} keys read twice, e.g. {duplicates[:3]}"
    return {key: without_nulls(record) for key, record in zip(keys, records, strict=True)}


def assert_matches(
    stream: str, records: Sequence[Mapping[str, Any]], truth: Sequence[Mapping[str, Any]], catalog: Optional[Catalog] = None
) -> None:
    """The records are the ground truth: the same keys, and equal records (nulls left out)."""
    got, expected = keyed(stream, records, catalog), keyed(stream, truth, catalog)
    missing = sorted(set(expected) - set(got))
    extra = sorted(set(got) - set(expected))
    assert not missing and not extra, f"{stream}: {len(missing)} missing e.g. {missing[:3]}, {len(extra)} extra e.g. {extra[:3]}"
    differing = [key for key in expected if got[key] != expected[key]]
    assert not differing, f"{stream}: {len(differing)} records differ, e.g. {differing[0]}: {got[differing[0]]} != {expected[differing[0]]}"


def assert_succeeded(run: Run) -> None:
    assert run.returncode == 0 and not run.errors(), run.describe()


def records_before_last_state(run: Run, stream: str) -> List[Dict[str, Any]]:
    """The records of ``stream`` that ``run`` emitted before its last STATE of that stream."""
    records: List[Dict[str, Any]] = []
    before: List[Dict[str, Any]] = []
    for message in run.messages:
        if message["type"] == "RECORD" and message["record"]["stream"] == stream:
            records.append(message["record"]["data"])
        elif message["type"] == "STATE" and message["state"]["stream"]["stream_descriptor"]["name"] == stream:
            before = list(records)
    return before

"""Every stream schema types its timestamps so that they keep their instant in a warehouse.

The rule, for every file in ``schemas/`` (new streams are checked as soon as their file exists):

1. A ``format: date-time`` property, at any depth, carries ``airbyte_type: timestamp_with_timezone``
   (Airbyte's destinations then create timezone-aware columns and read the offset), and a
   property with that ``airbyte_type`` is a ``date-time`` string.
2. PyAirbyte's caches (DuckDB, PostgreSQL; PyAirbyte 0.71.3) create every timestamp column
   without a time zone, and drop the offset of a value that has one. So a top-level date-time
   property either holds UTC values only, which its description says ("UTC"), or has a
   ``<name>_utc`` sibling: a date-time the connector fills with the same instant in UTC.
3. A ``<name>_utc`` property stands beside the date-time ``<name>`` it restates.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator, List, Mapping, Tuple

import orjson
import pytest

SCHEMAS = Path(__file__).resolve().parents[1] / "schemas"
SCHEMA_FILES = sorted(SCHEMAS.glob("*.json"))
WITH_TIMEZONE = "timestamp_with_timezone"
UTC_SUFFIX = "_utc"


def load(path: Path) -> Mapping[str, Any]:
    schema = orjson.loads(path.read_bytes())
    assert isinstance(schema, dict)
    return schema


def properties(node: Mapping[str, Any], path: str = "") -> Iterator[Tuple[str, Mapping[str, Any]]]:
    """Every property of a schema, nested objects and array items included, with its dotted path."""
    for name, prop in node.get("properties", {}).items():
        where = f"{path}{name}"
        yield where, prop
        yield from properties(prop, f"{where}.")
        items = prop.get("items")
        if isinstance(items, dict):
            yield from properties(items, f"{where}[].")


def is_date_time(prop: Mapping[str, Any]) -> bool:
    return prop.get("format") == "date-time"


def test_there_are_schema_files_to_check() -> None:
    assert len(SCHEMA_FILES) >= 12


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=lambda path: path.stem)
def test_every_date_time_property_is_a_timestamp_with_timezone(path: Path) -> None:
    wrong: List[str] = []
    for where, prop in properties(load(path)):
        if is_date_time(prop) and prop.get("airbyte_type") != WITH_TIMEZONE:
            wrong.append(f"{where}: format date-time needs airbyte_type {WITH_TIMEZONE} (has {prop.get('airbyte_type')!r})")
        if prop.get("airbyte_type") == WITH_TIMEZONE and not is_date_time(prop):
            wrong.append(f"{where}: airbyte_type {WITH_TIMEZONE} needs format date-time (has {prop.get('format')!r})")
    assert not wrong, f"{path.name}:\n" + "\n".join(wrong)


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=lambda path: path.stem)
def test_every_top_level_date_time_is_utc_or_has_a_utc_sibling(path: Path) -> None:
    top = load(path).get("properties", {})
    wrong: List[str] = []
    for name, prop in top.items():
        if not is_date_time(prop):
            continue
        sibling = top.get(f"{name}{UTC_SUFFIX}")
        if sibling is not None:
            if not is_date_time(sibling):
                wrong.append(f"{name}{UTC_SUFFIX}: the UTC sibling of {name} must be a date-time")
        elif "UTC" not in prop.get("description", ""):
            wrong.append(
                f"{name}: a warehouse without time zones keeps only its wall clock; its description must say its values are UTC, "
                f"or the connector must emit {name}{UTC_SUFFIX} (declared beside it)"
            )
    assert not wrong, f"{path.name}:\n" + "\n".join(wrong)


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=lambda path: path.stem)
def test_every_utc_column_stands_beside_the_date_time_it_restates(path: Path) -> None:
    top = load(path).get("properties", {})
    orphans = [
        name
        for name, prop in top.items()
        if name.endswith(UTC_SUFFIX) and is_date_time(prop) and not is_date_time(top.get(name[: -len(UTC_SUFFIX)], {}))
    ]
    assert orphans == [], f"{path.name}: UTC columns without their date-time: {orphans}"

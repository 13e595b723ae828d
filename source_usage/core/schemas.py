"""Stream JSON schemas, one file per stream in the project's top-level ``schemas/`` folder.

The wheel ships that folder as ``source_usage/schemas`` (see ``pyproject.toml``); a source
checkout that runs without installing reads it from the repository root.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Mapping, Tuple

_CHECKOUT_SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"


@cache
def load_schema(stream_name: str) -> Mapping[str, Any]:
    file_name = f"{stream_name}.json"
    packaged = resources.files("source_usage").joinpath("schemas", file_name)
    if packaged.is_file():
        text = packaged.read_text(encoding="utf-8")
    else:
        text = (_CHECKOUT_SCHEMAS / file_name).read_text(encoding="utf-8")
    schema: Mapping[str, Any] = json.loads(text)
    return schema


def integer_columns(schema: Mapping[str, Any]) -> Tuple[str, ...]:
    """A schema's top-level columns typed ``integer``: what a warehouse stores as a 64-bit integer."""
    columns = []
    for name, prop in schema.get("properties", {}).items():
        kind = prop.get("type") if isinstance(prop, Mapping) else None
        if kind == "integer" or (isinstance(kind, list) and "integer" in kind):
            columns.append(name)
    return tuple(columns)

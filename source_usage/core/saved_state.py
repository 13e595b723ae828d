"""The ``--state`` file, checked before a sync starts: a state the connector cannot resume from
is a config error naming the stream and saying how to reset it, never a crash.

Two steps, because the CDK parses the file before the source knows its streams:
:func:`state_file_problem` runs on the raw JSON before the CDK parses it (it must be a list of
per-stream states whose ``stream_state`` is an object), :func:`stream_state_problem` once the
streams exist (the object must hold the stream's cursor).
"""

from __future__ import annotations

import json
from typing import Any, List, Mapping, Optional

RESET_STREAM = "reset the stream's state (Airbyte: Connection > Settings > Reset) or start without --state."
RESET_CONNECTION = "reset the connection's state (Airbyte: Connection > Settings > Reset) or start without --state."

_JSON_WORDS = {dict: "an object", list: "a list", str: "a string", bool: "true or false", int: "a number", float: "a number"}


def _kind(value: Any) -> str:
    return _JSON_WORDS.get(type(value), "not an object")


def _stream_names(entries: List[Any]) -> str:
    names = [entry.get("stream_descriptor", {}).get("name") for entry in entries if isinstance(entry, Mapping)]
    return ", ".join(f"'{name}'" for name in names if isinstance(name, str))


def state_file_problem(text: str) -> Optional[str]:
    """Why the text of a ``--state`` file is not a list of per-stream states; ``None`` when it is."""
    try:
        content = json.loads(text) if text.strip() else None
    except json.JSONDecodeError as error:
        return f"The state file is not JSON ({error.msg} at line {error.lineno}, column {error.colno}); {RESET_CONNECTION}"
    if not content:
        return None
    if not isinstance(content, list):
        return f"The state file is {_kind(content)}, not a list of per-stream states; {RESET_CONNECTION}"
    for number, entry in enumerate(content, start=1):
        problem = state_entry_problem(number, entry)
        if problem:
            return problem
    return None


def state_entry_problem(number: int, entry: Any) -> Optional[str]:
    """Why one entry of the state file is not a per-stream state this connector resumes from."""
    if not isinstance(entry, Mapping):
        return f"Entry {number} of the state file is {_kind(entry)}, not a state message; {RESET_CONNECTION}"
    if entry.get("type") == "GLOBAL" or entry.get("global"):
        states = entry.get("global", {}).get("stream_states", []) if isinstance(entry.get("global"), Mapping) else []
        streams = _stream_names(states if isinstance(states, list) else [])
        owner = f"The saved state of {'streams ' + streams if streams else 'the connection'}"
        return f"{owner} is a GLOBAL state, which this connector never writes; {RESET_CONNECTION}"
    stream = entry.get("stream")
    if entry.get("type", "STREAM") != "STREAM" or not isinstance(stream, Mapping):
        return f"Entry {number} of the state file is not a per-stream state (type STREAM); {RESET_CONNECTION}"
    descriptor = stream.get("stream_descriptor")
    name = descriptor.get("name") if isinstance(descriptor, Mapping) else None
    if not isinstance(name, str) or not name:
        return f"Entry {number} of the state file names no stream; {RESET_CONNECTION}"
    value = stream.get("stream_state")
    if value is not None and not isinstance(value, Mapping):
        return f"The saved state of stream '{name}' is {_kind(value)}, not an object; {RESET_STREAM}"
    return None


def stream_state_problem(stream: str, cursor_field: str, state: Mapping[str, Any]) -> Optional[str]:
    """Why a stream's saved state (an object, maybe empty) does not hold its cursor."""
    if cursor_field not in state and not state:
        return None
    if cursor_field in state and (state[cursor_field] is None or isinstance(state[cursor_field], str)):
        return None
    return f"The saved state of stream '{stream}' is not an object of the form {{\"{cursor_field}\": ...}}; {RESET_STREAM}"

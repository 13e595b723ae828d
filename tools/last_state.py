"""The ``--state`` file for the next sync, from a ``read``'s output.

``.venv/bin/python tools/last_state.py < records.jsonl > state.json`` prints, as one JSON list,
the last STATE message's ``state`` of each stream in the Airbyte messages read from standard
input (one per line; lines that are not JSON objects are skipped), in the order the streams first
reported one. A stream that sent no STATE is not in the list: the next sync reads it from
``start_date``.
"""

from __future__ import annotations

import json
import sys
from typing import Any, Dict, Iterable, List


def last_states(lines: Iterable[str]) -> List[Dict[str, Any]]:
    states: Dict[str, Dict[str, Any]] = {}
    for line in lines:
        try:
            message = json.loads(line)
        except ValueError:
            continue
        if isinstance(message, dict) and message.get("type") == "STATE":
            state = message["state"]
            states[state["stream"]["stream_descriptor"]["name"]] = state
    return list(states.values())


def main() -> int:
    json.dump(last_states(sys.stdin), sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

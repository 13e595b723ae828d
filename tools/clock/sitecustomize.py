"""Every Python process the test suite starts sees the same "now": ``python3 tools/test.py --at
INSTANT``.

Python imports ``sitecustomize`` at start-up from the first folder of its path that holds one;
``tools/test.py --at`` puts this folder first on ``PYTHONPATH``, which every process started from
the suite inherits: pytest and its workers, the emulator's command line, the connector's command
(also inside the Docker image, which mounts this folder), PyAirbyte's runs of it. When
``SOURCE_USAGE_TEST_CLOCK`` is ``INSTANT@REAL`` (an ISO-8601 instant, and the real Unix time at
which it was now), the process's wall clock (``time.time``, ``datetime.now``, ``date.today``,
``pendulum.now``) moves to ``INSTANT`` plus the real time elapsed since ``REAL``, and runs on from
there: processes started at different moments share one clock. ``time.monotonic``,
``time.sleep`` and every timeout keep real time. Nothing in the connector knows of this.
"""

from __future__ import annotations

import os
import sys

CLOCK_VARIABLE = "SOURCE_USAGE_TEST_CLOCK"


def _start_the_shifted_clock(value: str) -> None:
    import time
    from datetime import datetime

    instant, separator, real = value.partition("@")
    moment = datetime.fromisoformat(instant.replace("Z", "+00:00"))
    if not separator or moment.tzinfo is None:
        raise ValueError(f"{CLOCK_VARIABLE}={value!r} is not INSTANT@REAL with an instant that has an offset")
    import time_machine

    time_machine.travel(moment.timestamp() + (time.time() - float(real)), tick=True).start()
    # time-machine's clock starts ticking at its first reading, not when it starts: read it now,
    # or a process that reads no time during a long start-up (pytest's) would run behind the others.
    time.time()


_value = os.environ.get(CLOCK_VARIABLE)
if _value:
    try:
        _start_the_shifted_clock(_value)
    except Exception as error:  # noqa: BLE001 - a process on the real clock would fail in confusing ways
        sys.stderr.write(f"tools/clock/sitecustomize.py: cannot move this process's clock ({type(error).__name__}: {error})\n")
        os._exit(70)

"""The suite's moved clock (``tools/test.py --at``) for Python processes outside the test venv:
the clean venv of the wheel test and the connector's Docker image.

Inside the test venv every process gets it from ``tools/clock/sitecustomize.py`` on
``PYTHONPATH``. Another Python has no ``time_machine``: :func:`clock_folder` is a folder holding
only that start-up file and ``time_machine`` (copied from the test venv, nothing of the checkout
or of its packages), which such a process is given on its ``PYTHONPATH`` (mounted, for the image).
Without ``--at`` there is nothing to move: every function here gives nothing.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Dict, List, Mapping, Optional

ROOT = Path(__file__).resolve().parents[1]
CLOCK_VARIABLE = "SOURCE_USAGE_TEST_CLOCK"
STARTUP = ROOT / "tools" / "clock" / "sitecustomize.py"


def moved() -> Optional[str]:
    """The moved clock's setting (``INSTANT@REAL``), or ``None`` when the suite runs on the real one."""
    return os.environ.get(CLOCK_VARIABLE) or None


def real_time() -> float:
    """The real Unix time, whether or not this process's clock is moved (``tools/test.py --at``)."""
    import time

    import time_machine

    return time_machine.escape_hatch.time.time() if time_machine.escape_hatch.is_travelling() else time.time()


def clock_folder(parent: Path) -> Optional[Path]:
    """A folder under ``parent`` with the start-up file and ``time_machine``; ``None`` without ``--at``."""
    if moved() is None:
        return None
    import _time_machine
    import time_machine

    folder = parent / "moved-clock"
    folder.mkdir(exist_ok=True)
    shutil.copy2(STARTUP, folder / STARTUP.name)
    shutil.copytree(Path(time_machine.__file__).parent, folder / "time_machine", dirs_exist_ok=True)
    shutil.copy2(_time_machine.__file__, folder / Path(str(_time_machine.__file__)).name)
    for path in folder.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)  # readable by any user (the image's `airbyte`)
    folder.chmod(0o755)
    return folder


def environment(folder: Optional[Path], base: Mapping[str, str]) -> Dict[str, str]:
    """``base`` for a Python that is given ``folder`` (see :func:`clock_folder`) as its only ``PYTHONPATH``."""
    env = {key: value for key, value in base.items() if key not in (CLOCK_VARIABLE, "PYTHONPATH")}
    setting = moved()
    if folder is not None and setting is not None:
        env.update({CLOCK_VARIABLE: setting, "PYTHONPATH": str(folder)})
    return env


def docker_arguments(folder: Optional[Path]) -> List[str]:
    """``docker run`` options that give the container's Python the moved clock (none without ``--at``)."""
    setting = moved()
    if folder is None or setting is None:
        return []
    inside = "/opt/source-usage-test-clock"
    return ["-v", f"{folder}:{inside}:ro", "-e", f"{CLOCK_VARIABLE}={setting}", "-e", f"PYTHONPATH={inside}"]

"""Calling the emulator from a test: one vendor's request with its key, and the command line's server.

Shared by ``test_emulator.py`` (the core) and each ``test_<vendor>_emulator.py``; it knows no vendor.
"""

from __future__ import annotations

import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

import requests

from emulator import Emulator

ROOT = Path(__file__).resolve().parents[1]


def vendor_request(emulator: Emulator, vendor: str, method: str, path: str, key: Optional[str] = None, **kwargs: Any) -> requests.Response:
    """``method path`` on the running ``emulator`` with ``vendor``'s key (or ``key``) as its Bearer token."""
    token = key if key is not None else emulator.vendor(vendor).options.api_key
    return requests.request(method, emulator.url + path, headers={"Authorization": f"Bearer {token}"}, timeout=10, **kwargs)


@contextmanager
def command_line(*flags: str) -> Iterator[str]:
    """``python -m emulator FLAGS`` running; yields the URL it printed first."""
    process = subprocess.Popen(
        [sys.executable, "-m", "emulator", *flags], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        yield process.stdout.readline().strip()
    finally:
        process.terminate()
        process.wait(timeout=10)


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    """Return once ``condition()`` holds; fail naming ``what`` if it does not within ``timeout``
    seconds (a bound only a hang reaches: how soon it holds is not under test)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what}: not within {timeout:g} s"
        time.sleep(0.01)

"""What the connector writes to stdout reaches it without waiting for a later message."""

from __future__ import annotations

import sys
import threading
from typing import List

import pytest

from source_usage.run import TimelyPrintBuffer

#: Only a buffer that never writes out what it holds reaches this.
HANG = 30.0


class Stdout:
    """A stand-in for the process's stdout: what was written, and an event once it was flushed."""

    def __init__(self) -> None:
        self.written: List[str] = []
        self.flushed = threading.Event()

    def write(self, text: str) -> int:
        self.written.append(text)
        return len(text)

    def flush(self) -> None:
        self.flushed.set()


def test_a_message_followed_by_a_long_silence_is_written_out_without_waiting_for_the_next(monkeypatch: pytest.MonkeyPatch) -> None:
    stdout = Stdout()
    monkeypatch.setattr(sys, "__stdout__", stdout)
    buffer = TimelyPrintBuffer(flush_interval=0.05)
    buffer.write('{"type": "RECORD"}\n')  # written out at once or held: either way ...
    stdout.flushed.clear()
    buffer.write('{"type": "STATE"}\n')  # ... the STATE just after it is held, and nothing follows it
    assert stdout.flushed.wait(HANG), "the STATE stayed in the buffer"
    assert "".join(stdout.written) == '{"type": "RECORD"}\n{"type": "STATE"}\n'


def test_leaving_the_buffer_writes_out_what_it_holds_and_stops_its_timer(monkeypatch: pytest.MonkeyPatch) -> None:
    stdout = Stdout()
    monkeypatch.setattr(sys, "__stdout__", stdout)
    with TimelyPrintBuffer(flush_interval=HANG) as buffer:
        buffer.write('{"type": "STATE"}\n')
    assert "".join(stdout.written) == '{"type": "STATE"}\n'
    assert buffer._timer is None

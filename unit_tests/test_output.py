"""What the connector writes to stdout reaches it without waiting for a later message."""

from __future__ import annotations

import sys
import threading
from typing import List

import pytest
from airbyte_cdk.utils.print_buffer import PrintBuffer

from source_usage.run import HeldOutputFlusher

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
    buffer = PrintBuffer(flush_interval=0.05)
    with HeldOutputFlusher(buffer):
        buffer.write('{"type": "RECORD"}\n')  # written out at once or held: either way ...
        stdout.flushed.clear()
        buffer.write('{"type": "STATE"}\n')  # ... the STATE just after it is held, and nothing follows it
        assert stdout.flushed.wait(HANG), "the STATE stayed in the buffer"
    assert "".join(stdout.written) == '{"type": "RECORD"}\n{"type": "STATE"}\n'


def test_the_flusher_writes_through_the_buffer_every_writer_shares(monkeypatch: pytest.MonkeyPatch) -> None:
    # The CDK's log handler writes to PRINT_BUFFER: a second buffer would be a second writer of
    # stdout without its lock, and two threads writing one text stream at once lose bytes.
    from airbyte_cdk.logger import LOGGING_CONFIG, PRINT_BUFFER

    assert HeldOutputFlusher().buffer is PRINT_BUFFER
    assert LOGGING_CONFIG["handlers"]["console"]["stream"] is PRINT_BUFFER

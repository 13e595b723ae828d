"""Per-stream request accounting, for the one-line sync summary at the end of every read."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from airbyte_cdk.sources.streams.http.error_handlers.response_models import ResponseAction


@dataclass
class RequestStats:
    """What one stream's HTTP client did. Each stream is read by one thread, so no lock."""

    requests: int = 0
    retries: int = 0
    rate_limit_waits: int = 0
    rate_limit_wait_seconds: float = 0.0
    records: int = 0
    last_action: Optional[ResponseAction] = None

    def observe(self, action: ResponseAction) -> None:
        """One answer (or connection error) and what the error handler made of it."""
        self.requests += 1
        self.last_action = action
        if action in (ResponseAction.RETRY, ResponseAction.RATE_LIMITED):
            self.retries += 1
        if action == ResponseAction.RATE_LIMITED:
            self.rate_limit_waits += 1

    def waited(self, seconds: float) -> None:
        """A wait before a retry; counted as a rate-limit wait when the last answer was one."""
        if self.last_action == ResponseAction.RATE_LIMITED:
            self.rate_limit_wait_seconds += seconds

    def summary(self, stream_name: str) -> str:
        return (
            f"Sync summary: {stream_name}: {self.requests} requests, {self.retries} retries, "
            f"{self.rate_limit_waits} rate-limit waits ({self.rate_limit_wait_seconds:.1f} s), "
            f"{self.records} records."
        )

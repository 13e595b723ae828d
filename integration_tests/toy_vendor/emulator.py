"""The toy vendor's API for the emulator: ``GET /toy/v1/usage?day=YYYY-MM-DD``, a finished UTC
day, one item per team in one page; anything else about ``day`` is HTTP 400."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timezone
from typing import Any, Dict, List, Optional

from emulator.core import ApiError, LoggedRequest, Reply, Request, Route, VendorEmulator, planned_periods, stable_int


@dataclass
class Options:
    api_token: str = "toy-emulator-token"
    teams: int = 3

    @property
    def api_key(self) -> str:
        return self.api_token


class ToyEmulator(VendorEmulator):
    name = "toy"
    Options = Options
    streams = ("toy_daily_usage",)
    key_option = "api_token"
    e2e_options = {"teams": 3}

    def routes(self) -> List[Route]:
        return [Route("GET", "/toy/v1/usage", self._usage)]

    def unauthorized(self) -> Reply:
        return Reply(401, {"message": "Unauthorized"})

    def throttled(self, retry_after: float) -> Reply:
        return Reply(429, {"message": "Too many requests"}, {"Retry-After": str(max(1, math.ceil(retry_after)))})

    def item(self, day: str, team: int) -> Dict[str, Any]:
        return {"team": f"team-{team}", "count": stable_int(self.seed, "toy", day, team) % 100}

    def _usage(self, request: Request) -> Reply:
        value = request.param("day") or ""
        try:
            day = date.fromisoformat(value)
        except ValueError:
            raise ApiError(Reply(400, {"message": f"day {value!r} is not YYYY-MM-DD"})) from None
        if day >= self.world.now().astimezone(timezone.utc).date():
            raise ApiError(Reply(400, {"message": f"day {value} is not over yet"}))
        return Reply(200, {"items": [self.item(value, team) for team in range(self.options.teams)]})

    def ground_truth(self, stream: str, start_date: Any = None, end_date: Any = None, **unused: Any) -> List[Dict[str, Any]]:
        if stream not in self.streams:
            raise KeyError(stream)
        periods = planned_periods("day", timezone.utc, self.world.now(), start_date, end_date)
        days = [start.date().isoformat() for start, _ in periods]
        return [{**self.item(day, team), "day": day} for day in days for team in range(self.options.teams)]

    def connector_section(self, url: str) -> Dict[str, Any]:
        return {"api_token": self.options.api_token, "base_url": url}

    def requested_day(self, request: LoggedRequest) -> Optional[str]:
        days = request.query.get("day") if request.path == "/toy/v1/usage" else None
        return days[0] if days else None

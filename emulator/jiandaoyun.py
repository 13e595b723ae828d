"""Jiandaoyun / Jodoo corporate usage: ``POST /api/v1/corp_usage/{member_metrics,app_metrics,overview}``.

Enforced as documented (see shared/vendor-apis.md): ``date`` from T-180 to T-1 with T today in
UTC+8 (omitted or empty: T-1), ``limit`` 1..100 (default 20), ``skip`` >= 0, at most 10 ids;
every violation is HTTP 400 ``{"code": 17017}``. A wrong key is HTTP 400 code 8301, a request over
the per-endpoint (default 1/s) or per-company (50/s) limit HTTP 400 code 8303.

Every member and app exists on every date; their metrics change per date. To be faithful to the
vendor's own example, about a quarter of member items lack ``data``, and about one member item in
six carries ``daily_automation_exec``, a metric the member endpoint does not document (it stays
v1). The app and overview endpoints answer as the doc-only "v2" (2026-06-29, same routes) says:
every item also carries ``daily_automation_exec`` and ``daily_attachment_upload`` (bytes).

Variants for what the evidence does not settle: ``usage_v2=False`` (app and overview still v1),
``statistics_enabled=False`` (the Admin Console feature never enabled: every metric 0, no
error), ``feature_purchased=False`` (every usage endpoint answers HTTP 403, as the platform does
for a key that is not a super admin's or a company without the feature; the body is not public:
code 8302, "no API permission", is assumed). 429 and 502 with body codes are the core's
``reply`` fault.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any, Callable, Dict, List, Optional, Sequence

from emulator.core import (
    ApiError,
    LoggedRequest,
    Reply,
    Request,
    Route,
    VendorEmulator,
    Window,
    planned_periods,
    positive_int,
    stable_choice,
    stable_int,
    stable_ints,
)

UTC8 = timezone(timedelta(hours=8))
HISTORY_DAYS = 180
MAX_LIMIT = 100
DEFAULT_LIMIT = 20
MAX_IDS = 10

#: The documented metrics, with the exclusive upper bound of generated values.
METRIC_CAPS = {
    "app": 12, "form_coop": 60, "form_workflow": 20, "dash": 15, "etl": 6, "aggregate": 6,
    "public_link": 10, "data_trigger": 10, "automation": 10, "bpa": 3, "data": 250_000,
}  # fmt: skip
METRICS = tuple(METRIC_CAPS)
#: What "v2" adds on the app and overview endpoints (``daily_attachment_upload`` in bytes).
V2_METRIC_CAPS = {"daily_automation_exec": 500, "daily_attachment_upload": 50_000_000}
#: The metrics typed as columns on the app and overview streams.
V2_METRICS = METRICS + tuple(V2_METRIC_CAPS)
UNKNOWN_METRIC = "daily_automation_exec"
#: The ``msg`` of the 403 a company without the usage-statistics feature gets.
NOT_PURCHASED = "No API permission: the usage statistics feature is not purchased (未购买用量统计功能)"

SURNAMES = ("王", "李", "张", "刘", "陈", "杨", "赵", "黄", "Smith", "Tanaka")
GIVEN = ("伟", "芳", "娜", "敏", "静", "磊", "洋", "艳", "Tom", "Yuki", "Ana")
APP_NAMES = ("CRM", "采购管理", "Inventory", "项目管理", "HR Onboarding", "报销审批", "Assets", "质量检验")
#: The values of ``Options.paging_fault``.
PAGING_FAULTS = ("endless", "repeat")
#: The values of ``Options.item_fault``.
ITEM_FAULTS = ("no_key", "not_object", "repeat_item")
#: The field that identifies an item of each kind, and what ``no_key`` does to it.
KEY_FIELDS = {"member": "member", "app": "app_id"}

#: The largest ``requests_per_second`` the connector's spec allows (Jiandaoyun's 50 requests a second
#: per company over the three usage endpoints read side by side), which configs use when the
#: emulator enforces no limit. Kept here, not imported, so that starting the emulator imports no
#: connector code; unit_tests/test_jiandaoyun_config.py holds the two equal.
CONNECTOR_MAX_REQUESTS_PER_SECOND = 50


@dataclass
class Options:
    api_key: str = "jdy-emulator-key"
    members: int = 250
    apps: int = 40
    #: Per endpoint, sliding one-second window (0 or None: unlimited).
    requests_per_second: Optional[int] = 1
    #: All endpoints of the company together.
    company_requests_per_second: Optional[int] = 50
    #: A broken pager on the member and app endpoints (``None``: none). ``endless``: ``has_next``
    #: is true on every page, so pages past the end come back empty saying there is more;
    #: ``repeat``: ``skip`` is ignored, the first page comes back again and again with
    #: ``has_next`` true.
    paging_fault: Optional[str] = None
    #: Broken items on the member and app endpoints (``None``: none). ``no_key``: every item lacks
    #: its id (a member item has ``member: null``, an app item no ``app_id``); ``not_object``: the
    #: items are strings; ``repeat_item``: every page after the first starts one item early, so the
    #: last item of the page before comes again (as when an item is added while a client pages).
    item_fault: Optional[str] = None
    #: A server that answers this many items a page whatever ``limit`` asks (``None``: the limit).
    page_size: Optional[int] = None
    #: The app and overview endpoints serve the "v2" metrics (False: as before 2026-06-29).
    usage_v2: bool = True
    #: The Admin Console usage statistics are enabled (False: every metric of every item is 0).
    statistics_enabled: bool = True
    #: The usage-statistics feature is purchased and the key a super admin's (False: HTTP 403).
    feature_purchased: bool = True
    #: Every third member's name ends in half an emoji: a lone surrogate escape, legal JSON.
    truncated_emoji_names: bool = False
    #: The field of a page that says more pages follow (the documented ``has_next``; the sibling
    #: audit-log API says ``has_more``).
    more_field: str = "has_next"
    #: Every answer is this date's (as a cache keyed on the URL serves it: the URL is the same for
    #: every date, the date is in the body); ``None``: the date asked for.
    cached_date: Optional[str] = None
    #: Every metric ``data`` of member items is this number (``None``: the generated one), e.g.
    #: 2**64 + 1, beyond what a 64-bit integer holds.
    member_data: Optional[int] = None

    def __post_init__(self) -> None:
        if self.paging_fault not in (None, *PAGING_FAULTS):
            raise ValueError(f"unknown paging_fault {self.paging_fault!r}; one of {', '.join(PAGING_FAULTS)}")
        if self.item_fault not in (None, *ITEM_FAULTS):
            raise ValueError(f"unknown item_fault {self.item_fault!r}; one of {', '.join(ITEM_FAULTS)}")


def _error(code: int, msg: str) -> ApiError:
    return ApiError(Reply(400, {"code": code, "msg": msg}))


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC8).isoformat(timespec="seconds")


class Jiandaoyun(VendorEmulator):
    name = "jiandaoyun"
    Options = Options
    streams = ("jiandaoyun_member_usage", "jiandaoyun_app_usage", "jiandaoyun_overview_usage")

    # -- what shared tests and tools read (see VendorEmulator)

    usage_stream = "jiandaoyun_member_usage"
    usage_path = "/api/v1/corp_usage/member_metrics"
    usage_day_pattern = r'"date":\s*"{day}"'

    @property
    def usage_zone(self) -> str:
        return "Asia/Shanghai"  # UTC+8

    #: One page of members and of apps per date, and no limit on the emulator's side.
    e2e_options = {"members": 30, "apps": 8, "requests_per_second": None}
    #: 3 pages of 100 members per date.
    paged_options = {"members": 250, "apps": 40, "requests_per_second": None}
    #: 10 requests/second per endpoint on both sides (the real API: 1), so the demo takes
    #: seconds, not minutes; the budget logic is the same.
    demo_options = {"requests_per_second": 10}

    def connector_section(self, url: str) -> Dict[str, Any]:
        # The connector's largest allowed budget when the emulator enforces no per-endpoint limit.
        rps = self.options.requests_per_second or CONNECTOR_MAX_REQUESTS_PER_SECOND
        return {"api_key": self.options.api_key, "base_url": url, "requests_per_second": rps}

    def requested_day(self, request: LoggedRequest) -> Optional[str]:
        # Every endpoint takes the statistics date (UTC+8) in the body.
        body = request.body if request.path.startswith("/api/v1/corp_usage/") else None
        return body.get("date") if isinstance(body, dict) else None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: date -> revision; bumping one changes that date's numbers (a late correction).
        self.revisions: Dict[str, int] = {}

    # -- the vendor's clock and rules

    def today(self) -> date:
        """T: today in UTC+8."""
        return self.world.now().astimezone(UTC8).date()

    def valid_dates(self) -> tuple[date, date]:
        today = self.today()
        return today - timedelta(days=HISTORY_DAYS), today - timedelta(days=1)

    def correct(self, day: str) -> None:
        """A late correction: every number of ``day`` changes (the lookback re-reads it)."""
        self.revisions[day] = self.revisions.get(day, 0) + 1

    def routes(self) -> List[Route]:
        return [
            Route("POST", "/api/v1/corp_usage/member_metrics", self._member_metrics, ("member_metrics", "company")),
            Route("POST", "/api/v1/corp_usage/app_metrics", self._app_metrics, ("app_metrics", "company")),
            Route("POST", "/api/v1/corp_usage/overview", self._overview, ("overview", "company")),
        ]

    def unauthorized(self) -> Reply:
        return Reply(400, {"code": 8301, "msg": "API key verification failed (API Key 校验失败)"})

    def throttled(self, retry_after: float) -> Reply:
        return Reply(400, {"code": 8303, "msg": "Request frequency limit exceeded (请求频率超过限制)"})

    def rate_limit(self, name: str) -> Optional[Window]:
        calls = self.options.company_requests_per_second if name == "company" else self.options.requests_per_second
        return Window(int(calls), 1.0) if calls else None

    # -- generated data

    def _prefixed_id(self, kind: str, index: int) -> str:
        # 24 hex digits like the vendor's ObjectIds; the index is readable back from the tail.
        return f"{self._id_prefix(kind)}{index:012x}"

    @functools.lru_cache(maxsize=8)  # noqa: B019 - one entry per kind; the emulator lives for a test
    def _id_prefix(self, kind: str) -> str:
        return f"65f{stable_int(self.seed, 'jdy', kind) % 16**9:09x}"

    def _index_of(self, kind: str, count: int, entity_id: Any) -> Optional[int]:
        if not isinstance(entity_id, str) or len(entity_id) != 24 or entity_id[:12] != self._prefixed_id(kind, 0)[:12]:
            return None
        try:
            index = int(entity_id[12:], 16)
        except ValueError:
            return None
        return index if index < count else None

    def member_id(self, index: int) -> str:
        return self._prefixed_id("member", index)

    def app_id(self, index: int) -> str:
        return self._prefixed_id("app", index)

    def _member_ref(self, index: int) -> Dict[str, str]:
        surname, given = stable_ints(2, self.seed, "name", index)
        name = SURNAMES[surname % len(SURNAMES)] + GIVEN[given % len(GIVEN)]
        truncated = "\ud83d" if self.options.truncated_emoji_names and index % 3 == 0 else ""  # 😀 cut in half
        return {"member_id": self.member_id(index), "name": f"{name}{index}{truncated}"}

    def _metrics(self, day: str, entity: str, index: int, scale: int = 1, may_omit_data: bool = False) -> Dict[str, int]:
        revision = self.revisions.get(day, 0)
        v1 = entity == "member" or not self.options.usage_v2  # the member endpoint stays v1
        caps = METRIC_CAPS if v1 else {**METRIC_CAPS, **V2_METRIC_CAPS}
        # One hash per item: a page of 100 members costs 100 hashes, not 1,400, so the emulator
        # is not what a benchmark of the connector measures.
        *numbers, shape = stable_ints(len(caps) + 1, self.seed, entity, day, index, revision)
        values = {name: number % (cap * scale) for (name, cap), number in zip(caps.items(), numbers, strict=True)}
        if may_omit_data and shape % 4 == 0:
            del values["data"]
        if v1 and shape % 6 == 1:
            values[UNKNOWN_METRIC] = shape % 500
        if not self.options.statistics_enabled:
            return dict.fromkeys(values, 0)  # the same keys, every value 0
        return values

    def member_item(self, day: str, index: int) -> Dict[str, Any]:
        metrics = self._metrics(day, "member", index, may_omit_data=True)
        if self.options.member_data is not None:
            metrics["data"] = self.options.member_data
        return {"member": self._member_ref(index), "metrics": metrics}

    def app_item(self, day: str, index: int) -> Dict[str, Any]:
        created = datetime(2023, 1, 1, tzinfo=UTC8) + timedelta(seconds=stable_int(self.seed, "created", index) % (900 * 86400))
        day_end = datetime.combine(date.fromisoformat(day), datetime.min.time(), UTC8) + timedelta(days=1)
        last_edit = day_end - timedelta(seconds=1 + stable_int(self.seed, "edited", day, index) % (20 * 86400))
        last_visit = day_end - timedelta(seconds=1 + stable_int(self.seed, "visited", day, index) % 86400)
        creator = stable_int(self.seed, "creator", index) % max(1, self.options.members)
        return {
            "app_id": self.app_id(index),
            "app_name": f"{stable_choice(APP_NAMES, self.seed, 'app', index)} {index}",
            "creator": self._member_ref(creator),
            "created_at": _iso(created),
            "last_edit_at": _iso(max(created, last_edit)),
            "last_visit_at": _iso(max(created, last_edit, last_visit)),
            "metrics": self._metrics(day, "app", index),
        }

    def overview_body(self, day: str) -> Dict[str, Any]:
        return {"date": day, "metrics": self._metrics(day, "overview", 0, scale=max(1, self.options.members))}

    # -- routes

    @staticmethod
    def _body(request: Request) -> Dict[str, Any]:
        try:
            body = request.json()
        except ValueError:
            raise _error(1, "invalid request: the body is not JSON") from None
        if body is None:
            return {}
        if not isinstance(body, dict):
            raise _error(1, "invalid request: the body is not a JSON object")
        return body

    def _date(self, body: Dict[str, Any]) -> str:
        first, last = self.valid_dates()
        value = body.get("date")
        if value in (None, ""):
            return last.isoformat()
        try:
            day = date.fromisoformat(value) if isinstance(value, str) and len(value) == 10 else None
        except ValueError:
            day = None
        if day is None:
            raise _error(17017, "invalid parameter: date must be yyyy-MM-dd")
        if not first <= day <= last:
            raise _error(17017, f"invalid parameter: date must be between {first} and {last} (UTC+8)")
        return day.isoformat()

    def _paged(
        self,
        request: Request,
        ids_field: str,
        kind: str,
        count: int,
        item: Callable[[str, int], Dict[str, Any]],
    ) -> Reply:
        body = self._body(request)
        day = self._date(body)
        skip, limit = body.get("skip", 0), body.get("limit", DEFAULT_LIMIT)
        if not positive_int(skip) or skip < 0:
            raise _error(17017, "invalid parameter: skip must be an integer >= 0")
        if not positive_int(limit) or not 1 <= limit <= MAX_LIMIT:
            raise _error(17017, f"invalid parameter: limit must be an integer from 1 to {MAX_LIMIT}")
        ids = body.get(ids_field)
        indices: Sequence[int]
        if ids in (None, []):
            indices = range(count)  # lazy: slicing a range builds nothing
        else:
            if not isinstance(ids, list) or not all(isinstance(one, str) for one in ids):
                raise _error(17017, f"invalid parameter: {ids_field} must be a list of strings")
            if len(ids) > MAX_IDS:
                raise _error(17017, f"invalid parameter: at most {MAX_IDS} {ids_field}")
            known = (self._index_of(kind, count, one) for one in dict.fromkeys(ids))
            indices = [index for index in known if index is not None]
        fault = self.options.paging_fault
        if fault == "repeat":
            skip = 0  # a server that ignores skip
        limit = self.options.page_size or limit
        if self.options.item_fault == "repeat_item" and skip > 0:
            skip -= 1  # as if an item was added in front after the first page: one item comes again
        page = indices[skip : skip + limit]
        has_next = fault in PAGING_FAULTS or skip + limit < len(indices)
        answered = self.options.cached_date or day
        items = self._broken(kind, [item(answered, i) for i in page])
        return Reply(200, {"date": answered, self.options.more_field: has_next, "items": items})

    def _broken(self, kind: str, items: List[Dict[str, Any]]) -> List[Any]:
        """The page's items as ``Options.item_fault`` breaks them."""
        key = KEY_FIELDS[kind]
        if self.options.item_fault == "no_key" and kind == "member":
            return [{**one, key: None} for one in items]
        if self.options.item_fault == "no_key":
            return [{name: value for name, value in one.items() if name != key} for one in items]
        if self.options.item_fault == "not_object":
            return [f"{kind} {index}" for index in range(len(items))]
        return items

    def _purchased(self) -> None:
        """Every usage endpoint refuses a company without the feature (before reading the body)."""
        if not self.options.feature_purchased:
            raise ApiError(Reply(403, {"code": 8302, "msg": NOT_PURCHASED}))

    def _member_metrics(self, request: Request) -> Reply:
        self._purchased()
        return self._paged(request, "member_ids", "member", self.options.members, self.member_item)

    def _app_metrics(self, request: Request) -> Reply:
        self._purchased()
        return self._paged(request, "app_ids", "app", self.options.apps, self.app_item)

    def _overview(self, request: Request) -> Reply:
        self._purchased()
        day = self._date(self._body(request))
        return Reply(200, self.overview_body(self.options.cached_date or day))

    # -- ground truth

    def sync_dates(self, start_date: Any = None, end_date: Any = None) -> List[str]:
        """The dates a sync covers: the config's range planned as the connector's contract says,
        with a start older than T-180 moved up to it."""
        oldest = self.valid_dates()[0]
        periods = planned_periods("day", UTC8, self.world.now(), start_date, end_date)
        return [start.date().isoformat() for start, _ in periods if start.date() >= oldest]

    def ground_truth(
        self,
        stream: str,
        start_date: Any = None,
        end_date: Any = None,
        member_ids: Sequence[str] = (),
        app_ids: Sequence[str] = (),
        **unused: Any,
    ) -> List[Dict[str, Any]]:
        """Records of ``stream`` for ``start_date..end_date`` (dates or ``YYYY-MM-DD``), as the
        connector shapes them: the vendor's item whole, plus ``date``, the id, and the metrics
        as top-level integers (null when absent): the 11 v1 metrics, and on the app and overview
        streams the 2 of "v2" too. ``member_ids``/``app_ids`` filter as the config's do."""
        records: List[Dict[str, Any]] = []
        for day in self.sync_dates(start_date, end_date):
            if stream == "jiandaoyun_overview_usage":
                body = self.overview_body(day)
                records.append({**body, "date": day, **_columns(body["metrics"], V2_METRICS)})
                continue
            if stream == "jiandaoyun_member_usage":
                kind, count, ids, item, key = "member", self.options.members, member_ids, self.member_item, "member_id"
                columns = METRICS
            elif stream == "jiandaoyun_app_usage":
                kind, count, ids, item, key = "app", self.options.apps, app_ids, self.app_item, "app_id"
                columns = V2_METRICS
            else:
                raise KeyError(stream)
            indices = (
                [i for i in (self._index_of(kind, count, one) for one in dict.fromkeys(ids)) if i is not None] if ids else range(count)
            )
            for index in indices:
                record = item(day, index)
                entity_id = record["member"]["member_id"] if key == "member_id" else record["app_id"]
                records.append({**record, "date": day, key: entity_id, **_columns(record["metrics"], columns), **_utc_columns(record)})
        return records


def _utc_columns(item: Dict[str, Any]) -> Dict[str, str]:
    """An app's date-times (``+08:00``) in UTC, as ``<name>_utc`` beside them."""
    names = ("created_at", "last_edit_at", "last_visit_at")
    return {f"{name}_utc": datetime.fromisoformat(item[name]).astimezone(timezone.utc).isoformat() for name in names if name in item}


def _columns(metrics: Dict[str, Any], names: Sequence[str]) -> Dict[str, Optional[int]]:
    return {name: metrics.get(name) for name in names}


VENDOR = Jiandaoyun

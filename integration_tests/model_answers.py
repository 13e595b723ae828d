"""What each model of ``models/`` must hold, worked out in Python from the emulator's ground truth
(the records a correct sync of each stream produces), never from the models: the rules the model
YAML and docs/models.md state, written again, so that a model that answers otherwise fails.

:func:`expected_answers` takes the ground truth of every stream (``{stream: records}``) and the
project's vars, and gives each model's rows as dicts of its columns, with the values a warehouse
returns: ``Decimal`` for decimals, ``date`` and naive ``datetime`` (the wall clock the sync landed:
UTC for Tabnine and the ``_utc`` columns, the configured zone for Workato's periods).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

Row = Dict[str, Any]
Records = Mapping[str, Sequence[Mapping[str, Any]]]

#: Jiandaoyun's object counts: the vendor's field and the column the models name it.
JIANDAOYUN_OBJECTS = (
    ("app", "apps"), ("form_coop", "standard_forms"), ("form_workflow", "workflow_forms"), ("dash", "dashboards"),
    ("etl", "data_factories"), ("aggregate", "aggregate_tables"), ("public_link", "public_links"),
    ("data_trigger", "smart_assistants"), ("automation", "automations"), ("bpa", "process_analyses"),
)  # fmt: skip


@dataclass(frozen=True)
class Vars:
    """The dbt project's vars (models/dbt_project.yml), as a build set them."""

    activity_window_days: int = 30
    heavy_count: int = 5
    burn_rate_days: int = 30
    tabnine_cost_currency: str = "USD"


# --------------------------------------------------------------------------- small rules


def ratio(numerator: int, denominator: int, places: int) -> Decimal:
    """``numerator / denominator`` rounded half up to ``places`` decimals (non-negative integers)."""
    scale = 10**places
    return Decimal((2 * scale * numerator + denominator) // (2 * denominator)) / scale


def wall_clock(value: Optional[str]) -> Optional[datetime]:
    """An ISO date-time as the naive timestamp the sync landed: its own wall clock, offset dropped."""
    return None if value is None else datetime.fromisoformat(value).replace(tzinfo=None)


def utc(value: Optional[str]) -> Optional[datetime]:
    """An ISO date-time as a naive UTC timestamp."""
    return None if value is None else datetime.fromisoformat(value).astimezone(timezone.utc).replace(tzinfo=None)


def number(value: Any) -> Optional[Decimal]:
    return None if value is None else Decimal(str(value))


def month_of(day: date) -> date:
    return day.replace(day=1)


def total(values: Iterable[Any]) -> Any:
    """SQL's SUM: the sum of the non-null values, null when there are none."""
    present = [value for value in values if value is not None]
    return sum(present) if present else None


# --------------------------------------------------------------------------- staging


def stg_tabnine__license(records: Records) -> List[Row]:
    license = max(records["tabnine_license"], key=lambda record: record["iat"])
    return [
        {
            "issued_at": utc(license["issued_at"]),
            "expires_at": utc(license["expires_at"]),
            "seats_bought": license["seats"],
            "seat_cap": license["seatsCap"],
        }
    ]


def stg_tabnine__users(records: Records) -> List[Row]:
    return [
        {
            "user_id": user["id"],
            "username": user["username"],
            "email": user.get("email"),
            "is_active": user["active"],
            "team_id": (user.get("team") or {}).get("id"),
            "team_name": (user.get("team") or {}).get("name"),
        }
        for user in records["tabnine_users"]
    ]


def stg_tabnine__teams(records: Records) -> List[Row]:
    return [
        {
            "team_id": team["id"],
            "team_name": team["name"],
            "users_count": team.get("usersCount"),
            "seat_cap": team.get("seatCap"),
            "pending_invitations": team.get("pendingInvitationsCount"),
        }
        for team in records["tabnine_teams"]
    ]


def stg_tabnine__permissions(records: Records) -> List[Row]:
    return [{"username": holder["username"], "role": holder["role"]} for holder in records["tabnine_permissions"]]


def _people_usage(records: Sequence[Mapping[str, Any]], id_field: str, id_column: str) -> List[Row]:
    return [
        {
            id_column: record[id_field],
            "period_start": utc(record["period_start"]),
            "period_end": utc(record["period_end"]),
            "granularity": record["granularity"],
            "active_users": record["activeUsers"],
            "code_completions": record["codeCompletions"]["completions"],
            "chat_messages": record["chat"]["messages"],
            "agent_messages": record["agent"]["messages"],
            "agent_lines_added": record["agent"]["linesAdded"],
        }
        for record in records
    ]


def stg_tabnine__user_usage(records: Records) -> List[Row]:
    return _people_usage(records["tabnine_user_usage"], "userId", "user_id")


def stg_tabnine__team_usage(records: Records) -> List[Row]:
    return _people_usage(records["tabnine_team_usage"], "teamId", "team_id")


def stg_tabnine__organization_usage(records: Records) -> List[Row]:
    return [
        {
            "period_start": utc(record["period_start"]),
            "period_end": utc(record["period_end"]),
            "granularity": record["granularity"],
            "active_users": record["activeUsers"],
            "code_suggestions": record["codeCompletions"].get("suggestions"),
            "code_accepted": record["codeCompletions"].get("accepted"),
            "chat_messages": record["chat"].get("messages"),
        }
        for record in records["tabnine_organization_usage"]
    ]


def stg_tabnine__agent_usage(records: Records) -> List[Row]:
    return [
        {
            "period_start": utc(record["period_start"]),
            "period_end": utc(record["period_end"]),
            "granularity": record["granularity"],
            "active_users": record["activeUsers"],
            "input_tokens": record["totalInputTokens"],
            "output_tokens": record["totalOutputTokens"],
            "tokens": record["totalTokensConsumed"],
            "cost": number(record["totalCost"]),
        }
        for record in records["tabnine_agent_usage"]
    ]


def stg_tabnine__agent_usage_models(records: Records) -> List[Row]:
    return [
        {
            "period_start": utc(record["period_start"]),
            "period_end": utc(record["period_end"]),
            "granularity": record["granularity"],
            "model": model["model"],
            "input_tokens": model["inputTokens"],
            "output_tokens": model["outputTokens"],
            "tokens": model["tokensConsumed"],
            "cost": number(model["cost"]),
        }
        for record in records["tabnine_agent_usage"]
        for model in record["modelBreakdown"]
    ]


def _people_agent_usage(records: Sequence[Mapping[str, Any]], id_field: str, id_column: str) -> List[Row]:
    return [
        {
            id_column: record[id_field],
            "period_start": utc(record["period_start"]),
            "period_end": utc(record["period_end"]),
            "granularity": record["granularity"],
            "active_users": record["activeUsers"],
            "input_tokens": record["totalInputTokens"],
            "output_tokens": record["totalOutputTokens"],
            "tokens": record["totalTokensConsumed"],
            "cost": number(record["totalCost"]),
        }
        for record in records
    ]


def stg_tabnine__user_agent_usage(records: Records) -> List[Row]:
    return _people_agent_usage(records["tabnine_user_agent_usage"], "userId", "user_id")


def stg_tabnine__team_agent_usage(records: Records) -> List[Row]:
    return _people_agent_usage(records["tabnine_team_agent_usage"], "teamId", "team_id")


def stg_tabnine__invitations(records: Records) -> List[Row]:
    return [
        {
            "invitation_id": record["id"],
            "email": record.get("email"),
            "team_id": record.get("teamId"),
            "role": record.get("role"),
            "invited_at": utc(record.get("createdAt")),
            "expires_at": utc(record.get("expiresAt")),
        }
        for record in records["tabnine_invitations"]
        if record.get("revokedAt") is None
    ]


def stg_tabnine__account_utilizations(records: Records) -> List[Row]:
    return [
        {
            "month_start": date.fromisoformat(record["month_start"]),
            "registered_users": record["registered"],
            "active_users": record["active"],
            "deactivated_users": record["deactivated"],
            "pending_users": record["pending"],
        }
        for record in records["tabnine_account_utilizations"]
    ]


def stg_workato__customer_workspaces(records: Records) -> List[Row]:
    def day(value: Optional[str]) -> Optional[date]:
        moment = wall_clock(value)
        return None if moment is None else moment.date()

    return [
        {
            "workspace_id": record["id"],
            "external_id": record.get("external_id"),
            "workspace_name": record.get("name"),
            "task_limit": record.get("task_limit"),
            "task_limit_adjustment": record.get("task_limit_adjustment"),
            "task_count": record.get("task_count"),
            "billing_period_start": day(record.get("current_billing_period_start")),
            "billing_period_end": day(record.get("current_billing_period_end")),
            "billing_period_start_utc": utc(record.get("current_billing_period_start_utc")),
            "billing_period_end_utc": utc(record.get("current_billing_period_end_utc")),
            "active_connections": record.get("active_connection_count"),
            "active_connection_limit": record.get("active_connection_limit"),
            "active_recipes": record.get("active_recipe_count"),
        }
        for record in records["workato_customer_workspaces"]
    ]


def stg_workato__customer_monthly_usage(records: Records) -> List[Row]:
    return [
        {
            "workspace_id": record["workspace_id"],
            "external_id": record.get("external_id"),
            "workspace_name": record.get("workspace_name"),
            "month_start": date.fromisoformat(record["month"]),
            "task_count": record["task_count"],
        }
        for record in records["workato_customer_monthly_usage"]
    ]


def _workato_usage(records: Sequence[Mapping[str, Any]], recipes: bool) -> List[Row]:
    rows = []
    for record in records:
        row: Row = {"workspace_id": record["workspace_id"], "workspace_name": record.get("workspace_name")}
        if recipes:
            row.update(recipe_id=record["recipe_id"], recipe_name=record.get("recipe_name"))
        start = wall_clock(record["period_start"])
        assert start is not None
        row.update(
            period_start=start,
            period_end=wall_clock(record["period_end"]),
            period_start_utc=utc(record["period_start_utc"]),
            period_date=start.date(),
            period_interval=record["interval"],
            task_count=record["task_count"],
            successful_jobs=record["successful_job_count"],
            failed_jobs=record["failed_job_count"],
        )
        rows.append(row)
    return rows


def stg_workato__workspace_usage(records: Records) -> List[Row]:
    return _workato_usage(records["workato_workspace_usage"], recipes=False)


def stg_workato__recipe_usage(records: Records) -> List[Row]:
    return _workato_usage(records["workato_recipe_usage"], recipes=True)


def _objects(record: Mapping[str, Any]) -> Row:
    counts = {column: record.get(field) for field, column in JIANDAOYUN_OBJECTS}
    return {**counts, "objects": sum(value or 0 for value in counts.values())}


def stg_jiandaoyun__member_usage(records: Records) -> List[Row]:
    return [
        {
            "member_id": record["member_id"],
            "member_name": record["member"]["name"],
            "stat_date": date.fromisoformat(record["date"]),
            **_objects(record),
            "data_volume": record.get("data"),
        }
        for record in records["jiandaoyun_member_usage"]
    ]


def stg_jiandaoyun__app_usage(records: Records) -> List[Row]:
    return [
        {
            "app_id": record["app_id"],
            "app_name": record.get("app_name"),
            "creator_id": (record.get("creator") or {}).get("member_id"),
            "creator_name": (record.get("creator") or {}).get("name"),
            "stat_date": date.fromisoformat(record["date"]),
            "created_at_utc": utc(record.get("created_at_utc")),
            "last_edit_at_utc": utc(record.get("last_edit_at_utc")),
            "last_visit_at_utc": utc(record.get("last_visit_at_utc")),
            **_objects(record),
            "data_volume": record.get("data"),
            "automation_runs": record.get("daily_automation_exec"),
            "attachment_upload_bytes": record.get("daily_attachment_upload"),
        }
        for record in records["jiandaoyun_app_usage"]
    ]


def stg_jiandaoyun__overview_usage(records: Records) -> List[Row]:
    return [
        {
            "stat_date": date.fromisoformat(record["date"]),
            **_objects(record),
            "data_volume": record.get("data"),
            "automation_runs": record.get("daily_automation_exec"),
            "attachment_upload_bytes": record.get("daily_attachment_upload"),
        }
        for record in records["jiandaoyun_overview_usage"]
    ]


STAGING: Dict[str, Callable[[Records], List[Row]]] = {
    function.__name__: function
    for function in (
        stg_tabnine__license, stg_tabnine__users, stg_tabnine__teams, stg_tabnine__permissions, stg_tabnine__user_usage,
        stg_tabnine__team_usage, stg_tabnine__organization_usage, stg_tabnine__agent_usage, stg_tabnine__agent_usage_models,
        stg_tabnine__user_agent_usage, stg_tabnine__team_agent_usage, stg_tabnine__invitations,
        stg_tabnine__account_utilizations, stg_workato__customer_workspaces, stg_workato__customer_monthly_usage,
        stg_workato__workspace_usage,
        stg_workato__recipe_usage, stg_jiandaoyun__member_usage, stg_jiandaoyun__app_usage, stg_jiandaoyun__overview_usage,
    )
}  # fmt: skip


# --------------------------------------------------------------------------- marts


def jiandaoyun_member_activity(staged: Mapping[str, List[Row]], settings: Vars) -> List[Row]:
    usage = staged["stg_jiandaoyun__member_usage"]
    last_date = max(row["stat_date"] for row in usage)
    first_date = last_date - timedelta(days=settings.activity_window_days - 1)
    by_member: Dict[str, List[Row]] = defaultdict(list)
    for row in sorted(usage, key=lambda row: row["stat_date"]):
        by_member[row["member_id"]].append(row)
    rows = []
    for member, days in by_member.items():
        window = []
        for index, row in enumerate(days):
            if not first_date <= row["stat_date"] <= last_date:
                continue
            before = days[index - 1] if index else None
            changed = before is not None and (
                row["objects"] != before["objects"]
                or (row["data_volume"] is not None and before["data_volume"] is not None and row["data_volume"] != before["data_volume"])
            )
            window.append((row, changed))
        if not window:
            continue
        end, start = window[-1][0], window[0][0]
        changed_dates = [row["stat_date"] for row, changed in window if changed]
        rows.append(
            {
                "member_id": member,
                "member_name": end["member_name"],
                "window_start": first_date,
                "window_end": last_date + timedelta(days=1),
                "dates_synced": len(window),
                "dates_changed": len(changed_dates),
                "last_changed_date": max(changed_dates, default=None),
                "objects": end["objects"],
                "objects_change": end["objects"] - start["objects"],
                "data_volume": end["data_volume"],
                "is_active": bool(changed_dates),
            }
        )
    rows.sort(key=lambda row: (-row["objects"], row["member_id"]))
    for rank, row in enumerate(rows, 1):
        row.update(objects_rank=rank, is_heavy=rank <= settings.heavy_count)
    return rows


def jiandaoyun_app_activity(staged: Mapping[str, List[Row]], settings: Vars) -> List[Row]:
    usage = staged["stg_jiandaoyun__app_usage"]
    last_date = max(row["stat_date"] for row in usage)
    first_date = last_date - timedelta(days=settings.activity_window_days - 1)
    # The window's first midnight in UTC+8, in UTC.
    window_start_utc = datetime(first_date.year, first_date.month, first_date.day) - timedelta(hours=8)
    by_app: Dict[str, List[Row]] = defaultdict(list)
    for row in sorted(usage, key=lambda row: row["stat_date"]):
        if first_date <= row["stat_date"] <= last_date:
            by_app[row["app_id"]].append(row)
    rows = []
    for app, days in by_app.items():
        end = days[-1]
        visited = end["last_visit_at_utc"]
        rows.append(
            {
                "app_id": app,
                "app_name": end["app_name"],
                "creator_id": end["creator_id"],
                "creator_name": end["creator_name"],
                "window_start": first_date,
                "window_end": last_date + timedelta(days=1),
                "dates_synced": len(days),
                "created_at_utc": end["created_at_utc"],
                "last_edit_at_utc": end["last_edit_at_utc"],
                "last_visit_at_utc": visited,
                "automation_runs": total(row["automation_runs"] for row in days),
                "objects": end["objects"],
                "data_volume": end["data_volume"],
                "is_active": visited is not None and visited >= window_start_utc,
            }
        )

    def busiest(row: Row) -> Tuple[int, int, str]:
        runs = row["automation_runs"] if row["automation_runs"] is not None else -1
        data = row["data_volume"] if row["data_volume"] is not None else -1
        return (-runs, -data, row["app_id"])

    rows.sort(key=busiest)
    for rank, row in enumerate(rows, 1):
        row.update(activity_rank=rank, is_heavy=rank <= settings.heavy_count)
    return rows


def seat_holders(staged: Mapping[str, List[Row]], settings: Vars) -> List[Row]:
    usage = staged["stg_tabnine__user_usage"]
    window_end = max(row["period_end"] for row in usage)
    window_start = window_end - timedelta(days=settings.activity_window_days)
    granularity = ", ".join(sorted({row["granularity"] for row in usage}))
    used: Dict[str, bool] = defaultdict(bool)
    last_active: Dict[str, Optional[datetime]] = {}
    for row in usage:
        active = row["active_users"] > 0
        used[row["user_id"]] |= active and row["period_end"] > window_start
        if active:
            before = last_active.get(row["user_id"])
            last_active[row["user_id"]] = row["period_start"] if before is None else max(before, row["period_start"])
    roles: Dict[str, List[str]] = defaultdict(list)
    for holder in staged["stg_tabnine__permissions"]:
        roles[holder["username"]].append(holder["role"])
    rows = []
    for user in staged["stg_tabnine__users"]:
        if not user["is_active"]:
            continue
        is_used = used[user["user_id"]]
        rows.append(
            {
                "vendor": "tabnine",
                "holder_id": user["user_id"],
                "holder_name": user["username"],
                "email": user["email"],
                "team_id": user["team_id"],
                "team_name": user["team_name"],
                "roles": ", ".join(sorted(roles[user["username"]])) or "Member",
                "window_start": window_start,
                "window_end": window_end,
                "usage_granularity": granularity,
                "is_used": is_used,
                "last_active_period_start": last_active.get(user["user_id"]),
                "is_idle": not is_used,
            }
        )
    for member in jiandaoyun_member_activity(staged, settings):
        changed = member["last_changed_date"]
        rows.append(
            {
                "vendor": "jiandaoyun",
                "holder_id": member["member_id"],
                "holder_name": member["member_name"],
                "email": None,
                "team_id": None,
                "team_name": None,
                "roles": None,
                "window_start": datetime.combine(member["window_start"], datetime.min.time()),
                "window_end": datetime.combine(member["window_end"], datetime.min.time()),
                "usage_granularity": "daily",
                "is_used": member["is_active"],
                "last_active_period_start": None if changed is None else datetime.combine(changed, datetime.min.time()),
                "is_idle": not member["is_active"],
            }
        )
    return rows


def seats(staged: Mapping[str, List[Row]], settings: Vars) -> List[Row]:
    holders = seat_holders(staged, settings)
    rows = []
    for vendor in sorted({row["vendor"] for row in holders}):
        mine = [row for row in holders if row["vendor"] == vendor]
        window_start, window_end = mine[0]["window_start"], mine[0]["window_end"]
        held, used = len(mine), sum(row["is_used"] for row in mine)
        bought = cap = invitations = cost = per_seat = None
        if vendor == "tabnine":
            (license,) = staged["stg_tabnine__license"]
            bought, cap = license["seats_bought"], license["seat_cap"]
            invitations = len(staged["stg_tabnine__invitations"])
            cost = total(
                row["cost"]
                for row in staged["stg_tabnine__agent_usage"]
                if row["period_start"] >= window_start and row["period_end"] <= window_end
            )
            if cost is not None and used > 0:
                per_seat = ratio(int(cost * 1_000_000), used * 1_000_000, 2)
        rows.append(
            {
                "vendor": vendor,
                "window_start": window_start,
                "window_end": window_end,
                "usage_granularity": mine[0]["usage_granularity"],
                "seats_bought": bought,
                "seat_cap": cap,
                "seats_held": held,
                "seats_used": used,
                "seats_idle": held - used,
                "seats_unassigned": None if bought is None else max(bought - held, 0),
                "seats_held_beyond_bought": None if bought is None else max(held - bought, 0),
                "invitations_pending": invitations,
                "agent_cost": cost,
                "agent_cost_per_used_seat": per_seat,
                "license_cost_per_used_seat_per_month": None,  # no price is set
                "agent_cost_currency": settings.tabnine_cost_currency if vendor == "tabnine" else None,
                "license_cost_currency": None,
            }
        )
    return rows


def tabnine_team_seats(staged: Mapping[str, List[Row]], settings: Vars) -> List[Row]:
    holders = [row for row in seat_holders(staged, settings) if row["vendor"] == "tabnine"]
    rows = []
    for team in staged["stg_tabnine__teams"]:
        mine = [row for row in holders if row["team_id"] == team["team_id"]]
        held, used = len(mine), sum(row["is_used"] for row in mine)
        cap = team["seat_cap"]
        rows.append(
            {
                "team_id": team["team_id"],
                "team_name": team["team_name"],
                "seat_cap": cap,
                "members": sum(1 for user in staged["stg_tabnine__users"] if user["team_id"] == team["team_id"]),
                "seats_held": held,
                "seats_used": used,
                "seats_idle": held - used,
                "seats_unassigned": None if cap is None else max(cap - held, 0),
                "invitations_pending": sum(1 for row in staged["stg_tabnine__invitations"] if row["team_id"] == team["team_id"]),
            }
        )
    return rows


def tabnine_pending_invitations(staged: Mapping[str, List[Row]], settings: Vars) -> List[Row]:
    names = {team["team_id"]: team["team_name"] for team in staged["stg_tabnine__teams"]}
    return [{**row, "team_name": names.get(row["team_id"])} for row in staged["stg_tabnine__invitations"]]


def agent_chargeback_monthly(staged: Mapping[str, List[Row]], settings: Vars) -> List[Row]:
    """Agent cost charged per month to models (adding up to the organisation's), users and teams
    (a team's own usage, and '(no team)' for the users in none; both adding up to the users')."""
    months: Dict[Tuple[date, str, str, Optional[str]], List[Row]] = defaultdict(list)
    for row in staged["stg_tabnine__agent_usage_models"]:
        months[(month_of(row["period_start"].date()), "model", row["model"], row["model"])].append(row)
    users = {user["user_id"]: user for user in staged["stg_tabnine__users"]}
    for row in staged["stg_tabnine__user_agent_usage"]:
        month, user = month_of(row["period_start"].date()), users.get(row["user_id"])
        months[(month, "user", row["user_id"], user and user["username"])].append(row)
        if user is not None and user["team_id"] is None:
            months[(month, "team", "(no team)", "(no team)")].append(row)
    teams = {team["team_id"]: team["team_name"] for team in staged["stg_tabnine__teams"]}
    for row in staged["stg_tabnine__team_agent_usage"]:
        months[(month_of(row["period_start"].date()), "team", row["team_id"], teams.get(row["team_id"]))].append(row)
    organisation: Dict[date, List[Row]] = defaultdict(list)
    for row in staged["stg_tabnine__agent_usage"]:
        organisation[month_of(row["period_start"].date())].append(row)
    users_cost: Dict[date, Decimal] = defaultdict(Decimal)
    for row in staged["stg_tabnine__user_agent_usage"]:
        users_cost[month_of(row["period_start"].date())] += row["cost"]
    rows = []
    for (month, allocation, charged, name), parts in months.items():
        org_cost = total(row["cost"] for row in organisation[month])
        allocation_cost = org_cost if allocation == "model" else users_cost.get(month)
        cost = sum(row["cost"] for row in parts)
        rows.append(
            {
                "month_start": month,
                "allocation": allocation,
                "allocated_to": charged,
                "allocated_name": name,
                "cost": cost,
                "currency": settings.tabnine_cost_currency,
                "tokens": sum(row["tokens"] for row in parts),
                "input_tokens": sum(row["input_tokens"] for row in parts),
                "output_tokens": sum(row["output_tokens"] for row in parts),
                "allocation_cost": allocation_cost,
                "percent_of_allocation_cost": (
                    ratio(int(cost * 100_000_000), int(allocation_cost * 1_000_000), 1) if allocation_cost else None
                ),
                "organization_cost": org_cost,
                "organization_tokens": total(row["tokens"] for row in organisation[month]),
            }
        )
    return rows


def workato_quotas(staged: Mapping[str, List[Row]], settings: Vars) -> List[Row]:
    usage = staged["stg_workato__workspace_usage"]
    as_of = max(row["period_date"] for row in usage) + timedelta(days=1)
    first = min(row["period_date"] for row in usage if row["period_date"] >= as_of - timedelta(days=settings.burn_rate_days))
    burn_days = (as_of - first).days
    recent: Dict[int, int] = defaultdict(int)
    for row in usage:
        if row["period_date"] >= first:
            recent[row["workspace_id"]] += row["task_count"]
    rows = []
    for customer in staged["stg_workato__customer_workspaces"]:
        limit = customer["task_limit"] + (customer["task_limit_adjustment"] or 0)
        count, tasks = customer["task_count"], recent[customer["workspace_id"]]
        end = customer["billing_period_end"]
        days_left = max((end - as_of).days, 0)
        projected = count + (2 * tasks * days_left + burn_days) // (2 * burn_days)
        candidate = as_of + timedelta(days=(limit - count) * burn_days // tasks) if limit > 0 and count <= limit and tasks > 0 else None
        crossing = candidate if candidate is not None and candidate < end else None
        if not limit > 0:
            status = "no limit"
        elif count > limit:
            status = "over limit"
        elif crossing is not None:
            status = "will exceed"
        else:
            status = "within limit"
        rows.append(
            {
                "workspace_id": customer["workspace_id"],
                "external_id": customer["external_id"],
                "workspace_name": customer["workspace_name"],
                "billing_period_start": customer["billing_period_start"],
                "billing_period_end": end,
                "task_limit": customer["task_limit"],
                "task_limit_adjustment": customer["task_limit_adjustment"],
                "effective_task_limit": limit,
                "task_count": count,
                "percent_used": ratio(100 * count, limit, 1) if limit > 0 else None,
                "is_over_limit": limit > 0 and count > limit,
                "as_of_date": as_of,
                "burn_days": burn_days,
                "recent_tasks": tasks,
                "tasks_per_day": ratio(tasks, burn_days, 2),
                "days_left": days_left,
                "projected_tasks": projected,
                "projected_percent": ratio(100 * projected, limit, 1) if limit > 0 else None,
                "limit_crossing_date": crossing,
                "status": status,
            }
        )
    return rows


def trends_daily(staged: Mapping[str, List[Row]], settings: Vars) -> List[Row]:
    rows: List[Row] = []

    def add(vendor: str, metric: str, unit: str, day: date, value: Any) -> None:
        if value is not None:
            rows.append({"vendor": vendor, "metric": metric, "unit": unit, "day": day, "value": Decimal(value)})

    for row in staged["stg_tabnine__organization_usage"]:
        if row["granularity"] == "daily":
            day = row["period_start"].date()
            add("tabnine", "active_users", "users", day, row["active_users"])
            add("tabnine", "code_completions_accepted", "completions", day, row["code_accepted"])
            add("tabnine", "chat_messages", "messages", day, row["chat_messages"])
    for row in staged["stg_tabnine__agent_usage"]:
        if row["granularity"] == "daily":
            add("tabnine", "agent_cost", settings.tabnine_cost_currency, row["period_start"].date(), row["cost"])
            add("tabnine", "agent_tokens", "tokens", row["period_start"].date(), row["tokens"])
    workato: Dict[date, List[Row]] = defaultdict(list)
    for row in staged["stg_workato__workspace_usage"]:
        if row["period_interval"] in ("day", "hour"):
            workato[row["period_date"]].append(row)
    for day, parts in workato.items():
        add("workato", "tasks", "tasks", day, total(row["task_count"] for row in parts))
        add("workato", "successful_jobs", "jobs", day, total(row["successful_jobs"] for row in parts))
        add("workato", "failed_jobs", "jobs", day, total(row["failed_jobs"] for row in parts))
    for row in staged["stg_jiandaoyun__overview_usage"]:
        add("jiandaoyun", "objects", "objects", row["stat_date"], row["objects"])
        add("jiandaoyun", "data_volume", "data units", row["stat_date"], row["data_volume"])
        add("jiandaoyun", "automation_runs", "runs", row["stat_date"], row["automation_runs"])
    return rows


PEAKS = ("active_users",)
STOCKS = ("objects", "data_volume")


def trends_monthly(staged: Mapping[str, List[Row]], settings: Vars) -> List[Row]:
    groups: Dict[Tuple[str, str, str, date], List[Row]] = defaultdict(list)
    for row in trends_daily(staged, settings):
        groups[(row["vendor"], row["metric"], row["unit"], month_of(row["day"]))].append(row)
    rows = []
    for (vendor, metric, unit, month), days in groups.items():
        if metric in PEAKS:
            aggregation, value = "peak day", max(row["value"] for row in days)
        elif metric in STOCKS:
            aggregation, value = "last day", max(days, key=lambda row: row["day"])["value"]
        else:
            aggregation, value = "sum", sum(row["value"] for row in days)
        row = {"vendor": vendor, "metric": metric, "unit": unit, "month_start": month, "aggregation": aggregation}
        rows.append({**row, "days": len(days), "value": value})
    for month in staged["stg_tabnine__account_utilizations"]:
        for metric, column in (
            ("registered_users", "registered_users"),
            ("monthly_active_users", "active_users"),
            ("pending_users", "pending_users"),
        ):
            rows.append(
                {
                    "vendor": "tabnine", "metric": metric, "unit": "users", "month_start": month["month_start"],
                    "aggregation": "month", "days": None, "value": Decimal(month[column]),
                }
            )  # fmt: skip
    billed: Dict[date, int] = defaultdict(int)
    for row in staged["stg_workato__customer_monthly_usage"]:
        billed[row["month_start"]] += row["task_count"]
    for first, tasks in billed.items():
        row = {"vendor": "workato", "metric": "billed_tasks", "unit": "tasks", "month_start": first, "aggregation": "month"}
        rows.append({**row, "days": None, "value": Decimal(tasks)})
    return rows


def usage_metrics_long(staged: Mapping[str, List[Row]], settings: Vars) -> List[Row]:
    rows: List[Row] = []

    def add(vendor: str, kind: str, entity: Any, start: Any, end: Any, granularity: str, metric: str, unit: str, value: Any) -> None:
        if value is not None:
            rows.append(
                {
                    "vendor": vendor, "entity_kind": kind, "entity_id": str(entity), "period_start": start, "period_end": end,
                    "granularity": granularity, "metric": metric, "unit": unit, "value": Decimal(value),
                }
            )  # fmt: skip

    people = (("active", "active_users", "users"), ("code_completions", "code_completions", "completions"),
              ("chat_messages", "chat_messages", "messages"), ("agent_messages", "agent_messages", "messages"),
              ("agent_lines_added", "agent_lines_added", "lines"))  # fmt: skip
    for row in staged["stg_tabnine__user_usage"]:
        for metric, column, unit in people:
            add("tabnine", "user", row["user_id"], row["period_start"], row["period_end"], row["granularity"], metric, unit, row[column])
    for row in staged["stg_tabnine__team_usage"]:
        for metric, column, unit in people:
            metric = "active_users" if metric == "active" else metric
            add("tabnine", "team", row["team_id"], row["period_start"], row["period_end"], row["granularity"], metric, unit, row[column])
    organisation = (("active_users", "active_users", "users"), ("code_suggestions", "code_suggestions", "suggestions"),
                    ("code_completions_accepted", "code_accepted", "completions"),
                    ("chat_messages", "chat_messages", "messages"))  # fmt: skip
    for row in staged["stg_tabnine__organization_usage"]:
        for metric, column, unit in organisation:
            add(
                "tabnine",
                "organization",
                "organization",
                row["period_start"],
                row["period_end"],
                row["granularity"],
                metric,
                unit,
                row[column],
            )
    currency = settings.tabnine_cost_currency
    for row in staged["stg_tabnine__agent_usage"]:
        period = (row["period_start"], row["period_end"], row["granularity"])
        add("tabnine", "organization", "organization", *period, "agent_cost", currency, row["cost"])
        add("tabnine", "organization", "organization", *period, "agent_tokens", "tokens", row["tokens"])
    for row in staged["stg_tabnine__agent_usage_models"]:
        period = (row["period_start"], row["period_end"], row["granularity"])
        add("tabnine", "model", row["model"], *period, "agent_cost", currency, row["cost"])
        add("tabnine", "model", row["model"], *period, "agent_tokens", "tokens", row["tokens"])
    for kind, model, key in (("user", "stg_tabnine__user_agent_usage", "user_id"), ("team", "stg_tabnine__team_agent_usage", "team_id")):
        for row in staged[model]:
            period = (row["period_start"], row["period_end"], row["granularity"])
            add("tabnine", kind, row[key], *period, "agent_cost", currency, row["cost"])
            add("tabnine", kind, row[key], *period, "agent_tokens", "tokens", row["tokens"])
    for row in staged["stg_workato__customer_monthly_usage"]:
        first = datetime.combine(row["month_start"], datetime.min.time())
        following = datetime.combine(month_of(row["month_start"] + timedelta(days=31)), datetime.min.time())
        add("workato", "workspace", row["workspace_id"], first, following, "billed month", "billed_tasks", "tasks", row["task_count"])
    flows = (("tasks", "task_count", "tasks"), ("successful_jobs", "successful_jobs", "jobs"), ("failed_jobs", "failed_jobs", "jobs"))
    for kind, model, key in (
        ("workspace", "stg_workato__workspace_usage", "workspace_id"),
        ("recipe", "stg_workato__recipe_usage", "recipe_id"),
    ):
        for row in staged[model]:
            for metric, column, unit in flows:
                add("workato", kind, row[key], row["period_start"], row["period_end"], row["period_interval"], metric, unit, row[column])
    for row in staged["stg_workato__customer_workspaces"]:
        start = datetime.combine(row["billing_period_start"], datetime.min.time())
        end = datetime.combine(row["billing_period_end"], datetime.min.time())
        for metric, column in (
            ("billing_period_tasks", "task_count"),
            ("task_limit", "task_limit"),
            ("task_limit_adjustment", "task_limit_adjustment"),
        ):
            add("workato", "workspace", row["workspace_id"], start, end, "billing period", metric, "tasks", row[column])

    def day(row: Row) -> Tuple[datetime, datetime]:
        start = datetime.combine(row["stat_date"], datetime.min.time())
        return start, start + timedelta(days=1)

    for row in staged["stg_jiandaoyun__member_usage"]:
        add("jiandaoyun", "member", row["member_id"], *day(row), "daily", "objects", "objects", row["objects"])
        add("jiandaoyun", "member", row["member_id"], *day(row), "daily", "data_volume", "data units", row["data_volume"])
    for row in staged["stg_jiandaoyun__app_usage"]:
        add("jiandaoyun", "app", row["app_id"], *day(row), "daily", "objects", "objects", row["objects"])
        add("jiandaoyun", "app", row["app_id"], *day(row), "daily", "data_volume", "data units", row["data_volume"])
        add("jiandaoyun", "app", row["app_id"], *day(row), "daily", "automation_runs", "runs", row["automation_runs"])
    for row in staged["stg_jiandaoyun__overview_usage"]:
        for metric, unit in (
            ("objects", "objects"),
            ("data_volume", "data units"),
            ("automation_runs", "runs"),
            ("attachment_upload_bytes", "bytes"),
        ):
            add("jiandaoyun", "organization", "organization", *day(row), "daily", metric, unit, row[metric])
    return rows


MARTS: Dict[str, Callable[[Mapping[str, List[Row]], Vars], List[Row]]] = {
    function.__name__: function
    for function in (
        seats, seat_holders, tabnine_team_seats, tabnine_pending_invitations, agent_chargeback_monthly, workato_quotas,
        jiandaoyun_member_activity, jiandaoyun_app_activity, trends_daily, trends_monthly, usage_metrics_long,
    )
}  # fmt: skip

#: Each model's grain: the columns that tell its rows apart.
KEYS: Dict[str, Tuple[str, ...]] = {
    "stg_tabnine__license": (),
    "stg_tabnine__users": ("user_id",),
    "stg_tabnine__teams": ("team_id",),
    "stg_tabnine__permissions": ("username", "role"),
    "stg_tabnine__user_usage": ("user_id", "period_start", "granularity"),
    "stg_tabnine__team_usage": ("team_id", "period_start", "granularity"),
    "stg_tabnine__organization_usage": ("period_start", "granularity"),
    "stg_tabnine__agent_usage": ("period_start", "granularity"),
    "stg_tabnine__agent_usage_models": ("period_start", "granularity", "model"),
    "stg_tabnine__user_agent_usage": ("user_id", "period_start", "granularity"),
    "stg_tabnine__team_agent_usage": ("team_id", "period_start", "granularity"),
    "stg_tabnine__invitations": ("invitation_id",),
    "stg_tabnine__account_utilizations": ("month_start",),
    "stg_workato__customer_workspaces": ("workspace_id",),
    "stg_workato__customer_monthly_usage": ("workspace_id", "month_start"),
    "stg_workato__workspace_usage": ("workspace_id", "period_start"),
    "stg_workato__recipe_usage": ("workspace_id", "recipe_id", "period_start"),
    "stg_jiandaoyun__member_usage": ("member_id", "stat_date"),
    "stg_jiandaoyun__app_usage": ("app_id", "stat_date"),
    "stg_jiandaoyun__overview_usage": ("stat_date",),
    "seats": ("vendor",),
    "seat_holders": ("vendor", "holder_id"),
    "tabnine_team_seats": ("team_id",),
    "tabnine_pending_invitations": ("invitation_id",),
    "agent_chargeback_monthly": ("month_start", "allocation", "allocated_to"),
    "workato_quotas": ("workspace_id",),
    "jiandaoyun_member_activity": ("member_id",),
    "jiandaoyun_app_activity": ("app_id",),
    "trends_daily": ("vendor", "metric", "day"),
    "trends_monthly": ("vendor", "metric", "month_start"),
    "usage_metrics_long": ("vendor", "entity_kind", "entity_id", "period_start", "granularity", "metric"),
}


def expected_answers(records: Records, settings: Vars = Vars()) -> Dict[str, List[Row]]:
    """Every model's rows, from the ground truth of every stream (deduplicated as the models do)."""
    staged = {name: function(records) for name, function in STAGING.items()}
    return {**staged, **{name: function(staged, settings) for name, function in MARTS.items()}}

"""The answers the demo prints and charts: queries on the tables the dbt project in ``models/``
builds (``{models}`` is their schema, quoted), never on the synced streams themselves. The models
hold every rule (docs/models.md); a query here only picks a model's rows and columns, under the
model's own column names, so that the report explains each column with the model's description.

``units`` gives each number's unit: a literal (``"tasks"``) or, after ``@``, the column holding it
(``"@currency"``: the currency the model states). ``flag`` marks rows: ``(column, value)``, a row
is marked when its column holds the value (an idle holder, a customer over its limit), ``label``
saying why. Standard library only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Optional, Tuple


@dataclass(frozen=True)
class Chart:
    """How the HTML report draws a report's rows. ``bar``: one bar per row, labelled by column
    ``x``, as long as column ``y`` (written on the bar); ``horizontal`` for long labels. ``line``:
    a point per row at (``x``, ``y``), joined in the rows' order."""

    x: str
    y: str
    kind: str = "bar"
    horizontal: bool = False


@dataclass(frozen=True)
class Flag:
    column: str
    value: Any
    label: str


@dataclass(frozen=True)
class Report:
    title: str
    model: str
    sql: str
    units: Mapping[str, str] = field(default_factory=dict)
    chart: Optional[Chart] = None
    flag: Optional[Flag] = None
    note: str = ""


TREND_DAYS = """
SELECT day, value, unit FROM {models}.trends_daily
WHERE vendor = '%s' AND metric = '%s' ORDER BY day
"""

REPORTS: Tuple[Report, ...] = (
    Report(
        "Seats per vendor: bought, held, used and idle in the window",
        "seats",
        """
        SELECT vendor, window_start, window_end, usage_granularity, seats_bought, seat_cap, seats_held, seats_used, seats_idle,
               seats_unassigned, invitations_pending, agent_cost, agent_cost_per_used_seat, agent_cost_currency
        FROM {models}.seats ORDER BY vendor DESC
        """,
        units={
            "seats_bought": "seats",
            "seat_cap": "seats",
            "seats_held": "seats",
            "seats_used": "seats",
            "seats_idle": "seats",
            "seats_unassigned": "seats",
            "invitations_pending": "invitations",
            "agent_cost": "@agent_cost_currency",
            "agent_cost_per_used_seat": "@agent_cost_currency",
        },
        note="Jiandaoyun's API says nothing of seats bought: a member listed on the latest synced day holds one. "
        "A seat's list price is no API's: set the var tabnine_seat_price_per_month for a license cost per used seat.",
    ),  # fmt: skip
    Report(
        "Idle seat holders (hold a seat and did nothing in the window)",
        "seat_holders",
        """
        SELECT vendor, holder_name, email, team_name, roles, is_idle, last_active_period_start, window_start, window_end
        FROM {models}.seat_holders WHERE is_idle ORDER BY vendor DESC, holder_name
        """,
        flag=Flag("is_idle", True, "idle"),
    ),
    Report(
        "Tabnine seats per team",
        "tabnine_team_seats",
        """
        SELECT team_name, seat_cap, members, seats_held, seats_used, seats_idle, seats_unassigned, invitations_pending
        FROM {models}.tabnine_team_seats ORDER BY team_name
        """,
        units={
            "seat_cap": "seats",
            "members": "users",
            "seats_held": "seats",
            "seats_used": "seats",
            "seats_idle": "seats",
            "seats_unassigned": "seats",
            "invitations_pending": "invitations",
        },
        chart=Chart("team_name", "seats_idle"),
    ),  # fmt: skip
    Report(
        "Tabnine invitations pending (seats promised, not yet held)",
        "tabnine_pending_invitations",
        "SELECT email, team_name, role, invited_at, expires_at FROM {models}.tabnine_pending_invitations ORDER BY invited_at, email",
    ),
    Report(
        "Tabnine agent cost by team, the latest month charged",
        "agent_chargeback_monthly",
        """
        SELECT month_start, allocated_name, cost, currency, tokens, percent_of_allocation_cost
        FROM {models}.agent_chargeback_monthly
        WHERE allocation = 'team'
          AND month_start = (SELECT max(month_start) FROM {models}.agent_chargeback_monthly WHERE allocation = 'team')
        ORDER BY cost DESC, allocated_name
        """,
        units={"cost": "@currency", "tokens": "tokens", "percent_of_allocation_cost": "%"},
        chart=Chart("allocated_name", "cost", horizontal=True),
    ),
    Report(
        "Tabnine agent cost by user, the latest month charged (the ten costliest)",
        "agent_chargeback_monthly",
        """
        SELECT month_start, allocated_name, cost, currency, tokens, percent_of_allocation_cost
        FROM {models}.agent_chargeback_monthly
        WHERE allocation = 'user'
          AND month_start = (SELECT max(month_start) FROM {models}.agent_chargeback_monthly WHERE allocation = 'user')
        ORDER BY cost DESC, allocated_name LIMIT 10
        """,
        units={"cost": "@currency", "tokens": "tokens", "percent_of_allocation_cost": "%"},
        chart=Chart("allocated_name", "cost", horizontal=True),
    ),
    Report(
        "Tabnine agent cost by model, the latest month charged",
        "agent_chargeback_monthly",
        """
        SELECT month_start, allocated_name, cost, currency, tokens, percent_of_allocation_cost
        FROM {models}.agent_chargeback_monthly
        WHERE allocation = 'model'
          AND month_start = (SELECT max(month_start) FROM {models}.agent_chargeback_monthly WHERE allocation = 'model')
        ORDER BY cost DESC, allocated_name
        """,
        units={"cost": "@currency", "tokens": "tokens", "percent_of_allocation_cost": "%"},
        chart=Chart("allocated_name", "cost", horizontal=True),
        note="Tabnine names models by id and publishes no mapping to names.",
    ),
    Report(
        "Workato customers: tasks against the limit in the current billing period, and the forecast",
        "workato_quotas",
        """
        SELECT workspace_name, billing_period_start, billing_period_end, effective_task_limit, task_count, percent_used,
               tasks_per_day, projected_tasks, projected_percent, limit_crossing_date, status, is_over_limit
        FROM {models}.workato_quotas ORDER BY percent_used DESC NULLS LAST, workspace_name
        """,
        units={
            "effective_task_limit": "tasks",
            "task_count": "tasks",
            "percent_used": "%",
            "tasks_per_day": "tasks/day",
            "projected_tasks": "tasks",
            "projected_percent": "%",
        },
        chart=Chart("workspace_name", "percent_used", horizontal=True),
        flag=Flag("is_over_limit", True, "over limit"),
    ),  # fmt: skip
    Report(
        "Jiandaoyun members: the heaviest, and every inactive one, over the window",
        "jiandaoyun_member_activity",
        """
        SELECT member_name, objects, objects_change, data_volume, dates_changed, last_changed_date, is_active, is_heavy
        FROM {models}.jiandaoyun_member_activity WHERE is_heavy OR NOT is_active ORDER BY objects_rank
        """,
        units={"objects": "objects", "objects_change": "objects", "data_volume": "data units", "dates_changed": "days"},
        flag=Flag("is_active", False, "inactive"),
    ),
    Report(
        "Jiandaoyun apps: the busiest, and every inactive one, over the window",
        "jiandaoyun_app_activity",
        """
        SELECT app_name, creator_name, automation_runs, objects, data_volume, last_visit_at_utc, is_active, is_heavy
        FROM {models}.jiandaoyun_app_activity WHERE is_heavy OR NOT is_active ORDER BY activity_rank
        """,
        units={"automation_runs": "runs", "objects": "objects", "data_volume": "data units"},
        flag=Flag("is_active", False, "inactive"),
    ),
    Report(
        "Trend: Tabnine agent cost per day",
        "trends_daily",
        TREND_DAYS % ("tabnine", "agent_cost"),
        units={"value": "@unit"},
        chart=Chart("day", "value", kind="line"),
    ),
    Report(
        "Trend: Tabnine active users per day",
        "trends_daily",
        TREND_DAYS % ("tabnine", "active_users"),
        units={"value": "@unit"},
        chart=Chart("day", "value", kind="line"),
    ),
    Report(
        "Trend: Workato tasks per day (every customer)",
        "trends_daily",
        TREND_DAYS % ("workato", "tasks"),
        units={"value": "@unit"},
        chart=Chart("day", "value", kind="line"),
    ),
    Report(
        "Trend: Jiandaoyun automation runs per day",
        "trends_daily",
        TREND_DAYS % ("jiandaoyun", "automation_runs"),
        units={"value": "@unit"},
        chart=Chart("day", "value", kind="line"),
    ),
    Report(
        "Trend: Workato tasks billed per month (every customer, the last 12 months)",
        "trends_monthly",
        """
        SELECT month_start, value, unit FROM {models}.trends_monthly
        WHERE vendor = 'workato' AND metric = 'billed_tasks' ORDER BY month_start
        """,
        units={"value": "@unit"},
        chart=Chart("month_start", "value"),
    ),
)

-- trends_daily per calendar month: a flow (cost, tokens, tasks, jobs, messages, runs) summed, a
-- count of users its busiest day (peak), a stock (objects, data volume) its last synced day; `days`
-- says how many days of the month were synced (a month at either end may be partial). Tabnine's
-- monthly seat counts (account utilizations) and Workato's billed tasks (all customers' monthly
-- usage) are months already.
{%- set peaks = ['active_users'] -%}
{%- set stocks = ['objects', 'data_volume'] %}
with daily as (
    select *, {{ source_usage.month_of('day') }} as month_start
    from {{ ref('trends_daily') }}
),

last_days as (
    select vendor, metric, month_start, max(day) as last_day
    from daily
    group by vendor, metric, month_start
),

from_days as (
    select
        daily.vendor,
        daily.metric,
        daily.unit,
        daily.month_start,
        case
            when daily.metric in ('{{ peaks | join("', '") }}') then 'peak day'
            when daily.metric in ('{{ stocks | join("', '") }}') then 'last day'
            else 'sum'
        end as aggregation,
        count(*) as days,
        case
            when daily.metric in ('{{ peaks | join("', '") }}') then max(daily.value)
            when daily.metric in ('{{ stocks | join("', '") }}') then max(case when daily.day = last_days.last_day then daily.value end)
            else sum(daily.value)
        end as value
    from daily
    join last_days on last_days.vendor = daily.vendor and last_days.metric = daily.metric and last_days.month_start = daily.month_start
    group by daily.vendor, daily.metric, daily.unit, daily.month_start
),

billed as (
    select month_start, sum(task_count) as billed_tasks
    from {{ ref('stg_workato__customer_monthly_usage') }}
    group by month_start
),

utilizations as (
    select month_start, registered_users, active_users, pending_users
    from {{ ref('stg_tabnine__account_utilizations') }}
)

select vendor, metric, unit, month_start, aggregation, days, value from from_days
union all
select 'tabnine', 'registered_users', 'users', month_start, 'month', cast(null as bigint), cast(registered_users as decimal(38, 6)) from utilizations
union all
select 'tabnine', 'monthly_active_users', 'users', month_start, 'month', cast(null as bigint), cast(active_users as decimal(38, 6)) from utilizations
union all
select 'tabnine', 'pending_users', 'users', month_start, 'month', cast(null as bigint), cast(pending_users as decimal(38, 6)) from utilizations
union all
select 'workato', 'billed_tasks', 'tasks', month_start, 'month', cast(null as bigint), cast(billed_tasks as decimal(38, 6)) from billed

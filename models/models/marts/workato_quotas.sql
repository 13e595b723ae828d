-- Each Workato customer's tasks against its limit in its current billing period, as Workato lists
-- it (task_count, task_limit, task_limit_adjustment, the period), with a forecast: the burn rate
-- (tasks a day over the last `burn_rate_days` synced days of workato_workspace_usage), the tasks
-- projected at the period's end at that rate, and the day the limit is crossed (null: not within
-- the period, or already over it). "Today" is the day after the latest synced usage day.
-- The limit counted against is task_limit + task_limit_adjustment (Workato: an adjustment of the
-- current period's limit; assumed additive).
with synced as (
    select {{ source_usage.add_days('max(period_date)', 1) }} as as_of_date
    from {{ ref('stg_workato__workspace_usage') }}
),

burn_window as (
    select
        synced.as_of_date,
        min(usage.period_date) as first_date
    from {{ ref('stg_workato__workspace_usage') }} as usage
    cross join synced
    where usage.period_date >= {{ source_usage.add_days('synced.as_of_date', '-' ~ var('burn_rate_days')) }}
    group by synced.as_of_date
),

recent as (
    select usage.workspace_id, sum(usage.task_count) as recent_tasks
    from {{ ref('stg_workato__workspace_usage') }} as usage
    cross join burn_window
    where usage.period_date >= burn_window.first_date
    group by usage.workspace_id
),

customers as (
    select
        customers.*,
        customers.task_limit + coalesce(customers.task_limit_adjustment, 0) as effective_task_limit,
        burn_window.as_of_date,
        burn_window.as_of_date - burn_window.first_date as burn_days,
        coalesce(recent.recent_tasks, 0) as recent_tasks,
        case when customers.billing_period_end > burn_window.as_of_date
             then customers.billing_period_end - burn_window.as_of_date else 0 end as days_left
    from {{ ref('stg_workato__customer_workspaces') }} as customers
    cross join burn_window
    left join recent on recent.workspace_id = customers.workspace_id
),

forecast as (
    select
        customers.*,
        customers.task_count + {{ source_usage.int_div('2 * recent_tasks * days_left + burn_days', '2 * burn_days') }} as projected_tasks,
        case when effective_task_limit > 0 and task_count <= effective_task_limit and recent_tasks > 0
             then {{ source_usage.add_days('as_of_date', source_usage.int_div('(effective_task_limit - task_count) * burn_days', 'recent_tasks')) }}
        end as crossing_candidate
    from customers
)

select
    workspace_id,
    external_id,
    workspace_name,
    billing_period_start,
    billing_period_end,
    task_limit,
    task_limit_adjustment,
    effective_task_limit,
    task_count,
    case when effective_task_limit > 0 then {{ source_usage.ratio('100 * task_count', 'effective_task_limit', 1) }} end as percent_used,
    coalesce(effective_task_limit > 0 and task_count > effective_task_limit, false) as is_over_limit,
    as_of_date,
    burn_days,
    recent_tasks,
    {{ source_usage.ratio('recent_tasks', 'burn_days', 2) }} as tasks_per_day,
    days_left,
    projected_tasks,
    case when effective_task_limit > 0 then {{ source_usage.ratio('100 * projected_tasks', 'effective_task_limit', 1) }} end as projected_percent,
    case when crossing_candidate < billing_period_end then crossing_candidate end as limit_crossing_date,
    case when not (effective_task_limit > 0) or effective_task_limit is null then 'no limit'
         when task_count > effective_task_limit then 'over limit'
         when crossing_candidate < billing_period_end then 'will exceed'
         else 'within limit' end as status
from forecast

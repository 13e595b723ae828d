-- Each vendor's headline numbers per day (the vendor's day: UTC for Tabnine, UTC+8 for Jiandaoyun,
-- the configured zone for Workato), from the streams synced in days: Tabnine's daily organisation
-- and agent buckets, Workato's daily or hourly intervals, Jiandaoyun's dates.
with tabnine_usage as (
    select cast(period_start as date) as day, active_users, chat_messages, code_accepted
    from {{ ref('stg_tabnine__organization_usage') }}
    where granularity = 'daily'
),

tabnine_agent as (
    select cast(period_start as date) as day, cost, tokens
    from {{ ref('stg_tabnine__agent_usage') }}
    where granularity = 'daily'
),

workato as (
    select period_date as day, sum(task_count) as tasks, sum(successful_jobs) as successful_jobs, sum(failed_jobs) as failed_jobs
    from {{ ref('stg_workato__workspace_usage') }}
    where period_interval in ('day', 'hour')
    group by period_date
),

jiandaoyun as (
    select stat_date as day, objects, data_volume, automation_runs
    from {{ ref('stg_jiandaoyun__overview_usage') }}
),

series as (
    select 'tabnine' as vendor, 'active_users' as metric, 'users' as unit, day, cast(active_users as decimal(38, 6)) as value from tabnine_usage
    union all select 'tabnine', 'code_completions_accepted', 'completions', day, cast(code_accepted as decimal(38, 6)) from tabnine_usage
    union all select 'tabnine', 'chat_messages', 'messages', day, cast(chat_messages as decimal(38, 6)) from tabnine_usage
    union all select 'tabnine', 'agent_cost', '{{ var("tabnine_cost_currency") }}', day, cast(cost as decimal(38, 6)) from tabnine_agent
    union all select 'tabnine', 'agent_tokens', 'tokens', day, cast(tokens as decimal(38, 6)) from tabnine_agent
    union all select 'workato', 'tasks', 'tasks', day, cast(tasks as decimal(38, 6)) from workato
    union all select 'workato', 'successful_jobs', 'jobs', day, cast(successful_jobs as decimal(38, 6)) from workato
    union all select 'workato', 'failed_jobs', 'jobs', day, cast(failed_jobs as decimal(38, 6)) from workato
    union all select 'jiandaoyun', 'objects', 'objects', day, cast(objects as decimal(38, 6)) from jiandaoyun
    union all select 'jiandaoyun', 'data_volume', 'data units', day, cast(data_volume as decimal(38, 6)) from jiandaoyun
    union all select 'jiandaoyun', 'automation_runs', 'runs', day, cast(automation_runs as decimal(38, 6)) from jiandaoyun
)

select vendor, metric, unit, day, value
from series
where value is not null

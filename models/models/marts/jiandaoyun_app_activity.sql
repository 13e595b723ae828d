-- Each Jiandaoyun app over the window (the last `activity_window_days` statistics dates, UTC+8, up
-- to the latest synced one): active when its last visit (as of the latest synced date) falls in
-- the window; its automation runs in the window (v2 servers), and what it owns at the end.
with dates as (
    select max(stat_date) as last_date
    from {{ ref('stg_jiandaoyun__app_usage') }}
),

bounds as (
    select
        {{ source_usage.add_days('last_date', 1 - var('activity_window_days')) }} as first_date,
        last_date,
        -- The window's first midnight in UTC+8, as a UTC instant.
        cast({{ source_usage.add_days('last_date', 1 - var('activity_window_days')) }} as timestamp) - interval '8 hours' as window_start_utc
    from dates
),

in_window as (
    select usage.*
    from {{ ref('stg_jiandaoyun__app_usage') }} as usage
    cross join bounds
    where usage.stat_date between bounds.first_date and bounds.last_date
),

apps as (
    select
        app_id,
        count(*) as dates_synced,
        sum(automation_runs) as automation_runs,
        max(stat_date) as last_synced_date
    from in_window
    group by app_id
),

latest as (
    select *
    from in_window
    where stat_date = (select max(stat_date) from in_window as later where later.app_id = in_window.app_id)
),

ranked as (
    select
        apps.app_id,
        latest.app_name,
        latest.creator_id,
        latest.creator_name,
        bounds.first_date as window_start,
        {{ source_usage.add_days('bounds.last_date', 1) }} as window_end,
        apps.dates_synced,
        latest.created_at_utc,
        latest.last_edit_at_utc,
        latest.last_visit_at_utc,
        apps.automation_runs,
        latest.objects,
        latest.data_volume,
        coalesce(latest.last_visit_at_utc >= bounds.window_start_utc, false) as is_active,
        row_number() over (
            order by coalesce(apps.automation_runs, -1) desc, coalesce(latest.data_volume, -1) desc, apps.app_id
        ) as activity_rank
    from apps
    cross join bounds
    join latest on latest.app_id = apps.app_id
)

select *, activity_rank <= {{ var('heavy_count') }} as is_heavy
from ranked

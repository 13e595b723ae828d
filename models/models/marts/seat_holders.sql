-- Every seat holder of every vendor, and whether it used its seat in the vendor's window: the last
-- `activity_window_days` days up to the end of the latest synced period.
-- Tabnine: a holder is an active user; it used its seat when a per-user usage window that overlaps
-- the activity window has it active (with monthly windows, a month overlapping the 30 days counts
-- whole). Jiandaoyun: a holder is a member listed on the latest synced date; it used its seat when
-- what it owns (its objects or its data volume) changed on a day of the window.
with tabnine_window as (
    select
        max(period_end) as window_end,
        {{ source_usage.days_before('max(period_end)', var('activity_window_days')) }} as window_start,
        {{ source_usage.string_list('distinct granularity') }} as usage_granularity
    from {{ ref('stg_tabnine__user_usage') }}
),

tabnine_activity as (
    select
        usage.user_id,
        bool_or(usage.active_users > 0 and usage.period_end > tabnine_window.window_start) as used_in_window,
        max(case when usage.active_users > 0 then usage.period_start end) as last_active_period_start
    from {{ ref('stg_tabnine__user_usage') }} as usage
    cross join tabnine_window
    group by usage.user_id
),

tabnine_roles as (
    select username, {{ source_usage.string_list('role', 'role') }} as roles
    from {{ ref('stg_tabnine__permissions') }}
    group by username
),

tabnine_holders as (
    select
        'tabnine' as vendor,
        users.user_id as holder_id,
        users.username as holder_name,
        users.email,
        users.team_id,
        users.team_name,
        -- A holder listed under none of Admin, Manager, TeamLead holds the fourth role, Member.
        coalesce(tabnine_roles.roles, 'Member') as roles,
        tabnine_window.window_start,
        tabnine_window.window_end,
        tabnine_window.usage_granularity,
        coalesce(tabnine_activity.used_in_window, false) as is_used,
        tabnine_activity.last_active_period_start
    from {{ ref('stg_tabnine__users') }} as users
    cross join tabnine_window
    left join tabnine_roles on tabnine_roles.username = users.username
    left join tabnine_activity on tabnine_activity.user_id = users.user_id
    where users.is_active
),

jiandaoyun_holders as (
    select
        'jiandaoyun' as vendor,
        member_id as holder_id,
        member_name as holder_name,
        cast(null as varchar) as email,
        cast(null as varchar) as team_id,
        cast(null as varchar) as team_name,
        cast(null as varchar) as roles,
        cast(window_start as timestamp) as window_start,
        cast(window_end as timestamp) as window_end,
        'daily' as usage_granularity,
        is_active as is_used,
        cast(last_changed_date as timestamp) as last_active_period_start
    from {{ ref('jiandaoyun_member_activity') }}
)

select *, not is_used as is_idle from tabnine_holders
union all
select *, not is_used as is_idle from jiandaoyun_holders

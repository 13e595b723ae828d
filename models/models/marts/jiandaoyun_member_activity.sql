-- Each Jiandaoyun member over the window (the last `activity_window_days` statistics dates, UTC+8,
-- up to the latest synced one): what it owns at the end, how that changed, and whether it is active.
-- The API counts what a member owns (apps, forms, dashboards, ...: `objects`) and its data volume on
-- each date; a member is active on a date when either differs from the previous synced date.
with dates as (
    select max(stat_date) as last_date
    from {{ ref('stg_jiandaoyun__member_usage') }}
),

bounds as (
    select
        {{ source_usage.add_days('last_date', 1 - var('activity_window_days')) }} as first_date,
        last_date
    from dates
),

compared as (
    select
        usage.*,
        lag(usage.objects) over (partition by usage.member_id order by usage.stat_date) as previous_objects,
        lag(usage.data_volume) over (partition by usage.member_id order by usage.stat_date) as previous_data_volume,
        lag(usage.stat_date) over (partition by usage.member_id order by usage.stat_date) as previous_date
    from {{ ref('stg_jiandaoyun__member_usage') }} as usage
),

in_window as (
    select
        compared.*,
        case when compared.previous_date is not null
                  and (compared.objects <> compared.previous_objects or compared.data_volume <> compared.previous_data_volume)
             then 1 else 0 end as changed
    from compared
    cross join bounds
    where compared.stat_date between bounds.first_date and bounds.last_date
),

members as (
    select
        member_id,
        count(*) as dates_synced,
        sum(changed) as dates_changed,
        max(case when changed = 1 then stat_date end) as last_changed_date,
        min(stat_date) as first_synced_date,
        max(stat_date) as last_synced_date
    from in_window
    group by member_id
),

latest as (
    select member_id, member_name, objects, data_volume
    from in_window
    where stat_date = (select max(stat_date) from in_window as later where later.member_id = in_window.member_id)
),

earliest as (
    select member_id, objects
    from in_window
    where stat_date = (select min(stat_date) from in_window as sooner where sooner.member_id = in_window.member_id)
),

ranked as (
    select
        members.member_id,
        latest.member_name,
        bounds.first_date as window_start,
        {{ source_usage.add_days('bounds.last_date', 1) }} as window_end,
        members.dates_synced,
        members.dates_changed,
        members.last_changed_date,
        latest.objects,
        latest.objects - earliest.objects as objects_change,
        latest.data_volume,
        members.dates_changed > 0 as is_active,
        row_number() over (order by latest.objects desc, members.member_id) as objects_rank
    from members
    cross join bounds
    join latest on latest.member_id = members.member_id
    join earliest on earliest.member_id = members.member_id
)

select *, objects_rank <= {{ var('heavy_count') }} as is_heavy
from ranked

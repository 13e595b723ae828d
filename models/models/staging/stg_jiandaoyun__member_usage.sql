-- One member on one statistics date (UTC+8): the objects the member owns that day, and data volume.
with usage as (
    {{ source_usage.latest_rows(source('source_usage', 'jiandaoyun_member_usage'), ['date', 'member_id']) }}
)
select
    member_id,
    {{ source_usage.json_text('member', 'name') }} as member_name,
    cast(date as date) as stat_date,
    {{ source_usage.jiandaoyun_object_columns() }},
    cast(data as bigint) as data_volume
from usage

-- The company on one statistics date (UTC+8): every member's objects and data together.
with usage as (
    {{ source_usage.latest_rows(source('source_usage', 'jiandaoyun_overview_usage'), ['date']) }}
)
select
    cast(date as date) as stat_date,
    {{ source_usage.jiandaoyun_object_columns() }},
    cast(data as bigint) as data_volume,
    cast(daily_automation_exec as bigint) as automation_runs,
    cast(daily_attachment_upload as bigint) as attachment_upload_bytes
from usage

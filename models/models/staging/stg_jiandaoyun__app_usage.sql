-- One app on one statistics date (UTC+8): its objects, data volume, automation runs and last visit.
with usage as (
    {{ source_usage.latest_rows(source('source_usage', 'jiandaoyun_app_usage'), ['date', 'app_id']) }}
)
select
    app_id,
    app_name,
    {{ source_usage.json_text('creator', 'member_id') }} as creator_id,
    {{ source_usage.json_text('creator', 'name') }} as creator_name,
    cast(date as date) as stat_date,
    cast(created_at_utc as timestamp) as created_at_utc,
    cast(last_edit_at_utc as timestamp) as last_edit_at_utc,
    cast(last_visit_at_utc as timestamp) as last_visit_at_utc,
    {{ source_usage.jiandaoyun_object_columns() }},
    cast(data as bigint) as data_volume,
    -- Documented only by the "v2" page: null on a server still on v1.
    cast(daily_automation_exec as bigint) as automation_runs,
    cast(daily_attachment_upload as bigint) as attachment_upload_bytes
from usage

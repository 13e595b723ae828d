-- The organisation in one usage bucket (v2; v1 on a server older than 6.2).
with usage as (
    {{ source_usage.latest_rows(source('source_usage', 'tabnine_organization_usage'), ['period_start', 'granularity']) }}
)
select
    cast(period_start as timestamp) as period_start,
    cast(period_end as timestamp) as period_end,
    granularity,
    -- The busiest day's active users in the bucket (a lower bound of the distinct users).
    cast(activeusers as bigint) as active_users,
    {{ source_usage.json_number('codecompletions', 'suggestions') }} as code_suggestions,
    {{ source_usage.json_number('codecompletions', 'accepted') }} as code_accepted,
    {{ source_usage.json_number('chat', 'messages') }} as chat_messages
from usage

-- One user in one window: whether it was active and what it did.
with usage as (
    {{ source_usage.latest_rows(source('source_usage', 'tabnine_user_usage'), ['period_start', 'granularity', 'userid']) }}
)
select
    userid as user_id,
    cast(period_start as timestamp) as period_start,
    cast(period_end as timestamp) as period_end,
    granularity,
    -- 1 when the user was active on some day of the window, else 0.
    cast(activeusers as bigint) as active_users,
    {{ source_usage.json_number('codecompletions', 'completions') }} as code_completions,
    {{ source_usage.json_number('chat', 'messages') }} as chat_messages,
    {{ source_usage.json_number('agent', 'messages') }} as agent_messages,
    {{ source_usage.json_number('agent', 'linesAdded') }} as agent_lines_added
from usage

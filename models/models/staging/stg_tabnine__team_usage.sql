-- One team in one window: how many of its users were active and what it did.
with usage as (
    {{ source_usage.latest_rows(source('source_usage', 'tabnine_team_usage'), ['period_start', 'granularity', 'teamid']) }}
)
select
    teamid as team_id,
    cast(period_start as timestamp) as period_start,
    cast(period_end as timestamp) as period_end,
    granularity,
    -- The busiest day's count of the team's active users in the window.
    cast(activeusers as bigint) as active_users,
    {{ source_usage.json_number('codecompletions', 'completions') }} as code_completions,
    {{ source_usage.json_number('chat', 'messages') }} as chat_messages,
    {{ source_usage.json_number('agent', 'messages') }} as agent_messages,
    {{ source_usage.json_number('agent', 'linesAdded') }} as agent_lines_added
from usage

-- One team's agent use in one window (`/api/v1/team/agent-usage`): tokens and cost (currency:
-- var tabnine_cost_currency).
with usage as (
    {{ source_usage.latest_rows(source('source_usage', 'tabnine_team_agent_usage'), ['period_start', 'granularity', 'teamid']) }}
)
select
    teamid as team_id,
    cast(period_start as timestamp) as period_start,
    cast(period_end as timestamp) as period_end,
    granularity,
    cast(activeusers as bigint) as active_users,
    cast(totalinputtokens as bigint) as input_tokens,
    cast(totaloutputtokens as bigint) as output_tokens,
    cast(totaltokensconsumed as bigint) as tokens,
    cast(totalcost as decimal(18, 6)) as cost
from usage

-- One user's agent use in one window (`/api/v1/user/agent-usage`): tokens and cost (currency:
-- var tabnine_cost_currency).
with usage as (
    {{ source_usage.latest_rows(source('source_usage', 'tabnine_user_agent_usage'), ['period_start', 'granularity', 'userid']) }}
)
select
    userid as user_id,
    cast(period_start as timestamp) as period_start,
    cast(period_end as timestamp) as period_end,
    granularity,
    cast(activeusers as bigint) as active_users,
    cast(totalinputtokens as bigint) as input_tokens,
    cast(totaloutputtokens as bigint) as output_tokens,
    cast(totaltokensconsumed as bigint) as tokens,
    cast(totalcost as decimal(18, 6)) as cost
from usage

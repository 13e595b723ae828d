-- The organisation's agent use in one window: tokens and cost (currency: var tabnine_cost_currency).
with usage as (
    {{ source_usage.latest_rows(source('source_usage', 'tabnine_agent_usage'), ['period_start', 'granularity']) }}
)
select
    cast(period_start as timestamp) as period_start,
    cast(period_end as timestamp) as period_end,
    granularity,
    cast(activeusers as bigint) as active_users,
    cast(totalinputtokens as bigint) as input_tokens,
    cast(totaloutputtokens as bigint) as output_tokens,
    cast(totaltokensconsumed as bigint) as tokens,
    cast(totalcost as decimal(18, 6)) as cost
from usage

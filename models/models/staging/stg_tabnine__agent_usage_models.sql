-- One agent model in one window of the organisation's agent usage (`modelBreakdown`).
with usage as (
    {{ source_usage.latest_rows(source('source_usage', 'tabnine_agent_usage'), ['period_start', 'granularity']) }}
)
select
    cast(usage.period_start as timestamp) as period_start,
    cast(usage.period_end as timestamp) as period_end,
    usage.granularity,
    {{ source_usage.json_text('model_item', 'model') }} as model,
    {{ source_usage.json_number('model_item', 'inputTokens') }} as input_tokens,
    {{ source_usage.json_number('model_item', 'outputTokens') }} as output_tokens,
    {{ source_usage.json_number('model_item', 'tokensConsumed') }} as tokens,
    {{ source_usage.json_number('model_item', 'cost', 'decimal(18, 6)') }} as cost
from {{ source_usage.json_array_elements('usage', 'modelbreakdown', 'model_item') }}

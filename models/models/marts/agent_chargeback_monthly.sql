-- Tabnine agent cost and tokens per calendar month (UTC; a window belongs to the month it starts
-- in), allocated to each model (`modelBreakdown`), beside the organisation's total for the month,
-- which the allocations add up to (a dbt test holds it). Currency: var tabnine_cost_currency.
with organisation as (
    select
        {{ source_usage.month_of('period_start') }} as month_start,
        sum(cost) as organization_cost,
        sum(tokens) as organization_tokens
    from {{ ref('stg_tabnine__agent_usage') }}
    group by 1
),

by_model as (
    select
        {{ source_usage.month_of('period_start') }} as month_start,
        'model' as allocation,
        model as allocated_to,
        sum(cost) as cost,
        sum(tokens) as tokens,
        sum(input_tokens) as input_tokens,
        sum(output_tokens) as output_tokens
    from {{ ref('stg_tabnine__agent_usage_models') }}
    group by 1, 2, 3
)

select
    by_model.month_start,
    by_model.allocation,
    by_model.allocated_to,
    by_model.cost,
    '{{ var("tabnine_cost_currency") }}' as currency,
    by_model.tokens,
    by_model.input_tokens,
    by_model.output_tokens,
    organisation.organization_cost,
    organisation.organization_tokens,
    case when organisation.organization_cost > 0
         then {{ source_usage.ratio('cast(by_model.cost * 100000000 as bigint)', 'cast(organisation.organization_cost * 1000000 as bigint)', 1) }}
    end as percent_of_organization_cost
from by_model
join organisation on organisation.month_start = by_model.month_start

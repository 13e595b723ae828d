-- Tabnine agent cost and tokens per calendar month (UTC; a window belongs to the month it starts
-- in), charged three ways: to each model (the organisation's `modelBreakdown`), to each user (the
-- per-user agent usage) and to each team (the per-team agent usage, plus a '(no team)' row for the
-- users in none). Each allocation's rows add up to its own total for the month (allocation_cost):
-- the organisation's `totalCost` for models, the users' sum for users and teams (dbt tests hold
-- both). Currency: var tabnine_cost_currency.
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
        model as allocated_name,
        sum(cost) as cost,
        sum(tokens) as tokens,
        sum(input_tokens) as input_tokens,
        sum(output_tokens) as output_tokens
    from {{ ref('stg_tabnine__agent_usage_models') }}
    group by 1, 2, 3, 4
),

by_user as (
    select
        {{ source_usage.month_of('usage.period_start') }} as month_start,
        'user' as allocation,
        usage.user_id as allocated_to,
        users.username as allocated_name,
        sum(usage.cost) as cost,
        sum(usage.tokens) as tokens,
        sum(usage.input_tokens) as input_tokens,
        sum(usage.output_tokens) as output_tokens
    from {{ ref('stg_tabnine__user_agent_usage') }} as usage
    left join {{ ref('stg_tabnine__users') }} as users on users.user_id = usage.user_id
    group by 1, 2, 3, 4
),

by_team as (
    select
        {{ source_usage.month_of('usage.period_start') }} as month_start,
        'team' as allocation,
        usage.team_id as allocated_to,
        teams.team_name as allocated_name,
        sum(usage.cost) as cost,
        sum(usage.tokens) as tokens,
        sum(usage.input_tokens) as input_tokens,
        sum(usage.output_tokens) as output_tokens
    from {{ ref('stg_tabnine__team_agent_usage') }} as usage
    left join {{ ref('stg_tabnine__teams') }} as teams on teams.team_id = usage.team_id
    group by 1, 2, 3, 4
),

-- Users in no team: what no team's usage holds.
by_no_team as (
    select
        {{ source_usage.month_of('usage.period_start') }} as month_start,
        'team' as allocation,
        '(no team)' as allocated_to,
        '(no team)' as allocated_name,
        sum(usage.cost) as cost,
        sum(usage.tokens) as tokens,
        sum(usage.input_tokens) as input_tokens,
        sum(usage.output_tokens) as output_tokens
    from {{ ref('stg_tabnine__user_agent_usage') }} as usage
    join {{ ref('stg_tabnine__users') }} as users on users.user_id = usage.user_id
    where users.team_id is null
    group by 1, 2, 3, 4
),

allocated as (
    select * from by_model
    union all
    select * from by_user
    union all
    select * from by_team
    union all
    select * from by_no_team
),

allocation_totals as (
    select month_start, allocation, sum(cost) as allocation_cost
    from allocated
    group by 1, 2
),

charged as (
    select
        allocated.*,
        -- Models: the organisation's cost, which the model rows add up to; users and teams: what
        -- the users' agent usage adds up to (the same for both).
        case when allocated.allocation = 'model' then organisation.organization_cost else people.allocation_cost end
            as allocation_cost,
        organisation.organization_cost,
        organisation.organization_tokens
    from allocated
    left join organisation on organisation.month_start = allocated.month_start
    left join allocation_totals as people on people.month_start = allocated.month_start and people.allocation = 'user'
)

select
    month_start,
    allocation,
    allocated_to,
    allocated_name,
    cost,
    '{{ var("tabnine_cost_currency") }}' as currency,
    tokens,
    input_tokens,
    output_tokens,
    allocation_cost,
    case when allocation_cost > 0
         then {{ source_usage.ratio('cast(cost * 100000000 as bigint)', 'cast(allocation_cost * 1000000 as bigint)', 1) }}
    end as percent_of_allocation_cost,
    organization_cost,
    organization_tokens
from charged

-- A customer workspace as Workato lists it: its task limit and use in its current billing period.
with customers as (
    {{ source_usage.latest_rows(source('source_usage', 'workato_customer_workspaces'), ['id']) }}
)
select
    cast(id as bigint) as workspace_id,
    external_id,
    name as workspace_name,
    cast(task_limit as bigint) as task_limit,
    cast(task_limit_adjustment as bigint) as task_limit_adjustment,
    cast(task_count as bigint) as task_count,
    -- The billing period's days in the Embed admin workspace's zone: the wall clock as Workato sent it.
    cast(current_billing_period_start as date) as billing_period_start,
    cast(current_billing_period_end as date) as billing_period_end,
    cast(current_billing_period_start_utc as timestamp) as billing_period_start_utc,
    cast(current_billing_period_end_utc as timestamp) as billing_period_end_utc,
    cast(active_connection_count as bigint) as active_connections,
    cast(active_connection_limit as bigint) as active_connection_limit,
    cast(active_recipe_count as bigint) as active_recipes
from customers

-- One Workato customer's tasks in one calendar month, as Workato bills them
-- (`GET /api/managed_users/usage`; the current month holds its tasks so far).
with months as (
    {{ source_usage.latest_rows(source('source_usage', 'workato_customer_monthly_usage'), ['workspace_id', 'month']) }}
)
select
    cast(workspace_id as bigint) as workspace_id,
    external_id,
    workspace_name,
    cast(month as date) as month_start,
    cast(task_count as bigint) as task_count
from months

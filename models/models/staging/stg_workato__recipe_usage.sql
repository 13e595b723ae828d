-- One customer recipe in one interval of the configured zone (`period_start` is its wall clock there).
with usage as (
    {{ source_usage.latest_rows(source('source_usage', 'workato_recipe_usage'), ['period_start', 'workspace_id', 'recipe_id']) }}
)
select
    cast(workspace_id as bigint) as workspace_id,
    workspace_name,
    cast(recipe_id as bigint) as recipe_id,
    recipe_name,
    cast(period_start as timestamp) as period_start,
    cast(period_end as timestamp) as period_end,
    cast(period_start_utc as timestamp) as period_start_utc,
    -- The local day the interval starts on.
    cast(period_start as date) as period_date,
    "interval" as period_interval,
    cast(task_count as bigint) as task_count,
    cast(successful_job_count as bigint) as successful_jobs,
    cast(failed_job_count as bigint) as failed_jobs
from usage

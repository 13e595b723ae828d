-- Tabnine's seat counts of one month (the month still running: so far).
with months as (
    {{ source_usage.latest_rows(source('source_usage', 'tabnine_account_utilizations'), ['month_start']) }}
)
select
    cast(month_start as date) as month_start,
    cast(registered as bigint) as registered_users,
    cast(active as bigint) as active_users,
    cast(deactivated as bigint) as deactivated_users,
    cast(pending as bigint) as pending_users
from months

with permissions as (
    {{ source_usage.latest_rows(source('source_usage', 'tabnine_permissions'), ['role', 'username']) }}
)
select username, role
from permissions

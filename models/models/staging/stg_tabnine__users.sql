with users as (
    {{ source_usage.latest_rows(source('source_usage', 'tabnine_users'), ['id']) }}
)
select
    id as user_id,
    username,
    email,
    -- The listing that served a user says whether it is active (the newer User object has no `active`).
    active as is_active,
    {{ source_usage.json_text('team', 'id') }} as team_id,
    {{ source_usage.json_text('team', 'name') }} as team_name
from users

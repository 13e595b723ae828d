with teams as (
    {{ source_usage.latest_rows(source('source_usage', 'tabnine_teams'), ['id']) }}
)
select
    id as team_id,
    name as team_name,
    cast(userscount as bigint) as users_count,
    -- Since Tabnine 6.3; null: the team has no cap (or the server is older).
    cast(seatcap as bigint) as seat_cap,
    cast(pendinginvitationscount as bigint) as pending_invitations
from teams

-- One invitation Tabnine lists as pending (`GET /api/invitation/v1`); a revoked one is left out.
with invitations as (
    {{ source_usage.latest_rows(source('source_usage', 'tabnine_invitations'), ['id']) }}
)
select
    id as invitation_id,
    email,
    teamid as team_id,
    role,
    cast(createdat as timestamp) as invited_at,
    cast(expiresat as timestamp) as expires_at
from invitations
where revokedat is null

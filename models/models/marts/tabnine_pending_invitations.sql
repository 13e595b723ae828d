-- Tabnine invitations not yet accepted (seats promised, not held): who, to which team and role,
-- since when, and until when.
select
    invitations.invitation_id,
    invitations.email,
    invitations.team_id,
    teams.team_name,
    invitations.role,
    invitations.invited_at,
    invitations.expires_at
from {{ ref('stg_tabnine__invitations') }} as invitations
left join {{ ref('stg_tabnine__teams') }} as teams on teams.team_id = invitations.team_id

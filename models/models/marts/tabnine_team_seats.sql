-- Tabnine seats per team: the team's seat cap (Tabnine 6.3; null: no cap), its members, the seats
-- they hold and use in the window (seat_holders), the cap not yet held, and the invitations to it
-- Tabnine lists as pending.
with members as (
    select team_id, count(*) as members
    from {{ ref('stg_tabnine__users') }}
    where team_id is not null
    group by team_id
),

holders as (
    select
        team_id,
        count(*) as seats_held,
        sum(case when is_used then 1 else 0 end) as seats_used,
        sum(case when is_idle then 1 else 0 end) as seats_idle
    from {{ ref('seat_holders') }}
    where vendor = 'tabnine' and team_id is not null
    group by team_id
),

invitations as (
    select team_id, count(*) as invitations_pending
    from {{ ref('stg_tabnine__invitations') }}
    where team_id is not null
    group by team_id
)

select
    teams.team_id,
    teams.team_name,
    teams.seat_cap,
    coalesce(members.members, 0) as members,
    coalesce(holders.seats_held, 0) as seats_held,
    coalesce(holders.seats_used, 0) as seats_used,
    coalesce(holders.seats_idle, 0) as seats_idle,
    case when teams.seat_cap is null then null
         when teams.seat_cap > coalesce(holders.seats_held, 0) then teams.seat_cap - coalesce(holders.seats_held, 0)
         else 0 end as seats_unassigned,
    coalesce(invitations.invitations_pending, 0) as invitations_pending
from {{ ref('stg_tabnine__teams') }} as teams
left join members on members.team_id = teams.team_id
left join holders on holders.team_id = teams.team_id
left join invitations on invitations.team_id = teams.team_id

-- Seats per vendor: bought, the cap, held, used and idle in the vendor's window (seat_holders),
-- bought but not held, invitations pending, and what a used seat cost where a cost is known.
-- Tabnine: bought and the cap are the license's `seats` and `seatsCap`; invitations pending are
-- those its invitation listing holds; the known cost is its agent `cost` in the window (the
-- license's price is no API's: var tabnine_seat_price_per_month). Jiandaoyun: no API says how many
-- seats were bought; a member listed on the latest synced date holds one.
with holders as (
    select
        vendor,
        min(window_start) as window_start,
        min(window_end) as window_end,
        min(usage_granularity) as usage_granularity,
        count(*) as seats_held,
        sum(case when is_used then 1 else 0 end) as seats_used,
        sum(case when is_idle then 1 else 0 end) as seats_idle
    from {{ ref('seat_holders') }}
    group by vendor
),

tabnine_cost as (
    select sum(agent.cost) as agent_cost
    from {{ ref('stg_tabnine__agent_usage') }} as agent
    cross join (select min(window_start) as window_start, min(window_end) as window_end from holders where vendor = 'tabnine') as seat_window
    where agent.period_start >= seat_window.window_start and agent.period_end <= seat_window.window_end
),

tabnine as (
    select
        'tabnine' as vendor,
        license.seats_bought,
        license.seat_cap,
        (select count(*) from {{ ref('stg_tabnine__invitations') }}) as invitations_pending,
        tabnine_cost.agent_cost
    from {{ ref('stg_tabnine__license') }} as license
    cross join tabnine_cost
),

vendors as (
    select
        holders.*,
        tabnine.seats_bought,
        tabnine.seat_cap,
        tabnine.invitations_pending,
        tabnine.agent_cost
    from holders
    left join tabnine on tabnine.vendor = holders.vendor
)

select
    vendor,
    window_start,
    window_end,
    usage_granularity,
    seats_bought,
    seat_cap,
    seats_held,
    seats_used,
    seats_idle,
    case when seats_bought is null then null when seats_bought >= seats_held then seats_bought - seats_held else 0 end
        as seats_unassigned,
    case when seats_bought is null then null when seats_held > seats_bought then seats_held - seats_bought else 0 end
        as seats_held_beyond_bought,
    invitations_pending,
    agent_cost,
    case when agent_cost is not null and seats_used > 0
         then {{ source_usage.ratio('cast(agent_cost * 1000000 as bigint)', 'seats_used * 1000000', 2) }} end as agent_cost_per_used_seat,
    case when vendor = 'tabnine' and seats_used > 0
         then {{ source_usage.ratio('cast(' ~ (var('tabnine_seat_price_per_month') or 'null') ~ ' * seats_bought * 1000000 as bigint)', 'seats_used * 1000000', 2) }} end
        as license_cost_per_used_seat_per_month,
    case when vendor = 'tabnine' then '{{ var("tabnine_cost_currency") }}' end as agent_cost_currency,
    case when vendor = 'tabnine' and {{ 'true' if var('tabnine_seat_price_per_month') is not none else 'false' }}
         then '{{ var("tabnine_seat_price_currency") }}' end as license_cost_currency
from vendors

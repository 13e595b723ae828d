-- The license in force: the one issued last (a renewal adds a row under another `iat`).
with licenses as (
    {{ source_usage.latest_rows(source('source_usage', 'tabnine_license'), ['iat']) }}
)
select
    cast(issued_at as timestamp) as issued_at,
    cast(expires_at as timestamp) as expires_at,
    cast(seats as bigint) as seats_bought,
    cast(seatscap as bigint) as seat_cap
from licenses
order by iat desc
limit 1

{#- A synced table with one row per primary key: the latest extracted. Airbyte's Append + Deduped
    and PyAirbyte's caches keep one already; plain Append keeps every sync's copy of the lookback. -#}
{%- macro latest_rows(source_relation, key_columns) -%}
select *
from (
    select source_rows.*,
           row_number() over (partition by {{ key_columns | join(', ') }} order by _airbyte_extracted_at desc) as _source_usage_row
    from {{ source_relation }} as source_rows
) as ranked
where _source_usage_row = 1
{%- endmacro -%}

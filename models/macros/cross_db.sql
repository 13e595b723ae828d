{#- What DuckDB and PostgreSQL write differently; each macro dispatches to its adapter. JSON
    columns are PyAirbyte's JSON (DuckDB), json (PostgreSQL) or an Airbyte destination's jsonb. -#}

{%- macro json_text(column, key) -%}{{ return(adapter.dispatch('json_text', 'source_usage')(column, key)) }}{%- endmacro -%}
{%- macro default__json_text(column, key) -%}json_extract_string({{ column }}, '$.{{ key }}'){%- endmacro -%}
{%- macro postgres__json_text(column, key) -%}(({{ column }})::jsonb ->> '{{ key }}'){%- endmacro -%}

{#- A number inside a JSON object, exactly: read as text, then cast (no float on the way). -#}
{%- macro json_number(column, key, type='bigint') -%}cast({{ source_usage.json_text(column, key) }} as {{ type }}){%- endmacro -%}

{#- A FROM item giving one row per element of the JSON array `column` of `relation`, the element as `alias`. -#}
{%- macro json_array_elements(relation, column, alias) -%}{{ return(adapter.dispatch('json_array_elements', 'source_usage')(relation, column, alias)) }}{%- endmacro -%}
{%- macro default__json_array_elements(relation, column, alias) -%}{{ relation }}, unnest(json_extract({{ relation }}.{{ column }}, '$[*]')) as elements({{ alias }}){%- endmacro -%}
{%- macro postgres__json_array_elements(relation, column, alias) -%}{{ relation }} cross join lateral jsonb_array_elements(({{ relation }}.{{ column }})::jsonb) as elements({{ alias }}){%- endmacro -%}

{#- Integer division of non-negative integers, rounded down. -#}
{%- macro int_div(numerator, denominator) -%}{{ return(adapter.dispatch('int_div', 'source_usage')(numerator, denominator)) }}{%- endmacro -%}
{%- macro default__int_div(numerator, denominator) -%}(({{ numerator }}) // ({{ denominator }})){%- endmacro -%}
{%- macro postgres__int_div(numerator, denominator) -%}div(({{ numerator }})::numeric, ({{ denominator }})::numeric)::bigint{%- endmacro -%}

{#- `numerator / denominator` (non-negative integers) rounded half up to `places` (>= 1) decimals,
    exactly: integer arithmetic, then a multiplication by 0.1, 0.01, ... (decimal, never float). -#}
{%- macro ratio(numerator, denominator, places) -%}
  {%- set scale = 10 ** places -%}
  {%- set step = '0.' ~ ('0' * (places - 1)) ~ '1' -%}
  cast(cast({{ source_usage.int_div('2 * ' ~ scale ~ ' * (' ~ numerator ~ ') + (' ~ denominator ~ ')', '2 * (' ~ denominator ~ ')') }} as decimal(18, 0)) * {{ step }} as decimal(18, {{ places }}))
{%- endmacro -%}

{#- The start of the window of `days` days that ends at `end_expression` (a date or timestamp). -#}
{%- macro days_before(end_expression, days) -%}({{ end_expression }} - interval '{{ days }} days'){%- endmacro -%}

{#- A date `days` days after `date_expression`. -#}
{%- macro add_days(date_expression, days) -%}{{ return(adapter.dispatch('add_days', 'source_usage')(date_expression, days)) }}{%- endmacro -%}
{%- macro default__add_days(date_expression, days) -%}cast({{ date_expression }} + cast({{ days }} as integer) as date){%- endmacro -%}
{%- macro postgres__add_days(date_expression, days) -%}cast(({{ date_expression }})::date + ({{ days }})::integer as date){%- endmacro -%}

{#- The first day of the month holding a date or timestamp, as a date. -#}
{%- macro month_of(expression) -%}cast(date_trunc('month', {{ expression }}) as date){%- endmacro -%}

{#- The values of `expression` in a group, as one comma-separated string ordered by `order_by`
    (by the value when not given). -#}
{%- macro string_list(expression, order_by=none) -%}
  {%- set value = expression | replace('distinct ', '') -%}
  string_agg({{ expression }}, ', ' order by {{ order_by or value }})
{%- endmacro -%}

{#- No two rows share the values of `columns` (a model's grain). -#}
{% test unique_combination(model, columns) %}
select {{ columns | join(', ') }}, count(*) as rows_with_these_keys
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1
{% endtest %}

{#- Per group (`group_by`), the model's sum of `column_name` equals the sum of `to_column` in
    `to_model` grouped by `to_group_by`, and neither side has a group the other lacks: e.g. the
    cost allocated to models in a month equals the organisation's cost that month. `tolerance`: the
    difference allowed (e.g. sums of amounts each rounded by the vendor). -#}
{% test reconciles_with(model, column_name, group_by, to_model, to_column, to_group_by, where=none, tolerance=0) %}
with allocated as (
    select {{ group_by }} as group_key, sum({{ column_name }}) as total
    from {{ model }}
    {% if where %}where {{ where }}{% endif %}
    group by 1
),
expected as (
    select {{ to_group_by }} as group_key, sum({{ to_column }}) as total
    from {{ to_model }}
    group by 1
)
select coalesce(allocated.group_key, expected.group_key) as group_key, allocated.total as allocated, expected.total as expected
from allocated
full outer join expected on expected.group_key = allocated.group_key
where allocated.total is null or expected.total is null or abs(allocated.total - expected.total) > {{ tolerance }}
{% endtest %}

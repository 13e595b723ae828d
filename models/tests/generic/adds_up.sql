{#- In every row, `column_name` equals the sum of `parts` (e.g. seats held = used + idle). -#}
{% test adds_up(model, column_name, parts) %}
select *
from {{ model }}
where {{ column_name }} <> {% for part in parts %}{{ part }}{{ ' + ' if not loop.last }}{% endfor %}
{% endtest %}

{#- Every non-null value of the column lies in [min_value, max_value] (either bound may be left out). -#}
{% test accepted_range(model, column_name, min_value=none, max_value=none) %}
select {{ column_name }} as out_of_range
from {{ model }}
where {{ column_name }} is not null
  and (
      {%- if min_value is not none %} {{ column_name }} < {{ min_value }}{% endif %}
      {%- if min_value is not none and max_value is not none %} or{% endif %}
      {%- if max_value is not none %} {{ column_name }} > {{ max_value }}{% endif %}
  )
{% endtest %}

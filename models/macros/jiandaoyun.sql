{#- Jiandaoyun's object counts (documented: "the number of apps", "of standard forms", ...), each
    as a typed column, and `objects`, their sum: everything the member, app or company owns that
    day. A count the vendor left out is null in its column and 0 in the sum. -#}

{%- macro jiandaoyun_object_names() -%}{{ return(['apps', 'standard_forms', 'workflow_forms', 'dashboards', 'data_factories', 'aggregate_tables', 'public_links', 'smart_assistants', 'automations', 'process_analyses']) }}{%- endmacro -%}

{%- macro jiandaoyun_object_columns() -%}
  {%- set fields = ['app', 'form_coop', 'form_workflow', 'dash', 'etl', 'aggregate', 'public_link', 'data_trigger', 'automation', 'bpa'] -%}
  {%- set names = source_usage.jiandaoyun_object_names() -%}
  {%- for field in fields %}
    cast("{{ field }}" as bigint) as {{ names[loop.index0] }},
  {%- endfor %}
    {% for field in fields %}coalesce(cast("{{ field }}" as bigint), 0){{ ' + ' if not loop.last }}{% endfor %} as objects
{%- endmacro -%}

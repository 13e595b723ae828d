-- Every vendor's numbers in one long table a BI tool reads without knowing any vendor: one row
-- per vendor, entity (a user, a team, a model, a customer workspace, a recipe, a member, an app,
-- the organisation), period and metric, with the metric's unit. Periods are the streams' own
-- (`granularity`: Tabnine's buckets, Workato's interval, Jiandaoyun's days), on the vendor's
-- clock: UTC for Tabnine, the configured zone for Workato, UTC+8 for Jiandaoyun.
{%- set decimal = 'decimal(38, 6)' %}
{%- set jiandaoyun_day = "cast(stat_date as timestamp)" %}
{%- set jiandaoyun_next_day = "cast(" ~ source_usage.add_days('stat_date', 1) ~ " as timestamp)" %}
with rows as (
    {%- for metric, unit in [('active', 'users'), ('code_completions', 'completions'), ('chat_messages', 'messages'), ('agent_messages', 'messages'), ('agent_lines_added', 'lines')] %}
    select 'tabnine' as vendor, 'user' as entity_kind, user_id as entity_id, period_start, period_end, granularity,
           '{{ metric }}' as metric, '{{ unit }}' as unit, cast({{ 'active_users' if metric == 'active' else metric }} as {{ decimal }}) as value
    from {{ ref('stg_tabnine__user_usage') }}
    union all
    {%- endfor %}
    {%- for metric, unit in [('active_users', 'users'), ('code_completions', 'completions'), ('chat_messages', 'messages'), ('agent_messages', 'messages'), ('agent_lines_added', 'lines')] %}
    select 'tabnine', 'team', team_id, period_start, period_end, granularity, '{{ metric }}', '{{ unit }}', cast({{ metric }} as {{ decimal }})
    from {{ ref('stg_tabnine__team_usage') }}
    union all
    {%- endfor %}
    {%- for metric, unit in [('active_users', 'users'), ('code_suggestions', 'suggestions'), ('code_completions_accepted', 'completions'), ('chat_messages', 'messages')] %}
    select 'tabnine', 'organization', 'organization', period_start, period_end, granularity, '{{ metric }}', '{{ unit }}',
           cast({{ 'code_accepted' if metric == 'code_completions_accepted' else metric }} as {{ decimal }})
    from {{ ref('stg_tabnine__organization_usage') }}
    union all
    {%- endfor %}
    {%- for metric, column, unit in [('agent_cost', 'cost', var('tabnine_cost_currency')), ('agent_tokens', 'tokens', 'tokens')] %}
    select 'tabnine', 'organization', 'organization', period_start, period_end, granularity, '{{ metric }}', '{{ unit }}', cast({{ column }} as {{ decimal }})
    from {{ ref('stg_tabnine__agent_usage') }}
    union all
    select 'tabnine', 'model', model, period_start, period_end, granularity, '{{ metric }}', '{{ unit }}', cast({{ column }} as {{ decimal }})
    from {{ ref('stg_tabnine__agent_usage_models') }}
    union all
    select 'tabnine', 'user', user_id, period_start, period_end, granularity, '{{ metric }}', '{{ unit }}', cast({{ column }} as {{ decimal }})
    from {{ ref('stg_tabnine__user_agent_usage') }}
    union all
    select 'tabnine', 'team', team_id, period_start, period_end, granularity, '{{ metric }}', '{{ unit }}', cast({{ column }} as {{ decimal }})
    from {{ ref('stg_tabnine__team_agent_usage') }}
    union all
    {%- endfor %}
    {%- for metric, unit in [('tasks', 'tasks'), ('successful_jobs', 'jobs'), ('failed_jobs', 'jobs')] %}
    select 'workato', 'workspace', cast(workspace_id as varchar), period_start, period_end, period_interval, '{{ metric }}', '{{ unit }}',
           cast({{ 'task_count' if metric == 'tasks' else metric }} as {{ decimal }})
    from {{ ref('stg_workato__workspace_usage') }}
    union all
    select 'workato', 'recipe', cast(recipe_id as varchar), period_start, period_end, period_interval, '{{ metric }}', '{{ unit }}',
           cast({{ 'task_count' if metric == 'tasks' else metric }} as {{ decimal }})
    from {{ ref('stg_workato__recipe_usage') }}
    union all
    {%- endfor %}
    {%- for metric, column in [('billing_period_tasks', 'task_count'), ('task_limit', 'task_limit'), ('task_limit_adjustment', 'task_limit_adjustment')] %}
    select 'workato', 'workspace', cast(workspace_id as varchar), cast(billing_period_start as timestamp), cast(billing_period_end as timestamp),
           'billing period', '{{ metric }}', 'tasks', cast({{ column }} as {{ decimal }})
    from {{ ref('stg_workato__customer_workspaces') }}
    union all
    {%- endfor %}
    select 'workato', 'workspace', cast(workspace_id as varchar), cast(month_start as timestamp), cast(month_start + interval '1 month' as timestamp),
           'billed month', 'billed_tasks', 'tasks', cast(task_count as {{ decimal }})
    from {{ ref('stg_workato__customer_monthly_usage') }}
    union all
    {%- for metric, unit in [('objects', 'objects'), ('data_volume', 'data units')] %}
    select 'jiandaoyun', 'member', member_id, {{ jiandaoyun_day }}, {{ jiandaoyun_next_day }}, 'daily', '{{ metric }}', '{{ unit }}', cast({{ metric }} as {{ decimal }})
    from {{ ref('stg_jiandaoyun__member_usage') }}
    union all
    {%- endfor %}
    {%- for metric, unit in [('objects', 'objects'), ('data_volume', 'data units'), ('automation_runs', 'runs')] %}
    select 'jiandaoyun', 'app', app_id, {{ jiandaoyun_day }}, {{ jiandaoyun_next_day }}, 'daily', '{{ metric }}', '{{ unit }}', cast({{ metric }} as {{ decimal }})
    from {{ ref('stg_jiandaoyun__app_usage') }}
    union all
    {%- endfor %}
    {%- for metric, unit in [('objects', 'objects'), ('data_volume', 'data units'), ('automation_runs', 'runs'), ('attachment_upload_bytes', 'bytes')] %}
    select 'jiandaoyun', 'organization', 'organization', {{ jiandaoyun_day }}, {{ jiandaoyun_next_day }}, 'daily', '{{ metric }}', '{{ unit }}', cast({{ metric }} as {{ decimal }})
    from {{ ref('stg_jiandaoyun__overview_usage') }}
    {{ 'union all' if not loop.last }}
    {%- endfor %}
)

select vendor, entity_kind, entity_id, period_start, period_end, granularity, metric, unit, value
from rows
where value is not null

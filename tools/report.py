"""The demo's report: each answer of ``tools/answers.py`` run on the tables the dbt project built,
printed as small tables and written as one self-contained HTML file.

The HTML file has a section per report: its title, a plotly chart where the report has a
``chart`` (plotly.js inlined once, so the file opens offline), its rows as a table - every number
with its unit, marked rows (an idle holder, a customer over its limit) with the mark in the first
column - and every column explained with the model's own description (dbt's ``manifest.json``).
A bar is a row: labelled by the chart's ``x`` column, as long as its ``y`` column, with the ``y``
value written on it exactly as the tables print it (:func:`cell`); a line chart has a point per
row. Nothing here names a vendor.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence

from tools.answers import Chart, Report

#: The first column of every table: why a row is marked (empty when it is not).
MARK = "mark"


@dataclass(frozen=True)
class Section:
    """A report's answer: its rows, as its query gave them, each number's unit, and each row's mark."""

    report: Report
    columns: List[str]
    rows: List[Sequence[Any]]
    descriptions: Mapping[str, str]

    @property
    def title(self) -> str:
        return self.report.title

    @property
    def chart(self) -> Optional[Chart]:
        return self.report.chart

    @property
    def shown(self) -> List[str]:
        """The columns a table shows: all but those that only give another's unit (``@unit``), which
        its numbers carry."""
        sources = {unit[1:] for unit in self.report.units.values() if unit.startswith("@")}
        return [column for column in self.columns if column not in sources]

    def numeric(self, column: str) -> bool:
        """Whether every value of ``column`` is a number (or empty): right-aligned."""
        return all(is_number(value) or value is None for value in self.column(column))

    def column(self, name: str) -> List[Any]:
        index = self.columns.index(name)
        return [row[index] for row in self.rows]

    def unit(self, row: Sequence[Any], column: str) -> Optional[str]:
        """The unit of ``row``'s number in ``column``: the report's literal, or the named column's value."""
        unit = self.report.units.get(column)
        if unit is not None and unit.startswith("@"):
            value = row[self.columns.index(unit[1:])]
            return None if value is None else str(value)
        return unit

    def text(self, row: Sequence[Any], column: str) -> str:
        """A cell as the tables and the bars write it: the value, then its unit when it is a number."""
        value = row[self.columns.index(column)]
        unit = self.unit(row, column)
        if not unit or not is_number(value):
            return cell(value)
        if len(unit) == 3 and unit.isalpha() and unit.isupper():  # an ISO 4217 currency code
            return f"{Decimal(value):,.2f} {unit}"  # an amount: to the cent (the model keeps every digit)
        if isinstance(value, Decimal) and value == value.to_integral_value():
            return f"{int(value):,} {unit}"
        return f"{cell(value)} {unit}"

    def mark(self, row: Sequence[Any]) -> str:
        flag = self.report.flag
        return f"\u26a0 {flag.label}" if flag is not None and row[self.columns.index(flag.column)] == flag.value else ""

    def table(self) -> List[List[str]]:
        """Every row as text: its mark, then each cell with its unit."""
        return [[self.mark(row), *(self.text(row, column) for column in self.shown)] for row in self.rows]


def cell(value: Any) -> str:
    """A value as the tables and the charts' bar labels write it: integers with thousands
    separators, booleans as yes and no, everything else as ``str`` (a decimal keeps its digits)."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    return "" if value is None else str(value)


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float, Decimal)) and not isinstance(value, bool)


def column_descriptions(manifest: Path) -> Dict[str, Dict[str, str]]:
    """Each model's column descriptions, from the manifest of the dbt build that made it."""
    nodes = json.loads(manifest.read_text())["nodes"].values()
    return {
        node["name"]: {name: column.get("description", "") for name, column in node["columns"].items()}
        for node in nodes
        if node["resource_type"] == "model"
    }


def run_reports(connection: Any, models_schema: str, reports: Sequence[Report], manifest: Path) -> List[Section]:
    """Runs each report on a SQLAlchemy ``connection`` to the warehouse the models were built in
    (``models_schema``); a column the model does not describe fails, naming it."""
    from sqlalchemy import text

    described = column_descriptions(manifest)
    sections = []
    for report in reports:
        result = connection.execute(text(report.sql.format(models=f'"{models_schema}"')))
        columns = list(result.keys())
        known = described.get(report.model, {})
        unexplained = [column for column in columns if not known.get(column)]
        if unexplained:
            raise ValueError(f"report {report.title!r}: {report.model} does not describe {', '.join(unexplained)}")
        descriptions = {column: known[column] for column in columns}
        sections.append(Section(report, columns, [tuple(row) for row in result.all()], descriptions))
    return sections


def print_section(section: Section) -> None:
    """A report's rows as a table: numbers right-aligned, everything else left-aligned."""
    print(f"\n{section.title}:")
    if not section.rows:
        print("  (no rows)")
        return
    marked = any(section.mark(row) for row in section.rows)
    headers = ([MARK] if marked else []) + section.shown
    cells = [row if marked else row[1:] for row in section.table()]
    widths = [max([len(column), *(len(row[i]) for row in cells)]) for i, column in enumerate(headers)]
    offset = 1 if marked else 0
    numeric = [False] * offset + [section.numeric(column) for column in section.shown]
    align = [">" if number else "<" for number in numeric]
    print("  " + " ".join(f"{column:{side}{width}}" for column, side, width in zip(headers, align, widths, strict=True)))
    for row in cells:
        print("  " + " ".join(f"{value:{side}{width}}" for value, side, width in zip(row, align, widths, strict=True)))


def axis_title(section: Section, column: str) -> str:
    units = {section.unit(row, column) for row in section.rows} - {None}
    return f"{column} ({', '.join(sorted(units))})" if units else column


def figure(section: Section) -> Any:
    """The plotly chart of a section with a chart. Bars: in the rows' order (top to bottom when
    horizontal), every label on its axis, each value written on its bar with its unit. Lines: a
    point per row, in the rows' order."""
    import plotly.graph_objects as go

    chart = section.chart
    if chart is None:
        raise ValueError(f"report {section.title!r} has no chart")
    labels = [cell(value) for value in section.column(chart.x)]
    values = section.column(chart.y)
    if not all(is_number(value) for value in values):
        raise ValueError(f"report {section.title!r}: column {chart.y!r} must hold numbers to chart, not {values!r}")
    numbers = [float(value) for value in values]
    if chart.kind == "line":
        trace = go.Scatter(x=labels, y=numbers, mode="lines+markers", text=[section.text(row, chart.y) for row in section.rows],
                           hovertemplate="%{x}: %{text}<extra></extra>")  # fmt: skip
        fig = go.Figure(trace)
        fig.update_layout(
            xaxis={"type": "category", "title": chart.x, "automargin": True},
            yaxis={"title": axis_title(section, chart.y), "rangemode": "tozero", "automargin": True},
            height=360, margin={"l": 20, "r": 20, "t": 20, "b": 20}, template="plotly_white",
        )  # fmt: skip
        return fig
    if len(set(labels)) != len(labels):
        raise ValueError(f"report {section.title!r}: column {chart.x!r} repeats a label, and a bar chart would merge its bars")
    written = [section.text(row, chart.y) for row in section.rows]
    bars = dict(x=numbers, y=labels, orientation="h") if chart.horizontal else dict(x=labels, y=numbers)
    fig = go.Figure(go.Bar(**bars, text=written, textposition="outside", cliponaxis=False))
    category_axis, value_axis = ("yaxis", "xaxis") if chart.horizontal else ("xaxis", "yaxis")
    fig.update_layout(
        {
            category_axis: {
                "type": "category",
                "dtick": 1,
                "title": chart.x,
                "automargin": True,
                **({"autorange": "reversed"} if chart.horizontal else {}),
            },
            value_axis: {"title": axis_title(section, chart.y), "rangemode": "tozero", "automargin": True},
        },  # fmt: skip
        height=max(320, 120 + 36 * len(labels)) if chart.horizontal else 420,
        margin={"l": 20, "r": 80, "t": 20, "b": 20},
        template="plotly_white",
    )
    return fig


def html_table(section: Section) -> str:
    head = "".join(f"<th>{html.escape(column)}</th>" for column in [MARK, *section.shown])
    numeric = [section.numeric(column) for column in section.shown]
    rows = []
    for texts in section.table():
        mark, values = texts[0], texts[1:]
        cells = f'<td class="mark">{html.escape(mark)}</td>' + "".join(
            f"<td{' class=num' if numeric[i] else ''}>{html.escape(value)}</td>" for i, value in enumerate(values)
        )
        rows.append(f'<tr class="flagged">{cells}</tr>' if mark else f"<tr>{cells}</tr>")
    body = "".join(rows) or "<tr><td>(no rows)</td></tr>"
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def html_columns(section: Section) -> str:
    """Every column explained: the model's description, and the mark's meaning."""
    flag = section.report.flag
    marks = f"\u26a0 {flag.label}: {flag.column} is {cell(flag.value)}." if flag else "Not used in this table."
    items = [(MARK, f"Why the row is marked. {marks}")] + [(column, section.descriptions[column]) for column in section.shown]
    listed = "".join(f"<dt>{html.escape(name)}</dt><dd>{html.escape(text)}</dd>" for name, text in items)
    note = f'<p class="note">{html.escape(section.report.note)}</p>' if section.report.note else ""
    return f'{note}<details class="columns"><summary>Columns</summary><dl>{listed}</dl></details>'


STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1100px; color: #222; }
section { margin-bottom: 2.5rem; }
table { border-collapse: collapse; font-size: 0.9rem; }
th, td { border-bottom: 1px solid #ddd; padding: 0.25rem 0.75rem; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.flagged { background: #fff3cd; }
td.mark { color: #a15c00; white-space: nowrap; }
dl { display: grid; grid-template-columns: max-content auto; gap: 0.2rem 1rem; font-size: 0.85rem; }
dt { font-family: monospace; } dd { margin: 0; }
.source, .note { color: #666; font-size: 0.85rem; }
"""


def write_html(path: Path, sections: Sequence[Section], source: str) -> Path:
    """Writes the report: one ``<section class="report">`` per section (``data-title`` its title),
    holding its chart (a div of class ``plotly-graph-div``) if it has one, its table, then its
    columns explained (``<details class="columns">``)."""
    parts, inlined = [], False
    for number, section in enumerate(sections, 1):
        chart = ""
        if section.chart is not None and section.rows:
            # plotly.js goes inline with the first chart; the others use it.
            chart = figure(section).to_html(full_html=False, include_plotlyjs=not inlined, div_id=f"chart-{number}")
            inlined = True
        title = html.escape(section.title)
        parts.append(
            f'<section class="report" data-title="{title}"><h2>{title}</h2>{chart}{html_table(section)}{html_columns(section)}</section>'
        )
    made = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    page = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>SaaS usage report</title>'
        f"<style>{STYLE}</style></head><body><h1>SaaS usage report</h1>"
        f'<p class="source">From {html.escape(source)}, {made}.</p>{"".join(parts)}</body></html>\n'
    )
    path.write_text(page, encoding="utf-8")
    return path

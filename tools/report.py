"""The demo's reports: each vendor's queries (its emulator's ``demo_reports``) run on the synced
DuckDB tables, printed as small tables and written as one self-contained HTML file.

The HTML file has a section per report: its title, a plotly bar chart where the report has a
``chart`` (plotly.js inlined once, so the file opens offline), and its rows as a table. A bar is
a row: labelled by the chart's ``x`` column, as long as its ``y`` column, with the ``y`` value
written on it exactly as the tables print it (:func:`cell`). Nothing here names a vendor.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterable, List, Mapping, Optional, Sequence

from emulator.core import Chart, Report


@dataclass(frozen=True)
class Section:
    """A report's answer: its rows, as its query gave them."""

    title: str
    columns: List[str]
    rows: List[Sequence[Any]]
    chart: Optional[Chart]

    def column(self, name: str) -> List[Any]:
        index = self.columns.index(name)
        return [row[index] for row in self.rows]


def cell(value: Any) -> str:
    """A value as the tables and the charts' bar labels write it: integers with thousands
    separators, everything else as ``str`` (a decimal keeps its digits)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return "" if value is None else str(value)


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float, Decimal)) and not isinstance(value, bool)


class ReportInputError(ValueError):
    """A synced table lacks a value a report counts on: the report is not run."""


def check_required(connection: Any, tables: Mapping[str, str], report: Report) -> None:
    """Fails naming the stream and column when a row of a synced table has no value in a column
    the report counts on (:attr:`Report.required`): a report on it would give other numbers
    without saying so (an idle seat for a renamed activity field, a held seat fewer)."""
    from sqlalchemy import text

    for stream, column in report.required:
        # DuckDB folds unquoted names to lower case, as PyAirbyte's column names are.
        found = connection.execute(
            text(f"SELECT COUNT(*) FILTER (WHERE {column.lower()} IS NULL), COUNT(*) FROM {tables[stream]}")
        ).one()
        missing, rows = int(found[0]), int(found[1])
        if missing:
            raise ReportInputError(
                f"report {report.title!r} counts on {stream}.{column}, and {missing} of its {rows} synced rows have none: "
                f"the vendor may have renamed or dropped the field, and the report would show other numbers. Not run."
            )


def run_reports(connection: Any, tables: Mapping[str, str], reports: Iterable[Report]) -> List[Section]:
    """Runs each report on a SQLAlchemy ``connection``; ``tables`` is each synced stream's table,
    schema-qualified and quoted, which the queries name ``{table}`` (their own) and ``{<stream>}``.
    A report whose required columns have a ``NULL`` is not run (:func:`check_required`)."""
    from sqlalchemy import text

    sections = []
    for report in reports:
        check_required(connection, tables, report)
        result = connection.execute(text(report.sql.format(table=tables[report.stream], **tables)))
        sections.append(Section(report.title, list(result.keys()), [tuple(row) for row in result.all()], report.chart))
    return sections


def print_section(section: Section) -> None:
    """A report's rows as a table: numbers right-aligned, everything else left-aligned."""
    print(f"\n{section.title}:")
    if not section.rows:
        print("  (no rows)")
    cells = [[cell(value) for value in row] for row in section.rows]
    widths = [max([len(column), *(len(row[i]) for row in cells)]) for i, column in enumerate(section.columns)]
    numeric = [bool(section.rows) and all(is_number(row[i]) for row in section.rows) for i in range(len(section.columns))]
    align = [">" if number else "<" for number in numeric]
    columns = zip(section.columns, align, widths, strict=True)
    print("  " + " ".join(f"{column:{side}{width}}" for column, side, width in columns))
    for row in cells:
        print("  " + " ".join(f"{value:{side}{width}}" for value, side, width in zip(row, align, widths, strict=True)))


def figure(section: Section) -> Any:
    """The plotly bar chart of a section with a chart: bars in the rows' order (top to bottom
    when horizontal), every label on its axis, each value written on its bar."""
    import plotly.graph_objects as go

    chart = section.chart
    if chart is None:
        raise ValueError(f"report {section.title!r} has no chart")
    labels = [cell(value) for value in section.column(chart.x)]
    if len(set(labels)) != len(labels):
        raise ValueError(f"report {section.title!r}: column {chart.x!r} repeats a label, and a bar chart would merge its bars")
    values = section.column(chart.y)
    if not all(is_number(value) for value in values):
        raise ValueError(f"report {section.title!r}: column {chart.y!r} must hold numbers to chart, not {values!r}")
    numbers = [float(value) for value in values]
    bars = dict(x=numbers, y=labels, orientation="h") if chart.horizontal else dict(x=labels, y=numbers)
    fig = go.Figure(go.Bar(**bars, text=[cell(value) for value in values], textposition="outside", cliponaxis=False))
    category_axis, value_axis = ("yaxis", "xaxis") if chart.horizontal else ("xaxis", "yaxis")
    fig.update_layout(
        {
            category_axis: {"type": "category", "dtick": 1, "title": chart.x, "automargin": True,
                            **({"autorange": "reversed"} if chart.horizontal else {})},
            value_axis: {"title": chart.y, "rangemode": "tozero", "automargin": True},
        },  # fmt: skip
        height=max(320, 120 + 36 * len(labels)) if chart.horizontal else 420,
        margin={"l": 20, "r": 60, "t": 20, "b": 20},
        template="plotly_white",
    )
    return fig


def html_table(section: Section) -> str:
    head = "".join(f"<th>{html.escape(column)}</th>" for column in section.columns)
    numeric = [bool(section.rows) and all(is_number(row[i]) for row in section.rows) for i in range(len(section.columns))]
    body = "".join(
        "<tr>" + "".join(f'<td{" class=num" if numeric[i] else ""}>{html.escape(cell(v))}</td>' for i, v in enumerate(row)) + "</tr>"
        for row in section.rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body or '<tr><td>(no rows)</td></tr>'}</tbody></table>"


STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1100px; color: #222; }
section { margin-bottom: 2.5rem; }
table { border-collapse: collapse; font-size: 0.9rem; }
th, td { border-bottom: 1px solid #ddd; padding: 0.25rem 0.75rem; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.source { color: #666; font-size: 0.85rem; }
"""


def write_html(path: Path, sections: Sequence[Section], source: str) -> Path:
    """Writes the report: one ``<section class="report">`` per section (``data-title`` its title),
    holding its chart (a div of class ``plotly-graph-div``) if it has one, then its table."""
    parts, inlined = [], False
    for number, section in enumerate(sections, 1):
        chart = ""
        if section.chart is not None:
            # plotly.js goes inline with the first chart; the others use it.
            chart = figure(section).to_html(full_html=False, include_plotlyjs=not inlined, div_id=f"chart-{number}")
            inlined = True
        title = html.escape(section.title)
        parts.append(f'<section class="report" data-title="{title}"><h2>{title}</h2>{chart}{html_table(section)}</section>')
    made = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    page = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>SaaS usage report</title>'
        f"<style>{STYLE}</style></head><body><h1>SaaS usage report</h1>"
        f'<p class="source">From {html.escape(source)}, {made}.</p>{"".join(parts)}</body></html>\n'
    )
    path.write_text(page, encoding="utf-8")
    return path

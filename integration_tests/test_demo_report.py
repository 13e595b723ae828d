"""The demo's HTML report, in a real browser: ``tools/demo.py`` (the README's first command) syncs
every stream against the emulator into DuckDB, builds the models on it and writes its report;
headless Chromium (Debian's ``chromium``, which ``.ci/run`` installs) opens it, takes a
screenshot, and dumps the DOM after plotly.js has drawn. Every answer of ``tools/answers.py`` is
run again on the demo's DuckDB file (its models' schema) and must be in the page exactly: its
table's rows, each number with its unit, marked rows (idle holders, customers over their limit)
marked and only those, every column explained; a bar chart with one bar per row, each bar's
label the row's ``x``, the value written on it the row's ``y``, its length in proportion to it;
a trend's line chart with a point per row. The screenshot is kept beside the report.

Without ``chromium`` the test skips, except under ``CI=true``, where it fails.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

import duckdb
import pytest

from integration_tests.tooling import ROOT, in_ci
from tools.answers import REPORTS, Report
from tools.report import MARK, Section, cell

pytestmark = pytest.mark.process  # runs the demo (PyAirbyte runs the command) and a browser

DEMO_TIMEOUT_SECONDS = 180
BROWSER_TIMEOUT_SECONDS = 60
WINDOW = (1280, 3600)
#: A blank page's screenshot compresses to a few KB; charts and tables take far more.
MIN_SCREENSHOT_BYTES = 50_000


def chromium() -> str:
    found = shutil.which("chromium")
    if found is None:
        reason = "no chromium on PATH (apt-get install -y chromium)"
        if in_ci():
            pytest.fail(f"CI=true but {reason}; .ci/run installs it", pytrace=False)
        pytest.skip(reason)
    return found


def browse(browser: str, page: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--virtual-time-budget=10000", *args]
    done = subprocess.run(
        [*command, page.as_uri()], capture_output=True, text=True, timeout=BROWSER_TIMEOUT_SECONDS, check=False, cwd=page.parent
    )
    assert done.returncode == 0, f"chromium exited {done.returncode}: {done.stderr[-2000:]}"
    return done


# --------------------------------------------------------------------------- the DOM as a tree

VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"})


class Node:
    def __init__(self, tag: str, attrs: Dict[str, str]) -> None:
        self.tag, self.attrs = tag, attrs
        self.children: List[Any] = []  # Nodes and strings

    @property
    def classes(self) -> List[str]:
        return self.attrs.get("class", "").split()

    def walk(self) -> Iterator[Node]:
        for child in self.children:
            if isinstance(child, Node):
                yield child
                yield from child.walk()

    def find(self, match: Callable[[Node], bool]) -> List[Node]:
        return [node for node in self.walk() if match(node)]

    def text(self) -> str:
        return "".join(child if isinstance(child, str) else child.text() for child in self.children)


class TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {})
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: List[Tuple[str, Optional[str]]]) -> None:
        node = Node(tag, {name: value or "" for name, value in attrs})
        self.stack[-1].children.append(node)
        if tag not in VOID:
            self.stack.append(node)

    def handle_startendtag(self, tag: str, attrs: List[Tuple[str, Optional[str]]]) -> None:
        self.stack[-1].children.append(Node(tag, {name: value or "" for name, value in attrs}))

    def handle_endtag(self, tag: str) -> None:
        for depth in range(len(self.stack) - 1, 0, -1):
            if self.stack[depth].tag == tag:
                del self.stack[depth:]
                return

    def handle_data(self, data: str) -> None:
        self.stack[-1].children.append(data)


def parse(markup: str) -> Node:
    builder = TreeBuilder()
    builder.feed(markup)
    builder.close()
    return builder.root


def has_class(name: str) -> Callable[[Node], bool]:
    return lambda node: name in node.classes


def extent(path_d: str, horizontal: bool) -> float:
    """A bar's length along the value axis, from its SVG path (plotly draws ``M x,y V y H x V y Z``)."""
    coordinates = [float(number) for number in re.findall(r"-?\d+(?:\.\d+)?(?:e-?\d+)?", path_d)]
    if not coordinates:
        return 0.0
    # Absolute M/V/H commands: the x's are M's first and each H; the y's are M's second and each V.
    xs, ys, commands = [coordinates[0]], [coordinates[1]], re.findall(r"[MVHZ]", path_d)[1:]
    for command, value in zip([c for c in commands if c != "Z"], coordinates[2:], strict=False):
        (xs if command == "H" else ys).append(value)
    return max(xs) - min(xs) if horizontal else max(ys) - min(ys)


def position(tick: Node, horizontal: bool) -> float:
    """Where an axis label sits along its axis (its text's ``translate(x,y)``)."""
    text = tick.find(lambda node: node.tag == "text")[0]
    x, y = re.findall(r"translate\((-?[\d.]+),\s*(-?[\d.]+)\)", text.attrs.get("transform", ""))[0]
    return float(y if horizontal else x)


# --------------------------------------------------------------------------- the test


def expected_sections(database: Path, schema: str) -> List[Section]:
    """Each answer run on the demo's DuckDB file itself (not through the demo)."""
    answers = []
    with duckdb.connect(str(database), read_only=True) as connection:
        for report in REPORTS:
            result = connection.execute(report.sql.format(models=f'"{schema}"'))
            columns = [column[0] for column in result.description]
            answers.append(Section(report, columns, result.fetchall(), {}))
    return answers


def check_table(section: Node, expected: Section, where: str) -> None:
    table = section.find(lambda node: node.tag == "table")[0]
    assert [th.text() for th in table.find(lambda node: node.tag == "th")] == [MARK, *expected.shown], where
    rows = table.find(lambda node: node.tag == "tr")[1:]
    body = [[td.text() for td in tr.find(lambda node: node.tag == "td")] for tr in rows]
    assert body == (expected.table() or [["(no rows)"]]), where
    report: Report = expected.report
    # Every number carries its unit, where the answer gives one.
    for row, texts in zip(expected.rows, body, strict=False):
        for shown, column in enumerate(expected.shown):
            index = expected.columns.index(column)
            if column in report.units and row[index] is not None and expected.unit(row, column):
                assert texts[shown + 1].endswith(" " + expected.unit(row, column)), f"{where}: {column} {texts[shown + 1]!r}"
    # The marked rows, and only those.
    flagged = [tr for tr in rows if "flagged" in tr.classes]
    if report.flag is None:
        assert flagged == [], where
    else:
        index = expected.columns.index(report.flag.column)
        assert len(flagged) == sum(1 for row in expected.rows if row[index] == report.flag.value), where
        assert all(tr.find(has_class("mark"))[0].text() == f"\u26a0 {report.flag.label}" for tr in flagged), where
    # Every column explained.
    explained = section.find(lambda node: node.tag == "details" and "columns" in node.classes)
    assert len(explained) == 1, where
    terms = [dt.text() for dt in explained[0].find(lambda node: node.tag == "dt")]
    descriptions = [dd.text().strip() for dd in explained[0].find(lambda node: node.tag == "dd")]
    assert terms == [MARK, *expected.shown] and all(descriptions), where


def check_bars(plot: Node, expected: Section, where: str) -> None:
    chart = expected.report.chart
    assert chart is not None
    rows = expected.rows
    labels = [cell(value) for value in expected.column(chart.x)]
    values = expected.column(chart.y)
    bars = plot.find(has_class("point"))
    assert len(bars) == len(rows), f"{where}: {len(bars)} bars for {len(rows)} rows"
    # The value on each bar, in the rows' order, exactly as the table writes it (with its unit).
    assert [text.text() for text in plot.find(has_class("bartext"))] == [expected.text(row, chart.y) for row in rows], where
    # Every row's label on the category axis, in the rows' order (top to bottom, left to right).
    ticks = plot.find(has_class("ytick" if chart.horizontal else "xtick"))
    assert [tick.text() for tick in sorted(ticks, key=lambda tick: position(tick, chart.horizontal))] == labels, where
    # Each bar as long as its value: one scale for all of the chart's bars (to a pixel).
    lengths = [extent(bar.find(lambda node: node.tag == "path")[0].attrs["d"], chart.horizontal) for bar in bars]
    largest = max(range(len(values)), key=lambda i: Decimal(values[i]))
    assert Decimal(values[largest]) > 0 and lengths[largest] > 50, f"{where}: bars {lengths}"
    scale = lengths[largest] / float(values[largest])
    drawn = [abs(length - float(value) * scale) <= 1.0 for length, value in zip(lengths, values, strict=True)]
    assert all(drawn), f"{where}: bar lengths {lengths} for {values}"


def check_line(plot: Node, expected: Section, where: str) -> None:
    """A trend: one line, a point (marker) per row, the highest point the largest value's."""
    lines = plot.find(has_class("js-line"))
    assert len(lines) == 1 and lines[0].attrs.get("d", "").startswith("M"), f"{where}: no line drawn"
    points = plot.find(has_class("point"))
    assert len(points) == len(expected.rows) >= 7, f"{where}: {len(points)} points for {len(expected.rows)} rows"


def test_demo_report_draws_every_chart_and_table_from_the_models(tmp_path: Path) -> None:
    browser = chromium()
    demo = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "demo.py"), "--output", str(tmp_path)],
        capture_output=True, text=True, timeout=DEMO_TIMEOUT_SECONDS, check=False, cwd=ROOT,
    )  # fmt: skip
    assert demo.returncode == 0, f"the demo exited {demo.returncode}: {demo.stdout[-3000:]}{demo.stderr[-3000:]}"
    named = re.findall(r"^HTML report: (.+)$", demo.stdout, re.MULTILINE)
    assert named == [str(tmp_path / "report.html")], f"the demo's last lines: {demo.stdout[-500:]}"
    assert re.search(r"^dbt build: \d+ models and \d+ tests passed", demo.stdout, re.MULTILINE), demo.stdout[-2000:]
    report_file = Path(named[0])

    screenshot = tmp_path / "report.png"
    browse(browser, report_file, f"--window-size={WINDOW[0]},{WINDOW[1]}", f"--screenshot={screenshot}")
    png = screenshot.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and png[12:16] == b"IHDR"
    assert (int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")) == WINDOW
    assert len(png) > MIN_SCREENSHOT_BYTES, f"the screenshot looks blank ({len(png):,} bytes)"
    print(f"screenshot: {screenshot}")

    dom = parse(browse(browser, report_file, "--dump-dom").stdout)
    sections = dom.find(lambda node: node.tag == "section" and "report" in node.classes)
    expected = expected_sections(tmp_path / "usage.duckdb", "finops")
    assert [section.attrs["data-title"] for section in sections] == [answer.title for answer in expected]
    kinds: Dict[str, int] = {"bar": 0, "line": 0}
    for section, answer in zip(sections, expected, strict=True):
        where = f"report {answer.title!r}"
        check_table(section, answer, where)
        plots = section.find(has_class("plotly-graph-div"))
        chart = answer.report.chart
        if chart is None:
            assert plots == [], where
            continue
        assert answer.rows, f"{where}: nothing to chart"
        assert len(plots) == 1 and plots[0].find(has_class("main-svg")), f"{where}: plotly drew no chart"
        (check_line if chart.kind == "line" else check_bars)(plots[0], answer, where)
        kinds[chart.kind] += 1
    # Idle holders marked (every table marks exactly its rows: checked above; whether a customer is
    # over its limit today depends on the date); bars and trend lines drawn.
    idle = next(answer for answer in expected if answer.report.model == "seat_holders")
    assert idle.rows and all(idle.mark(row) for row in idle.rows)
    assert kinds["bar"] >= 5 and kinds["line"] >= 4, kinds

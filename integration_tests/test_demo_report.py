"""The demo's HTML report, in a real browser: ``tools/demo.py`` (the README's first command) syncs
every stream against the emulator into DuckDB and writes its report; headless Chromium (Debian's
``chromium``, which ``.ci/run`` installs) opens it, takes a screenshot, and dumps the DOM after
plotly.js has drawn. Every vendor's report that has a chart must be drawn with the numbers its
query gives on the synced DuckDB file, compared exactly: one bar per row, each bar's label the
row's ``x``, the value written on it the row's ``y``, its length in proportion to it; every
report's table holds its rows. The screenshot is kept beside the report (its path is printed).

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

from emulator.core import Report, discover_vendors
from integration_tests.tooling import ROOT, in_ci
from tools.report import cell

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


def expected_sections(database: Path, schema: str) -> List[Tuple[Report, List[str], List[Tuple[Any, ...]]]]:
    """Each vendor's reports run on the synced DuckDB file itself (not through the demo)."""
    answers = []
    with duckdb.connect(str(database), read_only=True) as connection:
        listed = connection.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = ?", [schema])
        streams = [row[0] for row in listed.fetchall()]
        tables = {stream: f'"{schema}"."{stream}"' for stream in streams}
        for vendor in discover_vendors().values():
            for report in vendor.demo_reports:
                result = connection.execute(report.sql.format(table=tables[report.stream], **tables))
                answers.append((report, [column[0] for column in result.description], result.fetchall()))
    return answers


def test_demo_report_draws_every_chart_with_the_synced_numbers(tmp_path: Path) -> None:
    browser = chromium()
    demo = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "demo.py"), "--output", str(tmp_path)],
        capture_output=True, text=True, timeout=DEMO_TIMEOUT_SECONDS, check=False, cwd=ROOT,
    )  # fmt: skip
    assert demo.returncode == 0, f"the demo exited {demo.returncode}: {demo.stdout[-3000:]}{demo.stderr[-3000:]}"
    named = re.findall(r"^HTML report: (.+)$", demo.stdout, re.MULTILINE)
    assert named == [str(tmp_path / "report.html")], f"the demo's last lines: {demo.stdout[-500:]}"
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
    expected = expected_sections(tmp_path / "usage.duckdb", "saas_usage")
    assert [section.attrs["data-title"] for section in sections] == [report.title for report, _, _ in expected]
    charts = 0
    for section, (report, columns, rows) in zip(sections, expected, strict=True):
        where = f"report {report.title!r}"
        # The table: its header and every row's cells as the demo prints them.
        table = section.find(lambda node: node.tag == "table")[0]
        assert [th.text() for th in table.find(lambda node: node.tag == "th")] == columns, where
        body = [[td.text() for td in tr.find(lambda node: node.tag == "td")] for tr in table.find(lambda node: node.tag == "tr")][1:]
        assert body == ([[cell(value) for value in row] for row in rows] or [["(no rows)"]]), where
        plots = section.find(has_class("plotly-graph-div"))
        if report.chart is None:
            assert plots == [], where
            continue
        charts += 1
        chart = report.chart
        assert len(plots) == 1 and plots[0].find(has_class("main-svg")), f"{where}: plotly drew no chart"
        labels = [cell(row[columns.index(chart.x)]) for row in rows]
        values = [row[columns.index(chart.y)] for row in rows]
        assert rows, f"{where}: nothing to chart"
        bars = plots[0].find(has_class("point"))
        assert len(bars) == len(rows), f"{where}: {len(bars)} bars for {len(rows)} rows"
        # The value on each bar, in the rows' order, exactly as DuckDB gave it.
        assert [text.text() for text in plots[0].find(has_class("bartext"))] == [cell(value) for value in values], where
        # Every row's label on the category axis, in the rows' order (top to bottom, left to right).
        ticks = plots[0].find(has_class("ytick" if chart.horizontal else "xtick"))
        assert [tick.text() for tick in sorted(ticks, key=lambda tick: position(tick, chart.horizontal))] == labels, where
        # Each bar as long as its value: one scale for all of the chart's bars (to a pixel).
        lengths = [extent(bar.find(lambda node: node.tag == "path")[0].attrs["d"], chart.horizontal) for bar in bars]
        largest = max(range(len(values)), key=lambda i: Decimal(values[i]))
        assert Decimal(values[largest]) > 0 and lengths[largest] > 50, f"{where}: bars {lengths}"
        scale = lengths[largest] / float(values[largest])
        drawn = [abs(length - float(value) * scale) <= 1.0 for length, value in zip(lengths, values, strict=True)]
        assert all(drawn), f"{where}: bar lengths {lengths} for {values}"
    assert charts == sum(1 for report, _, _ in expected if report.chart is not None) > 0

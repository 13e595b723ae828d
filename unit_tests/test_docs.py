"""The README a newcomer reads and the documentation pages it leads to: short, in Airbyte's
headings, and every relative link pointing at a file (and heading) that exists in the repository."""

from __future__ import annotations

import re
from pathlib import Path
from typing import List, Set, Tuple

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
PAGES = [README, *sorted((ROOT / "docs").glob("*.md"))]
#: Airbyte's documentation headings, in the connector's page.
AIRBYTE_HEADINGS = [
    "Prerequisites",
    "Setup guide",
    "Supported sync modes",
    "Supported streams",
    "Performance considerations",
    "Troubleshooting",
    "Changelog",
]
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation but hyphens dropped, spaces hyphens."""
    text = re.sub(r"[`*_]", "", heading.strip().lower())
    return re.sub(r"\s", "-", re.sub(r"[^\w\- ]", "", text))


def anchors(page: Path) -> Set[str]:
    text = FENCE.sub("", page.read_text())
    return {slug(match) for match in re.findall(r"^#{1,6} (.+)$", text, flags=re.MULTILINE)} | set(
        re.findall(r'<a (?:name|id)="([^"]+)"', text)
    )


def relative_links(page: Path) -> List[Tuple[str, str]]:
    """``(link, target)`` of every link that is not a URL, outside code blocks."""
    text = FENCE.sub("", page.read_text())
    return [(link, link) for link in LINK.findall(text) if not re.match(r"[a-z]+:", link)]


@pytest.mark.parametrize("page", PAGES, ids=lambda page: str(page.relative_to(ROOT)))
def test_every_relative_link_points_at_a_file_and_heading_of_the_repository(page: Path) -> None:
    broken = []
    for link, _ in relative_links(page):
        path, _, anchor = link.partition("#")
        target = (page.parent / path).resolve() if path else page
        if not target.is_relative_to(ROOT) or not target.exists():
            broken.append(f"{link}: no such file in the repository")
        elif anchor and target.suffix == ".md" and anchor not in anchors(target):
            broken.append(f"{link}: {target.relative_to(ROOT)} has no heading #{anchor}")
    assert broken == []


@pytest.mark.parametrize("page", PAGES, ids=lambda page: str(page.relative_to(ROOT)))
def test_no_page_names_a_path_outside_the_repository(page: Path) -> None:
    assert "../shared" not in page.read_text()


def test_the_readme_a_newcomer_reads_is_at_most_12000_characters() -> None:
    assert len(README.read_text()) <= 12_000


def test_the_connectors_page_has_airbytes_documentation_headings_in_order() -> None:
    headings = re.findall(r"^## (.+)$", FENCE.sub("", (ROOT / "docs" / "usage.md").read_text()), flags=re.MULTILINE)
    assert [heading for heading in headings if heading in AIRBYTE_HEADINGS] == AIRBYTE_HEADINGS


def test_the_readme_names_its_prerequisites() -> None:
    text = README.read_text()
    section = text[text.index("## Prerequisites") : text.index("## Quick start")]
    assert "Python 3.10 to 3.12" in section and "GB" in section and "PyPI" in section

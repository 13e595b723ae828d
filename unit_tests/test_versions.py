"""Versions that mean something (shared/connector-contract.md, "Versions"): pyproject.toml,
metadata.yaml's ``dockerImageTag``, the changelog's top row and the image's tag say the same
version; the changelog has one row per version in Airbyte's format, newest first; and every major
version, a breaking one, has a ``releases.breakingChanges`` entry saying which streams to reset
and why, with its upgrade guide, while no other version has one."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Dict, List, Tuple

import tomllib
import yaml

from integration_tests.tooling import load_tool
from source_usage.spec import DOCUMENTATION_URL

ROOT = Path(__file__).resolve().parents[1]
MIGRATIONS = ROOT / "docs" / "usage-migrations.md"
MIGRATIONS_URL = DOCUMENTATION_URL.replace("docs/usage.md", "docs/usage-migrations.md")


@dataclass(frozen=True)
class Row:
    version: str
    date: str
    pull_request: str
    subject: str

    @property
    def release(self) -> Tuple[int, int, int]:
        major, minor, patch = (int(part) for part in self.version.split("."))
        return major, minor, patch


def changelog() -> List[Row]:
    """The rows of docs/usage.md's changelog table, top first."""
    text = (ROOT / "docs" / "usage.md").read_text().split("\n## Changelog\n", 1)[1]
    lines = [line for line in text.splitlines() if line.startswith("|")]
    assert lines[:2] == ["| Version | Date | Pull Request | Subject |", "|---------|------|--------------|---------|"]
    rows = []
    for line in lines[2:]:
        cells = [cell.strip() for cell in line.strip()[1:-1].split("|")]
        assert len(cells) == 4, line
        rows.append(Row(*cells))
    return rows


def metadata() -> Dict[str, Any]:
    data: Dict[str, Any] = yaml.safe_load((ROOT / "metadata.yaml").read_text())["data"]
    return data


def breaking_changes() -> Dict[str, Dict[str, Any]]:
    entries: Dict[str, Dict[str, Any]] = metadata()["releases"]["breakingChanges"]
    return {str(version): entry for version, entry in entries.items()}


def major_versions() -> List[Row]:
    """The rows whose version raises the major number of the row below it (0.x to 1.0.0 too)."""
    rows = changelog()
    return [row for row, older in zip(rows, rows[1:], strict=False) if row.release[0] > older.release[0]]


def streams() -> List[str]:
    return sorted(path.stem for path in (ROOT / "schemas").glob("*.json"))


def migration_sections() -> Dict[str, str]:
    """docs/usage-migrations.md's sections by heading (``Upgrading to 2.0.0``), each with its text."""
    parts = re.split(r"^## (.+)$", MIGRATIONS.read_text(), flags=re.M)
    return {heading.strip(): body for heading, body in zip(parts[1::2], parts[2::2], strict=True)}


def test_pyproject_metadata_the_changelog_and_the_image_tag_agree_on_the_version() -> None:
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    acceptance = yaml.safe_load((ROOT / "acceptance-test-config.yml").read_text())

    assert version == "2.2.0"
    assert (metadata()["dockerImageTag"], changelog()[0].version) == (version, version)
    assert load_tool("docker_image").default_tag() == acceptance["connector_image"] == f"source-usage:{version}"


def test_the_changelog_has_one_row_per_version_newest_first_in_airbytes_format() -> None:
    rows = changelog()

    assert all(re.fullmatch(r"[0-9]+\.[0-9]+\.[0-9]+", row.version) for row in rows), [row.version for row in rows]
    assert [row.release for row in rows] == sorted({row.release for row in rows}, reverse=True)
    assert [row.date for row in rows] == sorted((row.date for row in rows), reverse=True)
    assert all(date.fromisoformat(row.date) and row.subject and row.pull_request == "" for row in rows)
    assert rows[-1] == Row("0.1.0", "2026-11-22", "", rows[-1].subject) and metadata()["releaseDate"] == "2026-11-22"


def test_every_major_version_and_only_a_major_version_has_a_breaking_change_entry() -> None:
    assert [row.version for row in major_versions()] == ["2.0.0", "1.0.0"]
    assert list(breaking_changes()) == [row.version for row in major_versions()]
    for row in major_versions():
        assert row.subject.startswith(f"**Breaking**, see [Upgrading to {row.version}](usage-migrations.md#upgrading-to-"), row.version


def test_each_breaking_change_names_the_streams_it_touches_and_links_its_upgrade_guide() -> None:
    sections = migration_sections()
    for row in major_versions():
        entry = breaking_changes()[row.version]
        (scope,) = entry["scopedImpact"]
        impacted = scope["impactedScopes"]
        anchor = "upgrading-to-" + row.version.replace(".", "")

        assert scope["scopeType"] == "stream" and impacted and set(impacted) <= set(streams()), row.version
        assert date.fromisoformat(entry["upgradeDeadline"]) > date.fromisoformat(row.date)
        assert entry["migrationDocumentationUrl"] == f"{MIGRATIONS_URL}#{anchor}"
        assert f"(usage-migrations.md#{anchor})" in row.subject
        guide = sections[f"Upgrading to {row.version}"]
        for stream in impacted:
            assert stream in entry["message"] and f"`{stream}`" in guide, (row.version, stream)


def test_the_breaking_changes_say_which_streams_to_reset() -> None:
    assert breaking_changes()["1.0.0"]["scopedImpact"][0]["impactedScopes"] == [
        "workato_workspace_usage",
        "workato_recipe_usage",
        "tabnine_organization_usage",
        "tabnine_users",
    ]
    assert breaking_changes()["1.0.0"]["message"].startswith("Reset workato_workspace_usage and workato_recipe_usage:")
    assert "Reset tabnine_organization_usage:" in breaking_changes()["1.0.0"]["message"]
    assert breaking_changes()["2.0.0"]["message"].endswith("No stream needs a reset.")

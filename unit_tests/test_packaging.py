"""metadata.yaml and the Dockerfile, against Airbyte's metadata v0 rules and image contract."""

from __future__ import annotations

import json
import re
import shlex
import uuid
from importlib import resources
from pathlib import Path
from typing import Any, Dict, List

import jsonschema
import tomllib
import yaml

from source_usage.spec import DOCUMENTATION_URL

ROOT = Path(__file__).resolve().parents[1]


def metadata() -> Dict[str, Any]:
    loaded: Dict[str, Any] = yaml.safe_load((ROOT / "metadata.yaml").read_text())
    return loaded


def metadata_schema() -> Dict[str, Any]:
    """Airbyte's published metadata v0 schema (package airbyte-connector-models).

    Its sub-schemas carry their own ``$id``s while their ``$ref``s point into the root document,
    so the nested ``$id``s are dropped to let references resolve against the root.
    """
    text = resources.files("airbyte_connector_models").joinpath("metadata/v0/ConnectorMetadataDefinitionV0.json").read_text()
    schema: Dict[str, Any] = json.loads(text)

    def drop_nested_ids(node: Any) -> None:
        if isinstance(node, dict):
            node.pop("$id", None)
            for value in node.values():
                drop_nested_ids(value)
        elif isinstance(node, list):
            for value in node:
                drop_nested_ids(value)

    for value in schema.values():
        drop_nested_ids(value)
    return schema


def dockerfile_instructions() -> List[str]:
    return [line.strip() for line in (ROOT / "Dockerfile").read_text().splitlines() if line.strip() and not line.startswith("#")]


def test_metadata_is_valid_against_airbyte_metadata_v0_schema() -> None:
    errors = list(jsonschema.Draft7Validator(metadata_schema(), format_checker=jsonschema.FormatChecker()).iter_errors(metadata()))
    assert not errors, [f"{list(error.absolute_path)}: {error.message}" for error in errors]


def test_the_schema_check_rejects_a_field_v0_does_not_know() -> None:
    document = metadata()
    document["data"]["registries"] = {"oss": {"enabled": True}}  # pre-v0 key, rejected today
    assert list(jsonschema.Draft7Validator(metadata_schema()).iter_errors(document))


def test_definition_id_is_a_uuid_and_the_image_tag_is_the_package_version() -> None:
    data = metadata()["data"]
    uuid.UUID(data["definitionId"])
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert data["dockerImageTag"] == version


def test_repository_label_and_tags_are_consistent() -> None:
    data = metadata()["data"]
    assert data["dockerRepository"] == "source-usage"  # not airbyte/, Airbyte's own namespace
    assert data["githubIssueLabel"] == data["dockerRepository"].split("/")[-1]
    assert data["connectorType"] == "source" and "language:python" in data["tags"] and "cdk:python" in data["tags"]
    assert (ROOT / data["icon"]).is_file()
    assert data["documentationUrl"] == DOCUMENTATION_URL


def test_allowed_hosts_are_the_hosts_of_every_base_url_the_spec_offers() -> None:
    import logging
    from urllib.parse import urlsplit

    from source_usage import SourceUsage

    spec = SourceUsage().spec(logging.getLogger("test")).connectionSpecification
    offered = set()
    for section in spec["properties"].values():
        base_url = section.get("properties", {}).get("base_url") if isinstance(section, dict) else None
        if base_url:
            urls = [base_url["default"], *base_url.get("examples", [])]
            # example.com (RFC 2606) stands for a user's own host, which they add themselves.
            offered |= {host for host in (urlsplit(url).hostname for url in urls) if host and not host.endswith("example.com")}
    assert offered and sorted(metadata()["data"]["allowedHosts"]["hosts"]) == sorted(offered)


def test_the_dockerfile_base_image_is_the_metadata_base_image_pinned_by_digest() -> None:
    base = metadata()["data"]["connectorBuildOptions"]["baseImage"]
    assert re.fullmatch(r"docker\.io/airbyte/python-connector-base:[0-9.]+@sha256:[0-9a-f]{64}", base)
    args = [line for line in dockerfile_instructions() if line.startswith("ARG BASE_IMAGE=")]
    assert args == [f"ARG BASE_IMAGE={base}"]
    stages = [line for line in dockerfile_instructions() if line.startswith("FROM")]
    assert stages == ["FROM ${BASE_IMAGE} AS builder", "FROM ${BASE_IMAGE}"]


def test_the_image_runs_as_airbyte_with_airbyte_entrypoint_equal_to_the_absolute_entrypoint() -> None:
    lines = dockerfile_instructions()
    entrypoint = json.loads(next(line for line in lines if line.startswith("ENTRYPOINT")).removeprefix("ENTRYPOINT"))
    env = next(line for line in lines if line.startswith("ENV AIRBYTE_ENTRYPOINT="))
    assert shlex.split(env.removeprefix("ENV AIRBYTE_ENTRYPOINT=")) == [" ".join(entrypoint)]
    assert entrypoint[0].startswith("/")
    assert lines[-1] == "USER airbyte"
